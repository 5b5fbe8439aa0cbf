"""Router: the nginx container that owns the host ports, and its routing volume.

It owns fixed host ports, so a replacement must delete the old router first
(delete_before_replace): seconds with no listener. Its inputs therefore hold
only what rarely changes, and of those only image, ports, bind address and
cpus replace it (memory and the restart policy update in place; the drain bound is nginx
config written by the Switch; bluegreen.router.replacing_changes names the
rest, and the program warns before such a change). Traffic changes never
touch it.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from bluegreen.conventions import LOG_OPTS, ROUTER_STOP_TIMEOUT
from bluegreen.router import COMMAND, ROUTER_SYSCTLS, STOP_SIGNAL, router_files
from bluegreen.routing import LIVE_PORT, PREVIEW_PORT, ROUTING_DIR
from bluegreen.topology import Topology

ROUTER_USER = "101:101"  # nginx-unprivileged's uid; the stand-in image uses the same


class Router(pulumi.ComponentResource):
    container: docker.Container
    volume: docker.Volume

    def __init__(
        self, name: str, topology: Topology, network: docker.Network, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("bluegreen:index:Router", name, None, opts)
        settings = topology.settings.router
        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-image", name=settings.image, keep_locally=True, opts=child)
        self.volume = docker.Volume(
            f"{name}-routing",
            name=topology.routing_volume,
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in topology.labels("router").items()],
            opts=child,
        )
        self.container = docker.Container(
            name,
            name=topology.router,
            image=image.image_id,
            command=COMMAND,
            user=ROUTER_USER,
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in topology.labels("router").items()],
            ports=[
                docker.ContainerPortArgs(internal=LIVE_PORT, external=settings.port, ip=settings.bind_address),
                docker.ContainerPortArgs(
                    internal=PREVIEW_PORT, external=settings.preview_port, ip=settings.bind_address
                ),
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=ROUTING_DIR)],
            uploads=[
                docker.ContainerUploadArgs(file=path, content=text, owner="101", group="101", permissions="0644")
                for path, text in router_files().items()
            ],
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
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"name": topology.router})
