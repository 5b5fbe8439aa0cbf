"""The Docker daemon restarts under a routed deployment, with live-restore off and on.

Routing goes to names through Docker's DNS, never to addresses, so a daemon
that brings containers back on other addresses cannot make one colour answer
for the other. Runs only where this process may restart the engine it talks
to (root, a local dockerd); it restarts that dockerd with its own flags, then
puts the original flags back.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.deployment import Stack, two_colors
from lab.dockercli import docker
from lab.images import ROUTER_IMAGE
from lab.prober import BackgroundProbe
from tests.support.dockergate import need_image

pytestmark = pytest.mark.docker


def _running(pid: int) -> bool:
    """Alive and not a zombie (a stopped dockerd stays in /proc until its parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def local_dockerd() -> tuple[int, list[str]] | None:
    """The pid and command line of the dockerd this machine runs, if there is exactly one."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and _running(int(proc.name)):
            try:
                if (proc / "comm").read_text().strip() == "dockerd":
                    found.append((int(proc.name), (proc / "cmdline").read_bytes().decode().split("\0")[:-1]))
            except OSError:
                continue
    return found[0] if len(found) == 1 else None


def restart_dockerd(args: list[str]) -> None:
    """Stop the running dockerd, start `args` in its place (detached), wait until it answers."""
    running = local_dockerd()
    assert running is not None
    os.kill(running[0], 15)
    deadline = time.monotonic() + 90
    while _running(running[0]):
        assert time.monotonic() < deadline, "dockerd did not stop"
        time.sleep(0.2)
    start_dockerd(args)


def start_dockerd(args: list[str]) -> None:
    deadline = time.monotonic() + 90
    log = open("/tmp/bluegreen-test-dockerd.log", "ab")  # noqa: SIM115 - the daemon keeps it open
    subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    while subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        assert time.monotonic() < deadline, "dockerd did not come back"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def original_flags() -> Iterator[list[str]]:
    running = local_dockerd()
    remote = os.environ.get("DOCKER_HOST", "unix://").split("://")[0] not in ("unix", "")
    if os.geteuid() != 0 or running is None or remote:
        pytest.skip("restarting the engine needs root and one local dockerd (here: not available)")
    yield running[1]
    now = local_dockerd()
    if now is None:  # a failed test left no engine behind
        start_dockerd(running[1])
    elif now[1] != running[1]:  # ... or one with other flags
        restart_dockerd(running[1])


@pytest.fixture(scope="module")
def stack(app_image: str, original_flags: list[str]) -> Iterator[Stack]:
    need_image(ROUTER_IMAGE)
    with two_colors("restarts", app_image) as s:
        yield s


def bring_back_the_router(stack: Stack) -> str:
    """An engine without moby/moby#50327 (this machine's Docker 20.10) can start the router before its net
    container when the engine restarts, and then leaves it exited. `bluegreen status` names the way back,
    `bluegreen router restart`, which starts it."""
    deadline = time.monotonic() + 30
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = json.loads(docker("inspect", "-f", "{{json .State}}", stack.router.name).stdout)
        if state["Running"] or state["Status"] == "exited":
            break
        time.sleep(0.2)
    if state["Running"]:
        return "came back by itself"
    # The engine logs "cannot join network of a non running container"; the container keeps no error.
    status = stack.cli("status")
    assert status.returncode != 0 and "bluegreen router restart --stack" in status.stderr, status.stderr
    done = stack.cli("router", "restart")
    assert done.returncode == 0 and f"started {stack.router.name}" in done.stdout, done.stdout + done.stderr
    return "started by bluegreen router restart"


def answers(url: str, count: int) -> Counter[tuple[str, str]]:
    """(router colour, app colour) of `count` answers, once the router answers at all."""
    deadline = time.monotonic() + 60
    seen: Counter[tuple[str, str]] = Counter()
    while sum(seen.values()) < count:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                seen[(response.headers["X-Bluegreen-Color"], response.headers["X-App-Color"])] += 1
        except OSError:
            assert time.monotonic() < deadline, "the router never answered again"
            time.sleep(0.2)
    return seen


@pytest.mark.parametrize("live_restore", [False, True], ids=["live-restore-off", "live-restore-on"])
def test_a_daemon_restart_never_misroutes(stack: Stack, original_flags: list[str], live_restore: bool) -> None:
    flags = [a for a in original_flags if a != "--live-restore"] + (["--live-restore"] if live_restore else [])
    if live_restore:  # the daemon that stops must already have it, or the containers stop with it
        restart_dockerd(flags)
        stack.wait_healthy()
        bring_back_the_router(stack)
    assert stack.switch(stack.plan("green", 50)).returncode == 0
    with BackgroundProbe(stack.url(), connections=8, round_seconds=2, retry=False) as load:
        time.sleep(1)
        restart_dockerd(flags)
        stack.wait_healthy()
        router = bring_back_the_router(stack)
        after = answers(stack.url(), 60)
    stats = load.stats
    print(f"\nlive-restore {live_restore}: {stats.requests} requests, {stats.failed} failed while the daemon "
          f"restarted, {stats.misrouted} misrouted; the router {router}; after: {dict(after)}")  # fmt: skip
    assert stats.misrouted == 0
    assert all(router == app for router, app in after), after
    assert {router for router, _ in after} == {"blue", "green"}
    assert docker("inspect", "-f", "{{.State.Running}}", stack.router.name).stdout.strip() == "true"
    restart_dockerd(original_flags)
    stack.wait_healthy()
    bring_back_the_router(stack)
