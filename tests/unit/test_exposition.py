"""The scrape endpoint's text: what Prometheus's own parser reads, counters that only rise, each request once."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bluegreen.errors import RouterError
from bluegreen.release.exposition import BUCKETS, Live, LiveCounters, Scraper, render
from bluegreen.release.metrics import FLUSH_LAG_SECONDS, Sample


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no {name} {labels} in:\n{text}")


class Log:
    """An access log on an engine clock: `read(seconds)` answers what a router's log holds, as LiveRouter does."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.now = 1000.0
        self.fail = False
        self.reads: list[float] = []

    def write(self, count: int, color: str, status: int = 200, seconds: float = 0.004) -> None:
        """`count` requests ending over the last second before now."""
        self.samples += [Sample(self.now - 1 + i / count, color, status, seconds) for i in range(count)]

    def read(self, seconds: float) -> tuple[list[Sample], float]:
        if self.fail:
            raise RouterError("the router bluegreen-dev-router is not running")
        self.reads.append(seconds)
        return [s for s in self.samples if s.t >= self.now - seconds - FLUSH_LAG_SECONDS - 1], self.now


def scraper(log: Log, clock: list[float]) -> Scraper:
    live = Live({"blue": "1.0.0", "green": "2.0.0"}, {"blue": 90, "green": 10})
    return Scraper("bluegreen-dev", log.read, lambda: live, lambda: clock[0])


def test_the_exposition_parses_with_prometheus_own_parser_as_counters_and_a_histogram() -> None:
    counters = LiveCounters()
    counters.add([Sample(1.0, "blue", 200, 0.004), Sample(1.1, "blue", 503, 0.3), Sample(1.2, "green", 200, 2.0),
                  Sample(1.3, "green", 200, 0.01, rule="match")], {"blue": "1.0.0", "green": "2.0.0"})  # fmt: skip
    text = render(counters, "bluegreen-dev", {"blue": 90, "green": 10})
    found = families(text)
    assert found["bluegreen_requests"].type == "counter", "the _total suffix is the counter's own"
    assert found["bluegreen_request_duration_seconds"].type == "histogram"
    assert found["bluegreen_traffic_weight_percent"].type == "gauge" and found["bluegreen_up"].type == "gauge"
    assert value(text, "bluegreen_requests_total", color="blue", version="1.0.0", code="2xx") == 1
    assert value(text, "bluegreen_requests_total", color="blue", version="1.0.0", code="5xx") == 1
    assert value(text, "bluegreen_requests_total", color="green", version="2.0.0", code="2xx", route="weight") == 1
    assert value(text, "bluegreen_requests_total", color="green", code="2xx", route="match") == 1, "testers apart"
    blue = {"color": "blue", "version": "1.0.0", "deployment": "bluegreen-dev"}
    assert value(text, "bluegreen_request_duration_seconds_bucket", le="0.005", **blue) == 1
    assert value(text, "bluegreen_request_duration_seconds_bucket", le="0.25", **blue) == 1
    assert value(text, "bluegreen_request_duration_seconds_bucket", le="0.5", **blue) == 2
    assert value(text, "bluegreen_request_duration_seconds_bucket", le="+Inf", **blue) == 2
    assert value(text, "bluegreen_request_duration_seconds_sum", **blue) == pytest.approx(0.304)
    assert value(text, "bluegreen_request_duration_seconds_count", **blue) == 2
    buckets = [value(text, "bluegreen_request_duration_seconds_bucket", le=f"{b:g}", color="green") for b in BUCKETS]
    assert buckets == [0] * 8 + [1] * 3, "cumulative: 2 s is in every bucket from 2.5 s up"
    assert value(text, "bluegreen_traffic_weight_percent", color="green") == 10
    assert "window_seconds" not in text and "_ms" not in text, "base units, no window label"


def test_counters_rise_and_count_each_request_once_across_scrapes() -> None:
    log, clock = Log(), [0.0]
    scrape = scraper(log, clock)
    log.write(50, "blue")
    log.now += 5.0  # written and flushed before the endpoint started
    first = scrape.scrape()
    assert "bluegreen_requests_total{" not in first, "counting starts when the endpoint does"
    totals = []
    for step in range(1, 6):
        log.now += 1.0
        clock[0] += 1.0
        log.write(40, "blue")
        log.write(10, "green", status=500 if step == 3 else 200)
        text = scrape.scrape()
        totals.append(sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                          if s.name == "bluegreen_requests_total"))  # fmt: skip
    assert totals == sorted(totals) and totals[-1] > totals[0], totals
    log.now += 5.0  # the log's last second is flushed: everything written is now countable
    clock[0] += 5.0
    text = scrape.scrape()
    blue = value(text, "bluegreen_requests_total", color="blue", code="2xx")
    assert blue == 5 * 40, "every request after the first scrape, each once (the first scrape's 50 excluded)"
    assert value(text, "bluegreen_requests_total", color="green", code="5xx", version="2.0.0") == 10
    assert value(text, "bluegreen_requests_total", color="green", code="2xx") == 40


def test_a_router_that_cannot_be_read_keeps_the_counters_and_says_up_0() -> None:
    log, clock = Log(), [0.0]
    scrape = scraper(log, clock)
    scrape.scrape()
    log.now += 3.0
    clock[0] += 3.0
    log.write(20, "blue")
    log.now += 3.0
    clock[0] += 3.0
    before = scrape.scrape()
    log.fail = True
    failed = scrape.scrape()
    assert value(failed, "bluegreen_up") == 0 and value(before, "bluegreen_up") == 1
    assert value(failed, "bluegreen_requests_total", color="blue") == value(before, "bluegreen_requests_total",
                                                                             color="blue") == 20  # fmt: skip


def test_a_long_pause_reads_a_bounded_slice_of_the_log() -> None:
    log, clock = Log(), [0.0]
    scrape = scraper(log, clock)
    scrape.scrape()
    clock[0] += 86_400.0
    log.now += 86_400.0
    scrape.scrape()
    assert max(log.reads) <= 600.0


def test_the_grafana_dashboard_asks_only_for_series_the_endpoint_serves() -> None:
    import json
    import re

    from lab.paths import ROOT

    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    asked = {name for e in exprs for name in re.findall(r"\b(bluegreen_[a-z_]+)", e)}
    counters = LiveCounters()
    counters.add([Sample(1.0, "blue", 200, 0.01)], {"blue": "1.0.0"})
    served = {s.name for f in text_string_to_metric_families(render(counters, "d", {"blue": 100})) for s in f.samples}
    assert asked and asked <= served, asked - served
    labels = {label for e in exprs for label in re.findall(r"by \(([^)]*)\)", e)}
    assert {x.strip() for group in labels for x in group.split(",")} <= {"color", "version", "le"}
