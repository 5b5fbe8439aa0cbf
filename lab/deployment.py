"""A blue/green deployment on the real engine, built the way the Pulumi components build it.

Network, app containers with the runtime labels, a router from the shared
base config (bluegreen/router/files.py) with its routing volume: enough for the
switch, status and rollback to be driven exactly as in production.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bluegreen.colors import Color, other
from bluegreen.engine.client import DockerClient
from bluegreen.engine.hardening import APP_DEFAULT, CONTROL, ROUTER
from bluegreen.engine.names import (
    COLOR_LABEL,
    DEPLOYMENT_LABEL,
    ROLE_APP,
    ROLE_LABEL,
    ROLE_ROUTER,
    ROLE_ROUTER_CONTROL,
    ROLE_ROUTER_NET,
    VERSION_LABEL,
    deployment_name,
    network_name,
    router_control_name,
    router_name,
    router_net_name,
    routing_volume_name,
)
from bluegreen.router.channel import CONTROL_CPU_SHARES, CONTROL_CPUS, CONTROL_MEMORY_MB, control_command
from bluegreen.router.files import (
    COMMAND,
    HEALTHCHECK,
    NET_COMMAND,
    ROUTER_SYSCTLS,
    ROUTER_USER,
    STOP_SIGNAL,
    seed_files,
)
from bluegreen.router.layout import LIVE_PORT, PREVIEW_PORT, ROUTING_DIR, TLS_PORT
from bluegreen.router.seed import seed_routing_volume
from lab.dockercli import TEST_LABEL, Container, docker
from lab.images import ROUTER_IMAGE
from lab.paths import ROOT


@dataclass
class Stack:
    name: str  # pulumi stack, e.g. "itest"
    app_image: str
    project: str = "bluegreen"
    containers: dict[str, list[str]] = field(default_factory=lambda: {"blue": [], "green": []})
    routing_volume_size: str | None = None  # e.g. "2m": the routing volume is a tmpfs that small (a full disk)
    control: bool = True  # the router's control container (False: every script runs in an exec, as before it)

    @property
    def deployment(self) -> str:
        return deployment_name(self.project, self.name)

    @property
    def network(self) -> str:
        return network_name(self.deployment)

    @property
    def router(self) -> Container:
        return Container(router_name(self.deployment))

    @property
    def control_name(self) -> str:
        return router_control_name(self.deployment)

    @property
    def net(self) -> str:
        """The container that owns the router's namespace and host ports."""
        return router_net_name(self.deployment)

    def labels(self, role: str, **extra: str) -> list[str]:
        pairs = {DEPLOYMENT_LABEL: self.deployment, ROLE_LABEL: role, **extra}
        return [arg for k, v in pairs.items() for arg in ("--label", f"{k}={v}")] + ["--label", TEST_LABEL]

    def up(self) -> None:
        self.down()
        docker("network", "create", "--label", TEST_LABEL, self.network)
        name, volume = self.router.name, routing_volume_name(self.deployment)
        if self.routing_volume_size:
            docker("volume", "create", "--label", TEST_LABEL, "--driver", "local", "--opt", "type=tmpfs",
                   "--opt", "device=tmpfs", "--opt", f"o=size={self.routing_volume_size}", volume)  # fmt: skip
            # A tmpfs volume lives while a container mounts it: this one keeps it from the seed on.
            docker("run", "-d", "--name", f"{name}-holder", *self.labels("volume-holder"), "-v", f"{volume}:/held",
                   "--entrypoint", "sleep", ROUTER_IMAGE, "infinity")  # fmt: skip
        # As the program does (components/router.py): a net container owns the namespace and the ports,
        # the router joins it, so a bridge router can listen beside it (bluegreen/router/handover.py).
        docker(
            "run", "-d", "--name", self.net, "--network", self.network, *self.labels(ROLE_ROUTER_NET),
            "-p", f"127.0.0.1::{LIVE_PORT}", "-p", f"127.0.0.1::{PREVIEW_PORT}",
            "-p", f"127.0.0.1::{TLS_PORT}",  # answers only once a plan has `tls`
            *[arg for k, v in ROUTER_SYSCTLS.items() for arg in ("--sysctl", f"{k}={v}")],
            "--user", ROUTER_USER, "--stop-signal", "SIGKILL", "--restart", "unless-stopped",
            ROUTER_IMAGE, *NET_COMMAND,
        )  # fmt: skip
        docker(
            "create",
            "--name",
            name,
            "--network",
            f"container:{self.net}",
            *self.labels(ROLE_ROUTER),
            "-v",
            f"{volume}:{ROUTING_DIR}",
            "--stop-signal",
            STOP_SIGNAL,
            "--restart",
            "unless-stopped",
            "--memory",
            "128m",
            *ROUTER.docker_run_args(),
            *HEALTHCHECK.docker_run_args(),
            ROUTER_IMAGE,
            *COMMAND,
        )
        seed_routing_volume(DockerClient(), ROUTER_IMAGE, volume, ROUTER_USER, seed_files())
        docker("start", name)
        if self.control:  # as the program does: the loop a switch asks instead of an exec (router/channel.py)
            docker("run", "-d", "-i", "--init", "--name", self.control_name, "--network", f"container:{self.net}",
                   *self.labels(ROLE_ROUTER_CONTROL), "-v", f"{volume}:{ROUTING_DIR}", "--user", ROUTER_USER,
                   "--restart", "unless-stopped", "--stop-signal", "SIGKILL", "--memory", f"{CONTROL_MEMORY_MB}m",
                   "--cpus", str(CONTROL_CPUS), "--cpu-shares", str(CONTROL_CPU_SHARES), *CONTROL.docker_run_args(),
                   ROUTER_IMAGE, *control_command())  # fmt: skip

    def add(self, color: Color, version: str, count: int = 1, env: dict[str, str] | None = None) -> list[str]:
        names = []
        for i in range(count):
            cname = f"{self.deployment}-{color}-{version}-{len(self.containers[color]) + i + 1}"
            env_args = [
                a
                # The switch tests hold requests open (/slow) and WebSockets (/ws): test endpoints on.
                for k, v in {
                    "APP_COLOR": color,
                    "APP_VERSION": version,
                    "APP_DEBUG_ENDPOINTS": "1",
                    **(env or {}),
                }.items()
                for a in ("-e", f"{k}={v}")
            ]
            docker(
                "run",
                "-d",
                "--name",
                cname,
                "--network",
                self.network,
                "--network-alias",
                self.alias(color, version),
                *self.labels(ROLE_APP, **{COLOR_LABEL: color, VERSION_LABEL: version}),
                "--health-interval",
                "1s",
                "--restart",
                "unless-stopped",
                "--memory",
                "256m",
                *APP_DEFAULT.docker_run_args(),
                *env_args,
                self.app_image,
            )
            names.append(cname)
        self.containers[color] += names
        return names

    def crash_loop(self, color: Color) -> None:
        """Each of the colour's containers becomes a crash loop under the same name and alias: a release whose
        config is refused at start (APP_PORT=eighty), restarted by Docker with its back-off, as production sees one."""
        version = self._version(color) or ""
        for name in self.containers[color]:
            docker("rm", "-f", name)
            docker(
                "run", "-d", "--name", name, "--network", self.network, "--network-alias", self.alias(color, version),
                *self.labels(ROLE_APP, **{COLOR_LABEL: color, VERSION_LABEL: version}),
                "--restart", "always", "-e", f"APP_COLOR={color}", "-e", "APP_PORT=eighty",
                *APP_DEFAULT.docker_run_args(), self.app_image,
            )  # fmt: skip

    def wait_healthy(self) -> None:
        for names in self.containers.values():
            for n in names:
                Container(n).wait_health("healthy", timeout=60)

    def plan(self, active: Color, weight: int = 100, **extra: Any) -> dict[str, Any]:
        """`active` takes `weight`%, the idle colour the rest (the vocabulary of docs/routing.md)."""
        plan: dict[str, Any] = {
            "deployment": self.deployment,
            "active": active,
            "weights": {active: weight, other(active): 100 - weight},
            "colors": {c: self._color_plan(c) for c in ("blue", "green")},
            "drainSeconds": 5,
            "healthGate": {"timeoutSeconds": 20, "intervalSeconds": 0.2, "successes": 1},
        }
        # The lab reads which colour answered from X-Bluegreen-Color, a debug setting off by default.
        edge = {"colorHeader": True, **extra.pop("edge", {})}
        plan.update(extra, edge=edge)
        return plan

    def alias(self, color: Color, version: str) -> str:
        """The network alias every container of one colour and version answers to (as the program gives it)."""
        return f"{self.deployment}-{color}-{version}"

    def _color_plan(self, color: Color) -> dict[str, Any]:
        names, version = self.containers[color], self._version(color)
        same = bool(names) and all(n.startswith(f"{self.deployment}-{color}-{version}-") for n in names)
        alias = self.alias(color, version) if same and version else None
        return {"version": version, "containers": names, "alias": alias}

    def _version(self, color: str) -> str | None:
        names = self.containers[color]
        return names[-1].split("-")[-2] if names else None

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bluegreen", *args, "--stack", self.name, "--project", self.project],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            check=False,
        )

    def start(self, *args: str, stdin: str) -> subprocess.Popen[str]:
        """`cli` in the background (a switch or a rollout to kill, or to race): `stdin` written, then closed."""
        process = subprocess.Popen(
            [sys.executable, "-m", "bluegreen", *args, "--stack", self.name, "--project", self.project],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
        return process

    def switch(self, plan: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
        return self.cli("switch", "--plan", "-", *extra, stdin=json.dumps(plan))

    def reloads(self) -> int:
        """nginx reloads of the router so far (its master logs each one)."""
        # One per reload: nginx also says "signal 1 (SIGHUP) received from N, reconfiguring" before it.
        return docker("logs", self.router.name).stderr.count(": reconfiguring\n")

    def url(self, preview: bool = False) -> str:
        return f"http://127.0.0.1:{Container(self.net).host_port(PREVIEW_PORT if preview else LIVE_PORT)}"

    def https_url(self, preview: bool = False) -> str:
        """The TLS listener (or the preview listener, which speaks TLS too once the plan has `tls`)."""
        return f"https://127.0.0.1:{Container(self.net).host_port(PREVIEW_PORT if preview else TLS_PORT)}"

    def down(self) -> None:
        ids = docker("ps", "-aq", "--filter", f"label={DEPLOYMENT_LABEL}={self.deployment}").stdout.split()
        if ids:
            docker("rm", "-f", "-v", *ids, check=False)
        docker("volume", "rm", "-f", routing_volume_name(self.deployment), check=False)
        docker("network", "rm", self.network, check=False)
        self.containers = {"blue": [], "green": []}


@contextmanager
def two_colors(name: str, app_image: str, routing_volume_size: str | None = None) -> Iterator[Stack]:
    """The deployment the switch tests and benchmarks use: 2 blue (1.0.0) and 2 green (2.0.0), all healthy."""
    stack = Stack(name, app_image, routing_volume_size=routing_volume_size)
    stack.up()
    stack.add("blue", "1.0.0", 2)
    stack.add("green", "2.0.0", 2)
    stack.wait_healthy()
    try:
        yield stack
    finally:
        stack.down()
