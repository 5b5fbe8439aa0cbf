"""The switch's steps and every rescue path, against a fake router (the RouterPort seam) and a fake engine.

gate -> render -> decide -> publish -> verify -> drain, each branch once:
first publish (a reload), traffic change (no reload), idempotent repeat, the
program's record, a held lock (waited for, then exit 3), a refused config, a
publication that never went live, an unknown outcome (exit 4), a drain that
outlasts its bound, a worker count that fails after the routing is live,
rollback and its refusals. The real router runs the same steps in
tests/integration/test_switch.py.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

import pytest

from bluegreen.config.router import Maintenance
from bluegreen.errors import (
    EXIT_LOCKED,
    EXIT_UNKNOWN,
    ConfigRefusedError,
    LockHeldError,
    LockLostError,
    NotLiveError,
    OutcomeUnknownError,
    RouterError,
    SwitchError,
)
from bluegreen.plan.model import parse_plan
from bluegreen.release.live import live_plan, resume, rollback, set_maintenance
from bluegreen.release.switch import apply_plan
from bluegreen.router.layout import ARMED_PROBES, LIVE_PLAN, PROGRAM_PLAN
from bluegreen.router.render import render
from bluegreen.router.seam import Begun, HttpResult, Lock, Publication, Snapshot, Target
from tests.unit.test_health import Clock, container

NET = "bluegreen-dev-net"


def plan(**changes: Any) -> Any:
    raw: dict[str, Any] = {
        "deployment": "bluegreen-dev", "active": "blue", "weights": {"blue": 100, "green": 0},
        "colors": {"blue": {"version": "1.0.0", "containers": ["b1"]},
                   "green": {"version": "1.1.0", "containers": ["g1"]}},
        "drainSeconds": 2, "healthGate": {"timeoutSeconds": 5, "intervalSeconds": 0.1, "successes": 1},
    }  # fmt: skip
    raw.update(changes)
    return parse_plan(raw)


class Engine:
    """Every container running, healthy and on the router's network, unless told otherwise."""

    def __init__(
        self, missing: Sequence[str] = (), crashing: Sequence[str] = (), addresses: dict[str, str] | None = None
    ) -> None:
        self.missing, self.crashing = set(missing), set(crashing)
        self.addresses = addresses or {}  # 10.0.0.2 for every container not named here

    def inspect(self, name: str) -> dict[str, Any] | None:
        if name in self.crashing:  # a crash loop, as Docker shows it between two restarts
            return container(running=False, health="unhealthy", net=NET, status="restarting", code=137)
        return None if name in self.missing else container(net=NET, ip=self.addresses.get(name, "10.0.0.2"))

    def exec(self, name: str, cmd: Sequence[str], user: str | None = None, timeout: float | None = None) -> Any:
        raise AssertionError(f"no colour declares schema versions: nothing runs {cmd} in {name}")

    def get_json(self, path: str, allow: Sequence[int] = ()) -> Any:
        raise AssertionError(f"container mode asks no {path}")


