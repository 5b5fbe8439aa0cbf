"""The health gate's rules, driven with a fake engine, prober and clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bluegreen.config.rollout import HealthGate
from bluegreen.engine.targets import Resolver
from bluegreen.errors import GateError
from bluegreen.release.health import MAX_BACKOFF_SECONDS, GateResult, run_gate
from bluegreen.router.seam import HttpResult

NET = {"bluegreen-dev-net"}


def container(running: bool = True, health: str | None = "healthy", net: str = "bluegreen-dev-net",
              ip: str = "10.0.0.2", status: str = "running", code: int = 0) -> dict[str, Any]:  # fmt: skip
    state: dict[str, Any] = {"Running": running, "Status": status, "ExitCode": code}
    if health is not None:
        state["Health"] = {"Status": health}
    return {"State": state, "NetworkSettings": {"Networks": {net: {"IPAddress": ip}}}}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Engine:
    def __init__(self, states: dict[str, list[dict[str, Any] | None]]) -> None:
        self.states = states
        self.calls: dict[str, int] = {}

    def inspect(self, name: str) -> dict[str, Any] | None:
        n = self.calls.get(name, 0)
        self.calls[name] = n + 1
        seq = self.states[name]
        return seq[min(n, len(seq) - 1)]

    def exec(self, name: str, cmd: Sequence[str], user: str | None = None, timeout: float | None = None) -> Any:
        raise AssertionError(f"no colour declares schema versions: nothing runs {cmd} in {name}")

    def get_json(self, path: str, allow: Sequence[int] = ()) -> Any:
        raise AssertionError(f"container mode asks no {path}")


class Prober:
    def __init__(self, answers: dict[str, list[int | None]]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []
        self.closing: list[list[str] | None] = []  # per round: what it would close the gate with (express)
        self.count: dict[str, int] = {}

    def fetch(
        self, targets: Sequence[tuple[str, int, str]], closing: Sequence[tuple[str, int, str]] | None = None
    ) -> list[HttpResult]:
        self.asked.append([t[0] for t in targets])
        self.closing.append(None if closing is None else [t[0] for t in closing])
        results = []
        for host, _, _ in targets:
            n = self.count.get(host, 0)
            self.count[host] = n + 1
            seq = self.answers[host]
            status = seq[min(n, len(seq) - 1)]
            results.append(HttpResult(status, "", f"HTTP {status}" if status else "connection refused"))
        return results


def gate(engine: Engine, prober: Prober, clock: Clock, policy: HealthGate, names: list[str]) -> GateResult:
    return run_gate(names, Resolver(engine), prober, NET, 8000, "/health/ready", policy, clock=clock, sleep=clock.sleep)


def test_passes_after_consecutive_successes() -> None:
    clock = Clock()
    result = gate(Engine({"a": [container()]}), Prober({"10.0.0.2": [200]}), clock,
                  HealthGate(timeout_seconds=10, interval_seconds=0.5, successes=3), ["a"])  # fmt: skip
    assert result.addresses == {"a": "10.0.0.2"} and result.rounds == 3
    assert clock.sleeps == [0.5, 0.5]


def test_only_a_round_whose_answers_would_close_the_gate_says_so() -> None:
    """An express publishes in that round's exec (bluegreen.release.express): the last of `successes` passes of
    every pending target, with what the passed gate will have probed; never a round a failure must follow."""
    prober = Prober({"10.0.0.2": [200, 503, 200], "10.0.0.3": [200]})
    engine = Engine({"a": [container(ip="10.0.0.2")], "b": [container(ip="10.0.0.3")]})
    gate(engine, prober, Clock(), HealthGate(timeout_seconds=10, interval_seconds=0.5, successes=2), ["a", "b"])
    assert prober.asked == [["10.0.0.2", "10.0.0.3"], ["10.0.0.2", "10.0.0.3"], ["10.0.0.2"], ["10.0.0.2"]]
    # round 2 would have closed it (a's 503 reset its streak); round 3 cannot (a needs two); round 4 does
    assert prober.closing == [None, ["10.0.0.2", "10.0.0.3"], None, ["10.0.0.2", "10.0.0.3"]]


def test_a_failure_resets_the_streak() -> None:
    clock = Clock()
    prober = Prober({"10.0.0.2": [200, 503, 200, 200]})
    result = gate(Engine({"a": [container()]}), prober, clock,
                  HealthGate(timeout_seconds=30, interval_seconds=0.5, successes=2), ["a"])  # fmt: skip
    assert result.rounds == 4


def test_failing_probes_back_off_exponentially_with_a_cap() -> None:
    clock = Clock()
    with pytest.raises(GateError) as caught:
        gate(Engine({"a": [container()]}), Prober({"10.0.0.2": [503]}), clock,
             HealthGate(timeout_seconds=30, interval_seconds=0.5, successes=1), ["a"])  # fmt: skip
    assert clock.sleeps[:5] == [0.5, 1.0, 2.0, 4.0, MAX_BACKOFF_SECONDS]
    assert sum(clock.sleeps) <= 30
    assert str(caught.value) == (
        "health gate: container a not healthy after 30s (last: HTTP 503 from 10.0.0.2:8000/health/ready)"
    )


def test_docker_health_must_be_healthy_before_http() -> None:
    clock = Clock()
    engine = Engine({"a": [container(health="starting"), container(health="starting"), container()]})
    prober = Prober({"10.0.0.2": [200]})
    gate(engine, prober, clock, HealthGate(timeout_seconds=10, interval_seconds=0.1, successes=1), ["a"])
    assert prober.asked == [["10.0.0.2"]]


def test_unhealthy_until_timeout_names_docker_health() -> None:
    with pytest.raises(GateError, match=r"container a not healthy after 3s \(last: Docker health is unhealthy\)"):
        gate(Engine({"a": [container(health="unhealthy")]}), Prober({}), Clock(),
             HealthGate(timeout_seconds=3, interval_seconds=0.5, successes=1), ["a"])  # fmt: skip


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (None, "container a: no such container"),
        (container(running=False, status="exited", code=137), "container a: not running (exited, exit code 137)"),
        (container(net="elsewhere"), "container a: not on the router's network(s) bluegreen-dev-net"),
    ],
)
def test_hopeless_states_fail_at_once(state: dict[str, Any] | None, message: str) -> None:
    clock = Clock()
    with pytest.raises(GateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        gate(Engine({"a": [state]}), Prober({}), clock, HealthGate(timeout_seconds=60), ["a"])
    assert clock.sleeps == []


def test_every_container_is_probed_in_one_call_per_round() -> None:
    engine = Engine({"a": [container(ip="10.0.0.2")], "b": [container(ip="10.0.0.3")]})
    prober = Prober({"10.0.0.2": [200], "10.0.0.3": [503, 200]})
    result = gate(engine, prober, Clock(), HealthGate(timeout_seconds=10, interval_seconds=0.1, successes=1),
                  ["a", "b"])  # fmt: skip
    assert prober.asked == [["10.0.0.2", "10.0.0.3"], ["10.0.0.3"]]
    assert result.addresses == {"a": "10.0.0.2", "b": "10.0.0.3"}


def test_a_soft_target_docker_finds_healthy_passes_on_that_and_is_never_probed() -> None:
    """The preview after a flip is the colour that was live until then: its answer waits behind the busiest queue,
    and an express publish waited for it. Docker's healthcheck polls the same readiness path."""
    clock = Clock()
    engine = Engine({"b1": [container(ip="10.0.0.2")], "g1": [container(ip="10.0.0.3")]})
    prober = Prober({"10.0.0.2": [200], "10.0.0.3": [500]})
    result = run_gate(["b1"], Resolver(engine), prober, NET, 8000, "/health/ready",
                      HealthGate(timeout_seconds=10, interval_seconds=0.5, successes=2), clock=clock,
                      sleep=clock.sleep, soft=["g1"])  # fmt: skip
    assert prober.asked == [["10.0.0.2"], ["10.0.0.2"]]
    assert result.addresses == {"b1": "10.0.0.2", "g1": "10.0.0.3"} and result.down == {}
    assert result.probed == ["10.0.0.2", "10.0.0.3"], "its address is armed for the next switch all the same"


