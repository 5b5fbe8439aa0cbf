"""Router: the nginx container that owns the host ports, and its routing volume.

It owns fixed host ports, so a replacement must delete the old router first
(delete_before_replace): seconds with no listener. Its inputs therefore hold
only what rarely changes, and of those only image, ports, bind address and
cpus replace it (memory and the restart policy update in place; the drain bound is nginx
config written by the Switch; bluegreen.router.files.replacing_changes names the
rest, and the program warns before such a change). Traffic changes never
touch it.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from bluegreen.engine.container_spec import LOG_OPTS, ROUTER_STOP_TIMEOUT
from bluegreen.engine.hardening import ROUTER
from bluegreen.engine.names import ROLE_ROUTER
from bluegreen.engine.topology import Topology
from bluegreen.env import ROUTER_FILES_ENV, ROUTER_ID_ENV, ROUTER_IMAGE_ENV
from bluegreen.router.files import (
    COMMAND,
    FILES_LABEL,
    HEALTHCHECK,
    ROUTER_SYSCTLS,
    ROUTER_USER,
    STOP_SIGNAL,
    router_files_hash,
)
from bluegreen.router.layout import LIVE_PORT, PREVIEW_PORT, ROUTING_DIR, TLS_PORT
from components.cli import LOCAL_ENGINE, Engine, bluegreen_cli
from components.hardening import container_args, pids_limit


class Router(pulumi.ComponentResource):
    container: docker.Container
    volume: docker.Volume
    tls: command.local.Command | None  # serves stack config `tls` once the router runs

    def __init__(
        self,
        name: str,
        topology: Topology,
        network: docker.Network,
        engine: Engine = LOCAL_ENGINE,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("bluegreen:index:Router", name, None, opts)
        image = docker.RemoteImage(
            f"{name}-image",
            name=topology.settings.router.image,
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.volume, self.seed = self._seeded_volume(name, topology, image, engine)
        self.container = self._container(name, topology, image, network)
        self.limit = pids_limit(name, self.container, ROUTER.pids_limit, engine)
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

    def _container(
        self, name: str, topology: Topology, image: docker.RemoteImage, network: docker.Network
    ) -> docker.Container:
        settings, tls = topology.settings.router, topology.settings.tls
        labels = {**topology.labels(ROLE_ROUTER), FILES_LABEL: router_files_hash()}
        ports = [
            docker.ContainerPortArgs(internal=LIVE_PORT, external=settings.port, ip=settings.bind_address),
            docker.ContainerPortArgs(
                internal=PREVIEW_PORT, external=settings.preview_port, ip=settings.preview_bind_address
            ),
        ]
        if tls is not None:
            ports.append(docker.ContainerPortArgs(internal=TLS_PORT, external=tls.port, ip=settings.bind_address))
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
            ports=ports,
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=ROUTING_DIR)],
            # Every request opens its own connection to the app (targets are resolved per request):
            # let the router reuse ports still in TIME_WAIT, or a busy router runs out of them.
            sysctls=dict(ROUTER_SYSCTLS),
            memory=settings.memory_mb,
            cpus=f"{settings.cpus:g}",
            restart="unless-stopped",
            log_driver="json-file",
            log_opts=dict(LOG_OPTS),
            stop_signal=STOP_SIGNAL,
            stop_timeout=ROUTER_STOP_TIMEOUT,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
            must_run=True,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, depends_on=[self.seed]),
        )

    def _tls(self, name: str, topology: Topology, engine: Engine) -> command.local.Command | None:
        """The pair travels on stdin as a secret (kept encrypted in state, never in a command line), and is
        served from the next handshake: a rotation is an update of this command, no reload."""
        tls = topology.settings.tls
        if tls is None:
            return None
        install = bluegreen_cli("tls", "install", "--stack", topology.stack, "--project", topology.project, "--stdin")
        return command.local.Command(
            f"{name}-tls",
            create=install,
            update=install,
            stdin=pulumi.Output.secret(json.dumps({"certificate": tls.certificate, "key": tls.key})),
            # A replaced router starts without a certificate: its new id installs it again.
            environment={**engine.env(), ROUTER_ID_ENV: self.container.id},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
        )
