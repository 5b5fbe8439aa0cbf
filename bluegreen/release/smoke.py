"""Smoke checks: GETs through the preview listener, from inside the router, before traffic moves.

They run in the switch, after the gate and under the lock, so they see the
routing that is live and nothing can change it between the check and the
publish. The candidate is the colour whose share of live traffic goes up;
the preview listener serves it whenever it is the active colour below 100%
or the idle colour at 100% (plan/traffic.py: preview_color). When the live
preview serves another colour (a first switch, an unusual flip), or other
containers of it (one update that releases and promotes the idle colour),
the checks go to the plan's containers directly, and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bluegreen.colors import COLORS, Color
from bluegreen.config.hooks import SmokeCheck
from bluegreen.errors import SmokeFailedError
from bluegreen.plan.model import RoutingPlan
from bluegreen.release.progress import Progress, quiet
from bluegreen.router.layout import LOCAL_PORTS
from bluegreen.router.seam import HttpResult

BODY_EXCERPT = 200


class Fetcher(Protocol):
    def fetch(self, targets: Sequence[tuple[str, int, str]]) -> list[HttpResult]: ...


def candidate(live: RoutingPlan | None, plan: RoutingPlan) -> Color | None:
    """The colour whose share of live traffic goes up; None when no share goes up (nothing to check)."""
    for color in COLORS:
        before = live.weight(color) if live is not None else 0
        if plan.weight(color) > before and plan.color(color).containers:
            return color
    return None


def run_smoke(
    router: Fetcher,
    checks: Sequence[SmokeCheck],
    live: RoutingPlan | None,
    plan: RoutingPlan,
    progress: Progress = quiet,
) -> Color | None:
    """Check every path on the candidate; returns the candidate (None: nothing was checked)."""
    color = candidate(live, plan)
    if not checks or color is None:
        return None
    # Through the preview only when it already routes to exactly the containers this plan sends traffic to: a
    # release that replaces the colour's containers in the same update still has the old ones on the preview.
    if (
        live is not None
        and live.preview == color
        and live.color(color).containers
        and live.color(color) == plan.color(color)
    ):
        where, targets = "the preview", [("127.0.0.1", LOCAL_PORTS["preview"], c.path) for c in checks]
    else:
        first = plan.direct(color)
        where, targets = first, [(first, plan.app_port, c.path) for c in checks]
    answers = router.fetch(targets)
    for check, answer in zip(checks, answers, strict=True):
        if answer.status != check.expect_status:
            got = answer.status if answer.status is not None else answer.detail
            body = " ".join(answer.body.split())[:BODY_EXCERPT]
            raise SmokeFailedError(
                f"smoke check {check.name}: GET {check.path} on {where} ({color}) answered {got}, expected "
                f"{check.expect_status}" + (f"; body: {body}" if body else "")
            )
    progress(f"smoke: {len(checks)} check(s) passed on {where} ({color})")
    return color
