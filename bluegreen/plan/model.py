"""The routing plan: which containers each colour has and what share of requests it gets.

Its own small vocabulary (docs/routing.md): `active` is the colour being
promoted to, `idle` the other, `preview` derived from both. A plan is what
`bluegreen switch` applies, what the router records, and what `status` compares.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from bluegreen.colors import COLORS, Color, other
from bluegreen.config.problems import Problem, problems_from_validation_error
from bluegreen.config.rollout import HealthGate, Rollout
from bluegreen.config.router import Edge, Maintenance, RateLimit, TlsListener
from bluegreen.config.types import Allowed, ImageTag, Model, SchemaVersions, Stickiness, UrlPath
from bluegreen.engine.container_spec import MAX_DRAIN_SECONDS
from bluegreen.engine.names import Orchestrator
from bluegreen.errors import SettingsError
from bluegreen.plan.traffic import preview_color, traffic_problems

ContainerName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"),
    Allowed("a container name: letters, digits, '_', '.', '-'"),
]
Owner = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"),
    Allowed("<project>/<stack>, the Pulumi stack that deploys it"),
]
DeploymentName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"),
    Allowed("a deployment name <project>-<stack>, such as bluegreen-dev"),
]


class ColorPlan(Model):
    version: ImageTag | None = None
    # Containers, or in swarm mode the service's task slots (<service>.<slot>): what the gate checks.
    containers: list[ContainerName] = Field(default_factory=list)
    # The network alias every container of this colour answers to (in swarm mode the
    # service's name); requests go to it (DNS round robin, retried on the next replica),
    # else to one name.
    alias: ContainerName | None = None
    # The schema versions this colour's release runs on (bluegreen.release.schema); None: not checked.
    schema_versions: SchemaVersions | None = None


class Weights(Model):
    blue: int = Field(ge=0, le=100)
    green: int = Field(ge=0, le=100)


class Colors(Model):
    blue: ColorPlan = Field(default_factory=ColorPlan)
    green: ColorPlan = Field(default_factory=ColorPlan)


class RoutingPlan(Model):
    """Where requests go. `active` is the colour being promoted to (docs/routing.md: vocabulary)."""

    deployment: DeploymentName
    active: Color
    weights: Weights
    colors: Colors
    app_port: int = Field(8000, ge=1, le=65535)
    health_path: UrlPath = "/health/ready"
    stickiness: Stickiness = "none"
    drain_seconds: int = Field(30, ge=0, le=MAX_DRAIN_SECONDS)
    security_headers: bool = True
    rate_limit: RateLimit | None = None
    edge: Edge = Field(default_factory=Edge)
    tls: TlsListener | None = None
    maintenance: Maintenance = Field(default_factory=Maintenance)
    rollout: Rollout = Field(default_factory=Rollout)
    health_gate: HealthGate = Field(default_factory=HealthGate)
    orchestrator: Orchestrator = "container"
    # The Pulumi project/stack that made this plan: `shop` + `api-prod` and `shop-api` + `prod` share the
    # deployment name shop-api-prod, and the second must not take over the first's router.
    owner: Owner | None = None
    # Several apps behind one router (docs/edge.md): this router serves joined apps' hosts, or this app is joined
    # to another's router (its own router then believes the X-Forwarded-For of the owner's edge network).
    shared: bool = False
    joined: bool = False

    def weight(self, color: Color) -> int:
        return int(getattr(self.weights, color))

    def color(self, color: Color) -> ColorPlan:
        plan: ColorPlan = getattr(self.colors, color)
        return plan

    @property
    def idle(self) -> Color:
        return other(self.active)

    @property
    def preview(self) -> Color | None:
        """Derived, never configured: the active colour below 100%, then the idle one."""
        return preview_color(self.active, self.weight(self.active), bool(self.color(self.idle).containers))

    def serving_colors(self) -> list[Color]:
        """Colours that get live traffic or the preview listener: what the router's state lists."""
        return [c for c in COLORS if self.weight(c) > 0 or c == self.preview]

    def live_colors(self) -> list[Color]:
        """Colours with a share of live traffic: the only ones whose health may veto a switch.

        The preview never does: a rollback or an abort leaves a broken colour
        on the preview, and it must still be possible (docs/reliability.md).
        """
        return [c for c in COLORS if self.weight(c) > 0]

    def canonical(self) -> str:
        # The orchestrator, owner, schema versions, route matches and sharing came later: unset, not hashed.
        exclude: dict[str, Any] = {"orchestrator": True} if self.orchestrator == "container" else {}
        if self.owner is None:
            exclude["owner"] = True
        unset = {c: {"schema_versions"} for c in COLORS if self.color(c).schema_versions is None}
        if unset:
            exclude["colors"] = unset
        if not self.rollout.match:
            exclude["rollout"] = {"match"}
        exclude.update({key: True for key in ("shared", "joined") if not getattr(self, key)})
        raw = self.model_dump(mode="json", by_alias=True, exclude=exclude)
        return json.dumps(raw, sort_keys=True, separators=(",", ":"))

    def direct(self, color: Color) -> str:
        """One name that reaches the colour without the router's routing: a container, or the service's tasks."""
        spec = self.color(color)
        return spec.alias if self.orchestrator == "swarm" and spec.alias else spec.containers[0]

    def plan_hash(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]


def _plan_problems(plan: RoutingPlan) -> list[Problem]:
    replicas = {c: len(plan.color(c).containers) for c in COLORS}
    problems: list[Problem] = []
    for found in traffic_problems(plan.active, {c: plan.weight(c) for c in COLORS}, replicas):
        if found.color is None:
            problems.append(
                Problem("weights", plan.weights.model_dump(), f"two shares that add up to 100 ({found.text})")
            )
        else:
            problems.append(Problem(f"colors.{found.color}.containers", [], f"at least one container: {found.text}"))
    return problems


def parse_plan(raw: Any) -> RoutingPlan:
    """Validate a plan (parsed JSON); SettingsError names every bad key."""
    try:
        plan = RoutingPlan.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(problems_from_validation_error(exc, RoutingPlan)) from None
    problems = _plan_problems(plan)
    if problems:
        raise SettingsError(problems)
    return plan
