"""Targets: what serves a colour, a container or a Swarm task, as the gate and `status` see it.

The plan names a colour's targets (bluegreen.plan.model.ColorPlan.containers):
container names, or in swarm mode the service's task slots `<service>.<slot>`.
This module turns a name into a Target from the engine's own answer, so the
gate, status and drift read one shape whatever runs the colour.

Swarm adds a task to its service's DNS name only once the task is running,
and with a healthcheck only once it is healthy (checked on this project's
build machine): the router, which resolves the service's name per request,
never sends a request to a task Swarm has not gated. A task being replaced is
not final (Swarm starts another); a container that is gone or exited is.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bluegreen.engine.client import ExecResult
from bluegreen.engine.names import COLOR_LABEL, DIGEST_LABEL, SPEC_LABEL, VERSION_LABEL, task_name

# Task states before "running", in Swarm's order; a task in any of them may still come up.
TASK_COMING = ("new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting")


class Inspector(Protocol):
    """The engine calls targets need (bluegreen.engine.client.DockerClient; fakes in unit tests)."""

    def inspect(self, name: str) -> dict[str, Any] | None: ...

    def get_json(self, path: str, allow: Sequence[int] = ()) -> Any: ...

    # The database container's schema record (bluegreen.release.schema), read only when a colour declares one.
    def exec(
        self, name: str, cmd: Sequence[str], user: str | None = None, timeout: float | None = None
    ) -> ExecResult: ...


@dataclass(frozen=True)
class Target:
    name: str
    color: str | None = None
    version: str | None = None
    digest: str | None = None
    spec: str | None = None
    running: bool = False
    state: str = "missing"  # the engine's word: running, exited, starting, ...
    health: str = "none"  # healthy, unhealthy, starting, none (no healthcheck)
    addresses: Mapping[str, str] = field(default_factory=dict)  # network name -> address
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # network name -> the names it answers to
    alias: str | None = None  # the name routing sends requests to
    task: bool = False
    detail: str = ""  # the engine's own reason (a task's error)
    exit_code: int | None = None  # a container that is not running
    node: str = ""  # a task: the id of the swarm node Swarm placed it on

    def view(self, networks: set[str], alias: str | None = None) -> tuple[str | None, str | None, bool]:
        """(address, problem, final): the target's address on a router network, or why not.

        `final`: waiting cannot fix it (a container gone or exited); a task
        never is, because Swarm replaces it. `alias`: the name the router will
        send requests to; a container that does not answer to it there would
        pass the gate and then serve nothing.
        """
        if self.state == "missing":
            return None, self.detail or ("no running task" if self.task else "no such container"), not self.task
        if not self.running and self.exit_code is not None:
            return None, f"not running ({self.state}, exit code {self.exit_code})", True
        if not self.running:
            return None, f"not running ({self.state}{': ' + self.detail if self.detail else ''})", not self.task
        if self.health not in ("healthy", "none"):
            return None, f"Docker health is {self.health}", False
        shared = sorted(n for n in self.addresses if n in networks)
        if not shared:
            return None, f"not on the router's network(s) {', '.join(sorted(networks))}", True
        address = self.addresses[shared[0]]
        if not address:
            return None, f"no address on network {shared[0]}", False
        if alias and not self.task and alias not in self.aliases.get(shared[0], ()):
            return None, f"does not answer to {alias} on network {shared[0]}, the name the router uses", True
        return address, None, False

    def status(self) -> dict[str, Any]:
        """The entry `bluegreen status` prints (and drift reads)."""
        return {
            "name": self.name, "color": self.color, "version": self.version, "digest": self.digest,
            "spec": self.spec, "state": self.state, "health": self.health, "alias": self.alias,
            "kind": "task" if self.task else "container", **({"node": self.node} if self.task else {}),
        }  # fmt: skip


def container_target(name: str, info: dict[str, Any] | None) -> Target:
    """A container as Docker inspects it; None: it does not exist."""
    if info is None:
        return Target(name)
    state = info.get("State") or {}
    labels = (info.get("Config") or {}).get("Labels") or {}
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    return Target(
        name=name, color=labels.get(COLOR_LABEL), version=labels.get(VERSION_LABEL),
        digest=labels.get(DIGEST_LABEL), spec=labels.get(SPEC_LABEL), running=bool(state.get("Running")),
        state=str(state.get("Status", "unknown")), health=str((state.get("Health") or {}).get("Status", "none")),
        addresses={n: str(v.get("IPAddress") or "") for n, v in networks.items()},
        aliases={n: tuple(v.get("Aliases") or ()) for n, v in networks.items()},
        exit_code=None if state.get("Running") else int(state.get("ExitCode") or 0),
    )  # fmt: skip


def filters(**values: list[str]) -> str:
    """An Engine API list's `filters` query value: one JSON object of lists, quoted."""
    return urllib.parse.quote(json.dumps(values))


