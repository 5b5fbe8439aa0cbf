"""AppImage: the image one version of the app runs, by image id.

Containers get `image_id` (sha256:...), never the tag: a rebuilt or re-pinned
image then rolls the containers, and a moved tag cannot change what runs.
One AppImage per reference (version, or version and digest), built or fetched
once: the live colour's image is never rebuilt by a release of the idle colour.

The build context is relative to the project (Pulumi runs the provider there),
so a preview from another checkout plans nothing; a branch-like version
(`main`) rebuilds when the context's content hash changes, a release version
never does (bluegreen/images/context.py, Topology.build_hash_of).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from bluegreen.config.app import ColorSpec
from bluegreen.config.image import BuildImage, ImageSettings, RegistryImage, S3Image, image_ref
from bluegreen.env import IMAGE_REF_ENV
from components.cli import LOCAL_ENGINE, Engine, bluegreen_cli


def image_name(prefix: str, spec: ColorSpec) -> str:
    """The resource name of a colour's image: its version, and its digest when one is pinned."""
    name = f"{prefix}-image-{spec.version or 'latest'}"
    return f"{name}-{spec.digest.removeprefix('sha256:')[:12]}" if spec.digest else name


class AppImage(pulumi.ComponentResource):
    image_id: pulumi.Output[str]
    ref: str
    image_id_pin: str | None  # s3: the image id the stack file pins

    def __init__(
        self,
        name: str,
        image: ImageSettings,
        spec: ColorSpec,
        build_hash: str = "",
        engine: Engine = LOCAL_ENGINE,
        nodes: Sequence[str] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("bluegreen:index:AppImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        version = spec.version or "latest"
        self.ref = image_ref(image, spec)
        self.image_id_pin = spec.image_id
        if isinstance(image, BuildImage):
            self.image_id = docker.RemoteImage(
                f"{name}-build",
                name=self.ref,
                keep_locally=True,
                build=docker.RemoteImageBuildArgs(
                    context=image.context,
                    dockerfile=image.dockerfile,
                    build_args={
                        "BASE_IMAGE": image.base_image,
                        "RUNTIME_IMAGE": image.runtime_image or image.base_image,
                        "VERSION": version,
                    },
                    tags=[self.ref],
                ),
                triggers={"context": build_hash} if build_hash else None,
                opts=child,
            ).image_id
        elif isinstance(image, RegistryImage):
            self.image_id = docker.RemoteImage(f"{name}-pull", name=self.ref, keep_locally=True, opts=child).image_id
        elif isinstance(image, S3Image):
            self.image_id = self._from_store(name, image, engine, child)
        if nodes and not isinstance(image, RegistryImage):
            self.image_id = self._on_nodes(name, nodes, engine, child)
        self.register_outputs({"imageId": self.image_id, "ref": self.ref})

    def _from_store(
        self, name: str, image: S3Image, engine: Engine, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """Pull the tag from the bucket (checksum verified, docker load) and report its image id.

        The pull's own output goes to stderr, so stdout carries only the id.
        The tag is immutable in the store, so the command runs once per version.
        """
        store = ["--bucket", image.bucket, "--prefix", image.prefix]
        if image.endpoint_url:
            store += ["--endpoint-url", image.endpoint_url, *(["--allow-http"] if image.allow_http else [])]
        # The id the stack file pins: a bucket writer who rewrites the tag's record cannot vouch for a new image.
        pinned = ["--image-id", self.image_id_pin] if self.image_id_pin else []
        pull = bluegreen_cli("image", "pull", self.ref, *store, *pinned)
        inspect = shlex.join(["docker", "image", "inspect", "-f", "{{.Id}}", self.ref])
        loaded = command.local.Command(
            f"{name}-s3",
            create=f"{pull} >&2 && {inspect}",
            # The reference in its own variable, for the policy pack's pin check.
            environment={**engine.env(), IMAGE_REF_ENV: self.ref},
            opts=opts,
        )
        return loaded.stdout.apply(lambda out: (out or "").strip().rsplit("\n", 1)[-1])

    def _on_nodes(
        self, name: str, nodes: Sequence[str], engine: Engine, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """The image on every other node of the swarm before a service can place a task there.

        The id the services run resolves only after the copy, so no service starts before it. A new image
        or a new node list copies again (a node that has the image costs one inspect); removing the
        resource leaves the nodes' images, as `keep_locally` does here.
        """
        copied = command.local.Command(
            f"{name}-nodes",
            create=self.image_id.apply(
                lambda image_id: bluegreen_cli("image", "copy", image_id, *_each("--to", nodes))
            ),
            environment=engine.env(),
            triggers=[self.image_id, *nodes],
            opts=opts,
        )
        return pulumi.Output.all(copied.stdout, self.image_id).apply(lambda both: str(both[1]))


def _each(flag: str, values: Sequence[str]) -> list[str]:
    return [part for value in values for part in (flag, value)]