@pytest.mark.parametrize("health", ["unhealthy", "starting"])
def test_a_soft_target_docker_does_not_find_healthy_is_down_once_the_gate_passes(health: str) -> None:
    clock = Clock()
    engine = Engine({"b1": [container(ip="10.0.0.2")], "g1": [container(ip="10.0.0.3", health=health)]})
    prober = Prober({"10.0.0.2": [200]})
    result = run_gate(["b1"], Resolver(engine), prober, NET, 8000, "/health/ready",
                      HealthGate(timeout_seconds=10, interval_seconds=0.5, successes=1), clock=clock,
                      sleep=clock.sleep, soft=["g1"])  # fmt: skip
    assert prober.asked == [["10.0.0.2"]] and result.down == {"g1": f"Docker health is {health}"}


def test_a_soft_target_without_a_healthcheck_rides_in_the_same_probe_execs_and_never_vetoes() -> None:
    """Nothing but its answer says how it is: probed with the live targets, one exec per round; a failure is
    reported, not raised."""
    clock = Clock()
    engine = Engine({"b1": [container(ip="10.0.0.2")], "g1": [container(ip="10.0.0.3", health=None)]})
    prober = Prober({"10.0.0.2": [200], "10.0.0.3": [500]})
    result = run_gate(["b1"], Resolver(engine), prober, NET, 8000, "/health/ready",
                      HealthGate(timeout_seconds=10, interval_seconds=0.5, successes=2), clock=clock,
                      sleep=clock.sleep, soft=["g1"])  # fmt: skip
    assert prober.asked == [["10.0.0.2", "10.0.0.3"], ["10.0.0.2", "10.0.0.3"]], "no exec of its own"
    assert result.addresses == {"b1": "10.0.0.2"} and result.down == {"g1": "HTTP 500 from 10.0.0.3:8000/health/ready"}


