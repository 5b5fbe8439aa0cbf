"""A three-node Docker Swarm on one machine, for tests and the bench: made on entry, removed on exit.

This machine's engine is the manager. Each worker is one more dockerd, in a
network namespace of its own (its own data root, exec root, socket and host
name), linked to a bridge here by a veth pair: the three engines reach each
other over `10.213.0.0/24` as hosts on one LAN would, and overlay traffic
(VXLAN) crosses those links. The namespaces have no route out.

A worker's loss is `Node.power_off`: its link goes down and its engine is
killed, so its tasks stop answering without a goodbye, as when a host loses
power. `power_on` brings it back (the engine restarts, stops what it ran,
and rejoins), which is also how the fixture can remove it cleanly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lab.dockercli import docker
from lab.swarm import swarm_state

BRIDGE, SUBNET = "bgswarm0", "10.213.0"
MANAGER_ADDRESS = f"{SUBNET}.1"
WORKERS = ("bg-node1", "bg-node2")


def _run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def namespaces_problem() -> str | None:
    """Why more engines cannot run here in namespaces of their own; None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [tool for tool in ("ip", "nsenter", "unshare", "dockerd") if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)}"
    probe = _run("ip", "netns", "add", "bg-probe", check=False)
    _run("ip", "netns", "del", "bg-probe", check=False)
    return f"ip netns add failed: {probe.stderr.strip()}" if probe.returncode else None


