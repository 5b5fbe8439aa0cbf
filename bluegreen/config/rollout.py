"""rollout, notifications and healthGate: analysed steps, where their events go, what a switch waits for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StringConstraints

from bluegreen.config.problems import MISSING, Problem
from bluegreen.config.types import Allowed, Model, TypedText, opaque_or
from bluegreen.router.layout import STICKY_COOKIE

if TYPE_CHECKING:
    from bluegreen.config.settings import StackSettings

HeaderName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"),
    Allowed("an HTTP header name such as X-Canary-Tester"),
]


AllowlistToken = Annotated[
    str,
    TypedText,
    StringConstraints(pattern=r"^[A-Za-z0-9_.:@+-]{8,128}$"),
    Allowed("a token of 8-128 letters, digits and _ . : @ + -"),
]


CookieName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$"),
    Allowed("a cookie name of 1-64 letters, digits, _ and -"),
]

MatchValue = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.:@+=/-]{1,128}$"),
    Allowed("1-128 letters, digits and _ . : @ + = / -"),
]


class RouteMatch(Model):
    """Requests testers send on purpose: routed to activeColor whenever it runs, at any weight (0% included).

    Argo Rollouts' setHeaderRoute. Unlike the allowlist, the value is a routing rule, not a secret: anyone
    who sends it reaches the candidate. Counted apart in metrics (`matched`), never in a canary's analysis.
    """

    header: HeaderName | None = Field(None, description="Header whose exact value routes the request.")
    cookie: CookieName | None = Field(None, description="Cookie whose exact value routes the request.")
    value: MatchValue = Field(description="The exact value that matches.")


class RolloutStep(Model):
    weight: int = Field(ge=1, le=99, description="activeColor's share at this step, percent.")
    pause_seconds: float = Field(ge=0, le=3600, description="How long the step is analysed before the next one.")


class Analysis(Model):
    """When a canary fails: judged every interval on the router's own log (docs/rollouts.md, The decision rule)."""

    interval_seconds: float = Field(5, ge=1, le=300, description="How often the candidate is judged.")
    window_seconds: float = Field(
        60, ge=1, le=3600, description="How far back each judgement looks (never before its step began)."
    )
    min_requests: int = Field(
        20,
        ge=1,
        le=1_000_000,
        description="Fewer candidate requests in the window: never a pass (a fail needs evidence only).",
    )
    max_error_rate_pct: float = Field(
        1, ge=0, le=100, description="Candidate 5xx per 100 requests proven above it (99% bound): fail."
    )
    max_p99_ms: float = Field(500, gt=0, le=600_000, description="Candidate p99 proven above it (99% bound): fail.")
    max_p99_ratio: float = Field(
        1.5, ge=1, le=100, description="Candidate p99 proven above this times the stable colour's (same window): fail."
    )
    min_p99_delta_ms: float = Field(
        50, ge=0, le=600_000, description="...and at least this much above it: a difference a user would feel."
    )
    failure_limit: int = Field(
        0, ge=0, le=100, description="Failed judgements tolerated; one more aborts (a fail is already evidence)."
    )


class Rollout(Model):
    """How traffic moves to activeColor: steps judged by analysis, and who may skip the dice."""

    steps: list[RolloutStep] = Field(
        default_factory=list,
        description="Weights walked (each analysed) when activeColor gains traffic, before the configured "
        "trafficWeight; empty: one switch.",
    )
    analysis: Analysis = Field(default_factory=Analysis, description="The judgement of every step.")
    progress_deadline_seconds: float = Field(
        600, ge=1, le=86400, description="A step still without a passing judgement this long after it began aborts."
    )
    allowlist_header: HeaderName | None = Field(
        None, description="Request header whose value is looked up in rollout.allowlist."
    )
    allowlist: list[AllowlistToken] = Field(
        default_factory=list,
        description="Values of rollout.allowlistHeader that always go to activeColor (testers), whatever the weight.",
    )
    match: list[RouteMatch] = Field(
        default_factory=list,
        max_length=16,
        description="Header or cookie routes: a request that matches one goes to activeColor at any weight "
        "(docs/edge.md).",
    )


