"""Prometheus exposition of the live listener: counters that only rise, latency histograms in seconds.

What `bluegreen metrics serve` answers on /metrics (and `metrics --prometheus` prints once). Prometheus wants
totals, not windows: each scrape reads the router's access log from where the last one ended (on the
engine's clock, up to the log's flush lag), adds what it finds to running counters, and renders them. A
request is counted once: the log is read in half-open slices (last end, new end], and a slice always ends
FLUSH_LAG_SECONDS before the engine's now, so nothing nginx has not written yet is passed over. The counters
start at zero when the process starts, which Prometheus's rate() treats as a counter reset.

Names follow Prometheus's conventions: `_total` counters, `_seconds` with buckets, base units, and labels
for the deployment, the colour and the version it runs (from the live routing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bluegreen.errors import BluegreenError
from bluegreen.release.metrics import FLUSH_LAG_SECONDS, Sample

# Prometheus's default buckets, which dashboards and histogram_quantile() expect; 10 s catches the rest.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_CATCH_UP_SECONDS = 600.0  # a scrape after a long pause reads at most this much log


@dataclass
class Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
        self.total += seconds
        self.count += 1


@dataclass
class LiveCounters:
    """Running totals per (colour, version): requests by status class and route, and the app's time per request.

    `route` is "weight" for the weighted split, "match" or "allowlist" for requests a header or cookie sent:
    counted apart, so a tester's clicks never read as the canary's traffic."""

    requests: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    latency: dict[tuple[str, str], Histogram] = field(default_factory=dict)

    def add(self, samples: Iterable[Sample], versions: Mapping[str, str | None]) -> None:
        for sample in samples:
            version = versions.get(sample.color) or ""
            code = f"{sample.status // 100}xx"
            key = (sample.color, version, code, sample.rule or "weight")
            self.requests[key] = self.requests.get(key, 0) + 1
            if not sample.rule:  # the latency is the weighted traffic's, as in the canary's analysis
                self.latency.setdefault((sample.color, version), Histogram()).observe(sample.seconds)


def _labels(**labels: str) -> str:
    escaped = {k: v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for k, v in labels.items()}
    return "{" + ",".join(f'{k}="{v}"' for k, v in escaped.items()) + "}"


def render(counters: LiveCounters, deployment: str, weights: Mapping[str, int], up: bool = True) -> str:
    """The text exposition format (version 0.0.4)."""
    lines = [
        "# HELP bluegreen_up Whether the last scrape could read the router (1) or not (0).",
        "# TYPE bluegreen_up gauge",
        f"bluegreen_up{_labels(deployment=deployment)} {int(up)}",
        "# HELP bluegreen_traffic_weight_percent The live share of requests each colour gets.",
        "# TYPE bluegreen_traffic_weight_percent gauge",
        *(f"bluegreen_traffic_weight_percent{_labels(deployment=deployment, color=c)} {w}" for c, w in weights.items()),
        "# HELP bluegreen_requests_total Requests the live listener routed to a colour, by status class and route "
        "(weight, or a header/cookie match).",
        "# TYPE bluegreen_requests_total counter",
    ]
    for (color, version, code, route), value in sorted(counters.requests.items()):
        labels = _labels(deployment=deployment, color=color, version=version, code=code, route=route)
        lines.append(f"bluegreen_requests_total{labels} {value}")
    lines += [
        "# HELP bluegreen_request_duration_seconds The app's time per live request (the router's own 5xx: "
        "the request's time).",
        "# TYPE bluegreen_request_duration_seconds histogram",
    ]
    for (color, version), hist in sorted(counters.latency.items()):
        base = {"deployment": deployment, "color": color, "version": version}
        for bound, value in zip(BUCKETS, hist.buckets, strict=True):
            lines.append(f"bluegreen_request_duration_seconds_bucket{_labels(**base, le=f'{bound:g}')} {value}")
        lines.append(f"bluegreen_request_duration_seconds_bucket{_labels(**base, le='+Inf')} {hist.count}")
        lines.append(f"bluegreen_request_duration_seconds_sum{_labels(**base)} {hist.total:.6f}")
        lines.append(f"bluegreen_request_duration_seconds_count{_labels(**base)} {hist.count}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Live:
    """What a scrape needs to know of the routing: each colour's version and weight."""

    versions: Mapping[str, str | None]
    weights: Mapping[str, int]


class Scraper:
    """Running counters fed from the log slice by slice; safe to call from several scrapes at once.

    `read(seconds)`: the live samples of the last `seconds` and the engine's clock
    (bluegreen.router.adapter.LiveRouter.live_samples); `live()`: the routing's versions and weights.
    """

    def __init__(
        self,
        deployment: str,
        read: Callable[[float], tuple[list[Sample], float]],
        live: Callable[[], Live],
        clock: Callable[[], float],
    ) -> None:
        self.deployment, self.read, self.live, self.clock = deployment, read, live, clock
        self.counters = LiveCounters()
        self.boundary: float | None = None  # engine time up to which the log has been counted
        self.last_read: float | None = None  # local clock at the last read, to size the next one
        self.weights: Mapping[str, int] = {}
        self.lock = threading.Lock()

    def update(self) -> None:
        """Count what the log gained since the last update; the first update only sets where counting starts."""
        with self.lock:
            since = MAX_CATCH_UP_SECONDS if self.last_read is None else self.clock() - self.last_read
            samples, now = self.read(min(MAX_CATCH_UP_SECONDS, since + 2 * FLUSH_LAG_SECONDS + 1))
            routing = self.live()
            self.last_read = self.clock()
            end = now - FLUSH_LAG_SECONDS
            if self.boundary is not None:
                start = max(self.boundary, end - MAX_CATCH_UP_SECONDS)
                self.counters.add((s for s in samples if start < s.t <= end), routing.versions)
            self.boundary = end if self.boundary is None else max(self.boundary, end)
            self.weights = routing.weights

    def scrape(self) -> str:
        """Update, then the exposition; a router that cannot be read leaves the counters and says up 0."""
        try:
            self.update()
        except (BluegreenError, OSError):  # the engine or the router did not answer: the scrape still does
            with self.lock:
                return render(self.counters, self.deployment, self.weights, up=False)
        with self.lock:
            return render(self.counters, self.deployment, self.weights)
