"""BlueGreenDeployment: the whole stack, from settings to a switched router."""

from __future__ import annotations

import ipaddress
import urllib.parse

import pulumi
import pulumi_docker as docker

from bluegreen.conventions import COLORS
from bluegreen.routing import plan_from_settings
from bluegreen.settings import StackSettings
from bluegreen.topology import Topology
from components.color_stack import ColorStack
from components.drift import observed_routing
from components.image import AppImage
from components.router import Router
from components.switch import Switch


def public_host(settings: StackSettings) -> str:
    """Host part of the URLs users open: the remote Docker host, else the bind address."""
    if settings.docker.host and not settings.docker.host.startswith("unix://"):
        return urllib.parse.urlsplit(settings.docker.host).hostname or "localhost"
    address = settings.router.bind_address
    return "localhost" if ipaddress.ip_address(address).is_unspecified else address


class BlueGreenDeployment(pulumi.ComponentResource):
    def __init__(
        self, name: str, settings: StackSettings, project: str, stack: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("bluegreen:index:BlueGreenDeployment", name, None, opts)
        topology = Topology(project, stack, settings)
        child = pulumi.ResourceOptions(parent=self)
        invoke_opts = None
        if settings.docker.host:
            provider = docker.Provider(f"{name}-docker", host=settings.docker.host, opts=child)
            child = pulumi.ResourceOptions(parent=self, providers=[provider])
            invoke_opts = pulumi.InvokeOptions(parent=self)

        network = docker.Network(
            f"{name}-net",
            name=topology.network,
            labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in topology.labels("network").items()],
            opts=child,
        )
        images: dict[tuple[str | None, str | None], AppImage] = {}
        self.color_stacks: dict[str, ColorStack] = {}
        for color in COLORS:
            spec = settings.color(color)
            image_id: pulumi.Input[str] = ""
            if spec.replicas > 0:  # an empty colour keeps its (empty) stack, but builds nothing
                key = (spec.version, spec.digest)
                if key not in images:
                    images[key] = AppImage(
                        f"image-{spec.version}", settings.image, spec, settings.docker.host, opts=child
                    )
                image_id = images[key].image_id
            self.color_stacks[color] = ColorStack(color, topology, color, image_id, network, opts=child)
        self.router = Router("router", topology, network, opts=child)

        self.plan = plan_from_settings(settings, topology.deployment, topology.all_app_containers())
        observed = observed_routing(topology, invoke_opts)
        containers = [c for s in self.color_stacks.values() for c in s.containers]
        self.switch = Switch("switch", topology, self.plan, self.router.container, containers, observed, opts=child)

        host = public_host(settings)
        self.url = f"http://{host}:{settings.router.port}"
        self.preview_url = f"http://{host}:{settings.router.preview_port}"
        self.containers = topology.all_app_containers()
        self.register_outputs(
            {
                "url": self.url,
                "previewUrl": self.preview_url,
                "planHash": self.plan.plan_hash(),
                "containers": self.containers,
            }
        )
