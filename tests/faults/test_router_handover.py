"""The router restarted or replaced under clients that never retry: without a bridge every client notices.

A plain `docker restart` of the router is the gap Kamal's users know: for a
moment nothing listens, and every kept-alive connection is closed at once.
`bluegreen router restart` starts a bridge router beside it in the net
container's namespace (SO_REUSEPORT), so the kernel hands new and queued
connections to the bridge while the router stops, and nginx answers a
kept-alive client's next request with `Connection: close` before it lets go.
"""

from __future__ import annotations

from collections import Counter

from bluegreen.engine.names import router_bridge_name
from lab.deployment import Stack
from lab.dockercli import docker
from lab.prober import BackgroundProbe
from tests.integration.test_switch import colors_of

LAB_NAME = "bghandover"
CLIENTS = 16


def load(stack: Stack) -> BackgroundProbe:
    """Kept-alive clients that never retry; every third request a POST (never retried by anyone)."""
    return BackgroundProbe(stack.url(), connections=CLIENTS, retry=False, post_every=3, settle_seconds=0.5)


def test_a_plain_restart_drops_requests_and_a_handed_over_restart_drops_none(blue_live: Stack) -> None:
    stack = blue_live
    with load(stack) as plain:
        docker("restart", "-t", "30", stack.router.name)
        stack.router.wait_health()
    assert plain.stats.failed > 0, "the failure this fixes: a restart with nothing listening for a moment"

    with load(stack) as handed:
        for _ in range(2):
            done = stack.cli("router", "restart")
            assert done.returncode == 0, done.stderr
            assert "serves beside" in done.stdout and "drained and removed" in done.stdout, done.stdout
    stats = handed.stats
    assert stats.requests > 200 and stats.failed == 0, (stats.requests, stats.errors.most_common(3))
    assert stats.misrouted == 0
    assert docker("inspect", router_bridge_name(stack.deployment), check=False).returncode != 0, "the bridge is gone"
    assert colors_of(stack.url(), 20) == Counter({"blue": 20}), "the restarted router routes as before"


def test_a_bridge_that_cannot_start_leaves_the_router_alone(blue_live: Stack) -> None:
    """Its config has no public listener to share (here: an http.conf stub that names none): the hand-over
    refuses before touching the router, which keeps serving."""
    stack = blue_live
    volume = "/etc/nginx/bluegreen"

    def in_router(command: str) -> None:
        docker("exec", stack.router.name, "sh", "-c", command)

    in_router(f"cp {volume}/http.conf /tmp/http.conf && echo 'server {{ listen 8090; }}' > {volume}/http.conf")
    try:
        started = docker("inspect", "-f", "{{.State.StartedAt}}", stack.router.name).stdout
        done = stack.cli("router", "restart")
        assert done.returncode != 0 and "no public listener" in done.stderr and "was left alone" in done.stderr, (
            done.stdout + done.stderr
        )
        assert docker("inspect", "-f", "{{.State.StartedAt}}", stack.router.name).stdout == started, "untouched"
        assert colors_of(stack.url(), 10) == Counter({"blue": 10})
    finally:
        in_router(f"cp /tmp/http.conf {volume}/http.conf")


def test_a_router_whose_net_container_stopped_is_brought_back(blue_live: Stack) -> None:
    """Its namespace gone, the router serves nothing; `router restart` starts the net container, then it."""
    stack = blue_live
    docker("stop", stack.net)
    done = stack.cli("router", "restart")
    assert done.returncode == 0 and "its net container was not running" in done.stdout, done.stdout + done.stderr
    assert f"restarted {stack.control_name} too" in done.stdout, "its control loop joins the new namespace"
    assert colors_of(stack.url(), 10) == Counter({"blue": 10})


def test_a_router_from_before_hand_overs_steps_aside_for_the_net_container() -> None:
    """The first update from a version without hand-overs: the old router owns the host ports, and the
    net container cannot publish them while it runs. `handover prepare` stops it (one last gap) and renames
    it, so Pulumi still deletes it by its id; run again, it has nothing to do."""
    from bluegreen.engine.client import DockerClient
    from bluegreen.engine.names import router_name
    from bluegreen.router import handover
    from lab.images import ROUTER_IMAGE

    deployment = "bluegreen-bgprepare"
    name = router_name(deployment)
    docker("rm", "-f", name, f"{name}-retired", check=False)
    old_id = docker("run", "-d", "--name", name, "--label", "bluegreen.test=1", "-p", "127.0.0.1::8080",
                    ROUTER_IMAGE, "sleep", "infinity").stdout.strip()  # fmt: skip
    try:
        said = handover.prepare(DockerClient(), deployment, 5)
        assert said.startswith(f"{name} owned its ports"), said
        state = docker("inspect", "-f", "{{.Name}} {{.State.Running}}", old_id).stdout.split()
        assert state == [f"/{name}-retired", "false"], "stopped, renamed, the same container"
        assert docker("inspect", name, check=False).returncode != 0, "the name is free for the new router"
        assert handover.prepare(DockerClient(), deployment, 5) == f"{name}: nothing to prepare"
    finally:
        docker("rm", "-f", old_id, check=False)
