"""What a stack consists of on the Docker host: names and labels of every object.

Pure and shared: the Pulumi components name their resources with it, the
routing plan lists the same container names, and tests can predict both.

Container names carry the version and a short hash of everything that would
make pulumi-docker replace the container. A replacement therefore always has
a new name, so Pulumi's create-before-delete never collides with the old
container, and the router is re-pointed before the old one is removed.
Secret values enter that hash only through an HMAC under the deployment's
name key (bluegreen/config/secrets.py), so a name never reveals them.

A colour that serves traffic and whose spec, environment aside, is unchanged
is *held* (`held`): it keeps its live name, and the program keeps the
environment it runs, so an `app.env` change replaces only the idle colour and
reaches the live one at its next release. Something untouched always remains
to roll back to.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from bluegreen.colors import COLORS, Color
from bluegreen.config.secrets import Secrets, keyed_digest
from bluegreen.config.settings import StackSettings
from bluegreen.engine.container_spec import program_env
from bluegreen.engine.names import (
    COLOR_LABEL,
    DEPLOYMENT_LABEL,
    DIGEST_LABEL,
    ROLE_LABEL,
    SPEC_LABEL,
    VERSION_LABEL,
    Role,
    deployment_name,
    network_name,
    router_name,
    routing_volume_name,
    service_name,
    task_name,
)
from bluegreen.images.pinning import is_immutable_tag


@functools.lru_cache(maxsize=8)
def _scrypt(data: bytes, salt: bytes) -> str:
    return hashlib.scrypt(data, salt=salt, n=2**14, r=8, p=1, dklen=16).hex()


def credentials_fingerprint(secrets: Mapping[str, str], deployment: str) -> str | None:
    """A fingerprint of the database credentials the stack config gives, for labels and plans: scrypt, so
    even a weak password cannot be found from it by trying (a plain hash would let a label do that)."""
    if not secrets:
        return None
    return _scrypt(json.dumps(dict(secrets), sort_keys=True).encode(), f"bluegreen:{deployment}".encode())


@dataclass(frozen=True)
class Topology:
    project: str
    stack: str
    settings: StackSettings
    secrets: Secrets = field(default_factory=Secrets)
    build_hash: str = ""  # content hash of the build context (image.source build), see components/image.py
    held: Mapping[Color, str] = field(default_factory=dict)  # colour -> the live alias it keeps (see the module)

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
        """KEY=value pairs of an app container: the program's own, then app.env, then the colour's own env."""
        s = self.settings
        own = program_env(color, s.color(color).version or "", s.app.port, s.app.profile, s.app.health_path)
        user = {**s.app.env, **s.color(color).env}
        return [f"{k}={v}" for k, v in {**own, **dict(sorted(user.items()))}.items()]

    def build_hash_of(self, color: Color) -> str:
        """The build context's hash where it decides the image: built images of a branch-like version.

        A release version (1.4.2) names one build: a later code change must
        not rebuild the colour that still runs it, or rollback would return
        to code that never ran.
        """
        version = self.settings.color(color).version or ""
        return "" if not self.build_hash or is_immutable_tag(version) else self.build_hash

    @property
    def database_secrets(self) -> dict[str, str]:
        """The database credentials stack config gives (a generated password never changes, so it is not here)."""
        db = self.settings.database
        return {f"database.{k}": v for k, v in (("password", db.password), ("url", db.url)) if v}

    @property
    def needs_name_key(self) -> bool:
        """Whether container names depend on secret values (and so on the name key)."""
        return bool(self.secrets.env) or bool(self.database_secrets)

    def _base_spec(self, color: Color) -> dict[str, object]:
        s = self.settings
        return {
            "ref": s.image_ref(color),
            "build": self.build_hash_of(color),
            "image": s.image.model_dump(mode="json"),
            "app": s.app.model_dump(mode="json", exclude={"env"}),
            # What APP_DATABASE_URL is made of. Not the database's image or limits: a bigger database must not
            # replace both colours. Its credentials as a slow fingerprint: a rotated password is a new spec, so
            # no live colour is held on the old one (it could no longer log in).
            **({"database": s.database.model_dump(mode="json", include={"mode", "name", "user"}),
                "credentials": credentials_fingerprint(self.database_secrets, self.deployment)}
               if s.database.mode != "none" else {}),
            # A Swarm service's `auth` is a create-time input (ForceNew): a rotated registry password must be
            # a new service name, or the replacement is refused (the old service still holds the name).
            **({"registry": credentials_fingerprint(s.registry_auth.model_dump(mode="json"), self.deployment)}
               if self.swarm and s.registry_auth else {}),
        }  # fmt: skip

    def database_spec(self) -> str:
        """SPEC_LABEL of the database container: what replaces it (the preview warns when it changes).

        Only what replaces it anyway: a label is a create-time input, so memory (updated in place) stays out."""
        db = self.settings.database
        spec = {"settings": db.model_dump(mode="json", include={"mode", "image", "name", "user", "run_as"}),
                "cpus": db.resources.cpus,
                "credentials": credentials_fingerprint(self.database_secrets, self.deployment)}  # fmt: skip
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

    def spec_label(self, color: Color) -> str:
        """SPEC_LABEL's value: what replaces an app container, its environment aside."""
        return hashlib.sha256(json.dumps(self._base_spec(color), sort_keys=True).encode()).hexdigest()[:12]

    def spec_hash(self, color: Color, name_key: str | None = None) -> str:
        """Hash of the inputs that replace an app container (the image comes in by reference and build hash)."""
        s = self.settings
        secret = {k: v for k, v in s.app.env.items() if k in self.secrets.env}
        secret.update(self.database_secrets)
        if secret and not name_key:
            raise ValueError("container names depend on secret values: pass the deployment's name key")
        spec = {
            **self._base_spec(color),
            "env": [pair for pair in self.app_env(color) if pair.partition("=")[0] not in secret],
            "secret": keyed_digest(name_key, secret) if secret and name_key else None,
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:6]

    def app_alias(self, color: Color, name_key: str | None = None) -> str | None:
        """The network alias every replica of the colour answers to; the router sends requests to it."""
        spec = self.settings.color(color)
        if spec.replicas == 0:
            return None
        if color in self.held:
            return self.held[color]
        if self.swarm:
            return service_name(self.deployment, color, spec.version or "", self.spec_hash(color, name_key))
        return f"{self.deployment}-{color}-{spec.version}-{self.spec_hash(color, name_key)}"

    def app_containers(self, color: Color, name_key: str | None = None) -> list[str]:
        """What the plan lists per colour: its containers, or in swarm mode its service's task slots.

        In swarm mode the alias is the service's name, which Swarm's DNS
        resolves to the colour's healthy tasks (endpoint mode dnsrr).
        """
        alias = self.app_alias(color, name_key)
        if not alias:
            return []
        slots = range(1, self.settings.color(color).replicas + 1)
        return [task_name(alias, i) if self.swarm else f"{alias}-{i}" for i in slots]

    @property
    def swarm(self) -> bool:
        return self.settings.orchestrator == "swarm"

    def all_app_containers(self, name_key: str | None = None) -> dict[Color, list[str]]:
        return {c: self.app_containers(c, name_key) for c in COLORS}

    def all_aliases(self, name_key: str | None = None) -> dict[Color, str | None]:
        return {c: self.app_alias(c, name_key) for c in COLORS}

    def labels(self, role: Role, color: Color | None = None) -> dict[str, str]:
        labels = {DEPLOYMENT_LABEL: self.deployment, ROLE_LABEL: role}
        if color is not None:
            labels[COLOR_LABEL] = color
            labels[VERSION_LABEL] = self.settings.color(color).version or ""
            labels[SPEC_LABEL] = self.spec_label(color)
            if self.settings.color(color).digest:
                labels[DIGEST_LABEL] = self.settings.color(color).digest or ""
        return labels