class FakeRouter:
    """A router in memory: a lock, a live status and records, and a script of what goes wrong."""

    container = "bluegreen-dev-router"

    def __init__(self) -> None:
        self.status: dict[str, Any] = {"configHash": None, "planHash": None, "state": "no route yet"}
        self.live_record: dict[str, Any] | None = None
        self.program_record: dict[str, Any] | None = None
        self.holder: str | None = None  # another switch's lock
        self.free_after: int | None = None  # begin() calls until that lock is released
        self.held_by_us: Lock | None = None
        self.publications: list[Publication] = []
        self.released: list[str] = []
        self.fail_publish: Exception | None = None
        self.workers: list[int | Exception] = [0]
        self.begins = 0
        self.fetches = 0  # probe execs after the first (the gate's later rounds)
        self.serving_addresses = {"10.0.0.2", "10.0.0.3"}  # what Docker says serves on the router's network
        self.armed_probed: list[str] = []  # the armed addresses a first exec probed
        self.expressed: list[str] = []  # the plans a gate round's exec published (bluegreen.release.express)
        self.publish_execs = 0  # publications in an exec of their own
        self.unhealthy: set[str] = set()
        self.renewals = 0
        self.lease_taken = False  # another switch took the lock after ours expired

    def networks(self) -> set[str]:
        return {NET}

    def subnets(self) -> list[tuple[str, str]]:
        return [("172.30.0.0/16", "172.30.0.1")]

    def edge_subnets(self) -> list[str]:
        return ["172.31.0.0/16"]

    def _probe(self, targets: Sequence[Target]) -> list[HttpResult]:
        return [HttpResult(503 if host in self.unhealthy else 200, "{}", "HTTP") for host, _, _ in targets]

    def serving(self) -> set[str]:
        return set(self.serving_addresses)

    def begin(
        self,
        lock: Lock | None,
        targets: Sequence[Target] = (),
        armed: Collection[str] = (),
        express: Publication | None = None,
    ) -> Begun:
        self.begins += 1
        snapshot = Snapshot(dict(self.status), self.live_record, self.program_record, [])
        if lock is not None and self.holder is not None:
            if self.free_after is not None and self.begins > self.free_after:
                self.holder = None
            else:
                return Begun(False, self.holder, snapshot, [])  # what was live while it was held, as sh/begin.sh
        if lock is not None:
            self.held_by_us = lock
        begun = Begun(True, "", snapshot, self._probe(targets), self._armed(armed))
        if lock is None or express is None or not self._expresses(begun, express):
            return begun
        carried = {PROGRAM_PLAN: json.dumps(self.program_record)} if self.program_record else {}
        self.expressed.append(express.plan_hash)
        self._make_live(dataclasses.replace(express, files={**express.files, **carried}), lock)
        return dataclasses.replace(begun, published=True)

    def _expresses(self, begun: Begun, express: Publication) -> bool:
        """What sh/begin.sh checks before it publishes an express generation."""
        return (
            all(r.ok for r in begun.results)
            and self.status.get("configHash") == express.config_hash
            and self.status.get("planHash") != express.plan_hash
        )

    def _armed(self, serving: Collection[str]) -> dict[Target, HttpResult]:
        """The live generation's ARMED_PROBES at a `serving` address, probed: what sh/begin.sh does."""
        text = self.publications[-1].files.get(ARMED_PROBES, "") if self.publications else ""
        targets = [(h, int(p), path) for h, p, path in (line.split(" ") for line in text.splitlines())]
        targets = [t for t in targets if t[0] in serving]
        self.armed_probed += [t[0] for t in targets]
        return dict(zip(targets, self._probe(targets), strict=True))

    def fetch(self, targets: Sequence[Target]) -> list[HttpResult]:
        self.fetches += 1
        return self._probe(targets)

    def fetch_and_publish(
        self, targets: Sequence[Target], publication: Publication, lock: Lock
    ) -> tuple[list[HttpResult], bool]:
        """What sh/probe.sh does with a later round's express generation: publish it when every answer is 200."""
        results = self.fetch(targets)
        if not all(r.ok for r in results) or self.held_by_us != lock:
            return results, False
        self.expressed.append(publication.plan_hash)
        self._make_live(publication, lock)
        return results, True

    def publish(self, publication: Publication, lock: Lock) -> None:
        self.publish_execs += 1
        self._make_live(publication, lock)

    def _make_live(self, publication: Publication, lock: Lock) -> None:
        assert self.held_by_us == lock, "publish only under our own lock"
        self.publications.append(publication)
        self.held_by_us = None  # the script releases it, whatever the outcome
        if self.fail_publish is not None:
            raise self.fail_publish
        state = json.loads(publication.files["state.json"])
        self.status = {"configHash": publication.config_hash, "planHash": publication.plan_hash, "state": "routed",
                       "preview": state["preview"]}  # fmt: skip
        self.live_record = json.loads(publication.files[LIVE_PLAN])
        if PROGRAM_PLAN in publication.files:
            self.program_record = json.loads(publication.files[PROGRAM_PLAN])

    def release(self, lock: Lock) -> None:
        self.released.append(lock.token)
        self.held_by_us = None

    def break_lock(self) -> str | None:
        broken, self.holder = self.holder, None
        return broken

    def renew(self, lock: Lock) -> None:
        assert self.held_by_us == lock, "only the holder renews"
        if self.lease_taken:
            raise LockLostError("the lock expired and was taken while this switch waited")
        self.renewals += 1

    def old_workers(self) -> int:
        value = self.workers.pop(0) if len(self.workers) > 1 else self.workers[0]
        if isinstance(value, Exception):
            raise value
        return value


