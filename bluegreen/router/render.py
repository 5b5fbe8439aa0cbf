"""What the router needs for a routing plan: nginx config and routing state, pure functions, no I/O.

`render` splits a plan in two (docs/routing.md):

- the **config** (main.conf, http.conf, router.js): listeners, headers, rate
  limit, drain bound, and a kept-alive upstream group per target
  (bluegreen/router/upstreams.py). It changes with the router's own settings
  and with a release's new targets, and only then does a switch reload nginx;
- the **state** (state.json): active colour, weights, stickiness, preview and
  the targets per colour. router.js reads it on every request, so a flip, a
  canary step, a rollback or maintenance is one atomic rename and no nginx
  worker restarts.

Targets are names, never addresses: a colour's network alias (every replica,
so nginx balances and retries across them) or its container names, resolved
through Docker's DNS. A container that restarts on a new address, or a daemon
that hands addresses out again, can never make an old address serve the wrong
colour.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from bluegreen.colors import COLORS, Color
from bluegreen.plan.model import RoutingPlan
from bluegreen.router.apps import SHARED_MAP_BUCKETS, shared_config
from bluegreen.router.edge import PREVIEW_REFUSED, edge_config, preview_guard
from bluegreen.router.layout import (
    HTTP_CONF,
    JS_BLOCK_BEGIN,
    JS_BLOCK_END,
    LIVE_PORT,
    LOCAL_PORTS,
    MAIN_CONF,
    PREVIEW_PORT,
    REUSEPORT,
    ROUTER_JS,
    ROUTER_ONLY,
    ROUTING_DIR,
    STATE_FILE,
    STATUS_PATH,
    STATUS_PORT,
    TARGET_HEADER,
    TLS_PORT,
    js_constants,
)
from bluegreen.router.steady import STEADY_ROUTE, generation_name, steady_route
from bluegreen.router.tls_config import ACME_LOCATION, tls_config
from bluegreen.router.upstreams import groups, resolving_server, route_maps, targets, upstream_blocks

# Docker's embedded DNS, on every user-defined network; short validity so a
# restarted container's new address is used within seconds.
DOCKER_DNS = "127.0.0.11"
# The shortest nginx takes: it re-resolves a name `valid + 1` s after an answer
# (ngx_http_upstream_zone_module), so every 2 s, the same 2 s Swarm waits between
# taking a stopping task out of DNS and signalling it (moby: controller.Shutdown).
# The router may still send to a task at its SIGTERM, so the app keeps serving a
# second after it (docs/apps.md, "Why a second after SIGTERM"). At 2 s (every 3 s)
# apps that closed at once lost 12 of 328,585 requests over 64 stopped tasks.
RESOLVE_VALID_SECONDS = 1


@dataclass(frozen=True)
class Rendered:
    main_conf: str
    http_conf: str
    router_js: str
    state_json: str
    config_hash: str
    plan_hash: str
    preview: Color | None  # the colour the preview listener serves; None: no preview route
    steady: str | None = None  # "<colour> <target>": what router.js answers every live request, when one thing

    def config_files(self) -> dict[str, str]:
        return {MAIN_CONF: self.main_conf, HTTP_CONF: self.http_conf, ROUTER_JS: self.router_js}

    def generation(self, stamp: int) -> str:
        """The generation's directory name: `g<stamp>`, and `@<colour>@<target>` when the state is steady.

        nginx reads the name back per request (STEADY_ROUTE) and routes without running router.js."""
        return generation_name(stamp, self.steady)


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
        # The client's address only: never what it claims (realip sets it from a trusted proxy).
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_connect_timeout 2s;
        proxy_read_timeout @@READ@@s;
        proxy_send_timeout @@READ@@s;
        # Retry only idempotent requests (nginx's default), on another replica of the alias.
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout 10s;
"""


def _proxy_settings(plan: RoutingPlan) -> str:
    """How a request is passed on; a joined app passes on the scheme the owner's router was reached by."""
    text = PROXY_SETTINGS.replace("@@READ@@", str(plan.edge.proxy_read_timeout_seconds))
    return text.replace("X-Forwarded-Proto $scheme", "X-Forwarded-Proto $bg_forwarded_proto") if plan.joined else text


