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

from bluegreen.live_router import COLOR_LABEL, ROLE_LABEL, STACK_LABEL, VERSION_LABEL
from bluegreen.settings import COLORS, Color, StackSettings


def stack_label(project: str, stack: str) -> str:
    return f"{project}-{stack}"


def network_name(label: str) -> str:
    return f"{label}-net"


def routing_volume_name(label: str) -> str:
    return f"{label}-routing"


def router_name(label: str) -> str:
    return f"{label}-router"


@dataclass(frozen=True)
class Topology:
    project: str
    stack: str
    settings: StackSettings

    @property
    def label(self) -> str:
        return stack_label(self.project, self.stack)

    @property
    def network(self) -> str:
        return network_name(self.label)

    @property
    def routing_volume(self) -> str:
        return routing_volume_name(self.label)

    @property
    def router(self) -> str:
        return router_name(self.label)

    def app_env(self, color: Color) -> list[str]:
        """KEY=value pairs of an app container: the program's own, then the user's."""
        s = self.settings
        own = {
            "APP_COLOR": color,
            "APP_VERSION": s.color(color).version or "",
            "APP_PORT": str(s.app.port),
            "APP_PROFILE": s.app.profile,
            "APP_HEALTH_PATH": s.app.health_path,
        }
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
        return [f"{self.label}-{color}-{spec.version}-{self.spec_hash(color)}-{i + 1}" for i in range(spec.replicas)]

    def all_app_containers(self) -> dict[Color, list[str]]:
        return {c: self.app_containers(c) for c in COLORS}

    def labels(self, role: str, color: Color | None = None) -> dict[str, str]:
        labels = {STACK_LABEL: self.label, ROLE_LABEL: role}
        if color is not None:
            labels[COLOR_LABEL] = color
            labels[VERSION_LABEL] = self.settings.color(color).version or ""
        return labels
