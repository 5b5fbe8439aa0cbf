"""Router: the nginx container, the net container that owns its host ports, its control container (the loop
a switch asks to run its scripts, bluegreen/router/channel.py), and its routing volume.

The net container only sleeps: it holds the network namespace, the stack
network and the published ports. The router joins that namespace, so it can
be replaced without a gap (bluegreen/router/handover.py): `handover begin`
starts a bridge router beside it, Pulumi deletes the old router gracefully and
creates the new one (it keeps its name, hence delete_before_replace), and
`handover end` drains the bridge once the new one is healthy. A new image,
cpus or a new bluegreen version's router files are such a hand-over. Only a
new port or bind address replaces the net container: seconds with no
listener (bluegreen.router.files.replacing_changes names both kinds, and the
preview says which). Traffic changes never touch either.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from bluegreen.engine.container_spec import LOG_OPTS, ROUTER_STOP_TIMEOUT
from bluegreen.engine.hardening import CONTROL, ROUTER
from bluegreen.engine.names import (
    ROLE_ROUTER,
    ROLE_ROUTER_CONTROL,
    ROLE_ROUTER_NET,
    router_control_name,
    router_net_name,
)
from bluegreen.engine.readback import DAEMON_MERGED, cpus, limits
from bluegreen.engine.topology import Topology
from bluegreen.env import ROUTER_FILES_ENV, ROUTER_ID_ENV, ROUTER_IMAGE_ENV, ROUTER_SPEC_ENV
from bluegreen.router.channel import (
    CONTROL_CPU_SHARES,
    CONTROL_CPUS,
    CONTROL_MEMORY_MB,
    control_command,
)
from bluegreen.router.files import (
    COMMAND,
    FILES_LABEL,
    HEALTHCHECK,
    NET_COMMAND,
    ROUTER_SYSCTLS,
    ROUTER_USER,
    STOP_SIGNAL,
    router_files_hash,
)
from bluegreen.router.layout import LIVE_PORT, PREVIEW_PORT, ROUTING_DIR, TLS_PORT
from components.cli import LOCAL_ENGINE, Engine, bluegreen_cli
from components.hardening import container_args, pids_limit

NET_MEMORY_MB = 16
NET_PIDS_LIMIT = 8


class Router(pulumi.ComponentResource):
    container: docker.Container
    net: docker.Container
    handover_end: command.local.Command  # the router serves alone again: what a switch waits for
    volume: docker.Volume
    tls: command.local.Command | None  # serves stack config `tls` once the router runs

    def __init__(
        self,
        name: str,
        topology: Topology,
        network: docker.Network,
        engine: Engine = LOCAL_ENGINE,
        opts: pulumi.ResourceOptions | None = None,
        edges: Sequence[pulumi.Input[str]] = (),
    ) -> None:
        """`edges`: the edge network it shares (router.shared) or joins (router.join), besides its stack's."""
        super().__init__("bluegreen:index:Router", name, None, opts)
        self._edges = list(edges)
        image = docker.RemoteImage(
            f"{name}-image",
            name=topology.settings.router.image,
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.volume, self.seed = self._seeded_volume(name, topology, image, engine)
        prepare = self._handover("prepare", name, topology, engine, [], self.seed)
        self.net = self._net(name, topology, image, network, prepare)
        self.net_limit = pids_limit(f"{name}-net", self.net, NET_PIDS_LIMIT, engine)
        self.control = self._control(name, topology, image)
        self.control_limit = pids_limit(f"{name}-control", self.control, CONTROL.pids_limit, engine)
        begin = self._handover("begin", name, topology, engine, [image.image_id, self.net.id, router_files_hash(),
                                                                  cpus(topology.settings.router.cpus)])  # fmt: skip
        self.container = self._container(name, topology, image, begin)
        self.limit = pids_limit(name, self.container, ROUTER.pids_limit, engine)
        self.handover_end = self._handover("end", name, topology, engine, [self.container.id], self.container)
        self.tls = self._tls(name, topology, engine)
        self.register_outputs({"name": topology.router})

    def _seeded_volume(
        self, name: str, topology: Topology, image: docker.RemoteImage, engine: Engine
    ) -> tuple[docker.Volume, command.local.Command]:
        """The routing volume, and its base config, health script and first routing written before the router
        starts (its root filesystem is read-only, so no upload can reach it)."""
        volume = docker.Volume(
            f"{name}-routing",
            name=topology.routing_volume,
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in topology.labels(ROLE_ROUTER).items()],
            opts=pulumi.ResourceOptions(parent=self),
        )
        seed_run = bluegreen_cli("seed-routing", "--volume", topology.routing_volume, "--user", ROUTER_USER)
        seed_run += f' --image "${ROUTER_IMAGE_ENV}"'
        seed = command.local.Command(
            f"{name}-seed",
            create=seed_run,
            update=seed_run,
            environment={**engine.env(), ROUTER_IMAGE_ENV: image.image_id, ROUTER_FILES_ENV: router_files_hash()},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[volume]),
        )
        return volume, seed

    def _net(
        self,
        name: str,
        topology: Topology,
        image: docker.RemoteImage,
        network: docker.Network,
        prepare: command.local.Command,
    ) -> docker.Container:
        """The namespace and the host ports. Made from the router's image for its `sleep` alone, so a new
        router image leaves it (ignore_changes): only its ports, bind addresses and network replace it."""
        settings, tls = topology.settings.router, topology.settings.tls
        ports = [
            docker.ContainerPortArgs(
                internal=PREVIEW_PORT, external=settings.preview_port, ip=settings.preview_bind_address
            ),
        ]
        if settings.join is None:  # a joined app is reached through the shared router only
            ports.insert(0, docker.ContainerPortArgs(internal=LIVE_PORT, external=settings.port,
                                                     ip=settings.bind_address))  # fmt: skip
        if tls is not None:
            ports.append(docker.ContainerPortArgs(internal=TLS_PORT, external=tls.port, ip=settings.bind_address))
        labels = topology.labels(ROLE_ROUTER_NET)
        return docker.Container(
            f"{name}-net",
            name=router_net_name(topology.deployment),
            image=image.image_id,
            command=NET_COMMAND,
            user=ROUTER_USER,
            **container_args(ROUTER),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels.items()],
            ports=ports,
            sysctls=dict(ROUTER_SYSCTLS),
            **limits(NET_MEMORY_MB, 0.1),
            restart="unless-stopped",
            log_driver="json-file",
            log_opts=dict(LOG_OPTS),
            stop_signal="SIGKILL",  # sleep ignores SIGTERM; nothing in it to drain
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=n) for n in [network.name, *self._edges]],
            must_run=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                ignore_changes=["image", *DAEMON_MERGED],
                depends_on=[prepare],
            ),
        )

    def _control(self, name: str, topology: Topology, image: docker.RemoteImage) -> docker.Container:
        """The control loop a switch asks to run its scripts (bluegreen/router/channel.py): in the router's
        namespace, on its volume, as its user; no exec per round. Nothing serves from it: a switch uses an
        exec while it is away (replaced with the image, the loop's text or the net container)."""
        labels = topology.labels(ROLE_ROUTER_CONTROL)
        return docker.Container(
            f"{name}-control",
            name=router_control_name(topology.deployment),
            image=image.image_id,
            command=control_command(),
            user=ROUTER_USER,
            **container_args(CONTROL),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels.items()],
            network_mode=self.net.id.apply(lambda net: f"container:{net}"),
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=ROUTING_DIR)],
            **limits(CONTROL_MEMORY_MB, CONTROL_CPUS),
            cpu_shares=CONTROL_CPU_SHARES,
            init=True,  # reaps the calls the loop leaves behind
            stdin_open=True,
            restart="unless-stopped",
            log_driver="json-file",  # answers, and the loop's own complaints: rotated like the router's
            log_opts=dict(LOG_OPTS),
            stop_signal="SIGKILL",  # nothing in it to drain: a switch mid-call sees a lost answer, as from an exec
            must_run=True,
            # It keeps its name, so the old one goes first (switches use an exec meanwhile).
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, ignore_changes=DAEMON_MERGED, depends_on=[self.seed]
            ),
        )

    def _handover(
        self,
        step: str,
        name: str,
        topology: Topology,
        engine: Engine,
        triggers: list[pulumi.Input[str]],
        after: pulumi.Resource | None = None,
    ) -> command.local.Command:
        """`bluegreen router handover STEP`, run again whenever the router is replaced (`triggers`: what
        replaces it). prepare runs once, before the net container; begin before a replacement, end after."""
        run = bluegreen_cli("router", "handover", step, "--stack", topology.stack, "--project", topology.project)
        return command.local.Command(
            f"{name}-handover-{step}",
            create=run,
            update=run,
            environment={**engine.env(), ROUTER_SPEC_ENV: pulumi.Output.all(*triggers).apply(" ".join)},
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[after] if after is not None else [self.net, self.seed]
            ),
        )

    def _container(
        self, name: str, topology: Topology, image: docker.RemoteImage, begin: command.local.Command
    ) -> docker.Container:
        settings = topology.settings.router
        labels = {**topology.labels(ROLE_ROUTER), FILES_LABEL: router_files_hash()}
        return docker.Container(
            name,
            name=topology.router,
            image=image.image_id,
            command=COMMAND,
            user=ROUTER_USER,
            **container_args(ROUTER),
            # Its own status listener answers: nginx runs and has loaded a routing.
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=list(HEALTHCHECK.test),
                interval=HEALTHCHECK.interval,
                timeout=HEALTHCHECK.timeout,
                start_period=HEALTHCHECK.start_period,
                retries=HEALTHCHECK.retries,
            ),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels.items()],
            # The net container's namespace: its ports, its network, and a bridge router beside this one.
            network_mode=self.net.id.apply(lambda net: f"container:{net}"),
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=ROUTING_DIR)],
            **limits(settings.memory_mb, settings.cpus),
            restart="unless-stopped",
            log_driver="json-file",
            log_opts=dict(LOG_OPTS),
            stop_signal=STOP_SIGNAL,
            stop_timeout=ROUTER_STOP_TIMEOUT,
            # pulumi-docker stops a container before removing it only with this set (else: SIGKILL).
            destroy_grace_seconds=ROUTER_STOP_TIMEOUT,
            must_run=True,
            # It keeps its name, so the old one goes first; the bridge serves meanwhile.
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, ignore_changes=DAEMON_MERGED, depends_on=[self.seed, begin]
            ),
        )

    def _tls(self, name: str, topology: Topology, engine: Engine) -> command.local.Command | None:
        """The pair travels on stdin as a secret (kept encrypted in state, never in a command line), and is
        served from the next handshake: a rotation is an update of this command, no reload."""
        tls = topology.settings.tls
        if tls is None:
            return None
        environment = {**engine.env(), ROUTER_ID_ENV: self.container.id}
        if tls.acme is not None:  # issued by bluegreen at the router: ordered when due, never at every up
            renew = bluegreen_cli("tls", "renew", "--stack", topology.stack, "--project", topology.project, "--stdin")
            return command.local.Command(
                f"{name}-acme",
                create=renew,
                update=renew,
                stdin=json.dumps(tls.acme.model_dump(mode="json", by_alias=True)),
                environment=environment,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
            )
        install = bluegreen_cli("tls", "install", "--stack", topology.stack, "--project", topology.project, "--stdin")
        return command.local.Command(
            f"{name}-tls",
            create=install,
            update=install,
            stdin=pulumi.Output.secret(json.dumps({"certificate": tls.certificate, "key": tls.key})),
            # A replaced router starts without a certificate: its new id installs it again.
            environment=environment,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
        )
