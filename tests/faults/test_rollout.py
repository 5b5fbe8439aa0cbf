"""A rollout whose process is gone: SIGKILL mid-canary, then `bluegreen rollout abort`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter

from lab.deployment import Stack
from lab.dockercli import docker
from lab.prober import BackgroundProbe
from tests.integration.test_switch import colors_of

LAB_NAME = "bgfrollout"
CANARY = {"steps": [{"weight": 10, "pauseSeconds": 600}], "progressDeadlineSeconds": 900,
          "analysis": {"intervalSeconds": 1}}  # fmt: skip


def status(stack: Stack) -> dict[str, object]:
    done = stack.cli("status", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, object] = json.loads(done.stdout)
    return data


def rollout_running(stack: Stack, plan: dict[str, object]) -> subprocess.Popen[str]:
    """`bluegreen rollout` in the background, returned once its canary step runs and has beaten once."""
    rollout = stack.start("rollout", "--plan", "-", stdin=json.dumps(plan))
    for _ in range(600):
        running = status(stack).get("rollout")
        if (isinstance(running, dict) and "heartbeat" in running) or rollout.poll() is not None:
            break
        time.sleep(0.1)
    assert rollout.poll() is None, rollout.stderr and rollout.stderr.read()
    return rollout


def test_a_killed_rollouts_canary_is_returned_to_the_stable_colour_by_rollout_abort(blue_live: Stack) -> None:
    stack = blue_live
    rollout = rollout_running(stack, stack.plan("green", rollout=CANARY))
    os.kill(rollout.pid, signal.SIGKILL)  # a CI job's timeout, an OOM kill
    rollout.wait(timeout=30)
    seen = colors_of(stack.url(), 200)  # the canary it left behind: green keeps its 10%
    assert seen["green"] > 0 and seen["blue"] > 0, seen

    done = stack.cli("rollout", "abort")
    assert done.returncode == 0, done.stderr
    assert "(its process is gone): aborted it here" in done.stdout and "live blue 100% / green 0%" in done.stdout
    assert colors_of(stack.url(), 50) == Counter({"blue": 50})
    after = status(stack)
    assert after["rollout"] is None
    assert "the rollout's process is gone" in str(after["lastSwitch"])


def test_a_router_restarted_mid_rollout_leaves_one_clear_outcome(blue_live: Stack) -> None:
    """The routing lives in the volume, so the restarted router serves the canary's plan; a window in which it
    does not answer is inconclusive; the rollout then finishes. (The restart's own gap is issue #32's.)"""
    stack = blue_live
    canary = {"steps": [{"weight": 10, "pauseSeconds": 8}], "progressDeadlineSeconds": 60,
              "analysis": {"intervalSeconds": 1}}  # fmt: skip
    with BackgroundProbe(stack.url(), connections=4, rate=50, retry=True):
        rollout = rollout_running(stack, stack.plan("green", rollout=canary))
        docker("restart", stack.router.name)  # an engine upgrade, a host reboot, an operator
    # The lab publishes the router on ephemeral host ports, which a restart may change: follow them.
    with BackgroundProbe(stack.url(), connections=4, rate=50, retry=True) as load:
        rollout.wait(timeout=300)
    out, err = (rollout.stdout.read() if rollout.stdout else ""), (rollout.stderr.read() if rollout.stderr else "")
    assert rollout.returncode == 0, err
    assert "green promoted to 100%" in out and "live blue 0% / green 100%" in err, (out, err)
    after = status(stack)
    assert after["rollout"] is None and after["live"]["weights"] == {"blue": 0, "green": 100}  # type: ignore[index]
    assert load.stats.failed == 0, load.stats.errors
    assert colors_of(stack.url(), 20) == Counter({"green": 20})
