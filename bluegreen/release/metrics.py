"""Per-colour request metrics from the router's access log: pure functions, no I/O.

The router decides every request, so its log knows which colour each one was
sent to, including the 502s and 504s nginx answers itself when a container
dies (the app never saw those, so the app's own header cannot name them).
Metrics are computed from exact samples over a window of the log's own
timestamps (`t`, nginx's $msec), never from a pre-aggregated series, so a
canary and the stable colour are always compared over the same seconds.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from bluegreen.colors import COLORS, Color

# nginx writes its access log in 32 KiB buffers flushed every second: the last
# second of the log may not be there yet, so a window ends this long ago.
FLUSH_LAG_SECONDS = 1.2


@dataclass(frozen=True)
class Sample:
    """One live request: when it ended, the colour it was routed to, its status, its time and its path."""

    t: float
    color: str
    status: int
    seconds: float
    path: str = ""
    rule: str = ""  # "match" or "allowlist": a header or cookie chose the colour, not the weights


def upstream_seconds(text: object) -> float | None:
    """The app's time for a request: nginx's $upstream_response_time, summed over retries ("0.002, 0.010").

    Not $request_time: a client that reads its answer slowly would make a healthy canary look slow. None
    when no upstream answered (nginx's own 502, a maintenance page): the request's time is all there is then.
    """
    parts = [p.strip() for p in str(text or "").replace(":", ",").split(",")]
    times = [float(p) for p in parts if p and p != "-"]
    return sum(times) if times else None


def parse_line(line: str) -> Sample | None:
    """A live-listener request from one log line; None for anything else (other listeners, noise)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
        if entry.get("listener") != "live":
            return None
        seconds = upstream_seconds(entry.get("upstream_s"))
        return Sample(
            float(entry["t"]), str(entry.get("color") or ""), int(entry["status"]),
            float(entry["request_s"]) if seconds is None else seconds, str(entry.get("path") or ""),
            str(entry.get("rule") or ""),
        )  # fmt: skip
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def parse_log(text: str) -> list[Sample]:
    return [s for s in (parse_line(line) for line in text.splitlines()) if s is not None]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of exact samples (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class SlidingSamples:
    """A step's live samples, read from the log a piece at a time and judged over a sliding window.

    Each read brings what the log added since the last one (the log is never read twice), so a judgement
    every 5 s over the last 60 s costs one read of 5 s of log. Samples before the first read's window
    (the previous step, the previous weight) never enter.
    """

    def __init__(self, skip_paths: Collection[str] = ()) -> None:
        self.skip_paths = frozenset(skip_paths)
        self.samples: deque[Sample] = deque()
        self.start: float | None = None  # the engine time the step's evidence begins at
        self.end: float | None = None  # everything before it, from `start` on, is held

    def add(self, samples: Iterable[Sample], now: float, first_window: float) -> None:
        """Samples read at engine time `now`; the first read holds the last `first_window` seconds only."""
        end = now - FLUSH_LAG_SECONDS
        if self.start is None:
            self.start = end - first_window
        since = self.start if self.end is None else self.end
        self.samples.extend(
            s for s in sorted(samples, key=lambda s: s.t) if since <= s.t < end and s.path not in self.skip_paths
        )
        self.end = max(end, self.end or end)

    def window(self, seconds: float) -> tuple[list[Sample], float]:
        """The samples of the last `seconds` held (fewer when the step is younger), and that span's length."""
        if self.end is None or self.start is None:
            return [], 0.0
        begin = max(self.start, self.end - seconds)
        while self.samples and self.samples[0].t < begin:
            self.samples.popleft()
        return list(self.samples), self.end - begin


@dataclass(frozen=True)
class ColorMetrics:
    requests: int
    errors: int  # 5xx, the router's own 502/504 included
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float
    matched: int = 0  # requests a header or cookie route sent here: not in the figures above

    @property
    def error_rate_pct(self) -> float:
        return 100.0 * self.errors / self.requests if self.requests else 0.0

    def as_json(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "errorRatePct": round(self.error_rate_pct, 2),
            "p50Ms": round(self.p50_ms, 1),
            "p95Ms": round(self.p95_ms, 1),
            "p99Ms": round(self.p99_ms, 1),
            "rps": round(self.rps, 2),
            "matched": self.matched,
        }


def summarize(
    samples: Iterable[Sample], start: float, end: float, skip_paths: Collection[str] = ()
) -> dict[Color, ColorMetrics]:
    """Each colour's metrics over requests that ended in [start, end); `skip_paths` are not counted (a canary's
    analysis leaves out the health path, which an uptime monitor hits fast and often). Requests a header or
    cookie route chose are counted apart (`matched`): testers are not the weighted traffic the figures describe."""
    window = max(end - start, 1e-9)
    by_color: dict[Color, list[Sample]] = {c: [] for c in COLORS}
    matched: dict[Color, int] = dict.fromkeys(COLORS, 0)
    for s in samples:
        if start <= s.t < end and s.color in by_color and s.path not in skip_paths:
            if s.rule:
                matched[s.color] += 1
            else:
                by_color[s.color].append(s)
    return {color: replace(metrics_of(found, window), matched=matched[color]) for color, found in by_color.items()}


def metrics_of(samples: Collection[Sample], window: float) -> ColorMetrics:
    """One colour's figures over its `samples` of a `window` seconds long."""
    ms = [s.seconds * 1000 for s in samples]
    return ColorMetrics(
        requests=len(samples),
        errors=sum(1 for s in samples if s.status >= 500),
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        rps=len(samples) / max(window, 1e-9),
    )


def as_json(metrics: Mapping[Color, ColorMetrics], window: float) -> dict[str, object]:
    return {"windowSeconds": window, "colors": {c: m.as_json() for c, m in metrics.items()}}
