"""A rollout against a fake router whose metrics follow a script: steps, verdicts, abort, promote by hand.

The same seam as the switch's tests (tests/unit/test_switch.py); the real
router and app run it in tests/e2e/test_dev_stack.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from bluegreen.config.rollout import Analysis
from bluegreen.config.settings import parse_settings
from bluegreen.errors import BluegreenError, DockerError, RolloutAbortedError, RouterError, SwitchError
from bluegreen.plan.derive import plan_from_settings
from bluegreen.release.analysis import Outcome, judge, wilson_lower_pct
from bluegreen.release.live import live_plan
from bluegreen.release.metrics import FLUSH_LAG_SECONDS, Sample
from bluegreen.release.rollout import run_rollout, stale_seconds, steer, steps_to_walk
from bluegreen.router.layout import LIVE_PLAN
from bluegreen.router.seam import Begun, Lock, Publication, Target
from lab.stacks import stack_raw, with_changes
from tests.unit.test_health import Clock
from tests.unit.test_switch import Engine, FakeRouter, plan, switch


@dataclass(frozen=True)
class Traffic:
    """What a colour's log shows: `rps` requests a second, every `error_every`th a 500, every `slow_every`th slow."""

    rps: float = 40
    ms: float = 10
    error_every: int = 0
    slow_every: int = 0
    slow_ms: float = 0

    def samples(self, color: str, start: float, end: float) -> list[Sample]:
        """The requests that ended in [start, end), on a fixed grid: a second read of the same seconds is the same."""
        first, last = math.ceil(start * self.rps), math.ceil(end * self.rps)
        return [
            Sample(k / self.rps, color, 500 if self.error_every and k % self.error_every == 0 else 200,
                   (self.slow_ms if self.slow_every and k % self.slow_every == 0 else self.ms) / 1000, "/")
            for k in range(first, last)
        ]  # fmt: skip


HEALTHY = Traffic()
FAILING = Traffic(error_every=5)  # 20% 5xx
QUIET = Traffic(rps=0.2)
ROLLOUT = {"steps": [{"weight": 10, "pauseSeconds": 10}, {"weight": 50, "pauseSeconds": 10}],
           "progressDeadlineSeconds": 60}  # fmt: skip


class RolloutRouter(FakeRouter):
    """FakeRouter plus the router's log (a function of the live weights) and the rollout files."""

    def __init__(self, candidate: Callable[[int], Traffic] = lambda share: HEALTHY) -> None:
        super().__init__()
        self.candidate = candidate
        self.progress: Mapping[str, Any] | None = None
        self.progress_seen: list[Mapping[str, Any]] = []
        self.commands: list[str] = []
        self.scheduled: dict[int, str] = {}  # a command an operator leaves after that many windows
        self.windows = 0
        self.now = 1_000_000.0  # the engine's clock
        self.log_clock: Callable[[], float] = lambda: 0.0  # the run's clock: the log's lines come with time
        self.reads: list[float] = []  # how far back each read of the log went
        self.down_windows: set[int] = set()  # windows (1-based) during which the router does not answer
        self.down = False  # the router does not answer from now on (publish and progress included)

    def engine_time(self) -> float:
        return self.now

    def live_samples(self, seconds: float) -> tuple[list[Sample], float]:
        self.windows += 1
        if self.windows in self.down_windows:
            raise DockerError("exec: 409 container is restarting, wait until the container is running")
        self.reads.append(seconds)
        now = self.now + self.log_clock()
        record = self.live_record or {}
        active = record["plan"]["active"]
        stable = "blue" if active == "green" else "green"
        start = now - seconds - FLUSH_LAG_SECONDS - 1
        found = self.candidate(record["plan"]["weights"][active]).samples(active, start, now)
        return found + HEALTHY.samples(stable, start, now), now

    def take_command(self) -> str | None:
        if self.windows in self.scheduled:
            self.commands.append(self.scheduled.pop(self.windows))
        return self.commands.pop(0) if self.commands else None

    def leave_command(self, command: str) -> None:
        self.commands.append(command)

    def write_progress(self, progress: Mapping[str, Any] | None) -> None:
        if self.down:
            raise RouterError("the router does not answer")
        self.progress = progress
        if progress is not None:
            self.progress_seen.append(progress)

    def begin(
        self,
        lock: Lock | None,
        targets: Sequence[Target] = (),
        armed: Collection[str] = (),
        express: Publication | None = None,
    ) -> Begun:
        begun = super().begin(lock, targets, armed, express)
        if begun.snapshot is None:
            return begun
        snapshot = dataclasses.replace(begun.snapshot, rollout=dict(self.progress) if self.progress else None)
        return dataclasses.replace(begun, snapshot=snapshot)


