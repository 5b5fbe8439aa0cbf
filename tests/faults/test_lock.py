"""The switch lock after its holder is gone: kill -9 mid-switch, and a lock left without its record."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

from bluegreen.release.lock import LOCK_LEASE_SECONDS
from bluegreen.router.layout import LOCK_DIR, LOCK_INFO, ROUTING_DIR
from lab.deployment import Stack
from lab.dockercli import docker
from lab.prober import BackgroundProbe

LAB_NAME = "bgflock"
LOCK = f"{ROUTING_DIR}/{LOCK_DIR}"


def router_sh(stack: Stack, command: str) -> subprocess.CompletedProcess[str]:
    return docker("exec", stack.router.name, "sh", "-c", command, check=False)


def test_a_lock_without_its_record_blocks_a_rollback_only_seconds(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("green", 30)).returncode == 0
    # What a holder of an older version leaves when it dies between its mkdir and its write.
    assert router_sh(stack, f"mkdir {LOCK} && : > {LOCK}/{LOCK_INFO}").returncode == 0
    done = stack.cli("rollback", "--wait", "30")
    assert done.returncode == 0, done.stderr
    assert "live blue 100% / green 0%" in done.stdout
    assert router_sh(stack, f"test -e {LOCK}").returncode != 0, "the rollback's own lock is released"


def switch_in_background(stack: Stack, plan: dict[str, object]) -> subprocess.Popen[str]:
    """`bluegreen switch` as an operator runs it, its plan on stdin; returns once it holds the router's lock."""
    switch = stack.start("switch", "--plan", "-", stdin=json.dumps(plan))
    for _ in range(300):  # until the lock is taken (an exec of the switch's first gate round)
        if router_sh(stack, f"test -s {LOCK}/{LOCK_INFO}").returncode == 0 or switch.poll() is not None:
            break
        time.sleep(0.1)
    holder = router_sh(stack, f"cat {LOCK}/{LOCK_INFO}").stdout
    assert f"pid {switch.pid} (cli)" in holder, (holder, switch.poll(), switch.stderr and switch.stderr.read())
    return switch


def killed_mid_gate(stack: Stack) -> int:
    """A switch SIGKILLed while its gate retries (Docker calls green healthy, nothing answers on the port)."""
    plan = stack.plan("green", appPort=9999, healthGate={"timeoutSeconds": 600, "intervalSeconds": 0.5, "successes": 1})
    switch = switch_in_background(stack, plan)
    os.kill(switch.pid, signal.SIGKILL)
    switch.wait(timeout=30)
    return switch.pid


def test_a_switch_killed_while_holding_the_lock_is_broken_by_name(blue_live: Stack) -> None:
    stack = blue_live
    pid = killed_mid_gate(stack)
    held = stack.cli("rollback", "--wait", "1")
    assert held.returncode == 3 and f"pid {pid} (cli)" in held.stderr, held.stderr
    done = stack.cli("rollback", "--break-lock")
    assert done.returncode == 0, done.stderr
    assert "broke the lock held by" in done.stdout and f"pid {pid} (cli)" in done.stdout, done.stdout


def test_a_switch_killed_mid_gate_holds_the_lock_only_for_its_short_lease(blue_live: Stack) -> None:
    """Its gate could have run ten minutes; its lease is 30 s and nobody renews it: a waiting rollback takes it."""
    stack = blue_live
    assert stack.switch(stack.plan("green", 30)).returncode == 0
    pid = killed_mid_gate(stack)
    done = stack.cli("rollback", "--wait", str(LOCK_LEASE_SECONDS + 30))
    assert done.returncode == 0, done.stderr
    assert "live blue 100% / green 0%" in done.stdout and "broke" not in done.stdout
    assert f"pid {pid}" not in router_sh(stack, f"cat {LOCK}/{LOCK_INFO} 2>/dev/null").stdout


def test_a_container_killed_mid_gate_fails_the_switch_and_the_live_colour_keeps_serving(blue_live: Stack) -> None:
    stack = blue_live
    # Ten passes in a row per container: the gate is still counting when one of green's containers dies.
    plan = stack.plan("green", healthGate={"timeoutSeconds": 60, "intervalSeconds": 0.5, "successes": 10})
    with BackgroundProbe(stack.url(), connections=4, settle_seconds=0.5) as load:
        switch = switch_in_background(stack, plan)
        docker("kill", stack.containers["green"][0])
        switch.wait(timeout=120)
    err = switch.stderr.read() if switch.stderr else ""
    assert switch.returncode == 1, err
    assert re.fullmatch(rf"switch {stack.deployment}: health gate: container {stack.containers['green'][0]}: .*; "
                        r"routing unchanged\n", err), err  # fmt: skip
    assert load.stats.failed == 0 and set(load.stats.colors()) == {"blue"}, (load.stats.errors, load.stats.colors())
    docker("start", stack.containers["green"][0])  # `docker kill` is a manual stop: no restart policy applies
    stack.wait_healthy()