@dataclass(frozen=True)
class Node:
    """One worker: a dockerd in the network namespace `name`, at `address` on the bridge."""

    name: str
    address: str

    @property
    def root(self) -> Path:
        return Path("/var/lib") / self.name

    @property
    def run_dir(self) -> Path:
        return Path("/run") / self.name

    @property
    def host(self) -> str:
        """Its engine, as `swarm.nodes` names it."""
        return f"unix://{self.run_dir}/docker.sock"

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return docker("-H", self.host, *args, check=check, timeout=timeout)

    def node_id(self) -> str:
        return self.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()

    def _link(self, up: bool) -> None:
        _run("ip", "link", "set", f"veth-{self.name}", "up" if up else "down")

    def start_engine(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        dockerd = [
            "dockerd", "--data-root", str(self.root), "--exec-root", str(self.run_dir),
            "--pidfile", f"{self.run_dir}/docker.pid", "-H", self.host, "--bridge=none", "--iptables=false",
            "--ip6tables=false", "--storage-driver=overlay2", "--log-level=warn",
        ]  # fmt: skip
        # nsenter, not `ip netns exec`: that remounts /sys, and dockerd then finds no cgroup mounts.
        with open(f"/tmp/{self.name}-dockerd.log", "ab") as log:
            subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{self.name}", "unshare", "--uts", "sh", "-c",
                 f'hostname {self.name} && exec "$@"', "sh", *dockerd],
                stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while self.docker("info", check=False, timeout=10).returncode != 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: dockerd did not answer within 60 s (/tmp/{self.name}-dockerd.log)")
            time.sleep(0.3)

    def _engine_pids(self) -> list[int]:
        """dockerd, its containerd and every shim of this node (they outlive a killed dockerd)."""
        found = _run("pgrep", "-f", f"{self.run_dir}/", check=False).stdout.split()
        return [int(pid) for pid in found]

    def _container_pids(self) -> list[int]:
        """Every process of this engine's containers (cgroup v1, cgroupfs: /sys/fs/cgroup/pids/docker/<id>)."""
        ids = self.docker("ps", "-q", "--no-trunc", check=False, timeout=10).stdout.split()
        pids = []
        for cid in ids:
            procs = Path("/sys/fs/cgroup/pids/docker") / cid / "cgroup.procs"
            with contextlib.suppress(OSError):
                pids += [int(pid) for pid in procs.read_text().split()]
        return pids

    def power_off(self) -> float:
        """The host is gone: link down, then every process of its engine and its containers killed at once."""
        doomed = self._container_pids()
        at = time.time()
        self._link(False)
        for pid in [*self._engine_pids(), *doomed]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return at

    def power_on(self, timeout: float = 60) -> None:
        """The link up and the engine started again; back once the manager sees the node Ready."""
        self._link(True)
        self._release_mounts()
        self.start_engine()
        node_id = self.node_id()
        deadline = time.monotonic() + timeout
        while docker("node", "inspect", "-f", "{{.Status.State}}", node_id).stdout.strip() != "ready":
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready {timeout:g}s after its engine started again")
            time.sleep(0.3)

    def stop_engine(self) -> None:
        """SIGTERM and wait, as `systemctl stop docker`; then anything left (a killed engine's shims) is killed."""
        containers = self._container_pids()  # while the engine can still say which are its own
        pidfile = self.run_dir / "docker.pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            deadline = time.monotonic() + 30
            while self.docker("info", check=False, timeout=5).returncode == 0 and time.monotonic() < deadline:
                time.sleep(0.3)
        for pid in [*self._engine_pids(), *containers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        self._release_mounts()

    def _release_mounts(self) -> None:
        """A killed engine leaves its overlay and namespace mounts behind: deepest first."""
        roots = (str(self.root), str(self.run_dir))
        with open("/proc/mounts") as mounts:
            points = [line.split()[1] for line in mounts]
        mine = [p for p in points if p in roots or p.startswith(tuple(f"{root}/" for root in roots))]
        for point in sorted(mine, reverse=True):
            _run("umount", "-l", point, check=False)

    def remove(self) -> None:
        self.stop_engine()
        for path in (self.root, self.run_dir):
            shutil.rmtree(path, ignore_errors=True)
        _run("ip", "link", "del", f"veth-{self.name}", check=False)
        _run("ip", "netns", "del", self.name, check=False)


def _links(nodes: list[Node]) -> None:
    _run("ip", "link", "add", BRIDGE, "type", "bridge")
    _run("ip", "addr", "add", f"{MANAGER_ADDRESS}/24", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")
    for node in nodes:
        _run("ip", "netns", "add", node.name)
        _run("ip", "link", "add", f"veth-{node.name}", "type", "veth", "peer", "name", "eth0", "netns", node.name)
        _run("ip", "link", "set", f"veth-{node.name}", "master", BRIDGE, "up")
        for args in (("addr", "add", f"{node.address}/24", "dev", "eth0"), ("link", "set", "eth0", "up"),
                     ("link", "set", "lo", "up")):  # fmt: skip
            _run("ip", "-n", node.name, *args)


def _tear_down(nodes: list[Node]) -> None:
    for node in nodes:
        node.docker("swarm", "leave", "--force", check=False, timeout=30)
        node.remove()
    if swarm_state() != "inactive":
        docker("swarm", "leave", "--force", check=False)
    _run("ip", "link", "del", BRIDGE, check=False)


def worker_nodes() -> list[Node]:
    return [Node(name, f"{SUBNET}.{i + 2}") for i, name in enumerate(WORKERS)]


def node_names() -> dict[str, str]:
    """Swarm node id -> host name, for every node the manager knows."""
    ids = docker("node", "ls", "-q").stdout.split()
    return {n["ID"]: n["Description"]["Hostname"] for n in json.loads(docker("node", "inspect", *ids).stdout)}


@contextlib.contextmanager
def three_node_swarm() -> Iterator[list[Node]]:
    """This engine as the manager (advertised on the bridge) and two workers; all of it gone afterwards.

    Refuses to start inside a swarm it did not make: leaving that one is not a test's to do. Leftovers of a
    run that was killed (namespaces, engines, the bridge, its swarm) are removed first.
    """
    nodes = worker_nodes()
    ours = docker("info", "--format", "{{.Swarm.NodeAddr}}").stdout.strip() == MANAGER_ADDRESS
    if swarm_state() != "inactive" and not ours:
        raise AssertionError("this engine is already in a swarm; leave it (docker swarm leave --force) first")
    _tear_down(nodes)  # what a killed run left, the swarm it made included
    try:
        _links(nodes)
        for node in nodes:
            node.start_engine()
        docker("swarm", "init", "--advertise-addr", MANAGER_ADDRESS)
        token = docker("swarm", "join-token", "-q", "worker").stdout.strip()
        for node in nodes:
            node.docker("swarm", "join", "--token", token, "--advertise-addr", node.address, f"{MANAGER_ADDRESS}:2377")
        yield nodes
    finally:
        _tear_down(nodes)
