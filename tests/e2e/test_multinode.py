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
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from lab.dockercli import docker, get
from lab.engine import EngineError, Steps, destroy, up
from lab.multinode import Node, namespaces_problem, three_node_swarm
from lab.paths import ROOT
from lab.prober import BackgroundProbe
from lab.swarm import node_loss, services, task_nodes, wait_converged
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


MIGRATE = {"name": "migrate", "command": ["python", "-m", "bluegreen_app", "migrate"], "timeoutSeconds": 120}
NOTIFY = {"name": "notify", "command": ["python", "-c", "print('promoted', flush=True)"]}
MIGRATE_JOB = f"{DEPLOYMENT}-hook-preswitch-migrate"
DB = f"{DEPLOYMENT}-db"


def psql(sql: str) -> str:
    return docker("exec", DB, "psql", "-U", "app", "-d", "app", "-tAc", sql).stdout.strip()


def job(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A hook's job and its tasks (the manager's view)."""
    (service,) = json.loads(docker("service", "inspect", name).stdout)
    ids = docker("service", "ps", "-q", name).stdout.split()
    return service, json.loads(docker("inspect", *ids).stdout) if ids else []


def test_hooks_run_as_jobs_and_every_node_reaches_the_database(nodes: list[Node]) -> None:
    """database.mode container: PostgreSQL beside the router on the manager, its volume there, on the overlay;
    preSwitch and postPromote hooks as one-shot Swarm jobs of the colour's service, once per image."""
    destroy("dev")
    docker("volume", "rm", "-f", f"{DEPLOYMENT}-db-data", check=False)
    base = {**config(nodes), "database.mode": "container", "hooks": {"preSwitch": [MIGRATE], "postPromote": [NOTIFY]},
            "blue.env": {"APP_SCHEMA_VERSION": "1"}, "green.env": {"APP_SCHEMA_VERSION": "1"}}  # fmt: skip
    step = Steps("dev", base)
    try:
        first = step({})
        # One image for both colours: the migration ran once (the second colour's run found it done).
        assert {"create command:local:Command::app-hooks-blue-migrate",
                "create command:local:Command::app-hooks-green-migrate"} <= set(first)  # fmt: skip
        service, runs = job(MIGRATE_JOB)
        assert service["Spec"]["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
        assert [t["Status"]["State"] for t in runs] == ["complete"], runs
        assert psql("SELECT max(version) FROM schema_migrations") == "1"
        notify, _ = job(f"{DEPLOYMENT}-hook-postpromote-notify")
        assert "promoted" in docker("service", "logs", notify["ID"]).stdout
        # Every task, on whichever node, answers /health/ready, which asks the database.
        placed = task_nodes(DEPLOYMENT)
        assert len(set(placed["blue"])) == 2, placed
        statuses = Counter(get(URL + "/health/ready")[0] for _ in range(40))
        assert statuses == Counter({200: 40}), statuses

        # A release whose migration fails (the column exists already): up fails quoting it, traffic stays.
        psql("ALTER TABLE notes ADD COLUMN author integer")
        with pytest.raises(EngineError) as failed:
            step({"green.version": "2.0.0", "green.env": {"APP_SCHEMA_VERSION": "2"}})
        assert "preSwitch hook migrate exited 1" in str(failed.value), failed.value
        assert f"docker service logs {MIGRATE_JOB}" in str(failed.value)
        assert 'column "author" of relation "notes" already exists' in str(failed.value)
        assert Counter(get(URL)[1].get("X-Bluegreen-Color") for _ in range(20)) == Counter({"blue": 20})
        # Repaired, the same up runs it again as a new job, and the release goes on.
        psql("ALTER TABLE notes DROP COLUMN author")
        release = step({})
        assert "replace command:local:Command::app-hooks-green-migrate" in release, release
        assert [t["Status"]["State"] for t in job(MIGRATE_JOB)[1]] == ["complete"]
        assert psql("SELECT max(version) FROM schema_migrations") == "2"
        # A flip runs no preSwitch hook (same images); postPromote follows the colour promoted, on its image.
        flip = step({"activeColor": "green"})
        assert f"update {SWITCH}" in flip and not [op for op in flip if "app-hooks-" in op], flip
        assert "promoted" in docker("service", "logs", f"{DEPLOYMENT}-hook-postpromote-notify").stdout
    finally:
        destroy("dev")
        docker("volume", "rm", "-f", f"{DEPLOYMENT}-db-data", check=False)
    assert docker("service", "ls", "-q", "--filter", f"label=bluegreen.deployment={DEPLOYMENT}").stdout.strip() == ""


# Last: a worker loses power, and the swarm it leaves is not the fresh one the tests above had.
def test_three_nodes_release_drain_and_node_loss_under_load(nodes: list[Node]) -> None:
    base = config(nodes)
    _, operations = up("dev", base)
    assert "create command:local:Command::app-image-1.0.0-nodes" in operations
    ids = {s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for s in services(DEPLOYMENT)}
    assert len(ids) == 1
    for node in nodes:  # the same bytes on every node, without a registry
        assert node.docker("image", "inspect", "-f", "{{.Id}}", *ids).stdout.strip() == next(iter(ids))
    placed = task_nodes(DEPLOYMENT)
    assert all(len(set(placed[color])) == 2 for color in ("blue", "green")), placed
    worker_ids = {n.node_id() for n in nodes}
    assert worker_ids & {node for color in placed for node in placed[color]}, placed
    assert docker("inspect", "-f", "{{.State.Running}}", f"{DEPLOYMENT}-router").stdout.strip() == "true"
    status = subprocess.run([sys.executable, "-m", "bluegreen", "status", "--stack", "dev", "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    report = json.loads(status.stdout)
    assert report["network"] == {"name": f"{DEPLOYMENT}-net", "driver": "overlay", "encrypted": False}
    on = {c["node"] for c in report["containers"]}
    assert on & {n.name for n in nodes} and on <= {socket.gethostname(), *(n.name for n in nodes)}, on

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
    # Relative, not timed: after the router's DNS dropped them, at most its validity (1 s) and slack.
    assert loss.last_failed_s(stats) <= loss.dns_s + 5.0
    assert Counter(s.status for s in stats.samples if s.at > loss.at + loss.replaced_s)[200] >= 1_000
    lost.power_on()
