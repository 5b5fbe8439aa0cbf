"""Replacing or restarting the router without a gap: a bridge router serves beside it meanwhile.

The router's host ports and network namespace belong to its net container,
which only sleeps (`router-net`); the router joins that namespace
(`network_mode: container:<net>`) and binds its public listeners with
SO_REUSEPORT. So a second nginx can listen on the same ports at the same
time, and the kernel gives each new connection to one of them:

1. `begin`: start the bridge, a router from the running router's image and
   routing volume in the same namespace, and wait until its workers accept.
2. The router goes (Pulumi deletes the replaced one gracefully and creates
   the new one; `restart` restarts it). Its SIGQUIT closes its listening
   sockets; the connections still queued on them move to the bridge's
   (net.ipv4.tcp_migrate_req) instead of being reset; requests in flight
   finish; a kept-alive client's next request is answered with
   `Connection: close`, and an idle one is closed only after
   keepalive_min_timeout, so no request races the close.
3. `end`: once the router runs again and its healthcheck passes (run at
   once, not after Docker's interval), the bridge goes the same way.

What it cannot cover: a new host port or bind address is a new listener
(the net container is replaced: seconds without one), and a router created
before this (it owns its ports itself) is replaced once more with a gap.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from bluegreen.engine.client import DockerClient
from bluegreen.engine.names import (
    DEPLOYMENT_LABEL,
    ROLE_LABEL,
    ROLE_ROUTER_BRIDGE,
    router_bridge_name,
    router_control_name,
    router_name,
)
from bluegreen.errors import DockerError, RouterError
from bluegreen.router.files import HEALTHCHECK, network_owner
from bluegreen.router.layout import ROUTING_DIR
from bluegreen.router.scripts import script

# The bridge is ready when an nginx worker runs in it (its master bound the sockets before forking).
WORKERS = "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\000' '\\n' | grep -c '^nginx: worker process$' || true"
READY_SECONDS = 15.0
HEALTHY_SECONDS = 120.0  # a new router loads its config in well under a second; a broken one never passes


def _running(client: DockerClient, name: str) -> dict[str, Any] | None:
    info = client.inspect(name)
    return info if info and info["State"].get("Running") else None


def _bridge_body(router: dict[str, Any], deployment: str) -> dict[str, Any]:
    """The running router's image, user, volume, limits and hardening; the bridge's own command and labels."""
    host = router["HostConfig"]
    keep = ("NetworkMode", "Mounts", "ReadonlyRootfs", "Tmpfs", "CapDrop", "CapAdd", "SecurityOpt", "Memory",
            "NanoCpus", "LogConfig", "PidsLimit")  # fmt: skip
    mounts = [
        {"Type": m["Type"], "Source": m.get("Name") or m["Source"], "Target": m["Destination"]}
        for m in router.get("Mounts", [])
    ]
    return {
        "Image": router["Image"],
        "User": router["Config"].get("User", ""),
        "Cmd": ["sh", "-c", script("bridge"), "sh", ROUTING_DIR],
        "Labels": {DEPLOYMENT_LABEL: deployment, ROLE_LABEL: ROLE_ROUTER_BRIDGE},
        "StopSignal": "SIGQUIT",
        "HostConfig": {**{k: host[k] for k in keep if host.get(k) is not None}, "Mounts": mounts},
    }


def begin(client: DockerClient, deployment: str, sleep: Callable[[float], None] = time.sleep) -> str:
    """Start the bridge beside the running router; a line for the operator. Nothing to do without a router."""
    router, bridge = router_name(deployment), router_bridge_name(deployment)
    info = _running(client, router)
    if info is None:
        return f"{router} is not running: nothing to hand over"
    owner = network_owner(info)
    if owner is None:
        return f"{router} owns its ports (made before router hand-overs): this replacement has a gap"
    if _running(client, owner) is None:
        return f"the listener of {router} is being replaced (a new port or bind address): nothing to hand over"
    if _running(client, bridge) is not None:
        return f"{bridge} already serves beside {router}"
    client.request("DELETE", f"/containers/{bridge}?force=1", allow=(404,))
    try:
        client.request("POST", f"/containers/create?name={bridge}", _bridge_body(info, deployment))
        client.request("POST", f"/containers/{bridge}/start")
    except DockerError as exc:
        client.request("DELETE", f"/containers/{bridge}?force=1", allow=(404,))
        raise RouterError(f"the bridge router did not start ({exc}); {router} was left alone") from None
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if _running(client, bridge) is None:
            break
        try:
            found = client.exec(bridge, ["sh", "-c", WORKERS], timeout=5).stdout.strip()
        except DockerError:  # it exited between the two calls: the next turn says so
            found = ""
        if found.isdigit() and int(found) > 0:
            return f"{bridge} serves beside {router}"
        sleep(0.05)
    why = " / ".join(client.tail(bridge, 5)) or "no output"
    client.request("DELETE", f"/containers/{bridge}?force=1", allow=(404,))
    raise RouterError(f"the bridge router did not start ({why}); {router} was left alone")


def _healthy(client: DockerClient, name: str, timeout: float, sleep: Callable[[float], None]) -> bool:
    """Running, and its own healthcheck passes when run now (Docker would first wait out its interval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = (client.inspect(name) or {}).get("State", {})
        if state.get("Running"):
            with contextlib.suppress(DockerError):  # stopped between the two calls: the next turn says so
                if client.exec(name, list(HEALTHCHECK.test[1:]), timeout=5).exit_code == 0:
                    return True
        elif state.get("Status") == "exited":
            return False
        sleep(0.1)
    return False


def end(client: DockerClient, deployment: str, grace: int, sleep: Callable[[float], None] = time.sleep) -> str:
    """Stop the bridge gracefully once the router is healthy; while it is not, the bridge keeps serving."""
    router, bridge = router_name(deployment), router_bridge_name(deployment)
    if client.inspect(bridge) is None:
        return f"no bridge for {router}"
    if not _healthy(client, router, HEALTHY_SECONDS, sleep):
        raise RouterError(f"{router} is not healthy: {bridge} keeps serving until it is (run this again)")
    client.request("POST", f"/containers/{bridge}/stop?t={grace}", allow=(304, 404))
    client.request("DELETE", f"/containers/{bridge}?force=1", allow=(404,))
    return f"{router} serves; {bridge} drained and removed"


def prepare(client: DockerClient, deployment: str, grace: int) -> str:
    """Before the net container takes the host ports: a router made before hand-overs owns them.

    It stops gracefully (one last gap, until the new router runs) and steps
    aside under another name, so the net container can publish the ports and
    Pulumi still finds the old router by its id to delete it.
    """
    router = router_name(deployment)
    info = client.inspect(router)
    if info is None or network_owner(info) is not None:
        return f"{router}: nothing to prepare"
    retired = f"{router}-retired"
    client.request("DELETE", f"/containers/{retired}?force=1", allow=(404,))
    client.request("POST", f"/containers/{info['Id']}/stop?t={grace}", allow=(304,))
    client.request("POST", f"/containers/{info['Id']}/rename?name={retired}")
    return f"{router} owned its ports (made before router hand-overs): stopped for the net container to take them"


def restart(client: DockerClient, deployment: str, grace: int, sleep: Callable[[float], None] = time.sleep) -> str:
    """Restart the router with the bridge serving meanwhile; start it when it is not running.

    An engine without moby/moby#50327 can start the router before its net
    container after the engine restarts, and then leaves it exited ("cannot
    join network of a non running container"): this is the way back.
    """
    router = router_name(deployment)
    info = client.inspect(router)
    if info is None:
        raise RouterError(f"there is no {router}: `pulumi up` creates it")
    owner = network_owner(info)
    lost = owner is not None and _running(client, owner) is None  # its namespace is gone: it serves nothing
    if lost or not info["State"].get("Running"):
        why = (
            "its net container was not running"
            if lost
            else (info["State"].get("Error") or f"it was not running (exit code {info['State'].get('ExitCode')})")
        )
        if lost:  # its listener first, or it cannot join it
            client.request("POST", f"/containers/{owner}/start", allow=(304,))
        verb = "restart" if info["State"].get("Running") else "start"
        client.request("POST", f"/containers/{router}/{verb}" + (f"?t={grace}" if verb == "restart" else ""))
        if not _healthy(client, router, HEALTHY_SECONDS, sleep):
            raise RouterError(f"{router}: {why}; started, but it did not turn healthy")
        return f"started {router} ({why})" + _start_control(client, deployment, rejoin=lost)
    lines = [begin(client, deployment, sleep)]
    client.request("POST", f"/containers/{router}/restart?t={grace}")
    lines.append(end(client, deployment, grace, sleep))
    return "\n".join(lines) + _start_control(client, deployment, rejoin=False)


def _start_control(client: DockerClient, deployment: str, rejoin: bool) -> str:
    """The control container left exited beside the router (the same engine restart), or in the namespace a
    stopped net container left (`rejoin`): started or restarted too, or switches keep using execs
    (bluegreen/router/channel.py)."""
    control = router_control_name(deployment)
    info = client.inspect(control)
    if info is None or (info["State"].get("Running") and not rejoin):
        return ""
    client.request("POST", f"/containers/{control}/restart?t=0")
    return f"; {'restarted' if rejoin else 'started'} {control} too"