def promote_green(**rollout: Any) -> Any:
    return plan(active="green", weights={"green": 100, "blue": 0}, rollout={**ROLLOUT, **rollout})


def run(router: RolloutRouter, target: Any) -> tuple[list[dict[str, Any]], Clock]:
    clock = Clock()
    router.log_clock = clock
    events: list[dict[str, Any]] = []
    try:
        run_rollout(router, Engine(), target, emit=events.append, clock=clock, sleep=clock.sleep)
    finally:
        router.events = events  # type: ignore[attr-defined]
    return events, clock


def shares(router: RolloutRouter) -> list[int]:
    return [json.loads(p.files[LIVE_PLAN])["plan"]["weights"]["green"] for p in router.publications]


def test_a_healthy_candidate_walks_every_step_then_takes_the_plan() -> None:
    router = RolloutRouter()
    switch(router)  # blue 100% live
    events, clock = run(router, promote_green())
    assert shares(router) == [0, 10, 50, 100]
    assert [e["event"] for e in events] == ["started", "step", "verdict", "verdict", "step", "verdict", "verdict",
                                            "promoted"]  # fmt: skip
    assert {e["verdict"] for e in events if e["event"] == "verdict"} == {"pass"}
    assert 20 <= clock.now <= 30, "two steps of 10 s pause, judged every 5 s"
    assert router.progress is None and router.progress_seen[0]["weight"] == 10, "status saw it, and it is gone"
    assert json.loads(router.publications[-1].files[LIVE_PLAN])["source"] == "cli"


def test_a_failing_candidate_aborts_to_the_stable_colour_with_the_reason_in_the_record() -> None:
    router = RolloutRouter(lambda share: FAILING)
    switch(router)
    with pytest.raises(RolloutAbortedError) as aborted:
        run(router, promote_green())
    assert str(aborted.value) == (
        "rollout aborted at green 10%: error rate 20.0% (40 of 200) > 1% over 5 s; blue is back at 100%"
    )
    assert shares(router) == [0, 10, 0], "one failed judgement (failureLimit 0), then blue gets everything back"
    record = json.loads(router.publications[-1].files[LIVE_PLAN])
    assert record["plan"]["active"] == "blue" and record["source"] == "rollout-abort"
    assert record["note"].startswith("rollout aborted at green 10%: error rate 20.0%")
    assert router.windows == 1 and router.progress is None


def test_failure_limit_tolerates_failed_judgements_and_each_read_brings_only_the_new_lines() -> None:
    router = RolloutRouter(lambda share: FAILING)
    switch(router)
    with pytest.raises(RolloutAbortedError, match=r"error rate 20\.0% \(120 of 600\) > 1% over 15 s"):
        run(router, promote_green(analysis={"failureLimit": 2}))
    assert router.windows == 3, "two failed judgements tolerated, the third aborts"
    assert [round(r, 6) for r in router.reads] == [5, 6, 6], "the first interval, then what came since and 1 s more"


def test_the_window_slides_and_never_reaches_back_before_the_step() -> None:
    late = Traffic(rps=40, error_every=5)
    router = RolloutRouter(lambda share: late if share == 50 else HEALTHY)
    switch(router)
    aborted = r"aborted at green 50%: error rate 20\.0% \(40 of 200\) > 1% over 5 s;"
    with pytest.raises(RolloutAbortedError, match=aborted):
        run(router, promote_green(analysis={"windowSeconds": 5}))
    verdicts = [e for e in router.events if e["event"] == "verdict"]  # type: ignore[attr-defined]
    assert [v["verdict"] for v in verdicts] == ["pass", "pass", "fail"]
    assert verdicts[1]["green"]["requests"] == 200, "a 5 s window over a 10 s step holds 5 s"


