"""app and the two colours (`blue`, `green`): what the app containers run, and the rules that span them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StringConstraints

from bluegreen.colors import COLORS, Color
from bluegreen.config.image import RegistryImage, S3Image
from bluegreen.config.problems import MISSING, Problem
from bluegreen.config.stacks import is_production
from bluegreen.config.types import (
    Allowed,
    Cpus,
    Digest,
    EnvName,
    EnvValue,
    ImageTag,
    Model,
    Profile,
    SchemaVersions,
    UrlPath,
)
from bluegreen.engine.container_spec import RESERVED_ENV
from bluegreen.engine.hardening import APP_PIDS_LIMIT, APP_TMPFS_MB, TMP, Hardening, is_root_user
from bluegreen.images.pinning import image_problem

if TYPE_CHECKING:
    from bluegreen.config.settings import StackSettings


class ColorSpec(Model):
    """What one colour runs. `replicas: 0` means the colour is not deployed."""

    version: ImageTag | None = Field(None, description="Image tag this colour runs.")
    digest: Digest | None = Field(
        None,
        description="Pin this version's image by digest (registry source); refused once it is another version's.",
    )
    replicas: int = Field(1, ge=0, le=10, description="Containers of this colour.")
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict,
        description="Environment of this colour only, over app.env (a canary-only flag, an injected fault).",
    )
    image_id: Digest | None = Field(
        None,
        description="s3 source: the image id `bluegreen image push` printed; the pull refuses any other image "
        "(the bucket's record cannot vouch for itself). Required in production.",
    )
    schema_versions: SchemaVersions | None = Field(
        None,
        description="Database schema versions this release runs on (3, or 2-3); traffic never reaches it on "
        "another (docs/database.md). Unset: not checked.",
    )


class Resources(Model):
    memory_mb: int = Field(256, ge=32, le=65536, description="Memory limit per container, MiB.")
    cpus: Cpus = Field(0.5, ge=0.1, le=64, description="CPU limit per container, in cores.")


Capability = Annotated[
    str,
    StringConstraints(pattern=r"^(CAP_)?[A-Z][A-Z_]{1,31}$"),
    Allowed("a Linux capability name such as NET_BIND_SERVICE (uppercase)"),
]


class AppSecurity(Model):
    """Hardening an app may need to relax; `bluegreen validate` lists every relaxed value."""

    read_only_root_filesystem: bool = Field(
        True, description="Read-only root filesystem; the app writes only to its /tmp tmpfs."
    )
    tmp_size_mb: int = Field(APP_TMPFS_MB, ge=1, le=4096, description="Size of the /tmp tmpfs, MiB (counts as memory).")
    cap_add: list[Capability] = Field(
        default_factory=list, description="Capabilities added back after dropping ALL (the pack's allowlist applies)."
    )
    pids_limit: int = Field(APP_PIDS_LIMIT, ge=16, le=65536, description="Processes and threads per container.")

    def hardening(self) -> Hardening:
        return Hardening(
            read_only=self.read_only_root_filesystem,
            cap_add=tuple(c.removeprefix("CAP_") for c in self.cap_add),
            pids_limit=self.pids_limit,
            tmpfs_mb={TMP: self.tmp_size_mb},
        )

    def relaxed(self) -> list[str]:
        """`key value (default ...)` for each setting weaker than the default."""
        found = []
        if not self.read_only_root_filesystem:
            found.append("app.security.readOnlyRootFilesystem false (default true): the root filesystem is writable")
        if self.cap_add:
            found.append(f"app.security.capAdd {', '.join(self.cap_add)} (default none): capabilities added back")
        if self.pids_limit > APP_PIDS_LIMIT:
            found.append(f"app.security.pidsLimit {self.pids_limit} (default {APP_PIDS_LIMIT})")
        return found


UserSpec = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$"),
    Allowed("a user as uid[:gid] or name[:group], e.g. 10001:10001"),
]


class AppSettings(Model):
    port: int = Field(8000, ge=1024, le=65535, description="Port the app listens on inside its container.")
    health_path: UrlPath = Field("/health/ready", description="Readiness path probed by the gate.")
    profile: Profile = Field("production", description="APP_PROFILE given to the app.")
    env: dict[EnvName, EnvValue] = Field(default_factory=dict, description="Extra environment for every app container.")
    resources: Resources = Field(default_factory=Resources, description="Limits per app container.")
    stop_grace_seconds: int = Field(
        30, ge=1, le=600, description="SIGTERM to SIGKILL on stop; in-flight requests finish."
    )
    user: UserSpec = Field("10001:10001", description="User the app runs as (never root).")
    security: AppSecurity = Field(default_factory=AppSecurity, description="Container hardening (docs/security.md).")
    health_command: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=lambda: ["python", "-S", "-m", "bluegreen_app.healthcheck"],
        min_length=1,
        description="Docker healthcheck command (exit 0 = healthy), run inside the app container.",
    )


# Capabilities that undo the container boundary: production refuses them in `validate`, not only in the pack.
HOST_CAPABILITIES = frozenset({"ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "NET_ADMIN", "DAC_READ_SEARCH"})


def _hardening_problems(s: StackSettings, stack: str) -> list[Problem]:
    found: list[Problem] = []
    security = s.app.security
    broad = sorted(c for c in security.cap_add if c.removeprefix("CAP_") in HOST_CAPABILITIES)
    if broad:
        found.append(Problem("app.security.capAdd", security.cap_add, f"none of {', '.join(broad)} on production "
                             f"stack '{stack}' (they reach past the container: docs/security.md)"))  # fmt: skip
    if not security.read_only_root_filesystem:
        found.append(Problem("app.security.readOnlyRootFilesystem", False, f"true on production stack '{stack}' "
                             "(write to /tmp or a volume instead)"))  # fmt: skip
    return found


def _image_id_problems(s: StackSettings, color: Color, production: bool) -> list[Problem]:
    """An s3 image's identity comes from the stack file, reviewed in the pull request that releases it."""
    spec = s.color(color)
    if spec.image_id and not isinstance(s.image, S3Image):
        return [Problem(f"{color}.imageId", spec.image_id, f"unset; an image id pins an s3 image, but image.source "
                                                             f"is '{s.image.source}'")]  # fmt: skip
    if production and isinstance(s.image, S3Image) and spec.replicas > 0 and not spec.image_id:
        return [Problem(f"{color}.imageId", MISSING, "the image id `bluegreen image push` printed (production pulls "
                                                     "from s3 only an image the stack file pins)")]  # fmt: skip
    return []


