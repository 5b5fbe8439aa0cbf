"""Typed stack settings: the one model of stack config that every layer reads.

Pulumi hands the program flat strings; operators hand `validate` a YAML file.
Both go through `parse_settings`, so a value is accepted or refused by exactly
the same rules before anything is changed. Field names are the camelCase keys
users type (`pulumi config set --path router.previewPort 8081`); each field's
`Allowed` note is what an error message and the configuration reference say
is allowed, next to the constraint it explains.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import Field, ValidationError

from bluegreen.colors import COLORS, Color, other
from bluegreen.config import app, database, docker, hooks, rollout, router, sharing, swarm
from bluegreen.config import image as image_source
from bluegreen.config.app import AppSettings, ColorSpec
from bluegreen.config.database import Database
from bluegreen.config.docker import DockerSettings
from bluegreen.config.hooks import Hooks
from bluegreen.config.image import BuildImage, ImageSettings, RegistryAuth, image_ref
from bluegreen.config.problems import Problem, problems_from_validation_error
from bluegreen.config.rollout import HealthGate, Notifications, Rollout
from bluegreen.config.router import Maintenance, RouterSettings, Tls
from bluegreen.config.secrets import misplaced_secrets, redact, top_level
from bluegreen.config.swarm import SwarmSettings
from bluegreen.config.types import Model, Stickiness
from bluegreen.engine.names import Orchestrator
from bluegreen.errors import SettingsError
from bluegreen.plan.traffic import traffic_problems


class StackSettings(Model):
    """The whole stack config of the `bluegreen` Pulumi project."""

    active_color: Color = Field(description="The colour being promoted to; it takes trafficWeight% of requests.")
    traffic_weight: int = Field(
        100, ge=0, le=100, description="Share of requests for activeColor; the idle colour gets the rest."
    )
    stickiness: Stickiness = Field("none", description="Keep a client on one colour during a canary.")
    blue: ColorSpec = Field(default_factory=ColorSpec, description="What the blue colour runs.")
    green: ColorSpec = Field(default_factory=lambda: ColorSpec(replicas=0), description="What the green colour runs.")
    app: AppSettings = Field(default_factory=AppSettings, description="The app containers of both colours.")
    image: ImageSettings = Field(
        default_factory=BuildImage, description="Where images come from: build, registry or s3 (docs/images.md)."
    )
    router: RouterSettings = Field(default_factory=RouterSettings, description="The nginx router.")
    health_gate: HealthGate = Field(default_factory=HealthGate, description="What a switch waits for.")
    registry_auth: RegistryAuth | None = Field(
        None, description="Pull credentials for a login-protected registry (image.source registry)."
    )
    docker: DockerSettings = Field(default_factory=DockerSettings, description="The Docker host.")
    tls: Tls | None = Field(None, description="HTTPS at the router: certificate and key as secrets (docs/edge.md).")
    maintenance: Maintenance = Field(
        default_factory=Maintenance, description="The maintenance page on the live listener (docs/edge.md)."
    )
    rollout: Rollout = Field(
        default_factory=Rollout,
        description="Analysed steps (docs/rollouts.md) and the canary allowlist (docs/edge.md).",
    )
    notifications: Notifications = Field(
        default_factory=Notifications, description="Where rollout events go besides stdout (docs/rollouts.md)."
    )
    database: Database = Field(
        default_factory=Database, description="PostgreSQL for both colours: none, container or external."
    )
    hooks: Hooks = Field(
        default_factory=Hooks, description="preSwitch commands, smoke checks and postPromote commands."
    )
    orchestrator: Orchestrator = Field(
        "container",
        description="What runs the colours: containers on the Docker host, or one Docker Swarm service per colour "
        "over the swarm's nodes (docs/swarm.md).",
    )
    swarm: SwarmSettings = Field(
        default_factory=SwarmSettings, description="The swarm's other nodes and its network (orchestrator swarm)."
    )

    def color(self, color: Color) -> ColorSpec:
        return self.blue if color == "blue" else self.green

    @property
    def idle_color(self) -> Color:
        """The colour activeColor does not name: it takes the rest of the traffic."""
        return other(self.active_color)

    def weights(self) -> dict[Color, int]:
        """Share of live traffic per colour; the two always add up to 100."""
        return {self.active_color: self.traffic_weight, self.idle_color: 100 - self.traffic_weight}

    def image_ref(self, color: Color) -> str:
        return image_ref(self.image, self.color(color))


def _traffic_problems(s: StackSettings) -> list[Problem]:
    replicas = {c: s.color(c).replicas for c in COLORS}
    problems: list[Problem] = []
    for found in traffic_problems(s.active_color, s.weights(), replicas):
        if found.kind == "active-empty":
            problems.append(
                Problem(
                    f"{s.active_color}.replicas",
                    0,
                    f"at least 1: {found.text} (or set activeColor to {s.idle_color})",
                )
            )
        elif found.kind == "idle-empty":
            problems.append(
                Problem("trafficWeight", s.traffic_weight, f"100, or give {s.idle_color}.replicas >= 1: {found.text}")
            )
    return problems


def _cross_field_problems(s: StackSettings, stack: str, secret_tops: Collection[str] = ()) -> list[Problem]:
    """Rules that span keys, section by section; each names the key a user should change."""
    return [
        *_traffic_problems(s),
        *app.problems(s, stack),
        *image_source.problems(s, stack),
        *router.problems(s, stack, secret_tops),
        *sharing.problems(s),
        *docker.problems(s, stack),
        *rollout.problems(s),
        *database.problems(s, stack, secret_tops),
        *swarm.problems(s),
        *hooks.problems(s),
    ]


def parse_settings(raw: dict[str, Any], stack: str, secret_paths: Collection[str] = ()) -> StackSettings:
    """Validate raw config (keys without namespace) for `stack`.

    Raises SettingsError with one Problem per bad value; field errors first,
    cross-field rules only once every field is valid on its own. A value
    under a secret key (`secret_paths`: `app` from the engine, or leaves such
    as `app.env.DB_PASSWORD` from a stack file) is shown as `[secret]`.
    """
    secret_tops = {top_level(p) for p in secret_paths}
    problems = misplaced_secrets(secret_paths)
    if problems:
        raise SettingsError(redact(problems, secret_tops))
    try:
        settings = StackSettings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(redact(problems_from_validation_error(exc, StackSettings), secret_tops)) from None
    problems = _cross_field_problems(settings, stack, secret_tops)
    if problems:
        raise SettingsError(redact(problems, secret_tops))
    return settings