def switch(router: FakeRouter, p: Any = None, clock: Clock | None = None, **kwargs: Any) -> Any:
    clock = clock or Clock()
    return apply_plan(router, Engine(), p or plan(), clock=clock, sleep=clock.sleep, **kwargs)


def test_the_first_switch_publishes_config_and_state_and_reloads() -> None:
    router = FakeRouter()
    report = switch(router)
    (pub,) = router.publications
    assert report.changed and report.reloaded and pub.reload
    assert set(pub.files) == {"main.conf", "http.conf", "router.js", "state.json", LIVE_PLAN, ARMED_PROBES}
    assert pub.files[ARMED_PROBES] == "10.0.0.2 8000 /health/ready\n"  # what its gate probed (one address here)
    assert json.loads(pub.files["state.json"])["targets"] == {"blue": ["b1:8000"], "green": ["g1:8000"]}
    assert pub.generation.startswith("g") and report.drained_s is not None and report.old_workers_left == 0
    assert "reloaded, drained" in report.line()


def test_a_traffic_change_publishes_state_only_and_never_reloads() -> None:
    router = FakeRouter()
    switch(router)
    router.workers = [RouterError("must not be asked")]
    report = switch(router, plan(active="green", weights={"green": 10, "blue": 90}))
    assert report.changed and not report.reloaded and not router.publications[-1].reload
    assert report.old_workers_left == 0 and "no reload" in report.line()


def test_the_same_plan_twice_publishes_nothing_and_releases_the_lock() -> None:
    router = FakeRouter()
    switch(router)
    report = switch(router)
    assert not report.changed and len(router.publications) == 1 and len(router.released) == 1
    assert "already live" in report.line() and router.held_by_us is None


def test_the_program_record_keeps_what_the_drift_check_saw_without_touching_routing() -> None:
    router = FakeRouter()
    switch(router, source="program", observed="in-sync")
    seen = f"drift:{router.status['planHash']}@t1"  # a drift reading: what was live when the update began
    report = switch(router, source="program", observed=seen)
    assert not report.changed and len(router.publications) == 2, "a record-only generation"
    assert router.program_record is not None and router.program_record["observed"] == seen
    assert json.loads(router.publications[1].files[LIVE_PLAN])["source"] == "program"
    switch(router, source="program", observed=seen)
    assert len(router.publications) == 2, "an unchanged reading writes nothing"
    switch(router, plan(active="green"))  # a CLI switch carries the program's record over
    assert json.loads(router.publications[-1].files[PROGRAM_PLAN])["observed"] == seen


def test_a_held_lock_is_waited_for_then_taken() -> None:
    router = FakeRouter()
    router.holder, router.free_after = "ops@host pid 9 (cli) (lock expires at 99)", 3
    said: list[str] = []
    report = switch(router, progress=said.append, lock_wait=10)
    assert report.changed and router.begins == 4
    assert said[0] == "waiting for the lock held by ops@host pid 9 (cli) (lock expires at 99)"


def test_a_lock_held_too_long_is_exit_3_naming_the_holder_and_changes_nothing() -> None:
    router = FakeRouter()
    router.holder = "ops@host pid 9 (cli) (lock expires at 99)"
    with pytest.raises(LockHeldError, match=r"locked by ops@host pid 9 \(cli\) .*waited 1s") as caught:
        switch(router, lock_wait=1)
    assert caught.value.exit_code == EXIT_LOCKED and router.publications == [] and router.released == []


def test_break_lock_removes_a_dead_holders_lock_and_the_report_names_it() -> None:
    router = FakeRouter()
    switch(router, plan(active="green", weights={"green": 100, "blue": 0}))
    router.holder = "ci@runner pid 4242 (program) (lock expires at 1999999999)"
    with pytest.raises(LockHeldError):
        rollback(router, Engine(), lock_wait=0.5)
    report = rollback(router, Engine(), break_lock=True)
    assert report.weights == {"blue": 100, "green": 0}
    assert "warning: broke the lock held by ci@runner pid 4242 (program)" in report.line()


