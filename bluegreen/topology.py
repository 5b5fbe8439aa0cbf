"""What a stack consists of on the Docker host: names and labels of every object.

Pure and shared: the Pulumi components name their resources with it, the
routing plan lists the same container names, and tests can predict both.

Container names carry the version and a short hash of everything that would
make pulumi-docker replace the container. A replacement therefore always has
a new name, so Pulumi's create-before-delete never collides with the old
container, and the router is re-pointed before the old one is removed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from bluegreen.conventions import (
    COLOR_LABEL,
    COLORS,
    DEPLOYMENT_LABEL,
    ROLE_LABEL,
    VERSION_LABEL,
    Color,
    deployment_name,
    network_name,
    program_env,
    router_name,
    routing_volume_name,
)
from bluegreen.settings import StackSettings


@dataclass(frozen=True)
class Topology:
    project: str
    stack: str
    settings: StackSettings

    @property
    def deployment(self) -> str:
        return deployment_name(self.project, self.stack)

    @property
    def network(self) -> str:
        return network_name(self.deployment)

    @property
    def routing_volume(self) -> str:
        return routing_volume_name(self.deployment)

    @property
    def router(self) -> str:
        return router_name(self.deployment)

    def app_env(self, color: Color) -> list[str]:
        """KEY=value pairs of an app container: the program's own, then the user's."""
        s = self.settings
        own = program_env(color, s.color(color).version or "", s.app.port, s.app.profile, s.app.health_path)
        return [f"{k}={v}" for k, v in {**own, **dict(sorted(s.app.env.items()))}.items()]

    def spec_hash(self, color: Color) -> str:
        """Hash of the inputs that replace an app container (the image comes in by version/digest)."""
        s = self.settings
        spec = {
            "version": s.color(color).version,
            "digest": s.color(color).digest,
            "image": s.image.model_dump(mode="json"),
            "env": self.app_env(color),
            "app": s.app.model_dump(mode="json", exclude={"env"}),
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:6]

    def app_containers(self, color: Color) -> list[str]:
        spec = self.settings.color(color)
        if spec.replicas == 0:
            return []
        return [
            f"{self.deployment}-{color}-{spec.version}-{self.spec_hash(color)}-{i + 1}" for i in range(spec.replicas)
        ]

    def all_app_containers(self) -> dict[Color, list[str]]:
        return {c: self.app_containers(c) for c in COLORS}

    def labels(self, role: str, color: Color | None = None) -> dict[str, str]:
        labels = {DEPLOYMENT_LABEL: self.deployment, ROLE_LABEL: role}
        if color is not None:
            labels[COLOR_LABEL] = color
            labels[VERSION_LABEL] = self.settings.color(color).version or ""
        return labels
