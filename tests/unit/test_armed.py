"""A switch derived from the live plan (rollback, abort, maintenance, resume) in two execs.

Its first exec takes the lock, reads the live plan and probes the targets the
live generation's gate probed (ARMED_PROBES); its first gate round uses those
answers when they cover every target, and the second exec publishes. The
answers are a gate round like any other: a failing one is probed again, an
address that moved is probed where it is now.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from bluegreen.config.router import Maintenance
from bluegreen.release.live import live_in, rollback, rollback_of, set_maintenance
from bluegreen.release.switch import apply_plan
from bluegreen.router.layout import ARMED_PROBES
from bluegreen.router.seam import Begun, Lock, Publication, Target
from tests.unit.test_health import Clock
from tests.unit.test_switch import Engine, FakeRouter, plan, switch

ADDRESSES = {"b1": "10.0.0.2", "g1": "10.0.0.3"}
PROBES = "10.0.0.2 8000 /health/ready\n10.0.0.3 8000 /health/ready\n"


def promoted() -> FakeRouter:
    """Green live at 100%, blue idle: the generation's gate probed both."""
    router = FakeRouter()
    clock = Clock()
    apply_plan(router, Engine(addresses=ADDRESSES), plan(active="green", weights={"green": 100, "blue": 0}),
               clock=clock, sleep=clock.sleep)  # fmt: skip
    assert router.publications[-1].files[ARMED_PROBES] == PROBES
    return router


def execs(router: FakeRouter) -> tuple[int, int, int]:
    return router.begins, router.fetches, len(router.publications)


def test_a_rollback_is_two_execs_when_the_armed_answers_cover_its_gate() -> None:
    router = promoted()
    before = execs(router)
    report = rollback(router, Engine(addresses=ADDRESSES))
    assert report.weights == {"blue": 100, "green": 0}
    after = execs(router)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 0, 1)
    assert router.publications[-1].files[ARMED_PROBES] == PROBES  # armed again for the rollback of the rollback


def test_an_idle_colour_that_moved_is_probed_where_it_is_now() -> None:
    router = promoted()
    before = router.fetches
    rollback(router, Engine(addresses={**ADDRESSES, "b1": "10.0.0.9"}))  # blue replaced since: a new address
    assert router.fetches - before == 1
    assert "10.0.0.9 8000 /health/ready" in router.publications[-1].files[ARMED_PROBES]


def test_a_generation_without_armed_targets_costs_one_probe_exec_more() -> None:
    router = promoted()
    last = router.publications[-1]  # as a generation published before ARMED_PROBES existed:
    router.publications[-1] = dataclasses.replace(last, files={**last.files, ARMED_PROBES: ""})
    before = router.fetches
    assert rollback(router, Engine(addresses=ADDRESSES)).weights == {"blue": 100, "green": 0}
    assert router.fetches - before == 1


def test_a_failing_armed_answer_is_one_gate_round_not_a_verdict() -> None:
    """Blue answered 503 in the first exec, then 200: the gate probes again and passes, as any gate would."""
    router = promoted()
    router.unhealthy = {"10.0.0.2"}
    clock = Clock()
    original = router.fetch

    def recovered(targets: list[tuple[str, int, str]]) -> list[object]:
        router.unhealthy = set()
        return original(targets)  # type: ignore[return-value]

    router.fetch = recovered  # type: ignore[assignment,method-assign]
    before = router.fetches
    report = apply_plan(router, Engine(addresses=ADDRESSES), lambda s: rollback_of(live_in(s, "rollback"), 1),
                        source="rollback", clock=clock, sleep=clock.sleep)  # fmt: skip
    assert report.weights == {"blue": 100, "green": 0}
    assert router.fetches - before == 1 and clock.sleeps  # one more round, after the gate's interval


def test_maintenance_is_derived_the_same_way() -> None:
    router = promoted()
    before = execs(router)
    report = set_maintenance(router, Engine(addresses=ADDRESSES), Maintenance(enabled=True, message="back soon"))
    after = execs(router)
    assert report.changed and (after[0] - before[0], after[1] - before[1]) == (1, 0)


def test_a_switch_with_a_given_plan_asks_for_no_armed_probes() -> None:
    router = promoted()
    seen: list[bool] = []  # whether a begin asked for armed probes
    original = router.begin

    def watched(
        lock: Lock | None,
        targets: Sequence[Target] = (),
        armed: Collection[str] = (),
        express: Publication | None = None,
    ) -> Begun:
        seen.append(bool(armed))
        return original(lock, targets, armed, express)

    router.begin = watched  # type: ignore[method-assign]
    switch(router, plan(active="blue", weights={"blue": 100, "green": 0}))
    rollback(router, Engine(addresses=ADDRESSES))
    assert seen == [False, True]


def test_an_armed_address_docker_no_longer_attaches_is_not_probed() -> None:
    """Green crash-loops: its containers hold no address, and a probe to one would hang until a timeout. Blue's
    armed answer still serves the gate; green, the preview, is down by Docker's view alone."""
    router = promoted()
    router.serving_addresses = {"10.0.0.2"}
    before = router.fetches
    report = rollback(router, Engine(crashing=["g1"], addresses=ADDRESSES))
    assert report.weights == {"blue": 100, "green": 0} and router.armed_probed[-1:] == ["10.0.0.2"]
    assert router.fetches == before and any("preview green is down" in w for w in report.warnings)
