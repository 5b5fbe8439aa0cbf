"""What a deployment looks like right now: live routing, drift and every app container.

Read-only and cheap (one exec and one list call), because the Pulumi program
asks it on every preview to notice routing changed behind its back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bluegreen.conventions import (
    COLOR_LABEL,
    DEPLOYMENT_LABEL,
    DIGEST_LABEL,
    ROLE_LABEL,
    SPEC_LABEL,
    VERSION_LABEL,
)
from bluegreen.docker_api import DockerClient
from bluegreen.live_router import LiveRouter
from bluegreen.router import live_spec
from bluegreen.tls import read_certificate


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


def deployment_status(client: DockerClient, deployment: str) -> dict[str, Any]:
    """Live routing, the plan the program last applied, drift, and every app container's state.

    A router or engine that cannot answer raises its own BluegreenError (RouterError, DockerError).
    """
    router = LiveRouter.find(client, deployment)
    snapshot = router.snapshot()
    apps = client.containers({DEPLOYMENT_LABEL: deployment, ROLE_LABEL: "app"})
    live, live_record, program_record = snapshot.status, snapshot.live_record, snapshot.program_record
    containers = []
    for c in sorted(apps, key=lambda c: c["Names"][0]):
        name = c["Names"][0].lstrip("/")
        info = client.inspect(name) or {}
        health = info.get("State", {}).get("Health", {}).get("Status", "none")
        containers.append(
            {
                "name": name,
                "color": c["Labels"].get(COLOR_LABEL),
                "version": c["Labels"].get(VERSION_LABEL),
                "digest": c["Labels"].get(DIGEST_LABEL),
                "spec": c["Labels"].get(SPEC_LABEL),
                "state": c.get("State"),
                "health": health,
            }
        )
    program_hash = (program_record or {}).get("planHash")
    warnings = list(snapshot.unreadable)
    certificate = _certificate(snapshot.certificate, warnings)
    image = client.get_json(f"/images/{router.info.get('Image', '')}/json", allow=(404,)) or {}
    return {
        "deployment": deployment,
        "router": router.container,
        "routerSpec": live_spec(router.info, image.get("RepoTags") or []),
        "live": live,
        "lastSwitch": {k: (live_record or {}).get(k) for k in ("source", "appliedAt", "planHash", "note")},
        "rollout": snapshot.rollout,
        "programPlanHash": program_hash,
        "programObserved": (program_record or {}).get("observed"),
        "drift": program_hash is not None and program_hash != live.get("planHash"),
        "certificate": certificate,
        "warnings": warnings,
        "containers": containers,
    }
