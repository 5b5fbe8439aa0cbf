"""`status --watch`: what one screen shows, the sparkline, and a loop that leaves on q."""

from __future__ import annotations

import io
import os
import threading
from typing import Any

from rich.console import Console

from bluegreen.cli.watch import SPARKS, History, frame, sparkline, watch

STATUS: dict[str, Any] = {
    "deployment": "bluegreen-dev",
    "live": {"weights": {"blue": 90, "green": 10}, "versions": {"blue": "1.0.0", "green": "1.1.0"}, "active": "green"},
    "rollout": {"candidate": "green", "weight": 10, "since": "2026-12-04T23:50:00Z", "staleSeconds": None,
                "lastVerdict": "pass: error rate 0.0% (0 of 212) <= 1%"},
    "lock": "alice@laptop pid 4242 (lock expires at 1796000000)",
    "lastSwitch": {"source": "rollout", "appliedAt": "2026-12-04T23:50:00Z", "note": None},
    "held": {"routing": "routing blue 100% set by rollback"},
    "warnings": [],
}  # fmt: skip


def metrics(blue_rps: float, green_errors: int = 0) -> dict[str, Any]:
    return {"windowSeconds": 10, "colors": {
        "blue": {"requests": int(blue_rps * 10), "errors": 0, "errorRatePct": 0.0, "p50Ms": 1.5, "p95Ms": 3.0,
                 "p99Ms": 4.2, "rps": blue_rps},
        "green": {"requests": 10, "errors": green_errors, "errorRatePct": 10.0 * green_errors, "p50Ms": 2.0,
                  "p95Ms": 5.0, "p99Ms": 9.9, "rps": 1.0}}}  # fmt: skip


def shown(status: dict[str, Any], found: dict[str, Any], history: History) -> str:
    out = io.StringIO()
    Console(file=out, width=160, highlight=False).print(frame(status, found, history, "23:50:07"))
    return out.getvalue()


def test_sparklines_scale_to_the_largest_value() -> None:
    assert sparkline([0, 5, 10]) == SPARKS[0] + SPARKS[4] + SPARKS[-1]
    assert sparkline([0.0, 0.0]) == SPARKS[0] * 2 and sparkline([]) == ""
    assert len(sparkline(list(range(100)), width=40)) == 40


def test_one_screen_holds_each_colours_figures_and_the_deployments_state() -> None:
    history = History()
    for rps in (10.0, 20.0, 40.0):
        history.add(metrics(rps))
    text = shown(STATUS, metrics(40.0, green_errors=1), history)
    assert "bluegreen-dev  23:50:07" in text
    blue = next(line for line in text.splitlines() if "blue " in line and "90%" in line)
    assert "1.0.0" in blue and "40.0" in blue and "1.5" in blue and "4.2" in blue and SPARKS[-1] in blue
    green = next(line for line in text.splitlines() if "green (active)" in line)
    assert "10%" in green and "10.00" in green and "9.9" in green
    assert "ROLLOUT green at 10% since 2026-12-04T23:50:00Z; last verdict: pass: error rate 0.0%" in text
    assert "lock: alice@laptop pid 4242" in text and "last switch: rollout at 2026-12-04T23:50:00Z" in text
    assert "HELD: routing blue 100% set by rollback" in text
    assert "lock: free" in shown({**STATUS, "lock": None}, metrics(1.0), History())


def test_the_view_refreshes_until_q() -> None:
    reads: list[int] = []

    def read() -> tuple[dict[str, Any], dict[str, Any]]:
        reads.append(1)
        if len(reads) == 3:
            os.write(master, b"q")
        if len(reads) == 2:
            raise ConnectionError("engine went away for a moment")
        return STATUS, metrics(float(len(reads)))

    master, replica = os.openpty()
    out = io.StringIO()
    with os.fdopen(replica, "r") as keys:
        done = threading.Event()

        def run() -> None:
            watch(read, out, interval=0.01, keys=keys)
            done.set()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=20)
    os.close(master)
    assert done.is_set(), "q leaves"
    assert len(reads) == 3, "one read per refresh, and one that failed did not stop it"
    assert "bluegreen-dev" in out.getvalue()
