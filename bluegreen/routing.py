"""The routing plan and its nginx config: pure functions, no I/O.

A RoutingPlan says which containers each colour has and what share of
requests each colour gets. `render` turns a plan plus the containers'
addresses into the two files the router includes. The plan is the JSON that
`python -m bluegreen switch --plan` reads (documented in docs/routing.md).

Why addresses, not names: nginx resolves `server name:port` once, when the
config loads, and refuses to load if a name does not resolve. Rendering the
addresses the engine reports keeps `nginx -t` free of DNS failures, and it
makes a replaced container (same name, new address) change the config hash,
so the switch reloads exactly when a reload is needed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from bluegreen.conventions import COLORS, MAX_DRAIN_SECONDS, Color, other, preview_color, traffic_problems
from bluegreen.problems import Problem, SettingsError, problems_from_validation_error
from bluegreen.settings import (
    Allowed,
    HealthGate,
    ImageTag,
    Model,
    RateLimit,
    StackSettings,
    Stickiness,
    UrlPath,
)

# Ports inside the router container (the nginx-unprivileged convention).
LIVE_PORT = 8080
PREVIEW_PORT = 8081
STATUS_PORT = 8082
STATUS_PATH = "/status"
STICKY_COOKIE = "bg_bucket"
ROUTING_DIR = "/etc/nginx/bluegreen"

ContainerName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"),
    Allowed("a container name: letters, digits, '_', '.', '-'"),
]
DeploymentName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"),
    Allowed("a deployment name <project>-<stack>, such as bluegreen-dev"),
]


class ColorPlan(Model):
    version: ImageTag | None = None
    containers: list[ContainerName] = Field(default_factory=list)


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
    health_gate: HealthGate = Field(default_factory=HealthGate)

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
        """Colours that get live traffic or the preview listener: what the gate checks."""
        return [c for c in COLORS if self.weight(c) > 0 or c == self.preview]

    def canonical(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))

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


def plan_from_settings(settings: StackSettings, deployment: str, containers: Mapping[Color, list[str]]) -> RoutingPlan:
    """The plan the Pulumi program asks for: settings plus the colour stacks' container names."""
    return parse_plan(
        {
            "deployment": deployment,
            "active": settings.active_color,
            "weights": settings.weights(),
            "colors": {
                c: {"version": settings.color(c).version, "containers": list(containers.get(c, []))} for c in COLORS
            },
            "appPort": settings.app.port,
            "healthPath": settings.app.health_path,
            "stickiness": settings.stickiness,
            "drainSeconds": settings.router.drain_seconds,
            "securityHeaders": settings.router.security_headers,
            "rateLimit": settings.router.rate_limit.model_dump(by_alias=True) if settings.router.rate_limit else None,
            "healthGate": settings.health_gate.model_dump(by_alias=True),
        }
    )


def rollback_plan(live: RoutingPlan) -> RoutingPlan:
    """The idle colour takes 100% and becomes active; the colour it replaces is then the preview."""
    raw = live.model_dump(mode="json", by_alias=True)
    raw.update(active=live.idle, weights={live.idle: 100, live.active: 0})
    return parse_plan(raw)


# --- rendering ------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    main_conf: str
    http_conf: str
    config_hash: str
    plan_hash: str

    def files(self) -> dict[str, str]:
        return {"main.conf": self.main_conf, "http.conf": self.http_conf}


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "interest-cohort=()"),
)

PROXY_SETTINGS = """\
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $bg_connection;
        proxy_set_header X-Request-ID $bg_request_id;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_connect_timeout 2s;
        proxy_read_timeout 120s;
        proxy_send_timeout 120s;
        # Retry only idempotent requests (nginx's default), on another container.
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout 10s;
"""


def _upstream(color: Color, plan: RoutingPlan, addresses: Mapping[str, str]) -> str:
    lines = [f"upstream bg_{color} {{"]
    for name in plan.color(color).containers:
        lines.append(f"    server {addresses[name]}:{plan.app_port} max_fails=1 fail_timeout=2s;  # {name}")
    lines += ["    keepalive 32;", "}"]
    return "\n".join(lines)


def _split(plan: RoutingPlan) -> tuple[str, str]:
    """The split directive (if two colours are live) and the upstream expression."""
    live = [c for c in COLORS if plan.weight(c) > 0]
    if len(live) == 1:
        return "", f"bg_{live[0]}"
    key = {"none": "${request_id}", "ip": "${remote_addr}", "cookie": "${bg_sticky_key}"}[plan.stickiness]
    # The active colour owns the low end of the hash range, so raising its
    # share (10 -> 50) keeps every sticky client that already saw it.
    text = f'split_clients "{key}" $bg_color {{\n    {plan.weight(plan.active)}% {plan.active};\n    * {plan.idle};\n}}'
    return text, "bg_$bg_color"


