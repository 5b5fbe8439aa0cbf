"""The steady state, routed by nginx without njs: one colour, one target, named in the generation.

Most of the time one colour has all the live traffic on one target, and
router.js has only one answer. The switch then names the generation after it
(`g<stamp>@<colour>@<target>`), and nginx reads the route back from the name
`current` resolves to, per request, without running JavaScript
(docs/routing.md, "The steady state without njs").
"""

from __future__ import annotations

from bluegreen.plan.model import RoutingPlan
from bluegreen.router.layout import CURRENT, ROUTING_DIR
from bluegreen.router.upstreams import targets


def steady_route(plan: RoutingPlan) -> str | None:
    """The one answer router.js's `live` gives every request, when the state leaves it no choice.

    One colour has all the live traffic on one target, no maintenance, and no
    allowlisted tester or header route can send a request elsewhere. Anything else (a canary, several
    targets, stickiness that matters) is decided by router.js per request.
    tests/unit/test_router_js.py holds the two to the same answer.
    """
    share = plan.weight(plan.active)
    routed = bool(plan.rollout.allowlist_header and plan.rollout.allowlist) or bool(plan.rollout.match)
    if plan.maintenance.enabled or (0 < share < 100) or (share <= 0 and routed):
        return None
    color = plan.active if share >= 100 else plan.idle
    hosts = targets(plan, color)
    return f"{color} {hosts[0]}" if len(hosts) == 1 else None


# The steady state without njs: `current` names a generation whose directory name carries the route
# (Rendered.generation), and $realpath_root (the location's root, `current`, resolved per request: a
# few readlink calls) reads it back. The symlink is renamed atomically with the state, so both always
# come from one generation. Every other generation name leaves the decision to router.js.
STEADY_ROUTE = f"""root {ROUTING_DIR}/{CURRENT};
map $realpath_root $bg_steady_route {{
    "~/g[0-9]+@(?<bg_steady_c>[a-z]+)@(?<bg_steady_t>[^/@]+)$" "$bg_steady_c $bg_steady_t";
    default "";
}}
map $bg_steady_route $bg_route {{
    "" $bg_js_route;
    default $bg_steady_route;
}}
# A steady state sets no cookie: router.js sets one only while two colours share the traffic.
map $bg_steady_route $bg_set_cookie {{
    "" $bg_js_set_cookie;
    default "";
}}"""


def generation_name(stamp: int, steady: str | None) -> str:
    """`g<stamp>`, and `@<colour>@<target>` when the state is steady (what STEADY_ROUTE's map reads)."""
    return f"g{stamp}" + ("@" + steady.replace(" ", "@") if steady else "")