def test_no_traffic_is_never_a_pass_and_aborts_at_the_progress_deadline() -> None:
    router = RolloutRouter(lambda share: QUIET)
    switch(router)
    with pytest.raises(
        RolloutAbortedError, match=r"no passing judgement in 60 s \(last: 12 requests in 60 s, fewer than 20\)"
    ):
        run(router, promote_green())
    assert shares(router) == [0, 10, 0], "never promoted without evidence"


def test_an_operator_can_promote_or_abort_a_running_rollout() -> None:
    router = RolloutRouter()
    switch(router)
    router.progress = {"candidate": "green", "weight": 10}
    assert steer(router, "promote")["weight"] == 10 and router.commands == [router.commands[0]]
    assert router.commands[0].startswith("promote ") and "(rollout promote)" in router.commands[0]
    assert router.held_by_us is None, "the lock is given back"
    router.commands, router.progress = [], None
    router.scheduled = {1: "promote alice@laptop"}
    events, _ = run(router, promote_green())
    assert shares(router) == [0, 10, 100], "promote skips the rest of the analysis"
    assert [e["event"] for e in events] == ["started", "step", "verdict", "promote", "promoted"]
    assert events[3]["by"] == "alice@laptop"
    assert json.loads(router.publications[-1].files[LIVE_PLAN])["note"] == "promoted by alice@laptop at green 10%"

    router = RolloutRouter()
    switch(router)
    router.scheduled = {1: "abort bob@laptop"}
    with pytest.raises(RolloutAbortedError, match="aborted by bob@laptop; blue is back at 100%"):
        run(router, promote_green())
    with pytest.raises(BluegreenError, match="no rollout is running on bluegreen-dev-router; nothing to abort"):
        steer(router, "abort")


def test_a_stale_command_from_a_dead_rollout_is_dropped_at_the_start() -> None:
    router = RolloutRouter()
    switch(router)
    router.commands = ["abort someone@old-host"]
    run(router, promote_green())
    assert shares(router)[-1] == 100


def test_which_steps_are_walked() -> None:
    live = plan()  # blue 100%
    target = promote_green()
    assert [s.weight for s in steps_to_walk(live, target)] == [10, 50]
    assert [s.weight for s in steps_to_walk(plan(active="green", weights={"green": 10, "blue": 90}), target)] == [50]
    canary = plan(active="green", weights={"green": 30, "blue": 70}, rollout=ROLLOUT)
    assert [s.weight for s in steps_to_walk(live, canary)] == [10], "up to a partial target, then the target"
    assert steps_to_walk(None, target) == [], "a first deploy has nothing stable to compare with"
    assert steps_to_walk(target, target) == [], "the candidate already has its share"
    assert steps_to_walk(live, plan(active="green", weights={"green": 100, "blue": 0})) == [], "no steps set"


def test_the_rollout_plain_switches_when_there_is_nothing_to_walk() -> None:
    router = RolloutRouter()
    events, _ = run(router, promote_green())  # first deploy
    assert events == [] and shares(router) == [100]
    assert live_plan(router) is not None


def window(traffic: Traffic, seconds: float = 5, color: str = "green") -> list[Sample]:
    return traffic.samples(color, 0, seconds)


def verdict(candidate: Traffic, stable: Traffic = HEALTHY, seconds: float = 5, **rules: Any) -> Any:
    return judge(window(candidate, seconds), window(stable, seconds, "blue"), Analysis(**rules), seconds)


def test_the_wilson_bound_is_the_textbook_one() -> None:
    assert wilson_lower_pct(500, 1000) == pytest.approx(46.33, abs=0.01), "p = 0.5, n = 1000, z = 2.326"
    assert wilson_lower_pct(2, 20) == pytest.approx(2.26, abs=0.01)
    assert wilson_lower_pct(0, 100) == pytest.approx(0) and wilson_lower_pct(0, 0) == 0
    assert wilson_lower_pct(3, 3) < wilson_lower_pct(30, 30) < 100