def problems(s: StackSettings, stack: str) -> list[Problem]:
    """Each colour's version (pinned enough for the stack), its digest, the program's own env names, the user."""
    found: list[Problem] = []
    production = is_production(stack)
    for color in COLORS:
        spec = s.color(color)
        if spec.replicas > 0 and not spec.version:
            found.append(
                Problem(f"{color}.version", MISSING, f"an image tag, because {color}.replicas is {spec.replicas}")
            )
        elif spec.replicas > 0:
            pinned = image_problem(s.image_ref(color), production)
            if pinned:
                where = f"stack '{stack}' is production" if production else "every stack"
                found.append(Problem(f"{color}.version", spec.version, f"a pinned version ({where}: {pinned})"))
        if spec.digest and not isinstance(s.image, RegistryImage):
            found.append(
                Problem(
                    f"{color}.digest",
                    spec.digest,
                    f"unset; a digest pins a registry image, but image.source is '{s.image.source}'",
                )
            )
        found += _image_id_problems(s, color, production)
    for where, env in (("app.env", s.app.env), ("blue.env", s.blue.env), ("green.env", s.green.env)):
        for name in sorted(RESERVED_ENV.intersection(env)):
            found.append(
                Problem(
                    f"{where}.{name}",
                    env[name],
                    "unset; the program sets " + ", ".join(sorted(RESERVED_ENV)) + " itself",
                )
            )
    if production:
        found += _hardening_problems(s, stack)
    if is_root_user(s.app.user):
        found.append(Problem("app.user", s.app.user, "a non-root user, e.g. 10001:10001"))
    return found
