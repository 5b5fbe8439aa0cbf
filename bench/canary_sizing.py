"""How the canary analysis decides at a given traffic: many simulated steps through the real step judgement.

A real canary at 5 requests/s takes the best part of a minute to pass, so
twenty of them would take the bench a quarter of an hour. Instead, each
simulated step runs `bluegreen.release.rollout.analyse_step` itself, with the
stack defaults, on a simulated clock, against a log of Poisson arrivals:
the candidate takes `weight`% of them, answers 5xx at `error_rate`, and
takes the time of a request drawn from a real run's samples (the bench
records them through the router). Only the arrivals are made up; the
judgement, its window, its bound and its deadline are the product's.
"""

from __future__ import annotations

import bisect
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bluegreen.colors import Color
from bluegreen.errors import AbortDecidedError
from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.release.metrics import FLUSH_LAG_SECONDS, Sample
from bluegreen.release.rollout import analyse_step

STEP = {"weight": 10, "pauseSeconds": 30}  # the docs' first step (docs/rollouts.md)
BAD_ERROR_RATE = 0.2  # the bench's bad canary: one request in five answers 500


@dataclass(frozen=True)
class Outcome:
    passed: bool
    seconds: float  # from the flip to the decision
    deadline: bool = False  # aborted for want of evidence, not on it


class _NoBeat:
    """A simulated step writes no progress anywhere."""

    verdict: str | None = None

    def __call__(self) -> None:
        return None


class SimulatedLog:
    """A router whose access log holds Poisson arrivals, written as the simulated clock reaches them."""

    def __init__(self, rps: float, error_rate: float, latencies: dict[Color, Sequence[float]],
                 rng: random.Random, clock: list[float]) -> None:  # fmt: skip
        self.rps, self.error_rate, self.latencies, self.rng, self.clock = rps, error_rate, latencies, rng, clock
        self.samples: list[Sample] = []
        self.times: list[float] = []
        self.next = rng.expovariate(rps)

    def take_command(self) -> None:
        return None

    def live_samples(self, seconds: float) -> tuple[list[Sample], float]:
        now = self.clock[0]
        while self.next < now:
            color: Color = "green" if self.rng.random() * 100 < STEP["weight"] else "blue"
            status = 500 if color == "green" and self.rng.random() < self.error_rate else 200
            self.samples.append(Sample(self.next, color, status, self.rng.choice(self.latencies[color]), "/"))
            self.times.append(self.next)
            self.next += self.rng.expovariate(self.rps)
        lo = bisect.bisect_left(self.times, now - seconds - FLUSH_LAG_SECONDS - 1)
        return self.samples[lo:], now


def _target(rules: dict[str, Any]) -> RoutingPlan:
    return parse_plan({
        "deployment": "sizing", "active": "green", "weights": {"green": 100, "blue": 0},
        "colors": {"blue": {"version": "1.0.0", "containers": ["b1"]},
                   "green": {"version": "1.1.0", "containers": ["g1"]}},
        "rollout": {"steps": [STEP], **rules},
    })  # fmt: skip


def simulate_step(
    rps: float,
    error_rate: float,
    latencies: dict[Color, Sequence[float]],
    rng: random.Random,
    rules: dict[str, Any] | None = None,
) -> Outcome:
    """One step at `rps` requests/s in all, the candidate (green) at the step's weight."""
    target = _target(rules or {})
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    step = target.rollout.steps[0]
    try:
        analyse_step(SimulatedLog(rps, error_rate, latencies, rng, clock), step, target, "green", "blue",  # type: ignore[arg-type]
                     lambda _: None, {}, lambda: clock[0], sleep, _NoBeat())  # fmt: skip
    except AbortDecidedError as stop:
        return Outcome(False, clock[0], stop.reason.startswith("no passing judgement"))
    return Outcome(True, clock[0])


def sizing(
    rps_levels: Sequence[float], runs: int, latencies: dict[Color, Sequence[float]], seed: int = 7
) -> list[dict[str, Any]]:
    """Per traffic level: healthy steps (how long to a pass, how many aborted) and bad ones (how long to abort)."""
    rng = random.Random(seed)
    rows = []
    for rps in rps_levels:
        healthy = [simulate_step(rps, 0.0, latencies, rng) for _ in range(runs)]
        bad = [simulate_step(rps, BAD_ERROR_RATE, latencies, rng) for _ in range(runs)]
        passed = sorted(o.seconds for o in healthy if o.passed)
        aborted = sorted(o.seconds for o in bad if not o.passed)
        rows.append({
            "rps": rps,
            "runs": runs,
            "healthy_pass_s_median": _q(passed, 50),
            "healthy_pass_s_p90": _q(passed, 90),
            "false_aborts": sum(1 for o in healthy if not o.passed),
            "bad_abort_s_median": _q(aborted, 50),
            "bad_abort_s_p90": _q(aborted, 90),
            "bad_promoted": sum(1 for o in bad if o.passed),
            "bad_aborted_within_60s": sum(1 for s in aborted if s <= 60),
        })  # fmt: skip
    return rows


def _q(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


def render(rows: list[dict[str, Any]], latency_note: str) -> str:
    """docs/rollouts.md's sizing table."""
    lines = [
        f"| traffic (requests/s, all colours) | candidate at {STEP['weight']}% | healthy: pass after (median, p90) "
        "| healthy aborted | 20% 5xx: abort after (median, p90) | 20% 5xx aborted within 60 s |",
        "| ---: | ---: | --- | ---: | --- | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['rps']:g} | {r['rps'] * STEP['weight'] / 100:g}/s | {_s(r['healthy_pass_s_median'])}, "
            f"{_s(r['healthy_pass_s_p90'])} | {r['false_aborts']} of {r['runs']} | {_s(r['bad_abort_s_median'])}, "
            f"{_s(r['bad_abort_s_p90'])} | {r['bad_aborted_within_60s']} of {r['runs']} |"
        )
    return "\n".join(lines) + f"\n\n{latency_note}\n"


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:g} s"
