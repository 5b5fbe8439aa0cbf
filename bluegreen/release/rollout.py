"""A rollout: the steps of `rollout.steps` walked one gated switch at a time, each judged, abort on failure.

When a plan gives activeColor (the candidate) more traffic than it has now,
the candidate takes each configured weight in between; at each step the
router's own log is judged every `analysis.intervalSeconds` over its last
`analysis.windowSeconds` (bluegreen.release.analysis) for at least
`pauseSeconds`. More than `failureLimit` failed judgements aborts:
the stable colour goes back to 100% through the ordinary gated switch, the
candidate stays on the preview listener, and the live record says why
(`status` shows it). A step with no passing judgement by `progressDeadlineSeconds`
aborts too: no evidence is never a pass. Then the plan itself is applied.

Every switch here is `apply_plan` (lock, gate, publish, verify); a rollout
holds no lock between them, and refuses to go on when the live routing
changed under it (an operator's rollback wins). Operators steer a running
rollout with `bluegreen rollout promote|abort`, which leave a command in the
router for its next judgement; rollback never runs analysis.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from bluegreen.colors import Color, other, utc_now
from bluegreen.config.hooks import SmokeCheck
from bluegreen.config.rollout import Analysis, RolloutStep
from bluegreen.engine.targets import Inspector
from bluegreen.errors import (
    AbortDecidedError,
    BluegreenError,
    DockerError,
    RolloutAbortedError,
    RouterError,
    SwitchError,
)
from bluegreen.plan.derive import rollback_plan
from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.release.analysis import Outcome, Verdict, judge
from bluegreen.release.hold import program_hold
from bluegreen.release.live import live_in, live_plan, rollback_of
from bluegreen.release.lock import LockingProber, new_lock
from bluegreen.release.metrics import FLUSH_LAG_SECONDS, Sample, SlidingSamples, metrics_of
from bluegreen.release.switch import SwitchReport, apply_plan
from bluegreen.router.seam import RouterPort, snapshot_of

Emit = Callable[[dict[str, Any]], None]


class RolloutPort(RouterPort, Protocol):
    """What a rollout needs beyond a switch: the router's metrics and its control files."""

    def live_samples(self, seconds: float) -> tuple[list[Sample], float]: ...

    def take_command(self) -> str | None: ...

    def write_progress(self, progress: Mapping[str, Any] | None) -> None: ...

    def leave_command(self, command: str) -> None: ...

    def engine_time(self) -> float: ...


STALE_WINDOWS = 2  # a rollout whose heartbeat is older than this many analysis windows has no process left


def stale_seconds(progress: Mapping[str, Any] | None, now: float) -> float | None:
    """How long a running rollout's heartbeat has been silent, when that is longer than STALE_WINDOWS windows.

    None for a live rollout, no rollout, or one written before heartbeats existed. `now` is the engine's clock,
    the clock the heartbeat was written with: the CLI's own may be another machine's.
    """
    if not progress or not isinstance(progress.get("heartbeat"), int | float):
        return None
    silent = now - float(progress["heartbeat"])
    window = float(progress.get("windowSeconds") or 0)
    return silent if silent > STALE_WINDOWS * window + FLUSH_LAG_SECONDS else None


def with_share(plan: RoutingPlan, share: int) -> RoutingPlan:
    """`plan` with its active colour (the candidate) at `share`%."""
    raw = plan.model_dump(mode="json", by_alias=True)
    raw["weights"] = {plan.active: share, plan.idle: 100 - share}
    return parse_plan(raw)


def steps_to_walk(live: RoutingPlan | None, target: RoutingPlan) -> list[RolloutStep]:
    """The configured steps between the candidate's live share and its share in `target`.

    None on a first deploy (nothing stable to compare with), when the stable
    colour has no containers, or when the candidate does not gain traffic.
    """
    if live is None or not target.rollout.steps or not target.color(target.idle).containers:
        return []
    now, goal = live.weight(target.active), target.weight(target.active)
    return [step for step in target.rollout.steps if now < step.weight < goal]


