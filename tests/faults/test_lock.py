"""The switch lock after its holder is gone: kill -9 mid-switch, and a lock left without its record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from bluegreen.router.layout import LOCK_DIR, LOCK_INFO, ROUTING_DIR
from lab.deployment import Stack
from lab.dockercli import docker
from lab.paths import ROOT

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


def test_a_switch_killed_while_holding_the_lock_is_broken_by_name(blue_live: Stack) -> None:
    stack = blue_live
    # Docker calls green healthy, but nothing answers on this port: the gate holds the lock, retrying.
    plan = stack.plan("green", appPort=9999, healthGate={"timeoutSeconds": 120, "intervalSeconds": 0.5, "successes": 1})
    switch = subprocess.Popen(
        [sys.executable, "-m", "bluegreen", "switch", "--plan", "-", "--stack", stack.name, "--project", stack.project],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert switch.stdin is not None
    switch.stdin.write(json.dumps(plan))
    switch.stdin.close()
    for _ in range(300):  # until the lock is taken (an exec of the switch's first gate round)
        if router_sh(stack, f"test -s {LOCK}/{LOCK_INFO}").returncode == 0 or switch.poll() is not None:
            break
        time.sleep(0.1)
    holder = router_sh(stack, f"cat {LOCK}/{LOCK_INFO}").stdout
    assert f"pid {switch.pid} (cli)" in holder, (holder, switch.poll(), switch.stderr and switch.stderr.read())
    os.kill(switch.pid, signal.SIGKILL)
    switch.wait(timeout=30)
    held = stack.cli("rollback", "--wait", "1")
    assert held.returncode == 3 and f"pid {switch.pid} (cli)" in held.stderr, held.stderr
    done = stack.cli("rollback", "--break-lock")
    assert done.returncode == 0, done.stderr
    assert "broke the lock held by" in done.stdout and f"pid {switch.pid} (cli)" in done.stdout, done.stdout
