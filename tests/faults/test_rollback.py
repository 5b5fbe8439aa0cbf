"""Faults on the real engine: what breaks, the way production breaks it, and what the operator still gets.

Each test is one row of docs/reliability.md.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from lab.deployment import Stack
from lab.prober import enough, run_probe

LAB_NAME = "bgfault"


def preview_status(stack: Stack) -> int:
    try:
        with urllib.request.urlopen(stack.url(preview=True) + "/", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_a_crash_looping_promoted_release_is_rolled_back_and_loses_nothing_once_blue_serves(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("green")).returncode == 0  # the release is promoted...
    stack.crash_loop("green")  # ...and then its containers die at start, again and again
    done = stack.cli("rollback")
    assert done.returncode == 0, done.stderr
    assert "live blue 100% / green 0%" in done.stdout
    assert "warning: preview green is down (health gate: container" in done.stdout, done.stdout
    status = json.loads(stack.cli("status", "--json").stdout)
    assert status["live"]["active"] == "blue" and status["live"]["preview"] is None
    stats = enough(run_probe(stack.url(), 300, 8, max_requests=2_000, retry=False), 2_000, 300)
    assert stats.failed == 0 and set(stats.colors()) == {"blue"}, (stats.errors, stats.colors())
    assert preview_status(stack) == 503  # no route to the broken colour, and it says so