def _location(upstream: str, color_header: str, plan: RoutingPlan, sticky: bool) -> str:
    lines = ["    location / {", f"        proxy_pass http://{upstream};", PROXY_SETTINGS.rstrip("\n")]
    if plan.rate_limit is not None:
        lines.append(f"        limit_req zone=bg_rate burst={plan.rate_limit.burst} nodelay;")
    lines.append(f"        add_header X-Bluegreen-Color {color_header} always;")
    if sticky:
        lines.append("        add_header Set-Cookie $bg_set_cookie always;")
    if plan.security_headers:
        lines += [f'        add_header {name} "{value}" always;' for name, value in SECURITY_HEADERS]
    lines.append("    }")
    return "\n".join(lines)


def _status_json(plan: RoutingPlan, config_hash: str, generated_at: str) -> str:
    status = {
        "deployment": plan.deployment,
        "configHash": config_hash,
        "planHash": plan.plan_hash(),
        "generatedAt": generated_at,
        "active": plan.active,
        "weights": plan.weights.model_dump(),
        "versions": {c: plan.color(c).version for c in COLORS},
        "preview": plan.preview,
        "stickiness": plan.stickiness,
    }
    return json.dumps(status, sort_keys=True, separators=(",", ":"))


STATUS_PLACEHOLDER = "@@STATUS@@"


def render(plan: RoutingPlan, addresses: Mapping[str, str], generated_at: str) -> Rendered:
    """nginx config for `plan`. `addresses` maps every serving container to its IP.

    The config hash covers everything except the status body (which carries the
    hash itself and the generation time), so the same plan and addresses always
    hash the same: that is what makes a repeated switch a no-op.
    """
    missing = [n for c in plan.serving_colors() for n in plan.color(c).containers if n not in addresses]
    if missing:
        raise ValueError(f"no address for container(s): {', '.join(missing)}")
    split, live_upstream = _split(plan)
    sticky = plan.stickiness == "cookie" and bool(split)
    blocks = [
        f"# Generated by bluegreen for {plan.deployment}, plan {plan.plan_hash()}.\n"
        "# Do not edit: the next switch replaces it.",
        'map $http_upgrade $bg_connection {\n    default upgrade;\n    "" "";\n}',
        'map $http_x_request_id $bg_request_id {\n    default $http_x_request_id;\n    "" $request_id;\n}',
    ]
    if sticky:
        blocks.append(
            f"map $cookie_{STICKY_COOKIE} $bg_sticky_key {{\n"
            '    "" $request_id;\n'
            f"    default $cookie_{STICKY_COOKIE};\n}}"
        )
        blocks.append(
            f"map $cookie_{STICKY_COOKIE} $bg_set_cookie {{\n"
            f'    "" "{STICKY_COOKIE}=$request_id; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax";\n'
            '    default "";\n}'
        )
    if plan.rate_limit is not None:
        blocks.append(
            f"limit_req_zone $binary_remote_addr zone=bg_rate:10m rate={plan.rate_limit.requests_per_second}r/s;\n"
            "limit_req_status 429;"
        )
    blocks += [_upstream(c, plan, addresses) for c in plan.serving_colors()]
    if split:
        blocks.append(split)
    live_color_header = "$bg_color" if split else next(c for c in COLORS if plan.weight(c) > 0)
    blocks.append(
        "server {\n"
        f"    listen {LIVE_PORT} default_server;\n"
        "    server_name _;\n"
        f"{_location(live_upstream, live_color_header, plan, sticky)}\n"
        "}"
    )
    if plan.preview is not None and plan.color(plan.preview).containers:
        preview_location = _location(f"bg_{plan.preview}", plan.preview, plan, sticky=False)
    else:
        preview_location = (
            "    location / {\n        default_type application/json;\n"
            '        return 503 \'{"error":"no preview colour"}\';\n    }'
        )
    blocks.append(f"server {{\n    listen {PREVIEW_PORT};\n    server_name _;\n{preview_location}\n}}")
    blocks.append(
        "server {\n"
        f"    listen 127.0.0.1:{STATUS_PORT};\n"
        "    access_log off;\n"
        f"    location = {STATUS_PATH} {{\n"
        "        default_type application/json;\n"
        f"        return 200 '{STATUS_PLACEHOLDER}';\n"
        "    }\n"
        "    location / {\n        return 404;\n    }\n"
        "}"
    )
    http_body = "\n\n".join(blocks) + "\n"
    main_conf = (
        f"# Generated by bluegreen for {plan.deployment}.\n"
        "# Old workers finish in-flight requests, but no longer than the drain bound:\n"
        "# without it a WebSocket would pin an old worker forever.\n"
        f"worker_shutdown_timeout {max(plan.drain_seconds, 1)}s;\n"
    )
    config_hash = hashlib.sha256((main_conf + http_body).encode()).hexdigest()[:16]
    http_conf = http_body.replace(STATUS_PLACEHOLDER, _status_json(plan, config_hash, generated_at))
    return Rendered(main_conf=main_conf, http_conf=http_conf, config_hash=config_hash, plan_hash=plan.plan_hash())
