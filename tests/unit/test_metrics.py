"""bluegreen/release/metrics.py: the router's log lines in, each colour's figures out, over exact samples."""

from __future__ import annotations

import json

from bluegreen.release.metrics import as_json, parse_log, percentile, summarize


def line(t: float, color: str, status: int, seconds: float, listener: str = "live", **extra: str) -> str:
    entry = {"t": t, "listener": listener, "color": color, "status": status, "request_s": seconds,
             "upstream_status": "", **extra}  # fmt: skip
    return json.dumps(entry)


def test_only_live_requests_count_and_noise_is_skipped() -> None:
    text = "\n".join([
        line(100.0, "blue", 200, 0.010),
        line(100.5, "green", 502, 0.001, upstream_status="502, 502"),  # nginx's own, after retries
        line(100.6, "green", 200, 0.020, listener="preview"),
        line(100.7, "", 308, 0.0, listener="redirect"),
        "2026/11/22 [notice] 1#1: signal process started",
        "{not json",
        '{"listener": "live"}',
    ])  # fmt: skip
    samples = parse_log(text)
    assert [(s.color, s.status) for s in samples] == [("blue", 200), ("green", 502)]


def test_a_window_counts_requests_errors_and_exact_percentiles_per_colour() -> None:
    samples = parse_log("\n".join(line(10 + i / 100, "green", 500 if i % 10 == 0 else 200, i / 1000)
                                  for i in range(100)))  # fmt: skip
    found = summarize(samples, 10.0, 11.0)
    green = found["green"]
    assert (green.requests, green.errors, green.error_rate_pct) == (100, 10, 10.0)
    assert (green.p50_ms, green.p99_ms) == (49.0, 98.0) and green.rps == 100.0
    assert found["blue"].requests == 0 and found["blue"].error_rate_pct == 0.0
    assert summarize(samples, 10.5, 11.0)["green"].requests == 50, "the window bounds the samples"
    assert percentile([], 99) == 0.0 and percentile([5.0], 50) == 5.0


def test_latency_is_the_apps_time_so_a_slow_reading_client_slows_no_canary() -> None:
    samples = parse_log("\n".join([
        line(10.0, "green", 200, 9.5, upstream_s="0.012"),  # the client took 9.5 s to read a 12 ms answer
        line(10.1, "green", 200, 0.030, upstream_s="0.010, 0.015"),  # a retry: both attempts count
        line(10.2, "green", 502, 0.004, upstream_s="-"),  # nginx's own answer: the request's time is all there is
    ]))  # fmt: skip
    assert [round(s.seconds, 3) for s in samples] == [0.012, 0.025, 0.004]
    assert summarize(samples, 10.0, 11.0)["green"].p99_ms < 30


def test_the_health_path_is_left_out_when_asked() -> None:
    samples = parse_log("\n".join([line(10.0, "green", 200, 0.001, path="/health/ready")] * 50
                                   + [line(10.5, "green", 500, 0.2, path="/orders")] * 5))  # fmt: skip
    assert summarize(samples, 10.0, 11.0)["green"].error_rate_pct < 10, "the monitor's hits dilute the errors"
    judged = summarize(samples, 10.0, 11.0, skip_paths={"/health/ready"})["green"]
    assert (judged.requests, judged.error_rate_pct) == (5, 100.0)


def test_json_shape() -> None:
    found = summarize(parse_log(line(1.0, "blue", 200, 0.0123)), 0.0, 10.0)
    assert as_json(found, 10) == {"windowSeconds": 10, "colors": {
        "blue": {"requests": 1, "errors": 0, "errorRatePct": 0.0, "p50Ms": 12.3, "p95Ms": 12.3, "p99Ms": 12.3,
                 "rps": 0.1, "matched": 0},
        "green": {"requests": 0, "errors": 0, "errorRatePct": 0.0, "p50Ms": 0.0, "p95Ms": 0.0, "p99Ms": 0.0,
                  "rps": 0.0, "matched": 0}}}  # fmt: skip


def test_requests_a_header_or_cookie_route_sent_are_counted_apart_from_the_weighted_figures() -> None:
    samples = parse_log("\n".join([line(1.0, "green", 500, 0.9, rule="match")] * 7
                                   + [line(1.5, "green", 200, 0.01)] * 3 + [line(1.6, "blue", 200, 0.01)]))  # fmt: skip
    green = summarize(samples, 0.0, 10.0)["green"]
    assert (green.requests, green.errors, green.matched, green.p99_ms) == (3, 0, 7, 10.0)
    assert summarize(samples, 0.0, 10.0)["blue"].as_json()["matched"] == 0
