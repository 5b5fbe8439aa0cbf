"""A rollback made while `pulumi up` runs: the update's Switch must not undo it silently."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from bluegreen.env import IN_SYNC, OBSERVED_ENV
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
