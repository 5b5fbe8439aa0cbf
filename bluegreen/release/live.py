"""The live plan and what an operator does to it: rollback, maintenance, resume.

Each is a switch (bluegreen.release.switch) from the plan the router holds
now, compared and swapped against it: an action never applies over a change
it did not see.
"""

from __future__ import annotations

from bluegreen.config.router import Maintenance
from bluegreen.engine.targets import Inspector
from bluegreen.errors import SettingsError, SwitchError
from bluegreen.plan.derive import rollback_plan
from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.release.progress import Progress, quiet
from bluegreen.release.switch import SwitchReport, apply_plan
from bluegreen.router.layout import LIVE_PLAN, PROGRAM_PLAN
from bluegreen.router.seam import RouterPort, Snapshot, snapshot_of


def live_plan(router: RouterPort) -> RoutingPlan | None:
    """The plan the router last applied; None before the first switch, SwitchError when unreadable."""
    return _live_of(snapshot_of(router.begin(None), router.container))


def _live_of(snapshot: Snapshot) -> RoutingPlan | None:
    if snapshot.unreadable:
        raise SwitchError("; ".join(snapshot.unreadable) + "; run a switch with a plan to replace it")
    record = snapshot.live_record
    if not record:
        return None
    try:
        return parse_plan(record["plan"])
    except (SettingsError, KeyError) as exc:
        raise SwitchError(
            f"the router's {LIVE_PLAN} does not hold a plan this version understands ({exc}); "
            "run a switch with a plan to replace it"
        ) from exc


def live_in(snapshot: Snapshot, what: str) -> RoutingPlan:
    """The live plan a snapshot holds, or why there is nothing to act on."""
    live = _live_of(snapshot)
    if live is None:
        raise SwitchError(f"no switch has run yet, so there is no {what}")
    return live


def set_maintenance(
    router: RouterPort,
    inspector: Inspector,
    maintenance: Maintenance,
    progress: Progress = quiet,
    lock_wait: float = 0.0,
) -> SwitchReport:
    """The live plan with `maintenance` in it, published like any switch (state only: no reload).

    Entering is not gated (no colour takes live traffic); leaving is, like a
    switch to the same routing. `pulumi up` keeps it while the stack's own
    `maintenance` does not change (bluegreen.release.hold).
    """

    def derive(snapshot: Snapshot) -> RoutingPlan:
        live = live_in(snapshot, "live routing to put into maintenance")
        return live.model_copy(update={"maintenance": maintenance})

    return apply_plan(router, inspector, derive, source="maintenance", progress=progress, lock_wait=lock_wait)


def rollback(
    router: RouterPort,
    inspector: Inspector,
    successes: int = 1,
    progress: Progress = quiet,
    lock_wait: float = 0.0,
    break_lock: bool = False,
) -> SwitchReport:
    """Send 100% to the idle colour, health-gated. The emergency path: one success suffices, and two execs
    (the lock, the live plan and the armed probes in one; the publish) when the idle colour still answers."""
    return apply_plan(
        router, inspector, lambda snapshot: rollback_of(live_in(snapshot, "idle colour to return to"), successes),
        source="rollback", progress=progress, lock_wait=lock_wait, break_lock=break_lock,
    )  # fmt: skip


def rollback_of(live: RoutingPlan, successes: int) -> RoutingPlan:
    """The live plan's rollback (bluegreen.plan.derive), refused when the idle colour has nothing to return to."""
    if not live.color(live.idle).containers:
        raise SwitchError(f"the idle colour {live.idle} has no containers; nothing to roll back to")
    return rollback_plan(live, max_successes=successes)


def resume(
    router: RouterPort, inspector: Inspector, progress: Progress = quiet, lock_wait: float = 0.0
) -> SwitchReport:
    """Make the plan the program last applied live again (gated): the end of every hold, without Pulumi."""

    def derive(snapshot: Snapshot) -> RoutingPlan:
        live_in(snapshot, "live routing to hand back")
        try:
            return parse_plan((snapshot.program_record or {})["plan"])
        except (SettingsError, KeyError, TypeError) as exc:
            raise SwitchError(
                f"the router's {PROGRAM_PLAN} holds no plan this version understands ({exc}); `pulumi up` applies one"
            ) from exc

    return apply_plan(router, inspector, derive, source="resume", progress=progress, lock_wait=lock_wait)
