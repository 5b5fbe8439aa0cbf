"""Plans derived from other things: the program's plan from stack settings, a rollback from the live plan."""

from __future__ import annotations

from collections.abc import Mapping

from bluegreen.colors import COLORS, Color
from bluegreen.config.settings import StackSettings
from bluegreen.plan.model import RoutingPlan, parse_plan


def plan_from_settings(
    settings: StackSettings,
    deployment: str,
    containers: Mapping[Color, list[str]],
    aliases: Mapping[Color, str | None] | None = None,
    owner: str | None = None,
) -> RoutingPlan:
    """The plan the Pulumi program asks for: settings plus the colour stacks' container names and aliases, and
    the project/stack it is deployed by (`owner`)."""
    return parse_plan(
        {
            "deployment": deployment,
            "active": settings.active_color,
            "weights": settings.weights(),
            "colors": {
                c: {
                    "version": settings.color(c).version,
                    "containers": list(containers.get(c, [])),
                    "alias": (aliases or {}).get(c) if containers.get(c) else None,
                    "schemaVersions": settings.color(c).schema_versions,
                }
                for c in COLORS
            },
            "appPort": settings.app.port,
            "healthPath": settings.app.health_path,
            "stickiness": settings.stickiness,
            "drainSeconds": settings.router.drain_seconds,
            "securityHeaders": settings.router.security_headers,
            "rateLimit": settings.router.rate_limit.model_dump(by_alias=True) if settings.router.rate_limit else None,
            "edge": settings.router.edge.model_dump(by_alias=True),
            "tls": settings.tls.listener().model_dump(by_alias=True) if settings.tls else None,
            "maintenance": settings.maintenance.model_dump(by_alias=True),
            "rollout": settings.rollout.model_dump(by_alias=True),
            "healthGate": settings.health_gate.model_dump(by_alias=True),
            "orchestrator": settings.orchestrator,
            "owner": owner,
            "shared": settings.router.shared,
            "joined": settings.router.join is not None,
        }
    )


def rollback_plan(live: RoutingPlan, max_successes: int | None = None) -> RoutingPlan:
    """The idle colour takes 100% and becomes active; the colour it replaces is then the preview.

    `max_successes` caps the gate's passes per container: going back to a colour
    that was serving (a rollback, a rollout's abort) is the emergency path.
    """
    raw = live.model_dump(mode="json", by_alias=True)
    raw.update(active=live.idle, weights={live.idle: 100, live.active: 0})
    if max_successes is not None:
        raw["healthGate"]["successes"] = min(max_successes, live.health_gate.successes)
    return parse_plan(raw)