def _task_addresses(task: Mapping[str, Any]) -> dict[str, str]:
    """Network name -> the task's address on it (each attachment carries its network, name included; CIDRs)."""
    return {
        str(a.get("Network", {}).get("Spec", {}).get("Name")): str((a.get("Addresses") or [""])[0]).split("/")[0]
        for a in task.get("NetworksAttachments") or []
    }


def serving_addresses(engine: Inspector, networks: set[str]) -> set[str]:
    """The addresses on `networks` of what Docker says serves now: running containers whose healthcheck passed
    (or that have none) and running Swarm tasks (Swarm runs a task only once it is healthy). What an armed probe
    may go to (bluegreen.release.lock): one to an address nobody holds, or to a crash-looping container that
    dies while it connects, hangs until its timeout."""
    query = filters(network=sorted(networks), status=["running"], health=["healthy", "none"])
    containers = engine.get_json(f"/containers/json?filters={query}") or []
    found = {
        str(net.get("IPAddress") or "")
        for c in containers
        for name, net in ((c.get("NetworkSettings") or {}).get("Networks") or {}).items()
        if name in networks
    }
    tasks = engine.get_json(f"/tasks?filters={filters(**{'desired-state': ['running']})}", allow=(503,)) or []
    found |= {
        address
        for t in tasks
        if (t.get("Status") or {}).get("State") == "running"
        for name, address in _task_addresses(t).items()
        if name in networks
    }
    return found - {""}


def task_targets(engine: Inspector, service: Mapping[str, Any]) -> list[Target]:
    """The tasks Swarm wants running for `service` (a /services entry), newest first per slot."""
    name = str(service["Spec"]["Name"])
    labels = service["Spec"].get("Labels") or {}
    tasks = engine.get_json(f"/tasks?filters={filters(service=[name], **{'desired-state': ['running']})}") or []
    found: dict[int, Target] = {}
    for task in sorted(tasks, key=lambda t: str(t.get("CreatedAt", "")), reverse=True):
        slot = int(task.get("Slot") or 0)
        if slot in found:
            continue  # an older task of the slot, still stopping after a start-first update
        status = task.get("Status") or {}
        state = str(status.get("State", "unknown"))
        addresses = _task_addresses(task)
        found[slot] = Target(
            name=task_name(name, slot), color=labels.get(COLOR_LABEL), version=labels.get(VERSION_LABEL),
            digest=labels.get(DIGEST_LABEL), spec=labels.get(SPEC_LABEL), running=state == "running",
            # A task with a healthcheck is "running" only once healthy (Swarm gates it); before, its state says why.
            state=state, health="healthy" if state == "running" else ("starting" if state in TASK_COMING else state),
            addresses=addresses, alias=name, task=True, detail=str(status.get("Err") or status.get("Message") or ""),
            node=str(task.get("NodeID") or ""),
        )  # fmt: skip
    return [found[s] for s in sorted(found)]


def service_of(engine: Inspector, name: str) -> dict[str, Any] | None:
    found = engine.get_json(f"/services/{urllib.parse.quote(name)}", allow=(404,))
    return found if isinstance(found, dict) and found.get("Spec") else None


class Resolver:
    """Name -> Target for one gate round: a service's tasks are listed once per round, not once per slot."""

    def __init__(self, engine: Inspector, swarm: bool = False) -> None:
        self.engine, self.swarm = engine, swarm
        self.kind = "task" if swarm else "container"
        self._tasks: dict[str, dict[int, Target]] = {}

    def new_round(self) -> None:
        self._tasks = {}

    def target(self, name: str) -> Target:
        if not self.swarm:
            return container_target(name, self.engine.inspect(name))
        service, _, slot = name.rpartition(".")
        if service not in self._tasks:
            found = service_of(self.engine, service)
            if found is None:
                return Target(name, detail=f"no such service {service}")  # final: Swarm will not make it
            self._tasks[service] = {int(t.name.rpartition(".")[2]): t for t in task_targets(self.engine, found)}
        return self._tasks[service].get(int(slot), Target(name, alias=service, task=True))