def run_rollout(
    router: RolloutPort,
    inspector: Inspector,
    target: RoutingPlan,
    source: str = "cli",
    observed: str | None = None,
    lock_wait: float = 60.0,
    emit: Emit | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    smoke: Sequence[SmokeCheck] = (),
) -> SwitchReport:
    """Apply `target`, through its analysed steps when it moves traffic to its active colour.

    `smoke` checks the candidate before its first step (bluegreen.release.smoke). The program's rollout walks
    towards its plan with what it keeps of an operator's live changes (bluegreen.release.hold)."""
    tell = emit or (lambda _: None)
    hold = program_hold(router, target) if source == "program" else None
    target = hold.plan if hold is not None else target
    steps = steps_to_walk(live_plan(router), target)
    if not steps:
        return apply_plan(
            router, inspector, target, source, observed=observed, lock_wait=lock_wait, smoke=smoke, hold=hold
        )
    active, idle = target.active, other(target.active)
    router.take_command()  # one left from a rollout that died is not for this one
    base = {"deployment": target.deployment, "candidate": active, "stable": idle}
    tell({"event": "started", **base, "steps": [s.weight for s in steps], "target": target.weight(active)})
    expect: str | None = None
    share, note = 0, ""
    try:
        for step in steps:
            share = step.weight
            step_plan = with_share(target, share)
            apply_plan(
                router, inspector, step_plan, source="rollout", lock_wait=lock_wait, expect_live_plan=expect,
                smoke=smoke if expect is None else (),
                program_observed=observed if source == "program" and expect is None else None,
            )  # fmt: skip
            expect = step_plan.plan_hash()
            heartbeat = Heartbeat(router, target, {**base, "weight": share})
            tell({"event": "step", **base, "weight": share, "pauseSeconds": step.pause_seconds})
            verdict = analyse_step(router, step, target, active, idle, tell, base, clock, sleep, heartbeat)
            if verdict.startswith("promote"):
                note = f"promoted by {verdict.partition(' ')[2] or 'an operator'} at {active} {share}%"
                break
        report = apply_plan(
            router, inspector, target, source=source, observed=observed, lock_wait=lock_wait,
            expect_live_plan=expect, note=note or None, hold=hold,
        )  # fmt: skip
        tell({"event": "promoted", **base, "weight": target.weight(active)})
        return report
    except AbortDecidedError as stop:
        reason = f"rollout aborted at {active} {share}%: {stop.reason}"
        _abort(router, inspector, target, reason, expect, lock_wait)
        tell({"event": "aborted", **base, "weight": share, "reason": stop.reason})
        raise RolloutAbortedError(f"{reason}; {idle} is back at 100%") from None
    finally:
        with contextlib.suppress(BluegreenError):  # a router that does not answer keeps it: status says STALE
            router.write_progress(None)


def _abort(
    router: RolloutPort, inspector: Inspector, target: RoutingPlan, reason: str, expect: str | None, lock_wait: float
) -> None:
    """The stable colour back to 100%. When the router cannot take it (it is restarting, the engine is gone), say
    so: the canary keeps its share until `bluegreen rollout abort`, which acts itself once the heartbeat is stale."""
    back = rollback_plan(target, max_successes=1)
    try:
        apply_plan(router, inspector, back, "rollout-abort", lock_wait=lock_wait, expect_live_plan=expect, note=reason)
    except BluegreenError as exc:
        raise SwitchError(
            f"{reason}, but the router did not take the abort ({exc}); {target.active} keeps its share until "
            "`bluegreen rollout abort` (it acts itself once this rollout's heartbeat is stale)"
        ) from None


class Beat(Protocol):
    """A step's heartbeat as analyse_step uses it: beat, and remember the last verdict."""

    verdict: str | None

    def __call__(self) -> None: ...


class Heartbeat:
    """What `status` shows while a step runs, written now and again at every window with the engine's time, and
    the step's last verdict (written with the next beat: no exec of its own)."""

    def __init__(self, router: RolloutPort, target: RoutingPlan, step: Mapping[str, Any]) -> None:
        self.router = router
        self.progress = {**step, "since": utc_now(), "targetPlan": target.plan_hash(),
                         "windowSeconds": target.rollout.analysis.interval_seconds}  # fmt: skip
        self.verdict: str | None = None
        self()

    def __call__(self) -> None:
        last = {"lastVerdict": self.verdict} if self.verdict else {}
        self.router.write_progress({**self.progress, **last, "heartbeat": self.router.engine_time()})


def analyse_step(
    router: RolloutPort,
    step: RolloutStep,
    target: RoutingPlan,
    active: Color,
    idle: Color,
    tell: Emit,
    base: Mapping[str, Any],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    heartbeat: Beat,
) -> str:
    """Judge windows until the step has passed ("pass"), been promoted by hand ("promote <who>"), or must abort.

    Each window refreshes the heartbeat: `status` tells a live rollout from one whose process is gone."""
    rollout, rules = target.rollout, target.rollout.analysis
    started = clock()
    failures = 0
    evidence = SlidingSamples({target.health_path})
    read_at: float | None = None  # when the last read of the log began, on this clock: a slow read loses nothing
    # The first judgement is of the step's first `interval`, read once the log has it.
    due = started + rules.interval_seconds + FLUSH_LAG_SECONDS
    while True:
        sleep(max(0.0, due - clock()))
        # What the log added since the last read began (all of it when a read failed in between), a second more.
        reading = clock()
        unread = rules.interval_seconds if read_at is None else reading - read_at + 1
        command, verdict, figures, read = _judgement(router, rules, (active, idle), evidence, unread, heartbeat)
        read_at = reading if read else read_at
        if command is not None:
            action, _, who = command.partition(" ")
            tell({"event": action, **base, "weight": step.weight, "by": who})
            if action == "promote":
                return command
            raise AbortDecidedError(f"aborted by {who or 'an operator'}")
        tell({"event": "verdict", **base, "weight": step.weight, "verdict": str(verdict.outcome),
             "reason": verdict.reason, **figures})  # fmt: skip
        heartbeat.verdict = f"{verdict.outcome}: {verdict.reason}"
        if verdict.outcome is Outcome.FAIL:
            failures += 1
            if failures > rules.failure_limit:
                raise AbortDecidedError(verdict.reason)
        elapsed = clock() - started
        if verdict.outcome is Outcome.PASS and elapsed >= step.pause_seconds:
            return "pass"
        if elapsed >= rollout.progress_deadline_seconds:
            raise AbortDecidedError(
                f"no passing judgement in {rollout.progress_deadline_seconds:g} s (last: {verdict.reason})"
            )
        due += rules.interval_seconds


