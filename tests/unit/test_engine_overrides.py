"""The test engine's `key=value` overrides take values as `pulumi config set --path` stores them."""

from __future__ import annotations

import pytest

from lab.engine import EngineError, parse_overrides


def test_json_lists_objects_numbers_and_text() -> None:
    assert parse_overrides([
        'rollout.steps=[{"weight":10,"pauseSeconds":20}]',
        "green.env.APP_FAULT_ERROR_RATE=0.2",
        "trafficWeight=100",
        "activeColor=green",
        'app.env={"A": "1"}',
    ]) == {
        "rollout.steps": [{"weight": 10, "pauseSeconds": 20}],
        "green.env.APP_FAULT_ERROR_RATE": 0.2,
        "trafficWeight": 100,
        "activeColor": "green",
        "app.env": {"A": "1"},
    }  # fmt: skip


def test_a_pair_without_a_key_is_refused() -> None:
    with pytest.raises(EngineError, match="expected key=value"):
        parse_overrides(["=green"])
