"""The lab's counting helpers: a test that needs N requests gets N, or fails as too slow to measure."""

from __future__ import annotations

import pytest

from lab.prober import BackgroundProbe, ProbeStats, Sample, TooSlowToMeasureError, enough


def made(requests: int) -> ProbeStats:
    stats = ProbeStats()
    stats.samples = [Sample(0.0, 200, "blue", 1.0)] * requests
    return stats


def test_enough_passes_the_stats_through_when_the_count_was_reached() -> None:
    stats = made(6_000)
    assert enough(stats, 6_000, 300) is stats


def test_too_few_requests_fail_as_too_slow_not_as_a_wrong_result() -> None:
    stats = made(5_437)
    with pytest.raises(TooSlowToMeasureError, match="5437 of 6000 requests in the 300 s cap"):
        enough(stats, 6_000, 300)


def test_keep_until_gives_up_at_its_cap() -> None:
    probe = BackgroundProbe("http://127.0.0.1:9/")  # never started: its count stays 0
    with pytest.raises(TooSlowToMeasureError, match=r"0 of 10 requests in the 0\.3 s cap"):
        probe.keep_until(10, cap_seconds=0.3)
