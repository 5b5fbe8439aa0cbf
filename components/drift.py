"""Drift: notice routing changed outside Pulumi (an emergency rollback) and undo it.

`local.run` runs on every preview and update, so `pulumi preview` already
warns. Its answer is an input of the Switch: after a rollback it reads
"drift:<live plan hash>", which differs from the "in-sync" stored in state,
so the update runs the switch and the configured plan is live again.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_command as command

from bluegreen.topology import Topology
from components.cli import bluegreen_cli, docker_env

IN_SYNC = "in-sync"


def observed_routing(topology: Topology, opts: pulumi.InvokeOptions | None = None) -> str:
    """ "in-sync", or "drift:<live plan hash>" when the live routing is not the plan this program last applied.

    Drift is measured against the program's *last applied* plan, not the plan
    of this run: a config change is not drift, a rollback behind Pulumi's back is.
    """
    status = bluegreen_cli("status", "--stack", topology.stack, "--project", topology.project, "--json")
    result = command.local.run(
        command=f"{status} 2>/dev/null || true",
        environment=docker_env(topology.settings.docker.host) or None,
        opts=opts,
    )
    try:
        report = json.loads(result.stdout or "")
        live, applied, drift = report["live"].get("planHash"), report.get("programPlanHash"), report["drift"]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return IN_SYNC  # no router yet, or the engine is unreachable: nothing to reconcile
    if not drift:
        return IN_SYNC
    pulumi.log.warn(
        f"drift: the live routing of {topology.label} (plan {live}) is not the plan this program last "
        f"applied ({applied}), e.g. after `python -m bluegreen rollback`; this run re-applies the configured "
        "plan. To keep the rollback, change activeColor in the stack config instead."
    )
    return f"drift:{live}"
