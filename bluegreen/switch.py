"""Apply a routing plan to a live router: gate, write, test, reload, verify, drain.

One idempotent operation: the same plan twice reloads nothing. Any failure
raises SwitchError with one line and leaves the routing that was live before
(files restored, nginx never reloaded onto a config that failed `nginx -t`).
Rollback is the same operation with the idle colour at 100%.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bluegreen.conventions import COLORS, utc_now
from bluegreen.docker_api import DockerClient, DockerError
from bluegreen.errors import BluegreenError, InputError
from bluegreen.health import GateError, run_gate
from bluegreen.live_router import (
    LIVE_PLAN,
    PROGRAM_PLAN,
    ConfigRefusedError,
    HttpResult,
    LiveRouter,
    NotLiveError,
    RouterError,
    Snapshot,
)
from bluegreen.problems import SettingsError
from bluegreen.routing import RoutingPlan, parse_plan, render, rollback_plan

RELOAD_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.02
Log = Callable[[str], None]


class SwitchError(BluegreenError):
    """The switch did not happen; the previous routing is still live."""


@dataclass
class SwitchReport:
    deployment: str
    router: str
    source: str
    changed: bool
    weights: dict[str, int]
    plan_hash: str
    config_hash: str
    previous_config_hash: str | None
    gate_s: float
    live_s: float
    drained_s: float | None
    old_workers_left: int
    total_s: float

    def line(self) -> str:
        shares = " / ".join(f"{c} {self.weights[c]}%" for c in COLORS)
        if not self.changed:
            return f"{self.deployment}: already live ({shares}, config {self.config_hash}); nothing reloaded"
        drain = (
            f"drained {self.drained_s:.2f}s"
            if self.drained_s is not None
            else f"{self.old_workers_left} old worker(s) still draining"
        )
        return (
            f"{self.deployment}: live {shares} (config {self.config_hash}, plan {self.plan_hash}); "
            f"gate {self.gate_s:.2f}s, live {self.live_s:.2f}s, {drain}"
        )


def _poll(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def apply_plan(
    client: DockerClient,
    plan: RoutingPlan,
    source: str = "cli",
    wait_drain: bool = True,
    log: Log | None = None,
    observed: str | None = None,
) -> SwitchReport:
    """Gate, write, test, reload, verify, drain; `observed` is the program's drift reading, kept in its record."""
    say = log or (lambda _: None)
    started = time.monotonic()
    try:
        router = LiveRouter.find(client, plan.deployment)
        first_round = _SnapshotOnFirstRound(router)
        names = [n for c in plan.serving_colors() for n in plan.color(c).containers]
        gate = run_gate(
            names, client, first_round, router.networks(), plan.app_port, plan.health_path, plan.health_gate
        )
        live = first_round.snapshot or router.snapshot()
        gate_s = time.monotonic() - started
        say(f"gate passed: {len(names)} container(s) in {gate.seconds:.2f}s")
        rendered = render(plan, gate.addresses, utc_now())
        report = SwitchReport(
            deployment=plan.deployment, router=router.container, source=source, changed=False,
            weights=plan.weights.model_dump(), plan_hash=rendered.plan_hash, config_hash=rendered.config_hash,
            previous_config_hash=live.status.get("configHash"), gate_s=gate_s, live_s=gate_s,
            drained_s=0.0, old_workers_left=0, total_s=0.0,
        )  # fmt: skip
        record = json.dumps(
            {
                "plan": json.loads(plan.canonical()), "source": source, "appliedAt": utc_now(),
                "configHash": rendered.config_hash, "planHash": rendered.plan_hash,
                **({"observed": observed} if observed is not None else {}),
            },
            indent=2,
        )  # fmt: skip
        files: dict[str, str] = {}
        if live.status.get("configHash") != rendered.config_hash:
            files = {**rendered.files(), LIVE_PLAN: record}
        program = live.program_record or {}
        if source == "program" and (program.get("planHash"), program.get("observed")) != (rendered.plan_hash, observed):
            files[PROGRAM_PLAN] = record
        if not files:
            report.total_s = time.monotonic() - started
            return report
        routing_changes = "http.conf" in files
        try:
            router.apply(
                files,
                router.user(),
                expect_hash=rendered.config_hash if routing_changes else None,
                verify_seconds=RELOAD_TIMEOUT_SECONDS,
            )
        except ConfigRefusedError as exc:
            raise SwitchError(f"nginx -t refused the new routing ({exc}); previous routing still live") from exc
        except NotLiveError as exc:
            router.restore(list(files))
            raise SwitchError(
                f"router {router.container} did not load config {rendered.config_hash} within "
                f"{RELOAD_TIMEOUT_SECONDS:g}s (see `docker logs {router.container}`); previous routing restored"
            ) from exc
        if not routing_changes:
            report.total_s = time.monotonic() - started
            return report  # only the program's record changed; the routing was already live
        report.changed = True
        report.live_s = time.monotonic() - started
        say(f"live after {report.live_s:.2f}s")
        if wait_drain and _poll(lambda: router.old_workers() == 0, plan.drain_seconds + 1.0):
            report.drained_s = time.monotonic() - started
        else:
            report.drained_s = None
            report.old_workers_left = router.old_workers()
        report.total_s = time.monotonic() - started
        return report
    except InputError:
        raise  # the engine address is wrong: the caller's input, not a failed switch
    except (GateError, RouterError, DockerError) as exc:
        raise SwitchError(f"{exc}; routing unchanged" if isinstance(exc, GateError) else str(exc)) from exc


class _SnapshotOnFirstRound:
    """The gate's prober, whose first round also reads the router's snapshot: one exec fewer per switch."""

    def __init__(self, router: LiveRouter) -> None:
        self.router = router
        self.snapshot: Snapshot | None = None

    def fetch(self, targets: Sequence[tuple[str, int, str]]) -> list[HttpResult]:
        if self.snapshot is None:
            results, self.snapshot = self.router.fetch_with_snapshot(targets)
            return results
        return self.router.fetch(targets)


def live_plan(router: LiveRouter) -> RoutingPlan | None:
    """The plan the router last applied; None before the first switch, SwitchError when unreadable."""
    snapshot = router.snapshot()
    if snapshot.unreadable:
        raise SwitchError("; ".join(snapshot.unreadable) + "; run a switch with a plan to replace it")
    record = snapshot.live_record
    if not record:
        return None
    try:
        return parse_plan(record["plan"])
    except (SettingsError, KeyError) as exc:
        raise SwitchError(
            f"the router's {LIVE_PLAN} does not hold a plan this version understands ({exc}); "
            "run a switch with a plan to replace it"
        ) from exc


def rollback(client: DockerClient, deployment: str, successes: int = 1, log: Log | None = None) -> SwitchReport:
    """Send 100% to the idle colour, health-gated. The emergency path: one success suffices."""
    try:
        router = LiveRouter.find(client, deployment)
        live = live_plan(router)
    except InputError:
        raise
    except (RouterError, DockerError) as exc:
        raise SwitchError(str(exc)) from exc
    if live is None:
        raise SwitchError("no switch has run yet, so there is no idle colour to return to")
    if not live.color(live.idle).containers:
        raise SwitchError(f"the idle colour {live.idle} has no containers; nothing to roll back to")
    target = rollback_plan(live)
    gate = target.health_gate.model_copy(update={"successes": min(successes, target.health_gate.successes)})
    return apply_plan(client, target.model_copy(update={"health_gate": gate}), source="rollback", log=log)
