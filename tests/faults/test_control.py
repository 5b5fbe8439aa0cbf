"""The router's control loop broken the way production breaks it: kill -9, stalled, killed mid-call.

A switch asks the control loop (bluegreen/router/channel.py) instead of starting an exec; whatever happens
to the loop, a switch still happens (through an exec), routing is never half-changed, and clients that never
retry lose nothing. Each test is a row of docs/reliability.md.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bluegreen.colors import Color
from bluegreen.plan.model import parse_plan
from bluegreen.release.switch import SwitchReport, apply_plan
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.layout import LOCK_DIR, LOCK_INFO, ROUTING_DIR
from lab.deployment import Stack
from lab.dockercli import Container, docker
from lab.prober import BackgroundProbe
from tests.integration.test_switch import colors_of
from tests.support.scripts import ScriptCountingClient

LAB_NAME = "bgfctl"
LOCK = f"{ROUTING_DIR}/{LOCK_DIR}"


def loop_pid(stack: Stack) -> int:
    """The loop's host pid: the first child of the container's init (docker-init, which also adopts the calls
    the loop leaves running)."""
    init = int(Container(stack.control_name).inspect()["State"]["Pid"])
    children = sorted((started, pid) for pid, parent, started in map(_stat, os.listdir("/proc")) if parent == init)
    assert children, f"no loop under init {init}"
    return children[0][1]


def _stat(name: str) -> tuple[int, int | None, int]:
    """pid, parent pid and start time (clock ticks since boot) of /proc/NAME; parent None when it is gone."""
    try:
        with open(f"/proc/{name}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(name), int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return 0, None, 0


def running(stack: Stack) -> bool:
    return bool(Container(stack.control_name).inspect()["State"]["Running"])


def wait_running(stack: Stack, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not running(stack):
        assert time.monotonic() < deadline, "the control container did not come back (restart: unless-stopped)"
        time.sleep(0.1)


def switched(
    stack: Stack, client: ScriptCountingClient, color: Color, router: LiveRouter | None = None
) -> SwitchReport:
    """A switch in this process to `color` taking everything, through `router` (a new process's by default)."""
    return apply_plan(router or LiveRouter.find(client, stack.deployment), client, parse_plan(stack.plan(color)))


def served_by_the_loop(stack: Stack, monkeypatch: pytest.MonkeyPatch, color: Color) -> bool:
    """A new process's switch to `color` changed the routing with its one call, through the loop (no exec)."""
    client = ScriptCountingClient(monkeypatch)
    return switched(stack, client, color).changed and client.scripts == ["begin"] and client.execs == []


def serves(stack: Stack, color: Color) -> bool:
    """One request answered by `color`. Until the restarted router listens, Docker's port proxy accepts the
    connection and then resets it: that is "not yet", not a failure."""
    try:
        return colors_of(stack.url(), 1) == Counter({color: 1})
    except OSError:  # URLError, a reset, a connection closed before the answer
        return False


@contextmanager
def never_retrying(stack: Stack) -> Iterator[BackgroundProbe]:
    with BackgroundProbe(stack.url(), retry=False, settle_seconds=0.3) as load:
        yield load
    assert load.stats.requests > 0 and load.stats.failed == 0, (
        dict(load.stats.errors),
        Counter((s.status, s.color) for s in load.stats.samples if s.status != 200),
    )


def test_a_switch_after_the_loop_was_killed_goes_through_an_exec_then_the_loop_is_back(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = blue_live
    with never_retrying(stack) as load:
        os.kill(loop_pid(stack), signal.SIGKILL)  # init exits with it: the container stops, then restarts
        client = ScriptCountingClient(monkeypatch)
        started = time.monotonic()
        report = switched(stack, client, "green")
        assert report.changed and report.weights == {"blue": 0, "green": 100}
        time.sleep(0.5)
    assert load.stats.all_from("green", started) is not None, "green serves everything since the switch"
    wait_running(stack)
    assert served_by_the_loop(stack, monkeypatch, "blue"), "the loop serves again"


def test_a_loop_the_router_has_left_runs_nothing_and_the_switch_uses_execs(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The net container and the router restarted without the control container (by hand): the loop still
    runs, beside the same volume and under the same network mode, but in the old namespace, where no status
    listener answers. The first call checks that before its script and runs nothing there: execs."""
    stack = blue_live
    docker("restart", "-t", "1", stack.net)  # a new namespace; the control container keeps the old one
    docker("restart", "-t", "1", stack.router.name)
    try:
        deadline = time.monotonic() + 30
        while not serves(stack, "blue"):
            assert time.monotonic() < deadline, "the restarted router did not serve again"
            time.sleep(0.2)
        client = ScriptCountingClient(monkeypatch)
        router = LiveRouter.find(client, stack.deployment)
        report = switched(stack, client, "green", router)
        assert report.changed and client.scripts == ["begin"] and client.execs == ["begin"]
        assert colors_of(stack.url(), 10) == Counter({"green": 10})
        client.clear()
        report = switched(stack, client, "blue", router)
        assert report.changed and client.execs == ["begin"], "given up for the process: its calls are execs"
    finally:
        docker("restart", "-t", "1", stack.control_name)  # it joins the router again, for the next test
    assert served_by_the_loop(stack, monkeypatch, "green"), "beside the router again"


def test_a_stalled_loop_costs_a_switch_its_question_not_the_switch(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop that reads nothing (its container paused: a host swapping, a debugger attached) answers no
    question: the switch finds that out before sending anything and uses an exec."""
    stack = blue_live
    docker("pause", stack.control_name)
    try:
        with never_retrying(stack):
            client = ScriptCountingClient(monkeypatch)
            report = switched(stack, client, "green")
        assert report.changed and client.scripts == ["begin"] and client.execs == ["begin"]
    finally:
        docker("unpause", stack.control_name)
    assert served_by_the_loop(stack, monkeypatch, "blue"), "the question it answers late is nobody's"


def test_a_loop_killed_mid_call_leaves_an_unknown_outcome_then_the_lock_is_broken_by_name(blue_live: Stack) -> None:
    """Killed while the switch's first call probes (the health path answers after a second): the switch
    cannot know whether it published, says so (exit 4) and the routing it had is what serves; the lock its
    call took is broken by name, as a killed exec's would be."""
    stack = blue_live
    plan = stack.plan("green", healthPath="/slow")  # each probe answers after 1 s
    with never_retrying(stack) as load:
        switch = stack.start("switch", "--plan", "-", stdin=json.dumps(plan))
        for _ in range(300):  # until the call holds the lock
            if docker("exec", stack.router.name, "test", "-s", f"{LOCK}/{LOCK_INFO}", check=False).returncode == 0:
                break
            time.sleep(0.02)
        os.kill(loop_pid(stack), signal.SIGKILL)
        switch.wait(timeout=60)
        err = switch.stderr.read() if switch.stderr else ""
        assert switch.returncode == 4 and "status" in err, err
    assert set(load.stats.colors()) == {"blue"}, "nothing was published"
    wait_running(stack)
    done = stack.switch(stack.plan("blue"), "--break-lock")
    assert done.returncode == 0 and f"pid {switch.pid} (cli)" in done.stdout, (done.stdout, done.stderr)


def test_a_process_that_keeps_its_router_and_reads_nothing_blocks_nobody(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Docker writes the loop's output to every attached connection, and one nobody reads would block the loop:
    a long-lived process (a rollout between steps, `metrics serve`) keeps its router object, but no attach."""
    stack = blue_live
    gc.disable()  # what a closed connection leaves is not collected meanwhile: each must end when closed
    request.addfinalizer(gc.enable)
    idle = ScriptCountingClient(monkeypatch)
    kept = LiveRouter.find(idle, stack.deployment)
    assert apply_plan(kept, idle, parse_plan(stack.plan("green"))).changed and idle.execs == []
    client = ScriptCountingClient(monkeypatch)
    router = LiveRouter.find(client, stack.deployment)
    for i in range(300):  # past what Docker buffers for a connection nobody reads (1 MB; a call answers ~5 KB)
        report = apply_plan(router, client, parse_plan(stack.plan("blue" if i % 2 == 0 else "green")))
        assert report.changed
    assert client.execs == [] and len(client.scripts) == 300
    assert apply_plan(kept, idle, parse_plan(stack.plan("blue", 50))).changed and idle.execs == []
