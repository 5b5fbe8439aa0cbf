"""Docker object names, labels and role values: every name a stack's objects carry, written once.

The Pulumi components name resources with these, the routing plan lists the
same container names, the CLI finds the router by these labels, and the
CrossGuard pack reads the same keys. No third-party import, so the policy
pack can carry this file on its own.
"""

from __future__ import annotations

import re
from typing import Final, Literal

# Where the colours run: plain containers on one engine, or Docker Swarm services (docs/swarm.md).
Orchestrator = Literal["container", "swarm"]

DEPLOYMENT_LABEL = "bluegreen.deployment"
ROLE_LABEL = "bluegreen.role"
COLOR_LABEL = "bluegreen.color"
VERSION_LABEL = "bluegreen.version"
DIGEST_LABEL = "bluegreen.digest"  # only on containers of a colour pinned by digest
# Hash of what replaces an app container, its environment aside: a live colour
# whose spec is unchanged keeps the environment it runs (Topology.held).
SPEC_LABEL = "bluegreen.spec"
SWARM_TASK_LABEL = "com.docker.swarm.task.id"  # Swarm's own, on the container of every task
# Hook containers (bluegreen/release/hooks.py): which hook, and the run (hook definition + image) it was.
HOOK_LABEL = "bluegreen.hook"
HOOK_RUN_LABEL = "bluegreen.hook-run"
HOOK_STAGE_LABEL = "bluegreen.hook-stage"

# The values of ROLE_LABEL: what a container is to the deployment.
Role = Literal["app", "router", "router-net", "router-control", "router-bridge", "database", "seed", "hook", "network"]
ROLE_APP: Final = "app"
ROLE_ROUTER: Final = "router"
# The router's network namespace and host ports: a container that only sleeps, so the router can be
# replaced while its listening sockets stay (bluegreen/router/handover.py).
ROLE_ROUTER_NET: Final = "router-net"
ROLE_ROUTER_CONTROL: Final = "router-control"  # runs the switch's scripts without an exec (router/channel.py)
ROLE_ROUTER_BRIDGE: Final = "router-bridge"  # the router that serves while the router is replaced
ROLE_DATABASE: Final = "database"
ROLE_SEED: Final = "seed"  # the short-lived helper that writes the routing volume before the router starts
ROLE_HOOK: Final = "hook"
ROLE_NETWORK: Final = "network"  # the stack network (and its volume-like objects): labelled for `docker ps -f`


def deployment_name(project: str, stack: str) -> str:
    """`bluegreen-dev`: the prefix of every Docker object and the value of DEPLOYMENT_LABEL."""
    return f"{project}-{stack}"


def network_name(deployment: str) -> str:
    return f"{deployment}-net"


EDGE_NETWORK_SUFFIX = "-edge"


def edge_network_name(deployment: str) -> str:
    """A shared router's network to the routers of the apps joined to it (router.shared, docs/edge.md)."""
    return f"{deployment}{EDGE_NETWORK_SUFFIX}"


def routing_volume_name(deployment: str) -> str:
    return f"{deployment}-routing"


def router_name(deployment: str) -> str:
    return f"{deployment}-router"


def router_net_name(deployment: str) -> str:
    return f"{deployment}-router-net"


def router_control_name(deployment: str) -> str:
    return f"{deployment}-router-control"


def router_bridge_name(deployment: str) -> str:
    return f"{deployment}-router-bridge"


def database_name(deployment: str) -> str:
    """The database container, and the host name the colours reach it by on the stack network."""
    return f"{deployment}-db"


def database_volume_name(deployment: str) -> str:
    return f"{deployment}-db-data"


SERVICE_NAME_MAX = 63  # Swarm: a service name is one DNS label


def service_name(deployment: str, color: str, version: str, spec_hash: str) -> str:
    """A swarm colour's service name: container mode's alias made one DNS label (Swarm refuses dots).

    The version is shortened to fit; the spec hash, which covers the full
    version, keeps two versions apart.
    """
    head, tail = f"{deployment}-{color}-", f"-{spec_hash}"
    label = re.sub(r"[^A-Za-z0-9-]+", "-", version).strip("-")
    return head + label[: max(SERVICE_NAME_MAX - len(head) - len(tail), 0)].rstrip("-") + tail


def task_name(service: str, slot: int) -> str:
    """A Swarm task slot as Swarm names it (`docker service ps`): what a swarm colour's plan lists."""
    return f"{service}.{slot}"


def hook_container_name(deployment: str, stage: str, hook: str) -> str:
    """One container per hook: its next run replaces it, so `docker ps -a` shows the last one."""
    return f"{deployment}-hook-{stage.lower()}-{hook}"