def router_js() -> str:
    """The njs module that decides every request (router/router.js), its names rendered from the layout."""
    text = resources.files("bluegreen.router").joinpath(ROUTER_JS).read_text(encoding="utf-8")
    head, rest = text.split(JS_BLOCK_BEGIN, 1)
    return head + js_constants() + rest.split(JS_BLOCK_END, 1)[1]


def _location(target: str, color: str, plan: RoutingPlan, live: bool, hsts: bool = False) -> str:
    """One listener's location. `live`: the live listener (stickiness cookie, limits, maintenance page).

    Whether the cookie is set is the state's business (router.js answers ""
    unless the state says `cookie` during a canary, and nginx adds no header
    with an empty value), so turning stickiness on or off changes no config,
    reloads nothing, and no old worker can answer without the cookie after the
    switch. The same holds for maintenance: router.js routes nowhere while the
    state says so, and the 503 it leads to renders the page from the state.
    """
    no_route = "            return 503;" if live else '            return 503 \'{"error":"no route"}\';'
    guard = (
        []
        if live
        else ["        if ($bg_preview_blocked) {", f"            return 403 '{PREVIEW_REFUSED}';", "        }"]
    )
    lines = [
        "    location / {",
        *guard,
        f'        if (${target} = "") {{',
        no_route,
        "        }",
        f"        proxy_pass http://${target}_pass;",
        _proxy_settings(plan).rstrip("\n"),
        f"        proxy_set_header {TARGET_HEADER} ${target};  # for the group's backup (upstreams.py)",
    ]
    if live:
        lines.append("        error_page 503 = @bg_unavailable;")
    if live and plan.edge.max_connections_per_client is not None:
        lines.append(f"        limit_conn bg_conn {plan.edge.max_connections_per_client};")
    if plan.rate_limit is not None:
        lines.append(f"        limit_req zone=bg_rate burst={plan.rate_limit.burst} nodelay;")
    if plan.edge.color_header or not live:  # the preview is the operator's listener: it always says
        lines.append(f"        add_header X-Bluegreen-Color ${color} always;")
    if live:
        lines.append("        add_header Set-Cookie $bg_set_cookie always;")
    lines += _headers(plan, hsts)
    lines.append("    }")
    if live:  # the 503 of a live request: the maintenance page, or "no route"
        lines += [
            "    location @bg_unavailable {",
            "        js_content bg.unavailable;",
            *_headers(plan, hsts),
            "    }",
        ]
    return "\n".join(lines)


HSTS = ("Strict-Transport-Security", "max-age=31536000")


def _headers(plan: RoutingPlan, hsts: bool) -> list[str]:
    pairs = list(SECURITY_HEADERS) if plan.security_headers else []
    pairs += [HSTS] if hsts else []
    return [f'        add_header {name} "{value}" always;' for name, value in pairs]


def _server(listens: list[str], body: str) -> str:
    """Public listeners share their port with a bridge router (SO_REUSEPORT); loopback ones are the router's."""

    def listen(x: str) -> str:
        return f"    listen {x};  {ROUTER_ONLY}\n" if x.startswith("127.0.0.1:") else f"    listen {x} {REUSEPORT};\n"

    return "server {\n" + "".join(listen(x) for x in listens) + "    server_name _;\n" + body + "\n}"


def _listeners(plan: RoutingPlan) -> list[str]:
    """The live server(s) and the preview server: plain, or TLS with plain redirecting."""
    pp = " proxy_protocol" if plan.edge.proxy_protocol else ""
    local_live, local_preview = (f"127.0.0.1:{LOCAL_PORTS[k]}" for k in ("live", "preview"))
    live = _location("bg_target", "bg_color", plan, live=True)
    preview = _location("bg_preview_target", "bg_preview_color", plan, live=False)
    tls = plan.tls
    if tls is None:
        return [
            _server([f"{LIVE_PORT} default_server{pp}", local_live], live),
            _server([str(PREVIEW_PORT), local_preview], preview),
        ]
    secure_live = _location("bg_target", "bg_color", plan, live=True, hsts=tls.hsts)
    suffix = "" if tls.port == 443 else f":{tls.port}"
    plain = ACME_LOCATION + (
        f"    location / {{\n        return 308 https://$bg_redirect_host{suffix}$request_uri;\n    }}"
        if tls.redirect_http
        else live
    )
    return [
        _server([f"{LIVE_PORT} default_server{pp}"], plain),
        _server([f"{TLS_PORT} ssl default_server{pp}", local_live], secure_live),
        _server([f"{PREVIEW_PORT} ssl", local_preview], preview),
    ]


