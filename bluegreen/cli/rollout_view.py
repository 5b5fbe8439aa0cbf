"""A rollout's events as people read them: one line per event, and in a terminal a bar of the canary's weight.

`bluegreen rollout --json` keeps the JSON lines (one per event, for tools). Without it, a terminal gets each
event as a sentence (bluegreen.release.notify.text, the words the webhook sends) above a live bar: the step,
the candidate's weight towards its target and the last verdict. Anything else (Pulumi's Switch command, a
pipe, a CI log) gets the sentences alone, one per line, so each verdict is one line of `pulumi up`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from bluegreen.release.notify import text
from bluegreen.release.rollout import event_line

if TYPE_CHECKING:
    from rich.progress import Progress

# rich is imported when a rollout starts, not here: every command line (a rollback included) imports this
# module, and rich alone costs about 25 ms of its start.


class RolloutView:
    """The `emit` of a rollout (bluegreen.release.rollout.run_rollout) for `out`."""

    def __init__(self, out: TextIO, as_json: bool = False, terminal: bool | None = None) -> None:
        from rich.console import Console

        self.out, self.as_json = out, as_json
        self.console = Console(file=out, force_terminal=terminal, highlight=False, soft_wrap=True)
        self.progress: Progress | None = None
        self.task: Any = None
        self.steps: list[int] = []
        self.verdict = ""

    @property
    def live(self) -> bool:
        return not self.as_json and self.console.is_terminal

    def __call__(self, event: Mapping[str, Any]) -> None:
        if self.as_json:
            self.out.write(event_line(event) + "\n")
            self.out.flush()
            return
        line = f"{datetime.now().strftime('%H:%M:%S')} {text(event)}"
        if not self.live:
            self.out.write(line + "\n")
            self.out.flush()
            return
        self._bar(event)
        self.console.print(line)
        if event.get("event") in ("promoted", "aborted"):
            self.close()

    def _bar(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "started":
            from rich.progress import BarColumn, Progress, TextColumn

            self.steps = [int(w) for w in event.get("steps") or []]
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(bar_width=30), TextColumn("{task.fields[weight]:>3}%"),
                TextColumn("{task.fields[verdict]}"), console=self.console, transient=True,
            )  # fmt: skip
            self.progress.start()
            target = int(event.get("target") or 100)
            self.task = self.progress.add_task(self._step_text(0), total=target, weight=0, verdict="")
        if self.progress is None or self.task is None:
            return
        weight = int(event.get("weight") or 0)
        if kind == "verdict":
            self.verdict = f"{event.get('verdict')}: {event.get('reason')}"
        step = self.steps.index(weight) + 1 if weight in self.steps else len(self.steps)
        self.progress.update(
            self.task, completed=weight, weight=weight, verdict=self.verdict, description=self._step_text(step)
        )

    def _step_text(self, step: int) -> str:
        return f"step {step}/{len(self.steps)}"

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def parse_events(output: str) -> list[dict[str, Any]]:
    """The events of `rollout --json` output (tests and tools)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]