def test_a_judgement_fails_only_on_evidence_and_passes_only_on_a_sample() -> None:
    assert verdict(HEALTHY).outcome is Outcome.PASS
    assert verdict(QUIET, seconds=60).reason == "12 requests in 60 s, fewer than 20", "a pass needs minRequests"
    dead = verdict(Traffic(rps=0.5, error_every=1), seconds=6)
    assert dead.outcome is Outcome.FAIL and dead.reason == "error rate 100.0% (3 of 3) > 1% over 6 s", (
        "three 5xx out of three fail at once, whatever minRequests says"
    )
    one = verdict(Traffic(rps=0.5, error_every=1), seconds=4)
    assert one.outcome is Outcome.INCONCLUSIVE, "two stray 5xx are no evidence"
    stray = verdict(Traffic(rps=4, error_every=20), seconds=5)  # 1 of 20
    assert stray.outcome is Outcome.INCONCLUSIVE and "not yet proven" in stray.reason, "above 1%, not proven"
    assert verdict(Traffic(rps=40, error_every=20), seconds=60).outcome is Outcome.FAIL, "5% of 2400 is proven"
    assert verdict(Traffic(rps=40, error_every=200), seconds=60).outcome is Outcome.PASS, "0.5% is within 1%"


def test_millisecond_noise_never_fails_and_a_slowdown_users_feel_does() -> None:
    # The false abort: p99 23 ms against the stable colour's 10 ms over 1033 requests.
    noisy = verdict(Traffic(rps=206.6, ms=10, slow_every=50, slow_ms=23))
    assert noisy.outcome is Outcome.PASS, noisy.reason
    slower = verdict(Traffic(rps=40, ms=10, slow_every=10, slow_ms=70), seconds=10)  # 10% take 70 ms: 60 ms limit
    assert slower.outcome is Outcome.FAIL and slower.reason == (
        "40 of 400 requests (10.0%) slower than 60 ms (the stable colour's p99 10 ms, x1.5, +50 ms at least), "
        "more than 1% over 10 s"
    )
    slow = verdict(Traffic(ms=600), Traffic(ms=590))
    assert slow.outcome is Outcome.FAIL and "slower than 500 ms, more than 1%" in slow.reason, "maxP99Ms caps"
    alone = verdict(Traffic(ms=400), QUIET)
    assert alone.outcome is Outcome.PASS, "no stable p99 to compare with: only maxP99Ms applies"
    one_slow = verdict(Traffic(rps=4, slow_every=20, slow_ms=900))
    assert one_slow.outcome is Outcome.INCONCLUSIVE, "one slow request of 20 is no evidence"


def test_an_allowlist_needs_its_header() -> None:
    with pytest.raises(Exception, match=r"rollout\.allowlistHeader: .*set together with the other"):
        parse_settings(with_changes(stack_raw("dev"), {"rollout": {"allowlist": ["tester-token-1"]}}), "dev")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"value": "1"}, r"rollout\.match\[0\]: missing; required: exactly one of header or cookie"),
        ({"header": "X-Canary", "cookie": "c", "value": "1"}, r"rollout\.match\[0\]: got .*exactly one of header"),
        ({"cookie": "bg_bucket", "value": "1"}, r"rollout\.match\[0\]\.cookie: got 'bg_bucket'; allowed: a cookie of"),
        ({"header": "X Canary", "value": "1"}, r"rollout\.match\[0\]\.header: got 'X Canary'; allowed: an HTTP header"),
        ({"header": "X-Canary", "value": "a b"}, r"rollout\.match\[0\]\.value: got 'a b'; allowed: 1-128 letters"),
    ],
)
def test_a_route_match_names_one_header_or_one_cookie_and_a_plain_value(rule: dict[str, str], message: str) -> None:
    with pytest.raises(Exception, match=message):
        parse_settings(with_changes(stack_raw("dev"), {"rollout": {"match": [rule]}}), "dev")


