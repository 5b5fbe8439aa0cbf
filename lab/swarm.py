"""Docker Swarm for tests and the bench: a single-node swarm (made on entry, left on exit if this made it),
and what it and the three-node one (lab/multinode.py) are watched with: tasks, placement, a kill, a lost node."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lab.dockercli import docker
from lab.prober import ProbeStats


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


Docker = Callable[..., subprocess.CompletedProcess[str]]


def running_tasks(deployment: str, color: str, engine: Docker = docker) -> list[dict[str, Any]]:
    """`docker inspect` of the running task containers of `color` on one engine (this one unless `engine`)."""
    labels = ("--filter", f"label=bluegreen.deployment={deployment}", "--filter", f"label=bluegreen.color={color}")
    ids = engine("ps", "-q", *labels).stdout.split()
    found: list[dict[str, Any]] = json.loads(engine("inspect", *ids).stdout) if ids else []
    return [c for c in found if "com.docker.swarm.task.id" in c["Config"]["Labels"]]


def upstreams_since(router: str, since: float) -> Counter[str]:
    """Addresses the router sent requests to since `since` (its access log: one JSON line per request)."""
    found: Counter[str] = Counter()
    for line in docker("logs", "--since", f"{since:.3f}", router).stdout.splitlines():
        if line.startswith("{") and '"upstream"' in line:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a line `docker logs` returned cut or joined (seen once in CI)
                continue
            for upstream in entry["upstream"].split(", "):
                found[upstream.rpartition(":")[0]] += 1
    return found


def kill_a_task(
    deployment: str, router: str, color: str, timeout: float = 30, engines: Sequence[Docker] = (docker,)
) -> float:
    """`docker rm -f` one running task of `color` on the first of `engines` that runs one; seconds until its
    replacement (on whichever node Swarm places it) served a request, via the router."""
    engine, victim = next((e, found[0]) for e in engines if (found := running_tasks(deployment, color, e)))
    labels = victim["Config"]["Labels"]
    service, slot = labels["com.docker.swarm.service.id"], victim["Name"].split(".")[1]
    killed_at = time.time()
    engine("rm", "-f", victim["Id"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [t for t in tasks(deployment) if t["ServiceID"] == service and str(t["Slot"]) == slot
                 and t["ID"] != labels["com.docker.swarm.task.id"] and t["Status"]["State"] == "running"]  # fmt: skip
        if fresh:
            (address,) = _addresses(fresh[0])
            while time.monotonic() < deadline:
                if upstreams_since(router, killed_at)[address]:
                    return time.time() - killed_at
                time.sleep(0.5)
        time.sleep(0.2)
    raise AssertionError(f"no replacement of {victim['Name']} served a request within {timeout:g}s")


def _service_ids(deployment: str) -> list[str]:
    return docker("service", "ls", "-q", "--filter", f"label=bluegreen.deployment={deployment}").stdout.split()


def services(deployment: str) -> list[dict[str, Any]]:
    """`docker service inspect` of the deployment's services (colours, and hook jobs while they exist)."""
    ids = _service_ids(deployment)
    found: list[dict[str, Any]] = json.loads(docker("service", "inspect", *ids).stdout) if ids else []
    return found


def tasks(deployment: str) -> list[dict[str, Any]]:
    """`docker inspect` of every task Swarm wants running for the deployment's services: the manager's view."""
    ids = _service_ids(deployment)
    running = ("--filter", "desired-state=running")
    task_ids = [t for sid in ids for t in docker("service", "ps", "-q", *running, sid).stdout.split()]
    found: list[dict[str, Any]] = json.loads(docker("inspect", *task_ids).stdout) if task_ids else []
    return found


def task_nodes(deployment: str, without: str = "") -> dict[str, list[str]]:
    """Colour -> the node id of each running task (not counting those on node `without`)."""
    placed: dict[str, list[str]] = {}
    for task in tasks(deployment):
        if task["Status"]["State"] == "running" and task["NodeID"] != without:
            placed.setdefault(task["Spec"]["ContainerSpec"]["Labels"]["bluegreen.color"], []).append(task["NodeID"])
    return placed


def _replicas(deployment: str) -> dict[str, int]:
    return {
        s["Spec"]["Labels"]["bluegreen.color"]: s["Spec"]["Mode"]["Replicated"]["Replicas"]
        for s in services(deployment)
        if "Replicated" in s["Spec"]["Mode"]
    }


def wait_converged(deployment: str, away_from: str = "", timeout: float = 120) -> float:
    """Seconds until every colour runs its replica count on nodes other than `away_from`."""
    started = time.monotonic()
    wanted = _replicas(deployment)
    while time.monotonic() - started < timeout:
        placed = task_nodes(deployment, without=away_from)
        if all(len(placed.get(color, [])) >= n for color, n in wanted.items()):
            return time.monotonic() - started
        time.sleep(0.3)
    raise AssertionError(f"{deployment}: not {wanted} running tasks within {timeout:g}s: {task_nodes(deployment)}")


def wait_updated(service: str, timeout: float = 120) -> None:
    """Until Swarm says the service's update (`docker service update`) completed: every task it replaces stopped."""
    deadline = time.monotonic() + timeout
    # UpdateStatus is nil until Swarm starts the update: the template then prints nothing, not an error.
    state = "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"
    while docker("service", "inspect", "-f", state, service).stdout.strip() != "completed":
        assert time.monotonic() < deadline, f"{service}: update not completed within {timeout:g}s"
        time.sleep(0.3)


@dataclass
class NodeLoss:
    """When a node was lost (time.monotonic()), and how long the router's DNS and Swarm took to follow."""

    at: float
    dns_s: float
    replaced_s: float

    def failed(self, stats: ProbeStats) -> int:
        return stats.failed_within(self.at)

    def last_failed_s(self, stats: ProbeStats) -> float:
        """When, after the loss, the last request that failed was sent: the router sent none there after it."""
        starts = [s.at - s.latency for s in stats.samples if s.at >= self.at and s.status != 200]
        return max(0.0, max(starts, default=self.at) - self.at)


def _addresses(task: dict[str, Any]) -> set[str]:
    return {a.split("/")[0] for n in task.get("NetworksAttachments") or [] for a in n.get("Addresses") or []}


class Node(Protocol):
    """A worker that can lose power (lab.multinode.Node)."""

    def node_id(self) -> str: ...

    def power_off(self) -> float: ...


def node_loss(node: Node, deployment: str, timeout: float = 120) -> NodeLoss:
    """Power `node` off; seconds until the router's resolver no longer names its tasks,
    and until Swarm runs every replica elsewhere."""
    router = f"{deployment}-router"
    node_id = node.node_id()
    dead = set().union(*(_addresses(t) for t in tasks(deployment) if t["NodeID"] == node_id))
    names = docker("service", "ls", "--format", "{{.Name}}", "--filter", f"label=bluegreen.deployment={deployment}")
    at = time.monotonic()
    node.power_off()
    dns_s = -1.0
    while time.monotonic() - at < timeout:
        resolved = docker("exec", router, "getent", "ahostsv4", *names.stdout.split(), check=False).stdout
        if not dead & {line.split()[0] for line in resolved.splitlines() if line.strip()}:
            dns_s = time.monotonic() - at
            break
        time.sleep(0.2)
    assert dns_s >= 0, f"the router's DNS still names {sorted(dead)} {timeout:g}s after the node was lost"
    wait_converged(deployment, away_from=node_id, timeout=timeout)
    return NodeLoss(at, dns_s, time.monotonic() - at)
