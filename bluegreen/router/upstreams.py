"""The app behind each target: upstream groups with kept-alive connections, and how a request reaches one.

router.js decides a target per request ("<colour> <host:port>"); nginx keeps
a pool of open connections only for an upstream *group*, and a group must be
in the config. So each target gets a group of the same name re-resolved every
few seconds (`server NAME resolve`, nginx 1.27.3 and later: a container that
restarts on a new address is followed), and a map turns the chosen target
into its group. A target the config does not know yet (a worker of the
previous config reading a newer state, mid-reload) falls through to the name
itself, resolved per request on a new connection: the state never waits for
the config, and the reload a release brings only adds speed.
"""

from __future__ import annotations

import hashlib

from bluegreen.colors import COLORS, Color
from bluegreen.plan.model import RoutingPlan
from bluegreen.router.layout import RESOLVING_PORT, REUSEPORT, TARGET_HEADER


def targets(plan: RoutingPlan, color: Color) -> list[str]:
    """What the state lists for a colour: its alias, or its containers when it has none."""
    spec = plan.color(color)
    hosts = [spec.alias] if spec.alias and spec.containers else list(spec.containers)
    return [f"{host}:{plan.app_port}" for host in hosts]


def route_maps(route: str, color: str, target: str, groups: dict[str, str]) -> str:
    """ "<colour> <host:port>" from router.js, as three variables: the colour, the target, and where
    proxy_pass sends it (the target's upstream group, or the target itself when this config has none)."""
    rows = "".join(f'    "{t}" {name};\n' for t, name in sorted(groups.items()))
    return (
        f'map ${route} ${color} {{\n    "~^(?<{color}_c>[a-z]+) " ${color}_c;\n    default "";\n}}\n'
        f'map ${route} ${target} {{\n    "~ (?<{target}_t>[^ ]+)$" ${target}_t;\n    default "";\n}}\n'
        f"map ${target} ${target}_pass {{\n{rows}    default ${target};\n}}"
    )


def group_name(target: str) -> str:
    return "bg_up_" + hashlib.sha256(target.encode()).hexdigest()[:12]


def groups(plan: RoutingPlan) -> dict[str, str]:
    """target -> its upstream group, for every colour that has containers (whatever its weight: a canary
    step or a flip must not change the config); none without keep-alive."""
    if plan.edge.upstream_keepalive_seconds == 0:
        return {}
    return {t: group_name(t) for c in COLORS if plan.color(c).containers for t in targets(plan, c)}


def upstream_block(name: str, target: str, keepalive_seconds: int, connections: int = 32) -> str:
    """A group re-resolved by nginx (`resolve`, nginx 1.27.3 and later), with idle connections kept for the
    next request. Its backup is the loopback listener that resolves per request (RESOLVING_PORT): a worker
    that has not resolved the name yet (a fresh nginx, a group new in a reload) sends the request there
    instead of answering 502 "no live upstreams"."""
    return (
        f"upstream {name} {{\n    zone {name} 64k;\n    server {target} resolve;\n"
        f"    server 127.0.0.1:{RESOLVING_PORT} backup;\n"
        f"    keepalive {connections};\n    keepalive_timeout {keepalive_seconds}s;\n}}"
    )


def upstream_blocks(plan: RoutingPlan, groups: dict[str, str]) -> list[str]:
    """A group per target, its idle connections kept never longer than the app keeps them (a POST on a
    connection the app just closed is lost: nginx retries only idempotent requests)."""
    seconds = plan.edge.upstream_keepalive_seconds
    return [upstream_block(name, target, seconds) for target, name in sorted(groups.items())]


def resolving_server(read_timeout: int) -> str:
    """The groups' backup: passes a request on to the target the first hop named, resolved per request.

    Loopback only, so no client can name a target; the header goes no further."""
    return (
        "server {\n"
        f"    listen 127.0.0.1:{RESOLVING_PORT} {REUSEPORT};\n"
        "    access_log off;\n"
        "    location / {\n"
        f"        proxy_pass http://$http_{TARGET_HEADER.lower().replace('-', '_')};\n"
        "        proxy_http_version 1.1;\n"
        "        proxy_set_header Host $http_host;\n"
        "        proxy_set_header Connection $http_connection;\n"
        f'        proxy_set_header {TARGET_HEADER} "";\n'
        "        proxy_connect_timeout 2s;\n"
        f"        proxy_read_timeout {read_timeout}s;\n"
        f"        proxy_send_timeout {read_timeout}s;\n"
        "        proxy_next_upstream off;\n"
        "    }\n"
        "}"
    )
