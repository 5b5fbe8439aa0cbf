"""A single-node Docker Swarm for a test or a benchmark: made on entry, left on exit (if this made it)."""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from lab.dockercli import docker


def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()


@contextlib.contextmanager
def single_node_swarm() -> Iterator[None]:
    """`docker swarm init` on 127.0.0.1 (this machine has no other address to advertise), then leave again.

    A swarm that was there before is used and kept: it is not this test's to leave.
    """
    made = swarm_state() != "active"
    if made:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        if made:
            docker("swarm", "leave", "--force")
            assert swarm_state() == "inactive", "the node is still in the swarm this made"


def running_tasks(deployment: str, color: str) -> list[dict[str, Any]]:
    """`docker inspect` of the running task containers of `color` on this node (all of them, on one node)."""
    labels = ("--filter", f"label=bluegreen.deployment={deployment}", "--filter", f"label=bluegreen.color={color}")
    ids = docker("ps", "-q", *labels).stdout.split()
    found: list[dict[str, Any]] = json.loads(docker("inspect", *ids).stdout) if ids else []
    return [c for c in found if "com.docker.swarm.task.id" in c["Config"]["Labels"]]


def upstreams_since(router: str, since: float) -> Counter[str]:
    """Addresses the router sent requests to since `since` (its access log: one JSON line per request)."""
    found: Counter[str] = Counter()
    for line in docker("logs", "--since", f"{since:.3f}", router).stdout.splitlines():
        if line.startswith("{") and '"upstream"' in line:
            for upstream in json.loads(line)["upstream"].split(", "):
                found[upstream.rpartition(":")[0]] += 1
    return found


def kill_a_task(deployment: str, router: str, color: str, timeout: float = 30) -> float:
    """`docker rm -f` one running task of `color`; seconds until its replacement served a request, via the router."""
    victim = running_tasks(deployment, color)[0]
    killed_at = time.time()
    docker("rm", "-f", victim["Id"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [c for c in running_tasks(deployment, color) if c["Created"] > victim["Created"]]
        if fresh:
            (address,) = [n["IPAddress"] for n in fresh[0]["NetworkSettings"]["Networks"].values() if n["IPAddress"]]
            while time.monotonic() < deadline:
                if upstreams_since(router, killed_at)[address]:
                    return time.time() - killed_at
                time.sleep(0.5)
        time.sleep(0.2)
    raise AssertionError(f"no replacement of {victim['Name']} served a request within {timeout:g}s")
