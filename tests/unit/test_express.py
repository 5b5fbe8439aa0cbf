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
from bluegreen.router.layout import PROGRAM_PLAN
from tests.unit.test_switch import FakeRouter, plan, switch

GREEN = {"active": "green", "weights": {"green": 100, "blue": 0}}


def routed() -> FakeRouter:
    """Blue live, published by the program (a record to carry over): the config an express needs is loaded."""
    router = FakeRouter()
    switch(router, source="program")
    router.begins = router.fetches = 0
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
        ({}, {"healthGate": {"timeoutSeconds": 5, "intervalSeconds": 0.1, "successes": 2}}),
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