def test_a_failing_gate_releases_the_lock_and_changes_nothing() -> None:
    router = FakeRouter()
    router.unhealthy = {"10.0.0.2"}
    with pytest.raises(SwitchError, match=r"health gate: .*; routing unchanged"):
        switch(router)
    assert router.publications == [] and len(router.released) == 1


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ConfigRefusedError("unknown directive"), r"nginx -t refused the new routing \(unknown directive\); "
                                                  "previous routing still live"),
        (NotLiveError("router did not serve plan x within 10s"), "previous routing restored"),
        (LockLostError("the lock expired"), "this switch published nothing"),
        (RouterError("staging failed"), "staging failed"),
    ],
)  # fmt: skip
def test_a_failed_publication_says_what_is_live(error: Exception, message: str) -> None:
    router = FakeRouter()
    router.fail_publish = error
    with pytest.raises(SwitchError, match=message):
        switch(router)
    assert router.released == [], "the router's script released it"


def test_an_engine_lost_mid_publish_is_exit_4_not_a_failure() -> None:
    router = FakeRouter()
    router.fail_publish = OutcomeUnknownError(
        "lost the Docker engine while publishing plan x; it may or may not be live"
    )
    with pytest.raises(OutcomeUnknownError) as caught:
        switch(router)
    assert caught.value.exit_code == EXIT_UNKNOWN


def test_a_reload_whose_workers_outlast_the_bound_is_reported_not_raised() -> None:
    router = FakeRouter()
    router.workers = [2]
    report = switch(router)
    assert report.drained_s is None and report.old_workers_left == 2
    assert "2 old worker(s) still draining" in report.line()


def test_counting_workers_after_the_routing_is_live_never_fails_the_switch() -> None:
    router = FakeRouter()
    router.workers = [RouterError("exec failed")]
    report = switch(router)
    assert report.changed and report.old_workers_left is None and "old workers not counted" in report.line()
    assert switch(FakeRouter(), wait_drain=False).drained_s == 0.0


def test_rollback_returns_everything_to_the_idle_colour() -> None:
    router = FakeRouter()
    switch(router, plan(active="green", weights={"green": 30, "blue": 70}))
    report = rollback(router, Engine())
    assert report.weights == {"blue": 100, "green": 0} and report.source == "rollback"
    assert live_plan(router) == parse_plan({**json.loads(router.publications[-1].files[LIVE_PLAN])["plan"]})


def test_rollback_refuses_when_there_is_nothing_to_return_to() -> None:
    with pytest.raises(SwitchError, match="no switch has run yet"):
        rollback(FakeRouter(), Engine())
    router = FakeRouter()
    switch(router, plan(colors={"blue": {"containers": ["b1"]}, "green": {"containers": []}}))
    with pytest.raises(SwitchError, match="the idle colour green has no containers"):
        rollback(router, Engine())


def held_at_first(while_held: Callable[[FakeRouter, Begun], Begun] = lambda router, begun: begun) -> FakeRouter:
    """Green at 30%, and another switch holds the lock at the next attempt only: `while_held` is what that
    attempt returns, and may change the router meanwhile (what the holder publishes before it lets go)."""
    router = FakeRouter()
    switch(router, plan(active="green", weights={"green": 30, "blue": 70}))
    router.holder, router.free_after = "ci@runner pid 7 (program)", router.begins + 1
    original = router.begin

    def begin(
        lock: Lock | None,
        targets: Sequence[Target] = (),
        armed: Collection[str] = (),
        express: Publication | None = None,
    ) -> Begun:
        begun = original(lock, targets, armed, express)
        return begun if begun.acquired else while_held(router, begun)

    router.begin = begin  # type: ignore[method-assign]
    return router