def test_route_matches_are_in_the_plan_only_when_set() -> None:
    """An upgrade that brings the key changes no plan hash; a route, once set, is part of the plan."""
    plain = parse_settings(stack_raw("dev"), "dev")
    routed = parse_settings(with_changes(stack_raw("dev"), {"rollout": {"match": [{"header": "X-C", "value": "1"}]}}),
                            "dev")  # fmt: skip

    def canonical(settings: Any) -> str:
        return plan_from_settings(settings, "bluegreen-dev", {"blue": ["b1"], "green": ["g1"]}).canonical()

    assert '"match"' not in canonical(plain) and '"match":[{"cookie":null,"header":"X-C","value":"1"}]' in canonical(
        routed
    )


def test_rollout_steps_go_up_and_can_pass_before_their_deadline() -> None:
    with pytest.raises(Exception, match=r"rollout\.steps: got \[50, 10\]; allowed: weights that only go up"):
        down = [{"weight": 50, "pauseSeconds": 1}, {"weight": 10, "pauseSeconds": 1}]
        parse_settings(with_changes(stack_raw("dev"), {"rollout.steps": down}), "dev")
    late = {"rollout.steps": [{"weight": 10, "pauseSeconds": 30}], "rollout.progressDeadlineSeconds": 20}
    with pytest.raises(Exception, match=r"rollout\.progressDeadlineSeconds: got 20\.0; allowed: more than every"):
        parse_settings(with_changes(stack_raw("dev"), late), "dev")


def test_sigterm_during_a_rollout_becomes_its_abort() -> None:
    """A cancelled CI job sends SIGTERM: the rollout's own abort path takes over, and a second signal waits."""
    import os
    import signal
    import time

    from bluegreen.cli.traffic import _abort_on_signals
    from bluegreen.errors import AbortDecidedError

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(AbortDecidedError, match="stopped by SIGTERM"), _abort_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted at once by the handler's exception
    assert signal.getsignal(signal.SIGTERM) == before, "the handlers are given back"


def test_a_running_rollout_beats_once_per_window_on_the_engines_clock() -> None:
    router = RolloutRouter()
    switch(router)
    run(router, promote_green())
    beats = [p for p in router.progress_seen if "heartbeat" in p]
    assert len(beats) >= 1 + router.windows and {p["heartbeat"] for p in beats} == {router.now}
    assert {p["windowSeconds"] for p in beats} == {5} and router.progress is None, "gone when it ends"


def test_a_heartbeat_is_stale_only_after_two_windows() -> None:
    progress = {"heartbeat": 100.0, "windowSeconds": 5}
    assert stale_seconds(progress, 110.0) is None
    assert stale_seconds(progress, 130.0) == 30.0
    assert stale_seconds({"weight": 10}, 1e9) is None, "a rollout of an older version: no judgement"
    assert stale_seconds(None, 1e9) is None


def test_abort_of_a_rollout_whose_process_is_gone_is_performed_here() -> None:
    router = RolloutRouter()
    switch(router, plan(active="green", weights={"green": 10, "blue": 90}))  # the canary it left behind
    router.progress = {"candidate": "green", "stable": "blue", "weight": 10, "heartbeat": router.now - 60,
                       "windowSeconds": 5}  # fmt: skip
    done = steer(router, "abort", inspector=Engine())
    assert done["staleSeconds"] == 60 and "live blue 100% / green 0%" in done["abortedHere"]
    assert router.commands == [], "no command left for a process that is gone"
    assert router.progress is None and router.held_by_us is None
    note = json.loads(router.publications[-1].files[LIVE_PLAN])["note"]
    assert note.startswith("aborted by ") and note.endswith("the rollout's process is gone (no heartbeat for 60 s)")


def test_abort_of_a_live_rollout_is_left_for_its_next_window_which_acts_on_it() -> None:
    router = RolloutRouter()
    switch(router, plan(active="green", weights={"green": 10, "blue": 90}))
    router.progress = {"candidate": "green", "weight": 10, "heartbeat": router.now - 1, "windowSeconds": 5}

    def the_rollout_reads_it(seconds: float) -> None:  # its next window: takes the command, aborts, ends
        assert router.take_command() is not None
        router.progress = None

    done = steer(router, "abort", inspector=Engine(), sleep=the_rollout_reads_it)
    assert "abortedHere" not in done and len(router.publications) == 1 and router.commands == []


