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
        settings = topology.settings.router
        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-image", name=settings.image, keep_locally=True, opts=child)
        self.volume = docker.Volume(
            f"{name}-routing",
            name=topology.routing_volume,
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in topology.labels(ROLE_ROUTER).items()],
            opts=child,
        )
        # The base config, health script and first routing go into the volume before the
        # router starts (its root filesystem is read-only, so no upload can reach it).
        seed_run = bluegreen_cli("seed-routing", "--volume", topology.routing_volume, "--user", ROUTER_USER)
        seed_run += ' --image "$BLUEGREEN_ROUTER_IMAGE"'
        files_hash = router_files_hash()
        self.seed = command.local.Command(
            f"{name}-seed",
            create=seed_run,
            update=seed_run,
            environment={
                **engine.env(),
                ROUTER_IMAGE_ENV: image.image_id,
                ROUTER_FILES_ENV: files_hash,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.volume]),
        )
        labels = {**topology.labels(ROLE_ROUTER), FILES_LABEL: files_hash}
        tls = topology.settings.tls
        ports = [
            docker.ContainerPortArgs(internal=LIVE_PORT, external=settings.port, ip=settings.bind_address),
            docker.ContainerPortArgs(
                internal=PREVIEW_PORT, external=settings.preview_port, ip=settings.preview_bind_address
            ),
        ]
        if tls is not None:
            ports.append(docker.ContainerPortArgs(internal=TLS_PORT, external=tls.port, ip=settings.bind_address))
        self.container = docker.Container(
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
        self.limit = pids_limit(name, self.container, ROUTER.pids_limit, engine)
        self.tls = None
        if tls is not None:
            # The pair travels on stdin as a secret (kept encrypted in state, never in a command line),
            # and is served from the next handshake: a rotation is an update of this command, no reload.
            install = bluegreen_cli("tls", "install", "--stack", topology.stack, "--project", topology.project,
                                    "--stdin")  # fmt: skip
            self.tls = command.local.Command(
                f"{name}-tls",
                create=install,
                update=install,
                stdin=pulumi.Output.secret(json.dumps({"certificate": tls.certificate, "key": tls.key})),
                # A replaced router starts without a certificate: its new id installs it again.
                environment={**engine.env(), ROUTER_ID_ENV: self.container.id},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
            )
        self.register_outputs({"name": topology.router})
