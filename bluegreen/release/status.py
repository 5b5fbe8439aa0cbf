"""What a deployment looks like right now: live routing, drift and every app container or Swarm task.

Read-only and cheap (one exec and one list call), because the Pulumi program
asks it on every preview to notice routing changed behind its back.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from bluegreen.config.tls import read_certificate
from bluegreen.engine.client import DockerClient
from bluegreen.engine.names import (
    DEPLOYMENT_LABEL,
    ROLE_APP,
    ROLE_LABEL,
    SPEC_LABEL,
    SWARM_TASK_LABEL,
    database_name,
    network_name,
)
from bluegreen.engine.targets import Target, container_target, task_targets
from bluegreen.errors import BluegreenError, SettingsError
from bluegreen.plan.model import parse_plan
from bluegreen.release import schema
from bluegreen.release.hold import Traffic, live_changes
from bluegreen.release.rollout import stale_seconds
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.files import live_spec


def _certificate(pem: str | None, warnings: list[str]) -> dict[str, object] | None:
    """What the router serves, and a warning when it is about to expire (or cannot be read)."""
    if pem is None:
        return None
    try:
        served = read_certificate(pem)
    except ValueError:
        warnings.append("the router's certificate (tls/current/cert.pem) is not a PEM certificate")
        return None
    warning = served.expiry_warning(datetime.now(UTC))
    if warning:
        warnings.append(warning)
    return served.summary()


def _rollout(progress: dict[str, Any] | None, client: DockerClient) -> dict[str, Any] | None:
    """The running rollout, and how long its heartbeat has been silent when its process looks gone."""
    if not progress:
        return None
    return {**progress, "staleSeconds": stale_seconds(progress, client.system_time())}


def _database(client: DockerClient, deployment: str) -> dict[str, Any] | None:
    """The database container (database.mode container): its image, and the PostgreSQL major version its data
    directory was made by, which a new image must match (a newer server does not open an older directory)."""
    name = database_name(deployment)
    found = client.inspect(name)
    if found is None:
        return None
    running = bool((found.get("State") or {}).get("Running"))
    data_version = None
    if running:
        with contextlib.suppress(BluegreenError):
            read = client.exec(name, ["sh", "-c", 'cat "$PGDATA/PG_VERSION"'], timeout=30)
            data_version = read.stdout.strip() if read.exit_code == 0 and read.stdout.strip().isdigit() else None
    return {
        "container": name,
        "image": (found.get("Config") or {}).get("Image"),
        "spec": ((found.get("Config") or {}).get("Labels") or {}).get(SPEC_LABEL),
        "state": (found.get("State") or {}).get("Status"),
        "dataVersion": data_version,
    }


def _schema(client: DockerClient, deployment: str, live_record: dict[str, Any] | None) -> dict[str, Any]:
    """The schema the database records and the versions each colour of the live plan runs on."""
    try:
        declared = schema.ranges(parse_plan((live_record or {})["plan"]))
    except (SettingsError, KeyError, TypeError):
        declared = {}
    live = schema.read_schema(client, deployment) if any(declared.values()) else None
    return {**(live.as_json() if live else {"version": None, "unread": "no colour declares schemaVersions"}),
            "colors": declared}  # fmt: skip


def app_targets(client: DockerClient, deployment: str) -> list[Target]:
    """Every app container, and in swarm mode every task Swarm wants running, of the deployment."""
    labels = {DEPLOYMENT_LABEL: deployment, ROLE_LABEL: ROLE_APP}
    targets = [
        container_target(c["Names"][0].lstrip("/"), client.inspect(c["Id"]))
        for c in client.containers(labels)
        if SWARM_TASK_LABEL not in (c.get("Labels") or {})  # a task's container: listed with its service
    ]
    for service in client.services(labels):
        targets += task_targets(client, service)
    return sorted(targets, key=lambda t: t.name)


def _network(client: DockerClient, deployment: str) -> dict[str, Any] | None:
    """The stack network's driver and whether it is encrypted: fixed when it was made (docs/swarm.md)."""
    found = client.get_json(f"/networks/{network_name(deployment)}", allow=(404,))
    if not found:
        return None
    return {"name": found.get("Name"), "driver": found.get("Driver"), "encrypted": "encrypted" in (found.get("Options")
            or {})}  # fmt: skip


def _on_nodes(client: DockerClient, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each task's node by its host name (one /nodes call, only in swarm mode): where to look when it is down."""
    if not any(e.get("node") for e in entries):
        return entries
    names = {n["ID"]: (n.get("Description") or {}).get("Hostname", n["ID"]) for n in client.get_json("/nodes") or []}
    return [{**e, "node": names.get(e["node"], e["node"])} if e.get("node") else e for e in entries]


def deployment_status(client: DockerClient, deployment: str) -> dict[str, Any]:
    """Live routing, the plan the program last applied, drift, and every app container's state.

    A router or engine that cannot answer raises its own BluegreenError (RouterError, DockerError).
    """
    router = LiveRouter.find(client, deployment)
    snapshot = router.snapshot()
    live, live_record, program_record = snapshot.status, snapshot.live_record, snapshot.program_record
    containers = _on_nodes(client, [t.status() for t in app_targets(client, deployment)])
    program_hash = (program_record or {}).get("planHash")
    warnings = list(snapshot.unreadable)
    if live.get("stateSource") != "current" and live.get("steadyRoute"):
        color, target = str(live["steadyRoute"]).split(" ", 1)
        warnings.append(
            f"the router's current/state.json is unreadable: status shows the previous state, but every live request "
            f"goes to {color} ({target}) by the current generation's name; a switch (`bluegreen switch`, "
            "`pulumi up`) publishes a whole generation again"
        )
    certificate = _certificate(snapshot.certificate, warnings)
    image = client.get_json(f"/images/{router.info.get('Image', '')}/json", allow=(404,)) or {}
    return {
        "deployment": deployment,
        "router": router.container,
        "routerSpec": live_spec(router.info, image.get("RepoTags") or [], router.net_info),
        "live": live,
        "lastSwitch": {k: (live_record or {}).get(k) for k in ("source", "appliedAt", "planHash", "note")},
        "rollout": _rollout(snapshot.rollout, client),
        "lock": snapshot.lock_holder,
        "programPlanHash": program_hash,
        "programObserved": (program_record or {}).get("observed"),
        "programOwner": ((program_record or {}).get("plan") or {}).get("owner"),
        "drift": program_hash is not None and program_hash != live.get("planHash"),
        "held": live_changes(live_record, program_record),
        "programTraffic": traffic.as_json() if (traffic := Traffic.of_record(program_record)) else None,
        "certificate": certificate,
        "apps": snapshot.apps,
        "warnings": warnings,
        "containers": containers,
        "database": _database(client, deployment),
        "schema": _schema(client, deployment, live_record),
        "network": _network(client, deployment),
    }
