"""The judgement of one window of a canary: pass, fail or inconclusive. Pure, no I/O.

The candidate is judged on its own figures (error rate, p99) and against the
stable colour over the same seconds (p99 ratio), so a slow host slows both
and fails neither. Too few candidate requests is *inconclusive*, never a
pass: a rollout never promotes without evidence.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bluegreen.config.rollout import Analysis
from bluegreen.release.metrics import ColorMetrics


class Outcome(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password  # nosec B105
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str


def judge(active: ColorMetrics, idle: ColorMetrics, rules: Analysis, window: float) -> Verdict:
    """One window's verdict; `reason` reads as the tail of `rollout aborted at green 10%: <reason>`."""
    over = f"over {window:g} s ({active.requests} requests)"
    if active.requests < rules.min_requests:
        return Verdict(
            Outcome.INCONCLUSIVE, f"{active.requests} requests in {window:g} s, fewer than {rules.min_requests}"
        )
    failures = []
    if active.error_rate_pct > rules.max_error_rate_pct:
        failures.append(f"error rate {active.error_rate_pct:.1f}% > {rules.max_error_rate_pct:g}%")
    if active.p99_ms > rules.max_p99_ms:
        failures.append(f"p99 {active.p99_ms:.0f} ms > {rules.max_p99_ms:g} ms")
    elif idle.requests >= rules.min_requests and idle.p99_ms > 0 and active.p99_ms > rules.max_p99_ratio * idle.p99_ms:
        failures.append(
            f"p99 {active.p99_ms:.0f} ms > {rules.max_p99_ratio:g} x the stable colour's {idle.p99_ms:.0f} ms"
        )
    if failures:
        return Verdict(Outcome.FAIL, f"{', '.join(failures)} {over}")
    return Verdict(Outcome.PASS, f"error rate {active.error_rate_pct:.1f}%, p99 {active.p99_ms:.0f} ms {over}")
