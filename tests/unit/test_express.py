"""The express switch (bluegreen/release/express.py) against the fake router, which checks what sh/begin.sh checks.

A traffic change is one exec that publishes; whatever else could stop or change
the publication keeps the two-exec path, and what the exec saw decides it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from bluegreen.config.hooks import SmokeCheck
from bluegreen.errors import NotLiveError, SwitchError
from bluegreen.release.live import rollback
from bluegreen.router.layout import PROGRAM_PLAN
from bluegreen.router.seam import HttpResult
from tests.unit.test_switch import Engine, FakeRouter, plan, switch

GREEN = {"active": "green", "weights": {"green": 100, "blue": 0}}


def routed() -> FakeRouter:
    """Blue live, published by the program (a record to carry over): the config an express needs is loaded."""
    router = FakeRouter()
    switch(router, source="program")
    router.begins = router.fetches = router.publish_execs = 0
    return router


def test_a_traffic_change_is_one_exec_that_publishes_and_carries_the_programs_record() -> None:
    router = routed()
    record = router.program_record
    report = switch(router, plan(**GREEN))
    assert router.begins == 1 and router.fetches == 0 and router.expressed == [report.plan_hash]
    assert report.changed and not report.reloaded and router.status["planHash"] == report.plan_hash
    assert json.loads(router.publications[-1].files[PROGRAM_PLAN]) == record and router.held_by_us is None
    assert router.released == []  # the script released it: no exec to give it back


@pytest.mark.parametrize(
    ("kwargs", "changes"),
    [
        ({"smoke": [SmokeCheck(name="ready", path="/health/ready")]}, {}),
        ({"source": "program"}, {}),
        ({"expect_live_plan": "p0"}, {}),
        ({"break_lock": True}, {}),
    ],
)
def test_what_else_could_stop_or_change_the_publication_keeps_the_two_exec_path(
    kwargs: dict[str, Any], changes: dict[str, Any]
) -> None:
    router = routed()
    with contextlib.suppress(SwitchError):  # a compare and swap against a plan never live refuses, after the gate
        switch(router, plan(**GREEN, **changes), **kwargs)
    assert router.expressed == []


def test_a_target_that_fails_its_probe_publishes_nothing_in_the_first_exec() -> None:
    router = routed()
    router.unhealthy = {"10.0.0.2"}
    with pytest.raises(SwitchError, match="health gate"):
        switch(router, plan(**GREEN))
    assert router.expressed == [] and router.fetches > 0 and router.status["planHash"] != plan(**GREEN).plan_hash()


def test_a_config_change_is_not_expressed_it_is_checked_and_reloaded() -> None:
    router = routed()
    report = switch(router, plan(**GREEN, drainSeconds=7))
    assert router.expressed == [] and report.reloaded and router.publications[-1].reload


def test_an_express_that_does_not_go_live_says_the_previous_routing_is_back() -> None:
    router = routed()
    router.fail_publish = NotLiveError("router bluegreen-dev-router did not serve plan p within 10s")
    with pytest.raises(SwitchError, match="previous routing restored"):
        switch(router, plan(**GREEN))
    assert router.released == [] and router.held_by_us is None


TWO_PASSES = {"healthGate": {"timeoutSeconds": 5, "intervalSeconds": 0.1, "successes": 2}}


@pytest.mark.parametrize("kwargs", [{}, {"source": "program"}], ids=["cli", "program"])
def test_with_two_passes_the_second_rounds_exec_publishes_what_the_switch_would(kwargs: dict[str, Any]) -> None:
    """The second round closes the gate: its exec carries the generation made from the snapshot (the program's
    record and a reload included) and publishes it once every answer is 200; no exec of its own."""
    router = routed()
    report = switch(router, plan(**GREEN, **TWO_PASSES, drainSeconds=7), **kwargs)
    assert router.fetches == 1 and router.publish_execs == 0
    assert router.begins == (2 if kwargs else 1)  # the program reads what it keeps (its hold) first
    assert router.expressed == [report.plan_hash] and report.reloaded and router.publications[-1].reload
    if kwargs:
        assert router.program_record is not None and router.program_record["planHash"] == report.plan_hash


def test_a_rollback_whose_target_no_probe_armed_publishes_in_its_gate_rounds_exec() -> None:
    """A rollback gates once (one success); blue's task now has an address no probe armed, so its round is an exec
    of its own, and that exec publishes."""
    router = routed()
    switch(router, plan(**GREEN, **TWO_PASSES))
    router.begins = router.fetches = router.publish_execs = 0
    report = rollback(router, Engine(addresses={"b1": "10.0.0.4", "g1": "10.0.0.3"}))
    assert report.weights == {"blue": 100, "green": 0} and router.expressed[-1] == report.plan_hash
    assert (router.begins, router.fetches, router.publish_execs) == (1, 1, 0)


def test_a_later_round_whose_answers_fail_publishes_nothing_and_the_gate_goes_on() -> None:
    router = routed()
    flaky = iter([True, False, True, True])  # the second round fails, the two after it pass
    original = router._probe

    def probe(targets: Any) -> Any:
        results = original(targets)
        return results if not targets or next(flaky, True) else [HttpResult(503, "{}", "HTTP 503") for _ in targets]

    router._probe = probe  # type: ignore[method-assign]
    report = switch(router, plan(**GREEN, **TWO_PASSES))
    assert router.expressed == [report.plan_hash] and router.fetches == 3 and router.publish_execs == 0