class Notifications(Model):
    """A top-level key, so `--secret --path notifications.webhookUrl` keeps everything else plain."""

    webhook_url: (
        Annotated[
            str,
            StringConstraints(max_length=2048),
            opaque_or(r"^https?://[\x21-\x7e]+$"),
            Allowed("an https:// URL without spaces or control characters, such as a Slack incoming webhook"),
        ]
        | None
    ) = Field(None, description="Receives each rollout event as JSON with a Slack-compatible `text`.")
    allow_http: bool = Field(
        False, description="Accept a plain http:// webhookUrl (the events and the URL's secret travel unencrypted)."
    )


class HealthGate(Model):
    timeout_seconds: float = Field(60, gt=0, le=900, description="Total bound on the gate.")
    interval_seconds: float = Field(0.5, gt=0, le=60, description="First backoff step.")
    successes: int = Field(2, ge=1, le=20, description="Consecutive passes per container.")


def problems(s: StackSettings) -> list[Problem]:
    return _rollout_problems(s) + _notification_problems(s)


def _notification_problems(s: StackSettings) -> list[Problem]:
    url = s.notifications.webhook_url
    if url and url.startswith("http://") and not s.notifications.allow_http:
        return [
            Problem(
                "notifications.webhookUrl",
                "http://...",
                "an https:// URL (or notifications.allowHttp: true to send events and the URL unencrypted)",
            )
        ]
    return []


def _rollout_problems(s: StackSettings) -> list[Problem]:
    """Steps that only go up and can pass before their deadline, an allowlist with its header, a gate that polls."""
    found: list[Problem] = []
    weights = [step.weight for step in s.rollout.steps]
    if weights != sorted(set(weights)):
        found.append(Problem("rollout.steps", weights, "weights that only go up, each once, e.g. [10, 50]"))
    longest = max([step.pause_seconds for step in s.rollout.steps] + [s.rollout.analysis.interval_seconds])
    if s.rollout.steps and s.rollout.progress_deadline_seconds <= longest:
        found.append(
            Problem(
                "rollout.progressDeadlineSeconds",
                s.rollout.progress_deadline_seconds,
                f"more than every step's pauseSeconds and analysis.intervalSeconds ({longest:g}): a step must be "
                "able to pass before its deadline",
            )
        )
    analysis = s.rollout.analysis
    if analysis.window_seconds < analysis.interval_seconds:
        found.append(
            Problem(
                "rollout.analysis.windowSeconds",
                analysis.window_seconds,
                f"at least analysis.intervalSeconds ({analysis.interval_seconds:g}): each judgement looks back over "
                "one interval or more",
            )
        )
    if bool(s.rollout.allowlist) != bool(s.rollout.allowlist_header):
        key = "rollout.allowlistHeader" if s.rollout.allowlist else "rollout.allowlist"
        found.append(
            Problem(key, MISSING, "set together with the other: the header testers send, and its allowed values")
        )
    found += _match_problems(s.rollout.match)
    if s.health_gate.interval_seconds >= s.health_gate.timeout_seconds:
        found.append(
            Problem(
                "healthGate.intervalSeconds",
                s.health_gate.interval_seconds,
                f"less than healthGate.timeoutSeconds ({s.health_gate.timeout_seconds:g})",
            )
        )
    return found


def _match_problems(rules: list[RouteMatch]) -> list[Problem]:
    """Each route names one header or one cookie, never the router's own stickiness cookie."""
    found: list[Problem] = []
    for i, rule in enumerate(rules):
        key = f"rollout.match[{i}]"
        if (rule.header is None) == (rule.cookie is None):
            named = {k: v for k, v in (("header", rule.header), ("cookie", rule.cookie)) if v is not None}
            found.append(Problem(key, named or MISSING, "exactly one of header or cookie, with its value"))
        elif rule.cookie == STICKY_COOKIE:
            found.append(Problem(f"{key}.cookie", rule.cookie, "a cookie of your own: the router sets this one"))
    return found
