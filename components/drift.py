"""What is live, read on every preview: routing drift (undone), router replacements (warned), stale digests,
and which live colours keep the environment they run (Topology.held).

Drift: notice routing changed outside Pulumi. What an operator set live (a
rollback, a CLI switch, maintenance) is kept while the stack config does not
change it (bluegreen/release/hold.py, decided by the Switch itself); any other
drift is undone.

`local.run` runs on every preview and update (with its logging off: the
status JSON does not belong in every preview), so `pulumi preview` already
warns. Its answer is an input of the Switch (BLUEGREEN_OBSERVED):

- after a rollback it reads "drift:<live plan hash>@<applied at>", which
  differs from what state holds, so the update runs the switch: it keeps the
  rollback (the config did not change the routing) or applies the config's
  new routing over it, and the preview says which;
- while nothing drifts it hands back the value the program's last switch ran
  with (the switch records it), so the input never changes by itself: after a
  correction, the next preview shows no changes. Another rollback, even to the
  same routing, has a new time and is corrected again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_command as command

from bluegreen.colors import COLORS, Color
from bluegreen.config.problems import Problem
from bluegreen.config.settings import StackSettings
from bluegreen.config.tls import read_certificate
from bluegreen.engine.names import database_volume_name
from bluegreen.engine.topology import Topology
from bluegreen.env import DRIFT_PREFIX, IN_SYNC
from bluegreen.release.hold import Traffic, preview_lines
from bluegreen.router.files import listener_changes, replacing_changes
from components.cli import Engine, bluegreen_cli


@dataclass(frozen=True)
class LiveStatus:
    """What `status --json 2>&1` printed, parsed once: its warnings and its report (None when there is none)."""

    output: str
    warnings: str
    report: dict[str, Any] | None

    @classmethod
    def parse(cls, output: str) -> LiveStatus:
        head, brace, body = output.partition("\n{")
        if output.startswith("{"):
            head, brace, body = "", "{", output[1:]
        try:
            report = json.loads(brace + body)
        except json.JSONDecodeError:
            return cls(output, output, None)
        return cls(output, head, report if isinstance(report, dict) else None)


def live_status(topology: Topology, opts: pulumi.InvokeOptions | None = None) -> LiveStatus:
    """`bluegreen status --json` for this deployment, run once per preview or update."""
    status = bluegreen_cli("status", "--stack", topology.stack, "--project", topology.project, "--json")
    docker = topology.settings.docker  # the host plain even when secret: invoke arguments are not kept in state
    result = command.local.run(
        command=f"{status} 2>&1 || true",
        environment=cast(dict[str, str], Engine(docker.host, docker.context, docker.cert_path).env()) or None,
        logging=command.local.Logging.NONE,
        opts=opts,
    )
    return LiveStatus.parse(result.stdout or "")


def unreadable_problem(deployment: str, status: LiveStatus) -> str | None:
    """Why the live status could not be read, or None (read, or no router yet: a first deploy).

    Without it, the contract-step guard, the environment holds and the stale-digest check cannot run, so
    `pulumi up` stops (fail closed) unless the operator says otherwise for this one run; a preview only warns.
    """
    if status.report is not None or "no running router" in status.output:
        return None
    detail = status.output.strip().splitlines()[-1] if status.output.strip() else "no output"
    return f"the live status of {deployment} cannot be read ({detail[:200]})"


def live_active(status: LiveStatus) -> str | None:
    """The colour the live routing names active; None before the first switch or without a router."""
    active = ((status.report or {}).get("live") or {}).get("active")
    return str(active) if active else None


def stale_digests(settings: StackSettings, status: LiveStatus) -> list[Problem]:
    """A colour whose digest is the one it runs under another version: a bumped version, a forgotten digest.

    Without this check the new version would run the old image under the new
    version's name and labels.
    """
    problems = []
    for color in COLORS:
        spec = settings.color(color)
        if not spec.digest:
            continue
        for live in (status.report or {}).get("containers") or []:
            if live.get("color") == color and live.get("digest") == spec.digest and live.get("version") != spec.version:
                problems.append(
                    Problem(
                        f"{color}.digest",
                        spec.digest,
                        f"the digest of {color}.version {spec.version}; {color} runs this digest as "
                        f"{live.get('version')}: set the new version's digest, or unset {color}.digest",
                    )
                )
                break
    return problems


def postgres_major(image: str) -> str | None:
    """The PostgreSQL major version an image reference names by its tag (postgres:17.2-bookworm: 17), or None."""
    tag = image.rpartition("@")[0] if "@" in image else image
    found = re.search(r":(\d+)(?:[.-][^/]*)?$", tag)
    return found.group(1) if found else None


def database_major_problem(settings: StackSettings, status: LiveStatus) -> Problem | None:
    """A database image of another PostgreSQL major version than the data directory: refused before anything.

    The database container is replaced delete-first, and the new server would refuse the older directory: the
    database would be down until the old image came back. The way across is a dump and a restore."""
    live = (status.report or {}).get("database") or {}
    wanted = postgres_major(settings.database.image)
    have = live.get("dataVersion")
    if settings.database.mode != "container" or not have or not wanted or wanted == have:
        return None
    volume = database_volume_name(str((status.report or {}).get("deployment") or ""))
    return Problem(
        "database.image",
        settings.database.image,
        f"an image of PostgreSQL {have}, the version of the data directory {live.get('container')} runs on: a "
        f"{wanted} server does not open it. To move: `bluegreen db backup`, `pulumi destroy`, `docker volume rm "
        f"{volume}`, set database.image, `pulumi up`, `bluegreen db restore` (docs/database.md)",
    )


def owner_problem(topology: Topology, status: LiveStatus) -> str | None:
    """Another Pulumi stack's deployment under the same name (`shop` + `api-prod` and `shop-api` + `prod` are
    both shop-api-prod): its router, containers and data volume would be taken over. Refused with both named."""
    found = (status.report or {}).get("programOwner")
    mine = f"{topology.project}/{topology.stack}"
    if not found or found == mine:
        return None
    project, _, stack = str(found).partition("/")
    return (
        f"deployment name {topology.deployment}: its router was deployed by project {project}, stack {stack}; this "
        f"is project {topology.project}, stack {topology.stack}. Allowed: a project and stack whose "
        f"<project>-<stack> no other stack on this engine uses (`pulumi stack rename`, or another project name)"
    )


def unshare_problem(settings: StackSettings, status: LiveStatus) -> Problem | None:
    """A shared router that would stop sharing while apps are joined: their hosts would reach this app instead."""
    apps = (status.report or {}).get("apps") or {}
    if settings.router.shared or not apps:
        return None
    joined = ", ".join(f"{app}: {' '.join(hosts)}" for app, hosts in sorted(apps.items()))
    return Problem(
        "router.shared",
        False,
        f"true while apps are joined ({joined}); take them out first (pulumi destroy, or router.join removed, on each)",
    )


def orchestrator_problem(settings: StackSettings, status: LiveStatus) -> Problem | None:
    """Changing the orchestrator of a running stack: refused, because the stack network keeps its name.

    Pulumi would have to create the overlay network next to the bridge one
    (or the other way round) under the same name, and the daemon refuses that
    halfway through an update.
    """
    wanted = "task" if settings.orchestrator == "swarm" else "container"
    running = {str(c.get("kind") or "container") for c in (status.report or {}).get("containers") or []}
    if not running or wanted in running:
        return None
    return Problem(
        "orchestrator",
        settings.orchestrator,
        f"'{'swarm' if running == {'task'} else 'container'}', what this stack runs now: it cannot change in place "
        "(the stack network keeps its name); `pulumi destroy`, then `pulumi up` (docs/swarm.md)",
    )


def env_holds(topology: Topology, status: LiveStatus) -> dict[Color, str]:
    """Colours that serve traffic and would be replaced only for a changed environment: colour -> live alias.

    Such a colour keeps its name and the environment it runs; the change
    reaches it at its next release (a new version) or once it is idle.
    """
    report = status.report or {}
    weights = (report.get("live") or {}).get("weights") or {}
    holds: dict[Color, str] = {}
    for color in COLORS:
        spec = topology.settings.color(color)
        live = [c for c in report.get("containers") or [] if c.get("color") == color and c.get("state") == "running"]
        if not weights.get(color) or not live or len(live) != spec.replicas:
            continue  # idle, gone, or being scaled: it takes the configured environment
        # A task names its service (the alias); a container's name is its alias and a replica number.
        aliases = {str(c.get("alias") or str(c.get("name", "")).rpartition("-")[0]) for c in live}
        same_spec = all(c.get("version") == spec.version and c.get("spec") == topology.spec_label(color) for c in live)
        if same_spec and len(aliases) == 1:
            holds[color] = aliases.pop()
    return holds


def warn_held_env(held: dict[Color, str], configured: dict[Color, str | None]) -> None:
    """Say which live colours keep their old environment in this run (their configured alias differs)."""
    for color in [color for color, alias in held.items() if configured.get(color) != alias]:
        pulumi.log.warn(
            f"app.env changed: {color} serves traffic and keeps the environment it runs until its next release; "
            "an idle colour gets the new environment now (docs/operations.md, 'Environment changes')."
        )


def warn_double_replacement(status: LiveStatus, names: dict[Color, list[str]]) -> None:
    """Warn when this run replaces the running containers of both colours: nothing untouched to roll back to."""
    running = {
        color: {str(c.get("name")) for c in (status.report or {}).get("containers") or [] if c.get("color") == color}
        for color in COLORS
    }
    replaced = [color for color in COLORS if running[color] and not running[color] & set(names.get(color) or [])]
    if len(replaced) == len(COLORS):
        pulumi.log.warn(
            "this update replaces the containers of both colours at once (a change to app settings other than "
            "app.env, or to the image source): while it runs, no untouched colour remains to roll back to. "
            "Prefer releasing one colour at a time."
        )


def warn_router_replacement(settings: StackSettings, status: LiveStatus) -> None:
    """Say in the preview how a router setting change reaches the router: a hand-over (nothing lost), or a
    new listener (its net container replaced: a few seconds without one)."""
    tls_port = settings.tls.port if settings.tls else None
    live = (status.report or {}).get("routerSpec") or {}
    handed = replacing_changes(settings.router, live, tls_port)
    gaps = listener_changes(settings.router, live, tls_port)
    if gaps:
        pulumi.log.warn(
            f"{', '.join(gaps)}: the router's listener (its net container, which owns the host ports) is "
            "replaced, old one first: a few seconds in which nothing listens. Do it in a quiet moment "
            "(docs/configuration.md, 'Settings that replace the router')."
        )
    elif handed:
        pulumi.log.info(
            f"router hand-over: {', '.join(handed)}. A bridge router serves the ports while the router is "
            "replaced; no request is lost (docs/routing.md, 'Router hand-over')."
        )


def warn_database_replacement(topology: Topology, status: LiveStatus) -> None:
    """Say in the preview when this update replaces the database container: delete-first, so a few seconds in
    which requests that need it fail (a new password, image, user, name or limits; docs/database.md)."""
    live = (status.report or {}).get("database") or {}
    if topology.settings.database.mode != "container" or not live.get("spec"):
        return
    if live["spec"] != topology.database_spec():
        pulumi.log.warn(
            f"the database container {live.get('container')} is replaced, old one first: a few seconds in which "
            "requests that need it fail; its data stays on its volume (docs/database.md, 'What survives what')."
        )


def warn_unencrypted_overlay(settings: StackSettings, status: LiveStatus) -> None:
    """swarm.encrypted is read when the stack network is made: say when the live one is not what it asks for."""
    network = (status.report or {}).get("network") or {}
    if settings.orchestrator != "swarm" or network.get("driver") != "overlay":
        return
    if bool(network.get("encrypted")) != settings.swarm.encrypted:
        made = "encrypted" if network.get("encrypted") else "unencrypted"
        pulumi.log.warn(
            f"swarm.encrypted: {str(settings.swarm.encrypted).lower()}, but the stack network {network.get('name')} "
            f"was made {made} and stays so: the setting is read when the network is made; `pulumi destroy` and "
            "`pulumi up` to change it (docs/swarm.md)"
        )


def warn_hand_installed_certificate(settings: StackSettings, status: LiveStatus) -> None:
    """Say when the router serves a certificate installed by hand: this update keeps it, and what would not.

    The program's `tls install` runs only when its inputs change (the pair in
    the stack config, or a replaced router), so an emergency rotation outside
    Pulumi holds across every other update; the preview says so once.
    """
    served = (status.report or {}).get("certificate") or {}
    if settings.tls is None or settings.tls.certificate is None or not served.get("fingerprint"):
        return  # an ACME certificate is bluegreen's own: renewed, never "by hand"
    own = read_certificate(settings.tls.certificate)
    if served["fingerprint"] != own.fingerprint:
        pulumi.log.warn(
            f"tls: the router serves a certificate installed by hand ({served.get('subject')}, fingerprint "
            f"{served['fingerprint']}, until {served.get('notAfter')}), not the stack's ({own.fingerprint}); "
            "this update keeps it unless tls.certificate or tls.key changed or the router is replaced, which "
            "install the stack's pair"
        )


def read_observed(deployment: str, settings: StackSettings, status: LiveStatus) -> str:
    """The Switch's BLUEGREEN_OBSERVED: the last value while in sync, "drift:..." when not (see the module).

    Drift is measured against the program's *last applied* plan, not the plan
    of this run: a config change is not drift, a rollback behind Pulumi's back is.
    A check that cannot answer warns and assumes in sync: it must never block a
    deploy, but it must not be silent either.
    """
    report, output = status.report, status.output
    try:
        if report is None:
            raise KeyError("report")
        live, applied, drift = report["live"].get("planHash"), report.get("programPlanHash"), report["drift"]
        applied_at, last = report.get("lastSwitch", {}).get("appliedAt"), report.get("programObserved")
    except (KeyError, TypeError, AttributeError):
        # No report at all was already said once (unreadable_problem); before the first deploy there is nothing.
        if report is not None and "no running router" not in output:
            detail = output.strip().splitlines()[-1] if output.strip() else "no output"
            pulumi.log.warn(f"drift check of {deployment} failed ({detail}); assuming the live routing is in sync")
        return IN_SYNC
    for line in status.warnings.splitlines():  # status's own warnings (an unreadable plan record, ...)
        if line.strip():
            pulumi.log.warn(f"drift check: {line.strip()}")
    if not drift:
        return last if isinstance(last, str) and last else IN_SYNC
    if report.get("held"):
        program = Traffic.of_json(report.get("programTraffic"))
        for line in preview_lines(Traffic.of_settings(settings), program, dict(report["held"])):
            pulumi.log.warn(f"{deployment}: {line}")
    else:
        pulumi.log.warn(
            f"drift: the live routing of {deployment} (plan {live}) is not the plan this program last "
            f"applied ({applied}), e.g. after `bluegreen switch --plan`; this run re-applies the configured plan."
        )
    return f"{DRIFT_PREFIX}{live}@{applied_at}"