def _preview(plan: RoutingPlan, preview_down: bool) -> Color | None:
    """The colour the preview listener serves: none while it is down or has no containers."""
    return (
        plan.preview if plan.preview is not None and plan.color(plan.preview).containers and not preview_down else None
    )


def _routed(plan: RoutingPlan, preview: Color | None) -> list[Color]:
    """The colours the state lists targets for: the live ones and the preview's."""
    return [c for c in plan.serving_colors() if c in plan.live_colors() or c == preview]


def _state(plan: RoutingPlan, generated_at: str, preview: Color | None) -> str:
    state = {
        "deployment": plan.deployment,
        "planHash": plan.plan_hash(),
        "generatedAt": generated_at,
        "active": plan.active,
        "weights": plan.weights.model_dump(),
        "versions": {c: plan.color(c).version for c in COLORS},
        "preview": preview,
        "stickiness": plan.stickiness,
        "targets": {c: targets(plan, c) for c in _routed(plan, preview)},
        # Read per request like the rest: entering and leaving it is a publish, never a reload.
        "maintenance": (
            {"message": plan.maintenance.message, "retryAfterSeconds": plan.maintenance.retry_after_seconds}
            if plan.maintenance.enabled
            else None
        ),
        "allowlist": (
            {"header": plan.rollout.allowlist_header.lower(), "tokens": sorted(plan.rollout.allowlist)}
            if plan.rollout.allowlist_header and plan.rollout.allowlist
            else None
        ),
        # Header and cookie routes (rollout.match): the header lower-case, as njs's headersIn finds it either way.
        "match": [
            {"header": m.header.lower()} | {"value": m.value} if m.header else {"cookie": m.cookie, "value": m.value}
            for m in plan.rollout.match
        ]
        or None,
    }
    return json.dumps(state, sort_keys=True, indent=1) + "\n"


# One JSON line per request (bluegreen.release.metrics reads them): `color` is the routing decision,
# so the 502/504 nginx itself answers for a dead container count for the colour it was routed
# to; `app_color` is what the app said. Times are seconds with millisecond resolution, and
# the upstream fields are text: after a retry they are lists ("502, 200"). `rule` is "match" or
# "allowlist" when a header or cookie chose the colour instead of the weights: counted apart.
ACCESS_LOG = (
    "log_format bluegreen escape=json '{"
    '"t":$msec,"time":"$time_iso8601","request_id":"$bg_request_id","listener":"$bg_listener",'
    '"color":"$bg_served","status":$status,"upstream_status":"$upstream_status",'
    '"upstream_s":"$upstream_response_time","request_s":$request_time,"method":"$request_method",'
    '"path":"$uri","upstream":"$upstream_addr","client":"$remote_addr","app_color":"$upstream_http_x_app_color",'
    '"rule":"$bg_rule"'
    "}';\naccess_log /dev/stdout bluegreen buffer=32k flush=1s;"
)


def _log(plan: RoutingPlan) -> str:
    """The access log, and which listener and colour each line is for (`local`: checks from inside)."""
    live_http = "redirect" if plan.tls is not None and plan.tls.redirect_http else "live"
    listeners = {LIVE_PORT: live_http, PREVIEW_PORT: "preview", **({TLS_PORT: "live"} if plan.tls else {})}
    rows = "".join(f"    {port} {name};\n" for port, name in sorted(listeners.items()))
    return (
        f"map $server_port $bg_listener {{\n{rows}    default local;\n}}\n"
        'map $bg_listener $bg_served {\n    live $bg_color;\n    preview $bg_preview_color;\n    default "";\n}\n'
        + ACCESS_LOG
    )


