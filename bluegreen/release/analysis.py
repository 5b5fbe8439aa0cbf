"""The judgement of a canary's recent traffic: pass, fail or inconclusive. Pure, no I/O.

Every rule is a claim about a share of the candidate's requests: "error rate
above 1%" is "more than 1 in 100 answered 5xx"; "p99 above 500 ms" is "more
than 1 in 100 took longer than 500 ms". So one test serves them all:

- **fail** needs evidence: at least MIN_BAD bad requests *and* a one-sided 99%
  Wilson lower bound on their share above the limit. Three 5xx out of three
  requests fail at once (a dead canary at 1 request/s aborts in seconds); one
  slow request out of 20, or a p99 of 23 ms against 10 ms, never does.
- **pass** needs a sample: `minRequests` candidate requests in the window,
  and every share at or under its limit.
- anything else is **inconclusive**: the window slides on, and
  `progressDeadlineSeconds` bounds the wait. A rollout never promotes without
  evidence.

The latency limit against the stable colour (same seconds, so a slow host
slows both and fails neither) is `maxP99Ratio` times its p99 *and* at least
`minP99DeltaMs` more: millisecond noise is no difference a user feels.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bluegreen.config.rollout import Analysis
from bluegreen.release.metrics import Sample, percentile

Z_ONE_SIDED_99 = 2.326  # the normal quantile of a one-sided 99% bound
MIN_BAD = 3  # bad requests a fail needs, whatever the bound says: one stray 5xx is no evidence
P99_SHARE_PCT = 1.0  # "p99 above X" is "more than 1% of requests above X"


class Outcome(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password  # nosec B105
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str


def wilson_lower_pct(bad: int, total: int, z: float = Z_ONE_SIDED_99) -> float:
    """The lower Wilson score bound, in percent, of the share `bad / total` (0 for no requests).

    Wilson rather than the normal approximation: it stays inside [0, 100] and is honest at the small counts
    a quiet app gives a canary (3 of 20, not 30,000 of 1,000,000)."""
    if total <= 0:
        return 0.0
    share, z2 = bad / total, z * z
    centre = share + z2 / (2 * total)
    margin = z * math.sqrt(share * (1 - share) / total + z2 / (4 * total * total))
    return max(0.0, 100.0 * (centre - margin) / (1 + z2 / total))


@dataclass(frozen=True)
class Share:
    """One rule's count: `bad` of `total` requests, against `limit_pct`, said as `what`."""

    what: str
    bad: int
    total: int
    limit_pct: float

    @property
    def pct(self) -> float:
        return 100.0 * self.bad / self.total if self.total else 0.0

    @property
    def proven_over(self) -> bool:
        return self.bad >= MIN_BAD and wilson_lower_pct(self.bad, self.total) > self.limit_pct

    @property
    def within(self) -> bool:
        return self.pct <= self.limit_pct


def latency_limit_ms(stable: Sequence[Sample], rules: Analysis) -> tuple[float, str]:
    """The time above which a candidate request counts as slow, and how to say it.

    `maxP99Ms`, tightened to `maxP99Ratio` x the stable colour's p99 (and at least `minP99DeltaMs` above it)
    when the stable colour has `minRequests` requests in the same window to measure a p99 from."""
    if len(stable) < rules.min_requests:
        return rules.max_p99_ms, f"{rules.max_p99_ms:g} ms"
    stable_p99 = percentile([s.seconds * 1000 for s in stable], 99)
    relative = max(rules.max_p99_ratio * stable_p99, stable_p99 + rules.min_p99_delta_ms)
    if relative >= rules.max_p99_ms:
        return rules.max_p99_ms, f"{rules.max_p99_ms:g} ms"
    return relative, f"{relative:.0f} ms (the stable colour's p99 {stable_p99:.0f} ms, x{rules.max_p99_ratio:g}, " \
        f"+{rules.min_p99_delta_ms:g} ms at least)"  # fmt: skip


def judge(candidate: Sequence[Sample], stable: Sequence[Sample], rules: Analysis, window: float) -> Verdict:
    """The verdict on the candidate's requests of the last `window` seconds (the stable colour's, same seconds).

    `reason` reads as the tail of `rollout aborted at green 10%: <reason>`."""
    total = len(candidate)
    limit_ms, limit_text = latency_limit_ms(stable, rules)
    errors = Share("error rate", sum(1 for s in candidate if s.status >= 500), total, rules.max_error_rate_pct)
    slow = Share(f"slower than {limit_text}", sum(1 for s in candidate if s.seconds * 1000 > limit_ms), total,
                 P99_SHARE_PCT)  # fmt: skip
    over = f"over {window:.0f} s ({total} requests)"
    p99 = percentile([s.seconds * 1000 for s in candidate], 99)
    failed = [_said(share) for share in (errors, slow) if share.proven_over]
    if failed:
        return Verdict(Outcome.FAIL, f"{', '.join(failed)} over {window:.0f} s")
    if total < rules.min_requests:
        return Verdict(Outcome.INCONCLUSIVE, f"{total} requests in {window:.0f} s, fewer than {rules.min_requests}")
    unsure = [_said(share) for share in (errors, slow) if not share.within]
    if unsure:
        return Verdict(Outcome.INCONCLUSIVE, f"{', '.join(unsure)} over {window:.0f} s, not yet proven")
    return Verdict(Outcome.PASS, f"error rate {errors.pct:.1f}%, p99 {p99:.0f} ms {over}")


def _said(share: Share) -> str:
    if share.what == "error rate":
        return f"error rate {share.pct:.1f}% ({share.bad} of {share.total}) > {share.limit_pct:g}%"
    return f"{share.bad} of {share.total} requests ({share.pct:.1f}%) {share.what}, more than {share.limit_pct:g}%"
