"""The health gate: no traffic to a container until it has proven it can serve.

Two checks per container, both needed: Docker's own view (exists, running,
healthcheck `healthy`), then HTTP from inside the router to the container's
readiness path, which also proves the router can reach it on the network it
will use. Passing means `successes` good answers in a row; failing probes back
off exponentially; the whole gate is bounded by `timeoutSeconds`. A container
that is missing or has exited fails at once: waiting cannot fix it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bluegreen.errors import BluegreenError
from bluegreen.live_router import HttpResult
from bluegreen.settings import HealthGate

MAX_BACKOFF_SECONDS = 5.0


class GateError(BluegreenError):
    """A container did not pass; the message names it and the last result."""


class Inspector(Protocol):
    def inspect(self, name: str) -> dict[str, Any] | None: ...


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


def docker_view(info: dict[str, Any] | None, name: str, networks: set[str]) -> tuple[str | None, str | None, bool]:
    """(address, problem, final): the container's IP on a router network, or why not."""
    if info is None:
        return None, "no such container", True
    state = info["State"]
    if not state.get("Running"):
        return None, f"not running ({state.get('Status')}, exit code {state.get('ExitCode')})", True
    health = state.get("Health", {}).get("Status")
    if health is not None and health != "healthy":
        return None, f"Docker health is {health}", False
    shared = [n for n in info["NetworkSettings"]["Networks"] if n in networks]
    if not shared:
        return None, f"not on the router's network(s) {', '.join(sorted(networks))}", True
    address = info["NetworkSettings"]["Networks"][shared[0]].get("IPAddress")
    if not address:
        return None, f"no address on network {shared[0]}", False
    return str(address), None, False


def run_gate(
    names: Sequence[str],
    inspector: Inspector,
    prober: Prober,
    networks: set[str],
    port: int,
    path: str,
    policy: HealthGate,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GateResult:
    """Addresses of every container once all have passed; GateError otherwise."""
    started = clock()
    deadline = started + policy.timeout_seconds
    candidates = [Candidate(n) for n in names]
    backoff = policy.interval_seconds
    rounds = 0
    while True:
        rounds += 1
        pending = [c for c in candidates if c.streak < policy.successes]
        probe: list[Candidate] = []
        for c in pending:
            address, problem, final = docker_view(inspector.inspect(c.name), c.name, networks)
            if problem is not None:
                c.streak, c.last = 0, problem
                if final:
                    raise GateError(f"health gate: container {c.name}: {problem}")
            else:
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
            return GateResult({c.name: c.address or "" for c in candidates}, rounds, clock() - started)
        if all(c.streak > 0 for c in failing):
            # Collecting consecutive successes: keep the base interval.
            wait = backoff = policy.interval_seconds
        else:
            wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
        if clock() + wait > deadline:
            worst = failing[0]
            raise GateError(
                f"health gate: container {worst.name} not healthy after {policy.timeout_seconds:g}s "
                f"(last: {worst.last})"
            )
        sleep(wait)