def test_abort_right_after_the_rollout_died_waits_two_windows_then_acts_here() -> None:
    """SIGKILL after its last beat: the heartbeat looks fresh, then goes stale, and the abort happens here."""
    router = RolloutRouter()
    switch(router, plan(active="green", weights={"green": 10, "blue": 90}))
    router.progress = {"candidate": "green", "weight": 10, "heartbeat": router.now, "windowSeconds": 1}
    waited: list[float] = []

    def engine_clock(seconds: float) -> None:
        waited.append(seconds)
        router.now += seconds

    done = steer(router, "abort", inspector=Engine(), sleep=engine_clock)
    assert "live blue 100% / green 0%" in done["abortedHere"]
    assert 2 < sum(waited) <= 4, "within two windows and the log's flush lag, not more"
    assert router.commands == [] and router.progress is None


def test_a_program_rollout_compares_and_swaps_before_its_first_step_only() -> None:
    """Its own steps move the live plan: only what changed before it began may stop it."""
    router = RolloutRouter()
    switch(router, source="program", observed="in-sync")  # the program's last plan: blue at 100%
    clock = Clock()
    run_rollout(router, Engine(), promote_green(), source="program", observed="in-sync", clock=clock, sleep=clock.sleep)
    assert shares(router) == [0, 10, 50, 100] and router.program_record is not None

    raced = RolloutRouter()
    switch(raced, source="program", observed="in-sync")
    switch(raced, plan(active="green", weights={"green": 30, "blue": 70}))  # an operator, during the update
    with pytest.raises(SwitchError, match=r"^live routing changed during this update: cli by \S+"):
        run_rollout(raced, Engine(), promote_green(), source="program", observed="in-sync", clock=clock,
                    sleep=clock.sleep)  # fmt: skip
    assert shares(raced) == [0, 30], "nothing of the rollout was published"


def test_a_router_that_does_not_answer_for_a_window_makes_it_inconclusive_and_the_rollout_goes_on() -> None:
    router = RolloutRouter()
    switch(router)
    router.down_windows = {1, 2}  # restarting: two windows without an answer
    events, _ = run(router, promote_green())
    reasons = [e["reason"] for e in events if e["event"] == "verdict" and e["verdict"] == "inconclusive"]
    assert len(reasons) == 2 and all(r.startswith("the router did not answer (exec: 409") for r in reasons)
    assert shares(router)[-1] == 100 and events[-1]["event"] == "promoted"


def test_an_abort_the_router_cannot_take_says_so_and_keeps_the_progress_for_status() -> None:
    router = RolloutRouter(lambda share: FAILING)
    switch(router)
    original = router.publish

    def publish(publication: Any, lock: Lock) -> None:
        if json.loads(publication.files[LIVE_PLAN])["source"] == "rollout-abort":
            router.down = True  # the router went away just as the abort was due
            router.held_by_us = None
            raise RouterError("router bluegreen-dev-router is not running")
        original(publication, lock)

    router.publish = publish  # type: ignore[method-assign]
    with pytest.raises(SwitchError, match=r"^rollout aborted at green 10%: error rate 20\.0% .*, but the router did "
                                          r"not take the abort \(.*not running\); green keeps its share until "
                                          r"`bluegreen rollout abort`"):  # fmt: skip
        run(router, promote_green())
    assert router.progress is not None and router.progress["weight"] == 10, "status shows it, and it goes stale"


def test_a_slow_read_of_the_log_loses_no_request_to_the_next_one() -> None:
    """A remote engine may take seconds to answer: the next read still reaches back to where this one began."""

    class SlowLog(RolloutRouter):
        def live_samples(self, seconds: float) -> tuple[list[Sample], float]:
            found = super().live_samples(seconds)
            self.log_clock.sleep(3)  # type: ignore[attr-defined]  # the read took 3 s
            return found

    router = SlowLog()
    switch(router)
    run(router, promote_green(steps=[{"weight": 10, "pauseSeconds": 20}], analysis={"windowSeconds": 600}))
    verdicts = [e for e in router.events if e["event"] == "verdict"]  # type: ignore[attr-defined]
    assert len(verdicts) >= 3
    rates = [v["green"]["rps"] for v in verdicts]
    assert rates == [40.0] * len(rates), "40 requests a second, every one counted, whatever the reads took"