def test_a_soft_target_that_is_gone_for_good_is_down_at_once() -> None:
    clock = Clock()
    engine = Engine({"b1": [container()], "g1": [container(running=False, health=None, status="restarting", code=137)]})
    result = run_gate(["b1"], Resolver(engine), Prober({"10.0.0.2": [200]}), NET, 8000, "/health/ready",
                      HealthGate(timeout_seconds=10, interval_seconds=0.5, successes=1), clock=clock,
                      sleep=clock.sleep, soft=["g1"])  # fmt: skip
    assert result.down == {"g1": "not running (restarting, exit code 137)"} and clock.sleeps == []


def test_a_container_that_does_not_answer_to_the_alias_the_router_uses_fails_the_gate_at_once() -> None:
    """A hand-written plan whose alias names nothing: probing the container by address would pass, then 502."""
    answering = container()
    answering["NetworkSettings"]["Networks"]["bluegreen-dev-net"]["Aliases"] = ["app-green-2.0.0", "0123abcd"]
    engine = Engine({"g1": [answering], "g2": [container()]})
    policy = HealthGate(timeout_seconds=10, interval_seconds=0.5, successes=1)
    passed = run_gate(["g1"], Resolver(engine), Prober({"10.0.0.2": [200]}), NET, 8000, "/health/ready", policy,
                      aliases={"g1": "app-green-2.0.0"})  # fmt: skip
    assert passed.addresses == {"g1": "10.0.0.2"}
    with pytest.raises(GateError, match=r"container g2: does not answer to app-green-2\.0\.0 on network "
                                        r"bluegreen-dev-net, the name the router uses"):  # fmt: skip
        run_gate(["g2"], Resolver(engine), Prober({"10.0.0.2": [200]}), NET, 8000, "/health/ready", policy,
                 aliases={"g2": "app-green-2.0.0"})  # fmt: skip
