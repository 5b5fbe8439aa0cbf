"""orchestrator: swarm on three engines (this one the manager, two workers in network namespaces; lab/multinode.py).

Through the test engine, under never-retrying keep-alive load (every fifth
request a POST): the image reaches the workers without a registry, each
colour's tasks run on more than one node, the router on the manager reaches
them over the overlay; flips and a rollback, a drained worker, then a worker
that loses power. Counted, never timed: the figures are printed for the bench's
`swarm.multinode.*` keys.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from lab.dockercli import docker
from lab.engine import Steps, destroy, up
from lab.multinode import Node, namespaces_problem, three_node_swarm
from lab.paths import ROOT
from lab.prober import BackgroundProbe
from lab.swarm import node_loss, task_nodes, wait_converged
from tests.support.dockergate import need

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

PORT = 18390
URL = f"http://127.0.0.1:{PORT}"
DEPLOYMENT = "bluegreen-dev"
SWITCH = "command:local:Command::app-switch"
CLIENTS = 16


@pytest.fixture(scope="module")
def nodes() -> Iterator[list[Node]]:
    need(namespaces_problem())
    destroy("dev")
    with three_node_swarm() as made:
        yield made
        destroy("dev")


def config(nodes: list[Node]) -> dict[str, Any]:
    # This kernel has no ESP (xfrm): an encrypted overlay carries nothing between namespaces here.
    return {"router.port": PORT, "router.previewPort": PORT + 1, "orchestrator": "swarm", "blue.replicas": 2,
            "green.replicas": 2, "swarm.nodes": [n.host for n in nodes], "swarm.encrypted": False}  # fmt: skip


def test_three_nodes_release_drain_and_node_loss_under_load(nodes: list[Node]) -> None:
    base = config(nodes)
    _, operations = up("dev", base)
    assert "create command:local:Command::app-image-1.0.0-nodes" in operations
    ids = {s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for s in services()}
    assert len(ids) == 1
    for node in nodes:  # the same bytes on every node, without a registry
        assert node.docker("image", "inspect", "-f", "{{.Id}}", *ids).stdout.strip() == next(iter(ids))
    placed = task_nodes(DEPLOYMENT)
    assert all(len(set(placed[color])) == 2 for color in ("blue", "green")), placed
    worker_ids = {n.node_id() for n in nodes}
    assert worker_ids & {node for color in placed for node in placed[color]}, placed
    assert docker("inspect", "-f", "{{.State.Running}}", f"{DEPLOYMENT}-router").stdout.strip() == "true"

    step = Steps("dev", base)
    with BackgroundProbe(URL, connections=CLIENTS, retry=False, post_every=5, settle_seconds=0.5) as load:
        active = "blue"
        for _ in range(3):
            active = "green" if active == "blue" else "blue"
            assert step({"activeColor": active}) == [f"update {SWITCH}"]
        rolled = subprocess.run([sys.executable, "-m", "bluegreen", "rollback", "--stack", "dev"], cwd=ROOT,
                                capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert rolled.returncode == 0, rolled.stderr
        active = "green" if active == "blue" else "blue"
        load.keep_until(3_000)
        releases = load.stats.requests
        assert load.stats.failed == 0, load.stats.errors

        # Drain a worker: Swarm stops its tasks (they leave DNS first) and starts them elsewhere.
        drained = nodes[0]
        docker("node", "update", "--availability", "drain", drained.node_id())
        wait_converged(DEPLOYMENT, away_from=drained.node_id())
        docker("node", "update", "--availability", "active", drained.node_id())
        time.sleep(1)
        drain_failed = load.stats.failed
        assert drain_failed == 0, load.stats.errors

        # A worker loses power while it runs live tasks.
        # With the drained worker's tasks moved, spread placed one of each colour on the other worker.
        lost = nodes[1]
        assert lost.node_id() in task_nodes(DEPLOYMENT)[active], task_nodes(DEPLOYMENT)
        loss = node_loss(lost, DEPLOYMENT)
        load.keep_until(load.stats.requests + 3_000)

    stats = load.stats
    failed = loss.failed(stats)
    print(f"{stats.requests} requests ({releases} over flips and a rollback), {stats.failed} failed: "
          f"drain {drain_failed}, node loss {failed} (the router's DNS dropped its tasks after {loss.dns_s:.1f}s; "
          f"the last failed request started {loss.last_failed_s(stats):.1f}s after the loss; Swarm replaced "
          f"them after {loss.replaced_s:.1f}s)")  # fmt: skip
    # A never-retrying client loses at most the request it had in flight on the lost node's tasks.
    assert failed <= CLIENTS, stats.errors
    # Relative, not timed: after the router's DNS dropped them, at most its validity (2 s) and slack.
    assert loss.last_failed_s(stats) <= loss.dns_s + 5.0
    assert Counter(s.status for s in stats.samples if s.at > loss.at + loss.replaced_s)[200] >= 1_000
    lost.power_on()


def services() -> list[dict[str, Any]]:
    ids = docker("service", "ls", "-q", "--filter", f"label=bluegreen.deployment={DEPLOYMENT}").stdout.split()
    found: list[dict[str, Any]] = json.loads(docker("service", "inspect", *ids).stdout) if ids else []
    return found