def _routing_blocks(plan: RoutingPlan, kept_alive: dict[str, str]) -> list[str]:
    """router.js, the maps that turn its answer (or the steady generation's name) into a target, the groups."""
    return [
        f"# Generated by bluegreen for {plan.deployment}. Do not edit: the next switch replaces it.\n"
        f"# Routing decisions come from {ROUTING_DIR}/current/{STATE_FILE}, read by {ROUTER_JS} per request."
        + (f"\n{SHARED_MAP_BUCKETS}" if plan.shared else ""),
        f"js_import bg from {ROUTING_DIR}/current/{ROUTER_JS};",
        "js_var $bg_rule;\njs_set $bg_js_route bg.live;\njs_set $bg_preview_route bg.preview;\n"
        "js_set $bg_js_set_cookie bg.setCookie;",
        STEADY_ROUTE,
        route_maps("bg_route", "bg_color", "bg_target", kept_alive),
        route_maps("bg_preview_route", "bg_preview_color", "bg_preview_target", kept_alive),
        'map $http_upgrade $bg_connection {\n    default upgrade;\n    "" "";\n}',
        'map $http_x_request_id $bg_request_id {\n    default $http_x_request_id;\n    "" $request_id;\n}',
        f"resolver {DOCKER_DNS} valid={RESOLVE_VALID_SECONDS}s ipv6=off;\nresolver_timeout 2s;",
        *upstream_blocks(plan, kept_alive),
    ]


def _servers(plan: RoutingPlan) -> list[str]:
    """The router's own listeners, then (a shared router) its joined apps' servers."""
    # The app's router adds its own security headers; only HSTS is the owner's (it terminates TLS).
    hsts = [f'        add_header {HSTS[0]} "{HSTS[1]}" always;'] if plan.tls and plan.tls.hsts else []
    return [*_listeners(plan), *shared_config(plan, _proxy_settings(plan), hsts, ROUTER_ONLY)]


CONFIG_HASH_PLACEHOLDER = "@@CONFIG_HASH@@"


def _status_server() -> str:
    """The status listener on the router's loopback: what the switch and the healthcheck read."""
    return (
        f"{ROUTER_ONLY} begin\n"
        "server {\n"
        f"    listen 127.0.0.1:{STATUS_PORT};\n"
        "    access_log off;\n"
        f'    set $bg_config_hash "{CONFIG_HASH_PLACEHOLDER}";\n'
        f"    location = {STATUS_PATH} {{\n"
        "        js_content bg.status;\n"
        "    }\n"
        "    location / {\n        return 404;\n    }\n"
        "}\n"
        f"{ROUTER_ONLY} end"
    )


def render(
    plan: RoutingPlan,
    generated_at: str,
    preview_down: bool = False,
    stack_networks: Sequence[tuple[str, str]] = (),
    edge_networks: Sequence[str] = (),
) -> Rendered:
    """The router's config and state for `plan`.

    The config hash covers the config files only (not the state), so traffic
    changes and releases keep it: that is what lets a switch skip the reload.
    `preview_down`: the preview colour failed its check, so the state gives the
    preview listener no route (it answers 503) until a switch finds it healthy.
    `stack_networks`: (network, gateway) of the networks the router is on; their
    containers get 403 from the preview listener (bluegreen/router/edge.py).
    `edge_networks`: a joined app's, the owner's edge network: its router's X-Forwarded-For is believed.
    """
    preview = _preview(plan, preview_down)
    kept_alive = groups(plan)
    blocks = _routing_blocks(plan, kept_alive)
    if plan.rate_limit is not None:
        blocks.append(
            f"limit_req_zone $binary_remote_addr zone=bg_rate:10m rate={plan.rate_limit.requests_per_second}r/s;\n"
            "limit_req_status 429;"
        )
    blocks.append(edge_config(plan.edge, plan.drain_seconds, edge_networks if plan.joined else None))
    blocks.append(preview_guard(stack_networks))
    blocks.append(_log(plan))
    if plan.tls is not None:
        blocks.append(tls_config(plan.tls))
    blocks += _servers(plan)
    blocks.append(resolving_server(plan.edge.proxy_read_timeout_seconds))
    blocks.append(_status_server())
    http_body = "\n\n".join(blocks) + "\n"
    main_conf = (
        f"# Generated by bluegreen for {plan.deployment}.\n"
        "load_module modules/ngx_http_js_module.so;\n"
        "# Only a config change reloads nginx; its old workers finish in-flight\n"
        "# requests, but no longer than the drain bound.\n"
        f"worker_shutdown_timeout {max(plan.drain_seconds, 1)}s;\n"
    )
    script = router_js()
    config_hash = hashlib.sha256((main_conf + http_body + script).encode()).hexdigest()[:16]
    return Rendered(
        main_conf=main_conf,
        http_conf=http_body.replace(CONFIG_HASH_PLACEHOLDER, config_hash),
        router_js=script,
        state_json=_state(plan, generated_at, preview),
        config_hash=config_hash,
        plan_hash=plan.plan_hash(),
        preview=preview,
        steady=steady_route(plan),
    )
