"""Faults on the real engine: what breaks, the way production breaks it, and what the operator still gets.

Each test is one row of docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request

import pytest

from bluegreen.release.live import rollback
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.layout import ARMED_PROBES, CURRENT, ROUTING_DIR
from lab.deployment import Stack
from lab.dockercli import Container, docker
from lab.prober import enough, run_probe
from tests.support.scripts import ScriptCountingClient

LAB_NAME = "bgfault"


def preview_status(stack: Stack) -> int:
    try:
        with urllib.request.urlopen(stack.url(preview=True) + "/", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def healthy_green(stack: Stack) -> None:
    """Green's containers made again, healthy: a crash loop may be what the test before left."""
    for name in stack.containers["green"]:
        docker("rm", "-f", name)
    stack.containers["green"] = []
    stack.add("green", "2.0.0", 2)
    stack.wait_healthy()


def test_a_crash_looping_promoted_release_is_rolled_back_and_loses_nothing_once_blue_serves(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("green")).returncode == 0  # the release is promoted...
    stack.crash_loop("green")  # ...and then its containers die at start, again and again
    done = stack.cli("rollback")
    assert done.returncode == 0, done.stderr
    assert "live blue 100% / green 0%" in done.stdout
    assert "warning: preview green is down (health gate: container" in done.stdout, done.stdout
    status = json.loads(stack.cli("status", "--json").stdout)
    assert status["live"]["active"] == "blue" and status["live"]["preview"] is None
    stats = enough(run_probe(stack.url(), 300, 8, max_requests=2_000, retry=False), 2_000, 300)
    assert stats.failed == 0 and set(stats.colors()) == {"blue"}, (stats.errors, stats.colors())
    assert preview_status(stack) == 503  # no route to the broken colour, and it says so


def test_a_crash_looping_colours_addresses_get_no_armed_probe(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe to a container that dies while it connects hangs until its timeout: the rollback's first exec
    probes only what Docker says serves (blue, healthy), never the crash loop's addresses."""
    stack = blue_live
    healthy_green(stack)
    assert stack.switch(stack.plan("green")).returncode == 0
    probed = {line.split(" ")[0] for line in docker(
        "exec", stack.router.name, "cat", f"{ROUTING_DIR}/{CURRENT}/{ARMED_PROBES}").stdout.splitlines()}  # fmt: skip
    stack.crash_loop("green")  # the same names and aliases; Docker gives them back their addresses
    client = ScriptCountingClient(monkeypatch)
    report = rollback(LiveRouter.find(client, stack.deployment), client)
    assert report.weights == {"blue": 100, "green": 0} and client.scripts == ["begin", "publish"]
    networks = [Container(n).inspect()["NetworkSettings"]["Networks"] for n in stack.containers["blue"]]
    blue = {each[stack.network]["IPAddress"] for each in networks}
    armed = set(client.args[0][6].strip(",").split(","))  # ARMED: ",A,B,"
    assert armed & probed == blue  # of the targets the promotion's gate probed, only blue's were asked for


def test_a_preview_that_stops_answering_is_down_once_docker_finds_it_unhealthy(blue_live: Stack) -> None:
    """The preview passes on Docker's healthcheck, never on a probe of its own (docs/routing.md, "The preview's
    check"): a switch right after its processes stop does not wait for it and does not see it; the first one after
    Docker finds it unhealthy marks it down (503). Live traffic is gated as always and loses nothing."""
    stack = blue_live
    healthy_green(stack)
    assert stack.switch(stack.plan("blue")).returncode == 0  # the preview route to the new containers
    green = stack.containers["green"]
    assert preview_status(stack) == 200
    frozen = [int(pid) for name in green for pid in docker("top", name, "-o", "pid").stdout.split()[1:]]
    for pid in frozen:  # the app answers nothing from now on; Docker's checks time out, 3 in a row mark it unhealthy
        os.kill(pid, signal.SIGSTOP)  # (`docker pause` would make Docker call it unhealthy at once)
    try:
        quick = stack.switch(stack.plan("blue"))
        seen = {name: Container(name).health() for name in green}  # what Docker said just after that switch
        assert quick.returncode == 0, quick.stderr
        assert set(seen.values()) == {"healthy"}, f"the switch was slower than Docker's 3 failed checks: {seen}"
        assert "preview green is down" not in quick.stdout, quick.stdout
        stats = enough(run_probe(stack.url(), 300, 8, max_requests=1_000, retry=False), 1_000, 300)
        assert stats.failed == 0 and set(stats.colors()) == {"blue"}, (stats.errors, stats.colors())
        for name in green:
            Container(name).wait_health("unhealthy", timeout=30)
        later = stack.switch(stack.plan("blue"))
        assert later.returncode == 0, later.stderr
        assert "warning: preview green is down (health gate: container" in later.stdout, later.stdout
        assert "Docker health is unhealthy" in later.stdout, later.stdout
        assert preview_status(stack) == 503
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    stack.wait_healthy()
    back = stack.switch(stack.plan("blue"))
    assert back.returncode == 0 and "is down" not in back.stdout, (back.stdout, back.stderr)
    assert preview_status(stack) == 200
