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
    A check that cannot answer warns and assumes in sync: it must never block a
    deploy, but it must not be silent either.
    """
    status = bluegreen_cli("status", "--stack", topology.stack, "--project", topology.project, "--json")
    result = command.local.run(
        command=f"{status} 2>&1 || true",
        environment=docker_env(topology.settings.docker.host) or None,
        opts=opts,
    )
    return read_observed(topology.deployment, result.stdout or "")


def read_observed(deployment: str, output: str) -> str:
    """What `status --json 2>&1` printed, as the Switch's BLUEGREEN_OBSERVED input."""
    head, brace, body = output.partition("\n{")
    if output.startswith("{"):
        head, brace, body = "", "{", output[1:]
    try:
        report = json.loads(brace + body)
        live, applied, drift = report["live"].get("planHash"), report.get("programPlanHash"), report["drift"]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        if "no running router" not in output:  # before the first deploy there is nothing to compare
            detail = output.strip().splitlines()[-1] if output.strip() else "no output"
            pulumi.log.warn(f"drift check of {deployment} failed ({detail}); assuming the live routing is in sync")
        return IN_SYNC
    for line in head.splitlines():  # status's own warnings (an unreadable plan record, ...)
        if line.strip():
            pulumi.log.warn(f"drift check: {line.strip()}")
    if not drift:
        return IN_SYNC
    pulumi.log.warn(
        f"drift: the live routing of {deployment} (plan {live}) is not the plan this program last "
        f"applied ({applied}), e.g. after `bluegreen rollback`; this run re-applies the configured "
        "plan. To keep the rollback, change activeColor in the stack config instead."
    )
    return f"drift:{live}"
