"""Apply a routing plan to a router: gate -> render -> decide -> publish -> verify -> drain.

One idempotent operation under the router's lock: the same plan twice
publishes nothing. Traffic changes and releases publish state only (no nginx
reload); only a change of the router's own config reloads. Every failure is
one line: SwitchError means the routing that was live before still is (or is
back), LockHeldError (exit 3) that another switch held the lock too long,
OutcomeUnknownError (exit 4) that nobody can know from here: run `status`.
Rollback is the same operation with the idle colour at 100%. The gate
begins with the schema: no traffic to a colour that does not run on the
database's schema (bluegreen.release.schema).

The router is a RouterPort and the containers an Inspector, so every branch
runs against a fake in unit tests; bluegreen.router.adapter.LiveRouter is the
real one.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bluegreen.colors import COLORS, utc_now
from bluegreen.config.hooks import SmokeCheck
from bluegreen.engine.targets import Inspector
from bluegreen.errors import (
    BluegreenError,
    ConfigRefusedError,
    DockerError,
    GateError,
    InputError,
    LockHeldError,
    LockLostError,
    NotLiveError,
    OutcomeUnknownError,
    RouterError,
    SettingsError,
    SmokeFailedError,
    SwitchError,
)
from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.release.express import Switching, offer
from bluegreen.release.generation import Decision, check_unchanged, decide, generation_files, publication
from bluegreen.release.health import check_health
from bluegreen.release.hold import Hold, program_hold
from bluegreen.release.lock import DEFAULT_LOCK_WAIT, LockingProber, new_lock
from bluegreen.release.progress import Progress, quiet
from bluegreen.release.schema import check_schema
from bluegreen.release.smoke import run_smoke
from bluegreen.router.render import Rendered, render
from bluegreen.router.seam import RouterPort, Snapshot

POLL_SECONDS = 0.02


@dataclass
class SwitchReport:
    deployment: str
    router: str
    source: str
    changed: bool
    reloaded: bool
    weights: dict[str, int]
    plan_hash: str
    config_hash: str
    previous_config_hash: str | None
    gate_s: float
    live_s: float
    drained_s: float | None
    old_workers_left: int | None  # None: could not be counted (the switch itself is done)
    total_s: float
    warnings: list[str] = field(default_factory=list)  # what is wrong but vetoes nothing: a preview that is down

    def line(self) -> str:
        shares = " / ".join(f"{c} {self.weights[c]}%" for c in COLORS)
        warned = "".join(f"; warning: {w}" for w in self.warnings)
        if not self.changed:
            return f"{self.deployment}: already live ({shares}, config {self.config_hash}); nothing reloaded{warned}"
        if not self.reloaded:
            drain = "no reload"
        elif self.drained_s is not None:
            drain = f"reloaded, drained {self.drained_s:.2f}s"
        elif self.old_workers_left is None:
            drain = "reloaded, old workers not counted"
        else:
            drain = f"reloaded, {self.old_workers_left} old worker(s) still draining"
        return (
            f"{self.deployment}: live {shares} (config {self.config_hash}, plan {self.plan_hash}); "
            f"gate {self.gate_s:.2f}s, live {self.live_s:.2f}s, {drain}{warned}"
        )


def _edges(router: RouterPort, plan: RoutingPlan) -> list[str]:
    """A joined app's router believes the owner's router (on their edge network) about the client."""
    return router.edge_subnets() if plan.joined else []


Derive = Callable[[Snapshot], RoutingPlan]  # a plan made from the live one (rollback, abort, maintenance, resume)


def apply_plan(
    router: RouterPort,
    inspector: Inspector,
    plan: RoutingPlan | Derive,
    source: str = "cli",
    wait_drain: bool = True,
    progress: Progress = quiet,
    observed: str | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    expect_live_plan: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    note: str | None = None,
    smoke: Sequence[SmokeCheck] = (),
    break_lock: bool = False,
    program_observed: str | None = None,
    hold: Hold | None = None,
) -> SwitchReport:
    """Make `plan` live on `router`: a plan, or a Derive made from what was live when this switch first asked for
    the lock (read in the call that takes it, with the armed targets' answers: two calls for a rollback);
    `observed`: the program's drift reading, kept in its record; `expect_live_plan` refuses to act when the live
    plan changed before the lock was ours; `note` says why, in the live record (a rollout's abort reason);
    `smoke` checks the colour that gains traffic through the preview before publishing (bluegreen.release.smoke);
    `break_lock` removes whatever lock there is first; `program_observed`: the program's drift reading to compare
    and swap against (its own Switch's `observed` by default; a program rollout hands it to its first step);
    `hold`: what the program keeps of an operator's live changes (bluegreen.release.hold)."""
    started, lock = clock(), new_lock(source)
    locking = LockingProber(
        router, lock, lock_wait, clock, sleep, progress, break_lock, armed=not isinstance(plan, RoutingPlan)
    )
    with _as_switch_errors(router.container), _unless_published(router, locking) as publishing:
        if not isinstance(plan, RoutingPlan):  # compared and swapped against what it was made from
            seen = locking.seen_first()
            plan, expect_live_plan = plan(seen), seen.status.get("planHash")
        hold = program_hold(router, plan) if source == "program" and hold is None else hold
        plan = hold.plan if hold is not None else plan
        unchecked = check_schema(inspector, plan)  # before the gate: a refusal costs no probe
        switching = Switching(source, observed, lock.owner, note, hold, expect_live_plan, program_observed, break_lock)
        locking.express = offer(plan, functools.partial(_render, router, plan, False), switching, smoke)
        checked = check_health(router, inspector, plan, locking, clock, sleep, progress)
        snapshot = locking.snapshot()
        check_unchanged(snapshot, expect_live_plan, program_observed, observed if source == "program" else None)
        published = locking.express.rendered if locking.published and locking.express else None  # as it rendered
        rendered = published or _render(router, plan, checked.preview_down is not None)
        decision = decide(snapshot, rendered, source, observed, hold.desired.plan_hash() if hold else None)
        report = _report(plan, router.container, source, decision, rendered, snapshot, clock() - started)
        report.warnings += _warnings(hold, locking.broke, checked.preview_down, unchecked)
        if decision.nothing:
            report.live_s = report.total_s = clock() - started
            return report
        if published is None:
            locking.keep()  # the lease covers smoke and publish from here (publish checks it is still ours)
            if smoke and decision.routing:
                run_smoke(router, smoke, _recorded_plan(snapshot), plan, progress)
            files = generation_files(plan, rendered, snapshot, decision, source, observed, note, lock.owner, hold,
                                     checked.probed)  # fmt: skip
            publishing.started = True  # from here the router's script releases the lock itself
            router.publish(publication(files, decision, rendered), locking.lock)
        return _live(router, plan, report, decision.reload and wait_drain, started, clock, sleep, progress)


def _warnings(hold: Hold | None, broke: str | None, *found: str | None) -> list[str]:
    """What is wrong but vetoes nothing: what the program kept, a broken lock, a preview that is down."""
    return [
        *(hold.lines if hold else []),
        *([f"broke the lock held by {broke}"] if broke else []),
        *filter(None, found),
    ]


def _render(router: RouterPort, plan: RoutingPlan, preview_down: bool) -> Rendered:
    return render(plan, utc_now(), preview_down, router.subnets(), _edges(router, plan))


def _live(
    router: RouterPort,
    plan: RoutingPlan,
    report: SwitchReport,
    drain: bool,
    started: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    progress: Progress,
) -> SwitchReport:
    """The report of a published switch, once what `drain` waits for is done: only a reload leaves old workers."""
    report.live_s = clock() - started
    progress(f"live after {report.live_s:.2f}s ({'reloaded' if report.reloaded else 'no reload'})")
    if drain:
        _drain(router, plan, report, clock, sleep)
    report.total_s = clock() - started
    return report


@dataclass
class _Publishing:
    started: bool = False


@contextlib.contextmanager
def _unless_published(router: RouterPort, locking: LockingProber) -> Iterator[_Publishing]:
    """Release the lock on the way out unless publishing began (an express one too): the router's script
    releases it then."""
    publishing = _Publishing()
    try:
        yield publishing
    finally:
        if locking.locked and not publishing.started and not locking.published:
            with contextlib.suppress(BluegreenError, OSError):
                router.release(locking.lock)


def _report(
    plan: RoutingPlan,
    container: str,
    source: str,
    decision: Decision,
    rendered: Rendered,
    snapshot: Snapshot,
    gate_s: float,
) -> SwitchReport:
    return SwitchReport(
        deployment=plan.deployment, router=container, source=source, changed=decision.routing,
        reloaded=decision.reload, weights=plan.weights.model_dump(), plan_hash=rendered.plan_hash,
        config_hash=rendered.config_hash, previous_config_hash=snapshot.status.get("configHash"),
        gate_s=gate_s, live_s=0.0, drained_s=0.0, old_workers_left=0, total_s=0.0,
    )  # fmt: skip


@contextlib.contextmanager
def _as_switch_errors(container: str) -> Iterator[None]:
    """Every failure of a switch as one SwitchError that says what is live now; a few say so themselves."""
    try:
        yield
    except (InputError, LockHeldError, OutcomeUnknownError, SwitchError):
        raise  # the engine address, a held lock, an unknown outcome: each says so itself
    except (GateError, SmokeFailedError) as exc:
        raise SwitchError(f"{exc}; routing unchanged") from exc
    except ConfigRefusedError as exc:
        raise SwitchError(f"nginx -t refused the new routing ({exc}); previous routing still live") from exc
    except NotLiveError as exc:
        raise SwitchError(f"{exc} (see `docker logs {container}`); previous routing restored") from exc
    except LockLostError as exc:
        raise SwitchError(f"{exc}; this switch published nothing") from exc
    except (RouterError, DockerError) as exc:
        raise SwitchError(str(exc)) from exc


def _drain(
    router: RouterPort,
    plan: RoutingPlan,
    report: SwitchReport,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Wait for old workers up to the drain bound; what is left is a field of the report, never an error.

    `drained_s` counts from the moment the new routing was live.
    """
    started = clock()
    deadline = started + plan.drain_seconds + 1.0
    try:
        while True:
            left = router.old_workers()
            if left == 0:
                report.drained_s, report.old_workers_left = clock() - started, 0
                return
            if clock() >= deadline:
                report.drained_s, report.old_workers_left = None, left
                return
            sleep(POLL_SECONDS)
    except (RouterError, DockerError):
        report.drained_s, report.old_workers_left = None, None


def _recorded_plan(snapshot: Snapshot) -> RoutingPlan | None:
    """The live plan a snapshot holds; None when there is none or it is unreadable (the smoke checks go direct)."""
    try:
        return parse_plan((snapshot.live_record or {})["plan"])
    except (SettingsError, KeyError, TypeError):
        return None
