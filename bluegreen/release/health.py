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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bluegreen.colors import COLORS
from bluegreen.config.rollout import HealthGate
from bluegreen.engine.targets import Inspector, Resolver
from bluegreen.errors import GateError
from bluegreen.plan.model import RoutingPlan
from bluegreen.release.progress import Progress
from bluegreen.router.seam import HttpResult, RouterPort, Target

__all__ = ["GateError", "GateResult", "Inspector", "run_gate"]

MAX_BACKOFF_SECONDS = 5.0


class Prober(Protocol):
    def fetch(self, targets: Sequence[Target], closing: Sequence[Target] | None = None) -> list[HttpResult]: ...


@dataclass
class Candidate:
    name: str
    soft: bool = False  # checked alongside, never a veto (the preview)
    streak: int = 0
    last: str = "not probed yet"
    address: str | None = None
    down: bool = False  # a soft target that failed


@dataclass
class GateResult:
    addresses: dict[str, str]
    rounds: int
    seconds: float
    kind: str = "container"  # what passed: containers, or Swarm tasks
    down: dict[str, str] = field(default_factory=dict)  # soft targets that did not pass, and why
    probed: list[str] = field(default_factory=list)  # every address a round probed, hard or soft


@dataclass(frozen=True)
class Checked:
    """What the gate of a switch found: why the preview is down (or None), and the targets it probed."""

    preview_down: str | None
    probed: list[Target]


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
    soft: Sequence[str] = (),
    aliases: Mapping[str, str] = {},
) -> GateResult:
    """Addresses of every target once all have passed; GateError otherwise.

    `soft` targets ride along in the same rounds (no extra exec) but never veto: one that fails for good, or has
    not passed once the others have, is reported in `down`."""
    started = clock()
    deadline = started + policy.timeout_seconds
    candidates = [Candidate(n) for n in names] + [Candidate(n, soft=True) for n in soft]
    backoff = policy.interval_seconds
    rounds = 0
    while True:
        rounds += 1
        _round(candidates, targets, prober, networks, port, path, policy.successes, aliases)
        hard = [c for c in candidates if not c.soft and c.streak < policy.successes]
        if not hard:
            passed = [c for c in candidates if not c.down and c.streak >= policy.successes]
            down = {c.name: c.last for c in candidates if c.soft and c not in passed}
            addresses = {c.name: c.address or "" for c in passed}
            probed = [c.address for c in candidates if c.address]
            return GateResult(addresses, rounds, clock() - started, targets.kind, down, probed)
        if all(c.streak > 0 for c in hard):
            # Collecting consecutive successes: keep the base interval.
            wait = backoff = policy.interval_seconds
        else:
            wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
        if clock() + wait > deadline:
            worst = hard[0]
            raise GateError(
                f"health gate: {targets.kind} {worst.name} not healthy after {policy.timeout_seconds:g}s "
                f"(last: {worst.last})"
            )
        sleep(wait)


def _round(
    candidates: Sequence[Candidate],
    targets: Resolver,
    prober: Prober,
    networks: set[str],
    port: int,
    path: str,
    successes: int,
    aliases: Mapping[str, str],
) -> None:
    """One round: Docker's view of every pending target, then one probe exec for those worth probing."""
    probe: list[Candidate] = []
    targets.new_round()
    for c in [c for c in candidates if c.streak < successes and not c.down]:
        target = targets.target(c.name)
        address, problem, final = target.view(networks, aliases.get(c.name))
        if problem is not None:
            c.streak, c.last = 0, problem
            if final and c.soft:
                c.down = True
            elif final:
                raise GateError(f"health gate: {targets.kind} {c.name}: {problem}")
        elif c.soft and target.health == "healthy":
            # The preview passes on Docker's healthcheck (the same readiness path, polled every second): after a
            # flip it is the colour that was live until now, the busiest, and an express publish waited for its
            # answer (docs/routing.md, "The preview's check"). Only a target without a healthcheck is probed.
            c.address, c.streak, c.last = address, successes, "Docker health is healthy"
        else:
            if c.address is not None and address != c.address:
                c.streak = 0  # another task took the slot (Swarm replaced it): its passes start again
            c.address = address
            probe.append(c)
    if probe:
        results = prober.fetch([(c.address or "", port, path) for c in probe], _closing(candidates, probe, successes,
                                                                                        port, path))  # fmt: skip
        for c, result in zip(probe, results, strict=True):
            c.streak = c.streak + 1 if result.ok else 0
            c.last = f"{result.detail} from {c.address}:{port}{path}"


def _closing(
    candidates: Sequence[Candidate], probe: Sequence[Candidate], successes: int, port: int, path: str
) -> list[Target] | None:
    """Every target the gate will have probed when this round's answers, all 200, close it with no preview down
    (an express publishes then: bluegreen.release.express); None when they would not."""
    pending = [c for c in candidates if c.streak < successes and not c.down]
    if any(c.down for c in candidates) or len(probe) != len(pending):
        return None
    if any(c.streak != successes - 1 for c in probe):
        return None
    return [(c.address, port, path) for c in candidates if c.address]


def gated(plan: RoutingPlan) -> tuple[list[str], list[str]]:
    """The containers (or task slots) a switch to `plan` gates, and the preview's, checked alongside (soft)."""
    live = [] if plan.maintenance.enabled else plan.live_colors()
    preview = plan.preview
    soft = [preview] if preview is not None and preview not in live and plan.color(preview).containers else []
    return [n for c in live for n in plan.color(c).containers], [n for c in soft for n in plan.color(c).containers]


def check_health(
    router: RouterPort,
    inspector: Inspector,
    plan: RoutingPlan,
    prober: Prober,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    progress: Progress,
) -> Checked:
    """Gate what will take live traffic (entering maintenance sends it none), and check the preview in the same
    rounds. Returns why the preview is down (or None), and every target probed: what the published generation
    arms for the next derived switch (ARMED_PROBES).

    The preview never vetoes: after a rollback or an abort it is the colour that just failed, and leaving it
    must always be possible (docs/reliability.md).
    """
    names, soft = gated(plan)
    targets = Resolver(inspector, swarm=plan.orchestrator == "swarm")
    aliases = {n: alias for c in COLORS if (alias := plan.color(c).alias) for n in plan.color(c).containers}
    gate = run_gate(
        names, targets, prober, router.networks(), plan.app_port, plan.health_path, plan.health_gate, clock, sleep,
        soft=soft, aliases=aliases,
    )  # fmt: skip
    if plan.maintenance.enabled:
        progress("maintenance: the live listener will serve no colour, so nothing is gated")
    else:
        progress(f"gate passed: {len(names)} {gate.kind}(s) in {gate.seconds:.2f}s")
    probed = [(address, plan.app_port, plan.health_path) for address in gate.probed]
    if not gate.down:
        return Checked(None, probed)
    name, why = next(iter(gate.down.items()))
    problem = (
        f"preview {plan.preview} is down (health gate: {gate.kind} {name}: {why}); the preview listener answers 503 "
        "until a switch finds it healthy"
    )
    progress(problem)
    return Checked(problem, probed)
