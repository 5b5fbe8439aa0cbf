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


def upstream_blocks(plan: RoutingPlan, groups: dict[str, str]) -> list[str]:
    """A group per target: re-resolved by nginx (`resolve`, nginx 1.27.3 and later), with idle connections
    kept for the next request, but never longer than the app keeps them (a POST on a connection the app
    just closed is lost: nginx retries only idempotent requests)."""
    seconds = plan.edge.upstream_keepalive_seconds
    return [
        f"upstream {name} {{\n    zone {name} 64k;\n    server {target} resolve;\n"
        f"    keepalive 32;\n    keepalive_timeout {seconds}s;\n}}"
        for target, name in sorted(groups.items())
    ]
