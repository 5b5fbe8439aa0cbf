"""`bluegreen status --watch`: the deployment on one screen, refreshed every second, until `q` or Ctrl-C.

Each refresh reads what `status --json` and `metrics --json --window W` read (the router's snapshot and
log through the Docker API, so it works as well over ssh to a remote engine) and keeps the last minutes of
requests/s per colour for a sparkline. The figures are those two commands' figures; only the drawing is
this module's. `frame` is pure (a status and a history in, a renderable out) so tests can read it.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bluegreen.colors import COLORS

SPARKS = "▁▂▃▄▅▆▇█"
HISTORY = 180  # seconds of requests/s kept for the sparkline (one point per refresh)


def sparkline(values: list[float], width: int = 40) -> str:
    """The last `width` values as block characters, scaled to the largest."""
    shown = values[-width:]
    top = max(shown, default=0.0)
    if top <= 0:
        return SPARKS[0] * len(shown)
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1) + 0.5))] for v in shown)


@dataclass
class History:
    """Requests/s per colour, one point per refresh."""

    rps: dict[str, deque[float]] = field(default_factory=lambda: {c: deque(maxlen=HISTORY) for c in COLORS})

    def add(self, metrics: Mapping[str, Any]) -> None:
        for color in COLORS:
            self.rps[color].append(float(((metrics.get("colors") or {}).get(color) or {}).get("rps") or 0.0))


def frame(status: Mapping[str, Any], metrics: Mapping[str, Any], history: History, now: str) -> Group:
    """One screen: per colour its weight, version, figures and sparkline; then rollout, lock, last switch and
    anything held."""
    live = status.get("live") or {}
    weights, versions = live.get("weights") or {}, live.get("versions") or {}
    window = metrics.get("windowSeconds", 0)
    table = Table(title=f"{status.get('deployment')}  {now}", title_justify="left", expand=False)
    for head, justify in (("colour", "left"), ("weight", "right"), ("version", "left"), ("req/s", "right"),
                          ("err %", "right"), ("p50 ms", "right"), ("p99 ms", "right")):  # fmt: skip
        table.add_column(head, justify=justify)  # type: ignore[arg-type]
    table.add_column(f"req/s, last {HISTORY // 60} min")
    for color in COLORS:
        m = (metrics.get("colors") or {}).get(color) or {}
        marker = " (active)" if live.get("active") == color else ""
        table.add_row(
            Text(color + marker, style="bold blue" if color == "blue" else "bold green"),
            f"{weights.get(color, 0)}%", str(versions.get(color) or "-"), f"{m.get('rps', 0.0):.1f}",
            Text(f"{m.get('errorRatePct', 0.0):.2f}", style="bold red" if m.get("errors") else ""),
            f"{m.get('p50Ms', 0.0):.1f}", f"{m.get('p99Ms', 0.0):.1f}", sparkline(list(history.rps[color])),
        )  # fmt: skip
    lines: list[Table | Text] = [table, Text(f"figures over the last {window:g} s of the router's log (q or Ctrl-C "
                                             "leaves)", "dim")]  # fmt: skip
    lines += [Text(line) for line in _state_lines(status)]
    return Group(*lines)


def _state_lines(status: Mapping[str, Any]) -> list[str]:
    lines = []
    run = status.get("rollout")
    if run:
        stale = run.get("staleSeconds")
        verdict = run.get("lastVerdict") or run.get("verdict") or ""
        lines.append(
            f"ROLLOUT {'STALE ' if stale is not None else ''}{run.get('candidate')} at {run.get('weight')}% "
            f"since {run.get('since')}{f'; last verdict: {verdict}' if verdict else ''}"
        )
    lines.append(f"lock: {status.get('lock') or 'free'}")
    last = status.get("lastSwitch") or {}
    note = f": {last['note']}" if last.get("note") else ""
    lines.append(f"last switch: {last.get('source') or '-'} at {last.get('appliedAt') or '-'}{note}")
    for what in (status.get("held") or {}).values():
        lines.append(f"HELD: {what}")
    if (status.get("live") or {}).get("maintenance"):
        lines.append("MAINTENANCE: the live listener answers 503")
    if status.get("drift"):
        lines.append("DRIFT: live routing differs from the program's last plan")
    lines += [f"warning: {w}" for w in status.get("warnings") or []]
    return lines


@contextlib.contextmanager
def _keys(stream: TextIO) -> Iterator[Callable[[float], str]]:
    """A reader of single key presses (cbreak, no echo) that waits up to a timeout; '' when none came."""
    if not stream.isatty():

        def wait(timeout: float) -> str:
            time.sleep(timeout)
            return ""

        yield wait
        return
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:

        def read(timeout: float) -> str:
            ready, _, _ = select.select([fd], [], [], timeout)
            return os.read(fd, 1).decode(errors="replace") if ready else ""

        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def watch(
    read: Callable[[], tuple[Mapping[str, Any], Mapping[str, Any]]],
    out: TextIO,
    interval: float = 1.0,
    keys: TextIO | None = None,
    clock: Callable[[], str] = lambda: time.strftime("%H:%M:%S"),
) -> None:
    """Refresh every `interval` until `q` (or Ctrl-C); a read that fails shows its error and tries again."""
    console = Console(file=out, highlight=False)
    history = History()
    live = Live(console=console, auto_refresh=False, screen=False)
    with _keys(keys or sys.stdin) as key, live as view, contextlib.suppress(KeyboardInterrupt):
        while True:
            started = time.monotonic()
            try:
                status, metrics = read()
                history.add(metrics)
                view.update(frame(status, metrics, history, clock()), refresh=True)
            except Exception as exc:
                view.update(Text(f"{clock()} cannot read the deployment: {exc}", style="bold red"), refresh=True)
            if key(max(0.0, interval - (time.monotonic() - started))).lower() == "q":
                return
