"""The rollout's output for people and for tools: sentences, a live bar in a terminal, JSON lines with --json."""

from __future__ import annotations

import io
import json

from bluegreen.cli.rollout_view import RolloutView, parse_events

BASE = {"deployment": "bluegreen-dev", "candidate": "green", "stable": "blue"}
EVENTS = [
    {"event": "started", **BASE, "steps": [10, 50], "target": 100},
    {"event": "step", **BASE, "weight": 10, "pauseSeconds": 30},
    {"event": "verdict", **BASE, "weight": 10, "verdict": "pass", "reason": "error rate 0.0% (0 of 212) <= 1%"},
    {"event": "step", **BASE, "weight": 50, "pauseSeconds": 30},
    {"event": "verdict", **BASE, "weight": 50, "verdict": "fail", "reason": "error rate 18.8% (3 of 16) > 1%"},
    {"event": "aborted", **BASE, "weight": 50, "reason": "error rate 18.8% (3 of 16) > 1%"},
]


def play(view: RolloutView) -> None:
    for event in EVENTS:
        view(event)
    view.close()


def test_json_lines_with_json() -> None:
    out = io.StringIO()
    play(RolloutView(out, as_json=True, terminal=True))
    events = parse_events(out.getvalue())
    assert [e["event"] for e in events] == [e["event"] for e in EVENTS] and all("at" in e for e in events)
    assert all(json.loads(line) for line in out.getvalue().splitlines())


def test_one_sentence_per_event_under_pulumi_or_a_pipe() -> None:
    out = io.StringIO()
    play(RolloutView(out, terminal=False))
    lines = out.getvalue().splitlines()
    assert len(lines) == len(EVENTS) and not any(line.startswith("{") for line in lines)
    assert lines[2].endswith("bluegreen-dev: green at 10%: pass (error rate 0.0% (0 of 212) <= 1%)")
    assert lines[-1].endswith("bluegreen-dev: green rollout ABORTED at 50%: error rate 18.8% (3 of 16) > 1%; blue is "
                              "back at 100%")  # fmt: skip
    assert "\x1b[" not in out.getvalue(), "no escape codes in a log"


def test_a_terminal_gets_a_bar_of_the_step_weight_and_last_verdict() -> None:
    out = io.StringIO()
    view = RolloutView(out, terminal=True)
    for event in EVENTS[:3]:
        view(event)
    assert view.progress is not None
    task = view.progress.tasks[0]
    assert (task.completed, task.total, task.description) == (10, 100, "step 1/2")
    assert task.fields["verdict"] == "pass: error rate 0.0% (0 of 212) <= 1%"
    view(EVENTS[3])
    assert view.progress.tasks[0].description == "step 2/2" and view.progress.tasks[0].completed == 50
    for event in EVENTS[4:]:
        view(event)
    assert view.progress is None, "the bar ends with the rollout"
    shown = out.getvalue()
    assert "green at 10%, analysing for 30 s" in shown and "ABORTED at 50%" in shown