def test_rollback_acts_only_on_the_routing_it_read_before_waiting_for_the_lock() -> None:
    """Another switch held the lock and published while the rollback waited for it: act on nothing."""

    def holder_publishes(router: FakeRouter, begun: Begun) -> Begun:
        router.status = {**router.status, "planHash": "someone-else"}  # what the holder then makes live
        return begun

    router = held_at_first(holder_publishes)
    published = len(router.publications)
    with pytest.raises(SwitchError, match=r"the live routing changed .* while this waited for the lock"):
        rollback(router, Engine(), lock_wait=5)
    assert len(router.publications) == published and router.released  # nothing published, the lock given back


def test_a_rollback_that_waited_for_an_unchanged_routing_goes_on() -> None:
    assert rollback(held_at_first(), Engine(), lock_wait=5).weights == {"blue": 100, "green": 0}


def test_a_rollback_that_could_not_read_what_was_live_while_waiting_changes_nothing() -> None:
    router = held_at_first(lambda router, begun: Begun(False, begun.holder, None, []))
    published = len(router.publications)
    with pytest.raises(SwitchError, match="could not be read while this waited for the lock; nothing was changed"):
        rollback(router, Engine(), lock_wait=5)
    assert len(router.publications) == published


def test_an_unreadable_record_stops_rollback_with_its_name() -> None:
    router = FakeRouter()
    original = router.begin

    def unreadable(
        lock: Lock | None,
        targets: Sequence[Target] = (),
        armed: Collection[str] = (),
        express: Publication | None = None,
    ) -> Begun:
        begun = original(lock, targets, armed, express)
        snap = Snapshot({}, None, None, ["/etc/nginx/bluegreen/plan.json is not JSON (Expecting value at line 1)"])
        return Begun(begun.acquired, begun.holder, snap, begun.results)

    router.begin = unreadable  # type: ignore[method-assign]
    with pytest.raises(SwitchError, match=r"plan\.json is not JSON"):
        rollback(router, Engine())


def test_config_hash_is_what_the_router_reports_after_publishing() -> None:
    router = FakeRouter()
    report = switch(router)
    expected = render(plan(), "T", stack_networks=router.subnets()).config_hash
    assert router.status["configHash"] == report.config_hash == expected
    assert expected != render(plan(), "T").config_hash, "the router's networks are in the config"


def test_maintenance_is_entered_without_a_gate_and_left_through_one_publishing_state_only() -> None:
    router = FakeRouter()
    switch(router)
    router.unhealthy = {"10.0.0.2"}  # the app is down: that is why maintenance is wanted
    page = Maintenance(enabled=True, message="Back soon", retry_after_seconds=30)
    report = set_maintenance(router, Engine(), page)
    assert report.changed and not report.reloaded and report.source == "maintenance"
    state = json.loads(router.publications[-1].files["state.json"])
    assert state["maintenance"] == {"message": "Back soon", "retryAfterSeconds": 30}
    with pytest.raises(SwitchError, match=r"health gate: .*; routing unchanged"):
        set_maintenance(router, Engine(), Maintenance())  # leaving: the colour must be healthy again
    router.unhealthy = set()
    assert not set_maintenance(router, Engine(), Maintenance()).reloaded
    assert json.loads(router.publications[-1].files["state.json"])["maintenance"] is None
    with pytest.raises(SwitchError, match="no switch has run yet"):
        set_maintenance(FakeRouter(), Engine(), page)


# --- only what takes live traffic may veto a switch (docs/reliability.md) ---------------------------------


def test_a_crash_looping_release_can_be_rolled_back_and_its_preview_route_is_withdrawn() -> None:
    router = FakeRouter()
    switch(router, plan(active="green", weights={"green": 100, "blue": 0}))
    report = rollback(router, Engine(crashing=["g1"]))
    assert report.weights == {"blue": 100, "green": 0} and report.changed
    assert len(report.warnings) == 1 and "preview green is down" in report.line()
    assert "container g1: not running (restarting, exit code 137)" in report.warnings[0]
    state = json.loads(router.publications[-1].files["state.json"])
    assert state["preview"] is None and set(state["targets"]) == {"blue"}


