"""image and registryAuth: where the colours' images come from (build, registry, s3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints

from bluegreen.config.problems import MISSING, Problem
from bluegreen.config.stacks import is_production
from bluegreen.config.types import Allowed, ImageRef, Model, Name
from bluegreen.images.store import endpoint_problem

if TYPE_CHECKING:
    from bluegreen.config.app import ColorSpec
    from bluegreen.config.settings import StackSettings


class BuildImage(Model):
    """Build the app image from source on the Docker host (no push)."""

    source: Literal["build"] = "build"
    name: Name = Field("bluegreen-app", description="Local repository name of the built image.")
    context: str = Field("app", min_length=1, description="Build context, relative to Pulumi.yaml.")
    dockerfile: str = Field("Dockerfile", min_length=1, description="Dockerfile in the context.")
    base_image: ImageRef = Field("python:3.11-slim", description="BASE_IMAGE build arg: the builder stage's base.")
    runtime_image: ImageRef | None = Field(
        None,
        description="RUNTIME_IMAGE build arg: the final stage's base, the same Python at the same path "
        "(unset: baseImage).",
    )


class RegistryImage(Model):
    """Run an image that a registry already holds, pinned by tag or digest."""

    source: Literal["registry"]
    repository: ImageRef = Field(description="Repository without tag, e.g. acme/shop.")


class S3Image(Model):
    """Load image tarballs from an S3-compatible bucket (no registry needed)."""

    source: Literal["s3"]
    name: Name = Field("bluegreen-app", description="Image name inside the store.")
    bucket: Annotated[
        str,
        StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
        Allowed("an S3 bucket name: 3-63 lowercase letters, digits, '.', '-'"),
    ]
    prefix: str = Field("images", description="Key prefix inside the bucket.")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint; unset for AWS.")
    allow_http: bool = Field(
        False,
        description="Accept a plain http:// endpointUrl that is not a loopback address (anyone on the path "
        "could then swap images).",
    )


ImageSettings = Annotated[BuildImage | RegistryImage | S3Image, Field(discriminator="source")]


class RegistryAuth(Model):
    """Pull credentials for the docker provider (pulumi-docker takes them only from its registry_auth).

    A top-level key, not under `image`: Pulumi marks a whole top-level key
    secret, so `--secret --path registryAuth.password` keeps the image settings
    (and the names derived from them) plain.
    """

    address: Annotated[
        str,
        StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{0,252}(:[0-9]{1,5})?$"),
        Allowed("a registry host[:port] such as registry.example.com"),
    ] = Field(description="Registry host the credentials are for.")
    username: str = Field(min_length=1, max_length=256, description="Registry user.")
    password: str = Field(min_length=1, description="Registry password or token; set it with --secret.")


def image_ref(image: BuildImage | RegistryImage | S3Image, spec: ColorSpec) -> str:
    """The reference a colour's image is built as, pulled by or loaded under (what the pack pin-checks)."""
    version = spec.version or "latest"
    if isinstance(image, RegistryImage):
        return f"{image.repository}@{spec.digest}" if spec.digest else f"{image.repository}:{version}"
    return f"{image.name}:{version}"


def problems(s: StackSettings, stack: str) -> list[Problem]:
    """Where images may come from: an endpoint nobody on the path can answer for, and in production a
    runtime base without the builder's shell, pip and apt (docs/security.md)."""
    found: list[Problem] = []
    image = s.image
    if isinstance(image, S3Image) and image.endpoint_url:
        problem = endpoint_problem(image.endpoint_url, image.allow_http)
        if problem:
            found.append(Problem("image.endpointUrl", image.endpoint_url, problem + " (image.allowHttp: true)"))
    if isinstance(image, BuildImage) and is_production(stack) and image.runtime_image is None:
        found.append(Problem("image.runtimeImage", MISSING, "a runtime base without shell, pip or apt in production "
                             f"(unset, the app runs on the builder's {image.base_image}; docs/images.md)"))  # fmt: skip
    return found
