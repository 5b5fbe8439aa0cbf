"""The `swarm.*` scenario: orchestrator swarm on three engines (lab/multinode.py), under never-retrying load.

The dev stack through the test engine, 2 tasks per colour spread over the
nodes, the image copied to the workers by the program. Then, each counted
apart: flips and `bluegreen rollback`s, one live task killed, a worker
drained, and a worker that loses power (its link down, its engine and tasks
killed). The swarm is removed at the end.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from lab.paths import ROOT
from lab.prober import BackgroundProbe

PORT = 18580
DEPLOYMENT = "bluegreen-dev"


def _released(config: dict[str, Any], load: BackgroundProbe, flips: int, rollbacks: int) -> list[float]:
    """Flips through the program, then rollbacks through the CLI; each rollback's ms until all answers moved."""
    from lab.engine import up

    active, windows = "blue", []
    for _ in range(flips):
        active = "green" if active == "blue" else "blue"
        up("dev", {**config, "activeColor": active})
    for _ in range(rollbacks):
        target = "green" if active == "blue" else "blue"
        began = time.monotonic()
        rollback = [sys.executable, "-m", "bluegreen", "rollback", "--stack", "dev"]
        done = subprocess.run(rollback, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        time.sleep(0.5)
        windows.append((began, time.monotonic(), target))
        active = target
    load.keep_until(load.stats.requests + 2_000)
    samples = []
    for began, until, color in windows:
        full = load.stats.all_from(color, began, until)
        if full is not None:
            samples.append((full - began) * 1000)
    return samples


def swarm_nodes(flips: int, rollbacks: int) -> dict[str, Any]:
    from lab.dockercli import docker
    from lab.engine import destroy, up
    from lab.multinode import three_node_swarm
    from lab.swarm import kill_a_task, node_loss, task_nodes, wait_converged

    destroy("dev")
    with three_node_swarm() as nodes:
        config = {"router.port": PORT, "router.previewPort": PORT + 1, "orchestrator": "swarm",
                  "blue.replicas": 2, "green.replicas": 2, "swarm.nodes": [n.host for n in nodes],
                  "swarm.encrypted": False}  # fmt: skip
        try:
            started = time.monotonic()
            up("dev", config)
            deploy_s = time.monotonic() - started
            placed = task_nodes(DEPLOYMENT)
            with BackgroundProbe(f"http://127.0.0.1:{PORT}", connections=16, retry=False, post_every=5,
                                 settle_seconds=0.5) as load:  # fmt: skip
                samples = _released(config, load, flips, rollbacks)
                released, active = load.stats.requests, "blue" if (flips + rollbacks) % 2 == 0 else "green"
                engines, kill_from = [docker, *(n.docker for n in nodes)], time.monotonic()
                replacement_s = kill_a_task(DEPLOYMENT, f"{DEPLOYMENT}-router", active, engines=engines)
                drain_from = time.monotonic()
                docker("node", "update", "--availability", "drain", nodes[0].node_id())
                wait_converged(DEPLOYMENT, away_from=nodes[0].node_id())
                docker("node", "update", "--availability", "active", nodes[0].node_id())
                load.keep_until(load.stats.requests + 2_000)
                # The worker with the most live tasks: a loss that takes none of them would measure nothing.
                live = task_nodes(DEPLOYMENT).get(active, [])
                lost = max(nodes, key=lambda n: live.count(n.node_id()))
                lost_live = live.count(lost.node_id())
                loss = node_loss(lost, DEPLOYMENT)
                load.keep_until(load.stats.requests + 2_000)
            lost.power_on()
        finally:
            destroy("dev")
    stats = load.stats
    return {
        "deploy_s": round(deploy_s, 1), "switches": flips + rollbacks, "requests": stats.requests,
        "failed": stats.failed_within(0, kill_from) + stats.failed_within(drain_from, loss.at),
        "kill_failed": stats.failed_within(kill_from, drain_from), "rollback_ms": round(statistics.median(samples), 1),
        "rollback_ms_max": round(max(samples), 1), "replacement_s": round(replacement_s, 1),
        "multinode": {
            "nodes": 1 + len(nodes), "task_nodes": min(len(set(ids)) for ids in placed.values()),
            "requests_released": released, "failed": stats.failed_within(0, kill_from),
            "drain_failed": stats.failed_within(drain_from, loss.at), "node_loss_live_tasks": lost_live,
            "node_loss_failed": loss.failed(stats),
            "node_loss_last_failed_s": round(loss.last_failed_s(stats), 2), "node_loss_dns_s": round(loss.dns_s, 1),
            "node_loss_recovery_s": round(loss.replaced_s, 1),
        },
    }  # fmt: skip