def test_a_crashing_live_colour_still_vetoes_a_switch_to_it() -> None:
    router = FakeRouter()
    switch(router)
    with pytest.raises(SwitchError, match=r"health gate: container g1: not running .*; routing unchanged"):
        apply_plan(router, Engine(crashing=["g1"]), plan(active="green", weights={"green": 10, "blue": 90}))
    assert len(router.publications) == 1


def test_the_preview_route_comes_back_when_a_switch_finds_it_healthy() -> None:
    router = FakeRouter()
    clock = Clock()
    apply_plan(router, Engine(crashing=["g1"]), plan(), clock=clock, sleep=clock.sleep)
    assert json.loads(router.publications[-1].files["state.json"])["preview"] is None
    again = switch(router)  # the same plan: only the preview's health changed
    assert again.changed and not again.warnings
    assert json.loads(router.publications[-1].files["state.json"])["preview"] == "green"
    assert not switch(router).changed  # and then nothing is left to do


# --- compare and swap: a rollback made during `pulumi up` survives it ------------------------------------


def test_the_programs_switch_refuses_to_undo_a_rollback_made_during_its_update() -> None:
    router = FakeRouter()
    green = plan(active="green", weights={"green": 100, "blue": 0})
    switch(router, green, source="program", observed="in-sync")  # the program's last plan: green
    # `pulumi up` begins (its drift check reads: in sync); an operator rolls back meanwhile...
    rollback(router, Engine())
    # ...and the update's Switch, minutes later, would send green 10% of traffic.
    with pytest.raises(SwitchError, match=r"^live routing changed during this update: rollback by \S+@\S+ pid \d+ "
                                          r"\(rollback\) at \S+; nothing was changed"):  # fmt: skip
        switch(router, plan(active="green", weights={"green": 10, "blue": 90}), source="program", observed="in-sync")
    assert json.loads(router.publications[-1].files[LIVE_PLAN])["source"] == "rollback", "the rollback stands"


GREEN = {"active": "green", "weights": {"green": 100, "blue": 0}}


def test_the_program_keeps_a_rollback_while_its_traffic_config_is_unchanged() -> None:
    router = FakeRouter()
    switch(router, plan(**GREEN), source="program", observed="in-sync")
    rollback(router, Engine())
    seen = f"drift:{router.status['planHash']}@T"  # the drift check saw the rollback at the start of the update
    kept = switch(router, plan(**GREEN), source="program", observed=seen)  # an unrelated `pulumi up`
    assert kept.weights == {"blue": 100, "green": 0} and not kept.changed
    assert "kept routing blue 100% / green 0% (active blue), set by rollback by " in kept.line()
    assert json.loads(router.publications[-1].files[LIVE_PLAN])["source"] == "rollback", "the routing is untouched"
    record = json.loads(router.publications[-1].files[PROGRAM_PLAN])
    assert record["observed"] == seen and record["planHash"] == plan(**GREEN).plan_hash(), "the program's own plan"
    again = switch(router, plan(**GREEN), source="program", observed=seen)  # the next one: in the same state
    assert not again.changed and again.weights == {"blue": 100, "green": 0}


def test_a_release_under_a_hold_gets_its_new_containers_and_keeps_the_held_routing() -> None:
    router = FakeRouter()
    switch(router, plan(**GREEN), source="program", observed="in-sync")
    rollback(router, Engine())
    seen = f"drift:{router.status['planHash']}@T"
    colors = {"blue": {"version": "1.0.1", "containers": ["b2"]}, "green": {"version": "1.1.0", "containers": ["g1"]}}
    report = switch(router, plan(**GREEN, colors=colors), source="program", observed=seen)  # blue re-released
    live = json.loads(router.publications[-1].files[LIVE_PLAN])
    assert report.changed and report.weights == {"blue": 100, "green": 0}
    assert live["plan"]["colors"]["blue"]["containers"] == ["b2"] and live["held"]["routing"]["source"] == "rollback"
    # The next update reads the program's own overlay as live: it still keeps the rollback, naming who made it.
    overlay = f"drift:{router.status['planHash']}@T2"
    later = switch(router, plan(**GREEN, colors=colors), source="program", observed=overlay)
    assert later.weights == {"blue": 100, "green": 0} and "set by rollback by " in later.line()


