"""The program and an operator on one router: a rollback made while `pulumi up` runs, or before an unrelated one.

The program's Switch is driven the way `pulumi up` drives it: `switch --source program` with the drift
reading of components/drift.py in BLUEGREEN_OBSERVED.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter

import pytest

from bluegreen.env import DRIFT_PREFIX, IN_SYNC, OBSERVED_ENV
from lab.deployment import Stack
from tests.integration.test_switch import colors_of

LAB_NAME = "bgfrace"


def test_a_rollback_made_during_pulumi_up_survives_the_updates_switch(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the program's Switch runs at the end of an update whose drift check, at its start, read 'in sync'."""
    stack = blue_live
    monkeypatch.setenv(OBSERVED_ENV, IN_SYNC)
    assert stack.switch(stack.plan("green"), "--source", "program").returncode == 0  # the program's last plan
    assert stack.cli("rollback").returncode == 0  # an operator, while `pulumi up` creates containers
    done = stack.switch(stack.plan("green", 50), "--source", "program")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(
        r"live routing changed during this update: rollback by \S+ pid \d+ \(rollback\) at \S+; nothing was changed",
        lines[0],
    ), done.stderr
    assert colors_of(stack.url(), 40) == Counter({"blue": 40}), "the rollback stands"


def drift_reading(stack: Stack) -> str:
    """What components/drift.py hands the Switch, read from `status --json` as the program reads it."""
    report = json.loads(stack.cli("status", "--json").stdout)
    if report["drift"]:
        return f"{DRIFT_PREFIX}{report['live']['planHash']}@{report['lastSwitch']['appliedAt']}"
    return str(report.get("programObserved") or IN_SYNC)


def program_up(stack: Stack, monkeypatch: pytest.MonkeyPatch, plan: dict[str, object]) -> str:
    """One `pulumi up` whose only routing work is its Switch: the drift check, then the Switch; its stdout."""
    monkeypatch.setenv(OBSERVED_ENV, drift_reading(stack))
    done = stack.switch(plan, "--source", "program")
    assert done.returncode == 0, done.stderr
    return done.stdout


def live_status(stack: Stack) -> int:
    try:
        with urllib.request.urlopen(stack.url() + "/", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_an_unrelated_pulumi_up_keeps_a_rollback_and_maintenance_until_resume(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = blue_live
    program_up(stack, monkeypatch, stack.plan("blue"))  # the program's plan: blue...
    program_up(stack, monkeypatch, stack.plan("green"))  # ...then it promotes green
    assert colors_of(stack.url(), 20) == Counter({"green": 20})
    assert stack.cli("rollback").returncode == 0  # the incident: back to blue
    kept = program_up(stack, monkeypatch, stack.plan("green"))  # the deploy workflow's next push
    assert re.search(r"kept routing blue 100% / green 0% \(active blue\), set by rollback by \S+@\S+ pid \d+", kept)
    assert colors_of(stack.url(), 40) == Counter({"blue": 40}), "the rollback stands"
    status = stack.cli("status").stdout
    assert "HELD: routing blue 100% / green 0% (active blue), set by rollback by " in status, status
    program_up(stack, monkeypatch, stack.plan("green"))  # and the one after
    assert colors_of(stack.url(), 40) == Counter({"blue": 40})

    assert stack.cli("maintenance", "on").returncode == 0
    kept = program_up(stack, monkeypatch, stack.plan("green"))
    assert "kept maintenance on, set by maintenance by " in kept and live_status(stack) == 503
    assert stack.cli("maintenance", "off").returncode == 0 and live_status(stack) == 200

    back = stack.cli("resume")
    assert back.returncode == 0, back.stderr
    assert colors_of(stack.url(), 40) == Counter({"green": 40}), "the program's plan is live again"
    assert "program plan: live" in stack.cli("status").stdout
    assert colors_of(stack.url(), 20) == Counter({"green": 20})