def _judgement(
    router: RolloutPort,
    rules: Analysis,
    colors: tuple[Color, Color],
    evidence: SlidingSamples,
    unread: float,
    heartbeat: Callable[[], None],
) -> tuple[str | None, Verdict, dict[str, Any], bool]:
    """One judgement: the heartbeat, the operator's command, the log's new lines, the verdict on the window.

    A router that does not answer (restarting, its engine briefly gone) makes it inconclusive, never a crash:
    the progress deadline still bounds the step, and the abort follows it. The last item says whether the log
    was read.
    """
    try:
        heartbeat()
        command = router.take_command()
        if command is not None:
            return command, Verdict(Outcome.INCONCLUSIVE, "an operator's command"), {}, False
        samples, now = router.live_samples(unread)
    except (RouterError, DockerError) as exc:
        return None, Verdict(Outcome.INCONCLUSIVE, f"the router did not answer ({exc})"), {}, False
    evidence.add(samples, now, rules.interval_seconds)
    held, span = evidence.window(rules.window_seconds)
    active, idle = colors
    # Testers a header or cookie route sent are not the weighted traffic the canary is judged on.
    candidate = [s for s in held if s.color == active and not s.rule]
    stable = [s for s in held if s.color == idle and not s.rule]
    figures: dict[str, Any] = {active: metrics_of(candidate, span).as_json(),
                               idle: metrics_of(stable, span).as_json()}  # fmt: skip
    return None, judge(candidate, stable, rules, span), figures, True


def steer(
    router: RolloutPort,
    action: str,
    lock_wait: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    inspector: Inspector | None = None,
) -> dict[str, Any]:
    """Leave `promote` or `abort` for the running rollout, under the router's lock; its next window acts on it.

    A rollout whose heartbeat is stale has no process left to read the command: `abort` then performs the abort
    here (the stable colour back to 100%, gated like any switch, only if the live routing is still what it read),
    and the returned progress carries `abortedHere` (the switch's line) and `staleSeconds`.
    """
    lock = new_lock(f"rollout {action}")
    locking = LockingProber(router, lock, lock_wait, clock, sleep, lambda _: None)
    try:
        progress = locking.snapshot().rollout
        if not progress:
            raise BluegreenError(f"no rollout is running on {router.container}; nothing to {action}")
        stale = stale_seconds(progress, router.engine_time())
        if stale is None:
            router.leave_command(f"{action} {lock.owner}")
    finally:
        if locking.locked:
            router.release(lock)
    if action == "abort" and inspector is not None:
        stale = stale if stale is not None else _wait_for_the_rollout(router, sleep)
        if stale is not None:
            return {**progress, **_abort_here(router, inspector, lock.owner, stale, lock_wait, clock, sleep)}
    return dict(progress)


def _wait_for_the_rollout(router: RolloutPort, sleep: Callable[[float], None]) -> float | None:
    """After leaving `abort`: None once the rollout acted on it (its progress is gone), or how long its heartbeat
    has been silent once it is stale (its process died since its last window). Bounded: a rollout beats every
    window, so within STALE_WINDOWS windows it has either acted or gone stale."""
    while True:
        progress = snapshot_of(router.begin(None), router.container).rollout
        if not progress or "heartbeat" not in progress:
            return None  # acted on it, or a rollout of a version without heartbeats: it reads the command
        stale = stale_seconds(progress, router.engine_time())
        if stale is not None:
            router.take_command()  # nobody will read it
            return stale
        sleep(0.5)


def _abort_here(
    router: RolloutPort,
    inspector: Inspector,
    who: str,
    stale: float,
    lock_wait: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    reason = f"aborted by {who}: the rollout's process is gone (no heartbeat for {stale:.0f} s)"
    report = apply_plan(
        router, inspector, lambda snapshot: rollback_of(live_in(snapshot, "live routing to abort from"), 1),
        source="rollout-abort", lock_wait=lock_wait, note=reason, clock=clock, sleep=sleep,
    )  # fmt: skip
    router.write_progress(None)
    return {"abortedHere": report.line(), "staleSeconds": round(stale, 1)}


def event_line(event: Mapping[str, Any]) -> str:
    return json.dumps({"at": utc_now(), **event}, sort_keys=False)
