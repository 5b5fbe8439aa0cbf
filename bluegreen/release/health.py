"""The health gate: no traffic to a container until it has proven it can serve.

Two checks per target (a container, or a Swarm task: bluegreen.engine.targets),
both needed: Docker's own view (exists, running, healthcheck `healthy`), then
HTTP from inside the router to the target's readiness path, which also proves
the router can reach it on the network it will use. Passing means `successes`
good answers in a row; failing probes back off exponentially; the whole gate
is bounded by `timeoutSeconds`. A container that is missing or has exited
fails at once: waiting cannot fix it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bluegreen.colors import Color
from bluegreen.config.rollout import HealthGate
from bluegreen.engine.targets import Inspector, Resolver
from bluegreen.errors import GateError
from bluegreen.plan.model import RoutingPlan
from bluegreen.release.progress import Progress
from bluegreen.router.seam import HttpResult, RouterPort

__all__ = ["GateError", "GateResult", "Inspector", "run_gate"]

MAX_BACKOFF_SECONDS = 5.0


class Prober(Protocol):
    def fetch(self, targets: Sequence[tuple[str, int, str]]) -> list[HttpResult]: ...


@dataclass
class Candidate:
    name: str
    streak: int = 0
    last: str = "not probed yet"
    address: str | None = None


@dataclass
class GateResult:
    addresses: dict[str, str]
    rounds: int
    seconds: float
    kind: str = "container"  # what passed: containers, or Swarm tasks


def run_gate(
    names: Sequence[str],
    targets: Resolver,
    prober: Prober,
    networks: set[str],
    port: int,
    path: str,
    policy: HealthGate,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GateResult:
    """Addresses of every target once all have passed; GateError otherwise."""
    started = clock()
    deadline = started + policy.timeout_seconds
    candidates = [Candidate(n) for n in names]
    backoff = policy.interval_seconds
    rounds = 0
    while True:
        rounds += 1
        pending = [c for c in candidates if c.streak < policy.successes]
        probe: list[Candidate] = []
        targets.new_round()
        for c in pending:
            address, problem, final = targets.target(c.name).view(networks)
            if problem is not None:
                c.streak, c.last = 0, problem
                if final:
                    raise GateError(f"health gate: {targets.kind} {c.name}: {problem}")
            else:
                if c.address is not None and address != c.address:
                    c.streak = 0  # another task took the slot (Swarm replaced it): its passes start again
                c.address = address
                probe.append(c)
        if probe:
            results = prober.fetch([(c.address or "", port, path) for c in probe])
            for c, result in zip(probe, results, strict=True):
                ok = result.ok
                c.streak = c.streak + 1 if ok else 0
                c.last = f"{result.detail} from {c.address}:{port}{path}"
        failing = [c for c in candidates if c.streak < policy.successes]
        if not failing:
            return GateResult({c.name: c.address or "" for c in candidates}, rounds, clock() - started, targets.kind)
        if all(c.streak > 0 for c in failing):
            # Collecting consecutive successes: keep the base interval.
            wait = backoff = policy.interval_seconds
        else:
            wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
        if clock() + wait > deadline:
            worst = failing[0]
            raise GateError(
                f"health gate: {targets.kind} {worst.name} not healthy after {policy.timeout_seconds:g}s "
                f"(last: {worst.last})"
            )
        sleep(wait)


def _gate(
    router: RouterPort,
    inspector: Inspector,
    plan: RoutingPlan,
    colors: Sequence[Color],
    policy: HealthGate,
    prober: Prober,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> GateResult:
    names = [n for c in colors for n in plan.color(c).containers]
    targets = Resolver(inspector, swarm=plan.orchestrator == "swarm")
    networks = router.networks()
    return run_gate(names, targets, prober, networks, plan.app_port, plan.health_path, policy, clock, sleep)


def check_health(
    router: RouterPort,
    inspector: Inspector,
    plan: RoutingPlan,
    prober: Prober,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    progress: Progress,
) -> str | None:
    """Gate what will take live traffic (entering maintenance sends it none); check the preview. Returns why the
    preview is down, or None."""
    if plan.maintenance.enabled:
        progress("maintenance: the live listener will serve no colour, so nothing is gated")
    else:
        gate = _gate(router, inspector, plan, plan.live_colors(), plan.health_gate, prober, clock, sleep)
        progress(f"gate passed: {len(gate.addresses)} {gate.kind}(s) in {gate.seconds:.2f}s")
    preview_down = _preview_problem(router, inspector, plan, prober, clock, sleep)
    if preview_down:
        progress(preview_down)
    return preview_down


PREVIEW_CHECK = HealthGate(timeout_seconds=2.0, interval_seconds=0.25, successes=1)


def _preview_problem(
    router: RouterPort,
    inspector: Inspector,
    plan: RoutingPlan,
    prober: Prober,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> str | None:
    """Why the preview colour cannot be served, or None. It is checked, never a veto: after a rollback or an
    abort the preview is the colour that just failed, and leaving it must always be possible."""
    preview = plan.preview
    if preview is None or preview in plan.live_colors() or not plan.color(preview).containers:
        return None
    try:
        _gate(router, inspector, plan, [preview], PREVIEW_CHECK, prober, clock, sleep)
    except GateError as exc:
        return f"preview {preview} is down ({exc}); the preview listener answers 503 until a switch finds it healthy"
    return None