def test_a_changed_traffic_config_applies_over_the_rollback() -> None:
    router = FakeRouter()
    switch(router, plan(**GREEN), source="program", observed="in-sync")
    rollback(router, Engine())
    seen = f"drift:{router.status['planHash']}@T"
    canary = plan(active="green", weights={"green": 10, "blue": 90})  # activeColor/trafficWeight changed
    again = switch(router, canary, source="program", observed=seen)
    assert again.changed and again.weights == {"green": 10, "blue": 90} and "kept" not in again.line()


def test_maintenance_stays_on_across_a_release_and_a_promotion_until_it_is_turned_off() -> None:
    """docs/database.md's recipe for a migration that cannot be backward compatible, step by step."""
    router = FakeRouter()
    switch(router, plan(), source="program", observed="in-sync")
    set_maintenance(router, Engine(), Maintenance(enabled=True, message="Upgrading the database"))
    colors = {"blue": {"version": "1.0.0", "containers": ["b1"]}, "green": {"version": "2.0.0", "containers": ["g2"]}}
    released = switch(router, plan(colors=colors), source="program", observed=f"drift:{router.status['planHash']}@1")
    assert "kept maintenance on, set by maintenance by " in released.line()
    promoted = switch(router, plan(colors=colors, **GREEN), source="program",
                      observed=f"drift:{router.status['planHash']}@2")  # fmt: skip
    live = json.loads(router.publications[-1].files[LIVE_PLAN])["plan"]
    assert promoted.weights == {"green": 100, "blue": 0}, "activeColor changed: the promotion applies"
    assert live["maintenance"]["enabled"] and live["maintenance"]["message"] == "Upgrading the database"
    set_maintenance(router, Engine(), Maintenance(enabled=False))
    quiet = switch(router, plan(colors=colors, **GREEN), source="program",
                   observed=f"drift:{router.status['planHash']}@3")  # fmt: skip
    assert "kept" not in quiet.line() and not json.loads(router.publications[-1].files[LIVE_PLAN])["plan"][
        "maintenance"]["enabled"]  # fmt: skip


def test_resume_hands_the_routing_back_to_the_programs_plan() -> None:
    router = FakeRouter()
    switch(router, plan(active="green", weights={"green": 10, "blue": 90}), source="program", observed="in-sync")
    rollback(router, Engine())
    back = resume(router, Engine())
    assert back.changed and back.weights == {"green": 10, "blue": 90}
    assert router.status["planHash"] == router.program_record["planHash"]  # type: ignore[index]


def test_resume_refuses_without_a_program_plan() -> None:
    router = FakeRouter()
    switch(router, plan())  # by hand: no program record
    with pytest.raises(SwitchError, match="holds no plan this version understands"):
        resume(router, Engine())


# --- the lease: short, renewed through a long gate ----------------------------------------------------------


def slow_gate(router: FakeRouter, rounds: int) -> tuple[Any, Clock]:
    """A candidate that answers 503 for `rounds` gate rounds of 5 s, then 200."""
    clock = Clock()
    router.unhealthy = {"10.0.0.2"}  # every container's address in the fake engine
    sleep = clock.sleep

    def slow(seconds: float) -> None:
        sleep(seconds)
        if clock.now >= rounds * 5:
            router.unhealthy = set()

    gated = plan(active="green", weights={"green": 100, "blue": 0},
                 healthGate={"timeoutSeconds": 600, "intervalSeconds": 5, "successes": 1})  # fmt: skip
    return apply_plan(router, Engine(), gated, clock=clock, sleep=slow), clock


def test_a_long_gate_renews_its_short_lease_and_publishes() -> None:
    router = FakeRouter()
    report, clock = slow_gate(router, rounds=12)  # a minute of gate against a 30 s lease
    assert report.weights == {"green": 100, "blue": 0} and router.publications
    assert clock.now >= 60 and router.renewals >= 3, (router.renewals, clock.now)


def test_a_lease_lost_during_a_long_gate_publishes_nothing() -> None:
    router = FakeRouter()
    router.lease_taken = True
    with pytest.raises(SwitchError, match="expired and was taken while this switch waited; this switch published"):
        slow_gate(router, rounds=12)
    assert router.publications == []
