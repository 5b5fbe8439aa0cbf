"""AppImage: the image one version of the app runs, by image id.

Containers get `image_id` (sha256:...), never the tag: a rebuilt or re-pinned
image then rolls the containers, and a moved tag cannot change what runs.
One AppImage per version, built or fetched once: the live colour's image is
never rebuilt by a release of the idle colour.
"""

from __future__ import annotations

import shlex

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from bluegreen.settings import BuildImage, ColorSpec, ImageSettings, RegistryImage, S3Image, image_ref
from components.cli import PROJECT_DIR, bluegreen_cli, docker_env


class AppImage(pulumi.ComponentResource):
    image_id: pulumi.Output[str]
    ref: str

    def __init__(
        self,
        name: str,
        image: ImageSettings,
        spec: ColorSpec,
        docker_host: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("bluegreen:index:AppImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        version = spec.version or "latest"
        self.ref = image_ref(image, spec)
        if isinstance(image, BuildImage):
            self.image_id = docker.RemoteImage(
                f"{name}-build",
                name=self.ref,
                keep_locally=True,
                build=docker.RemoteImageBuildArgs(
                    context=str(PROJECT_DIR / image.context),
                    dockerfile=image.dockerfile,
                    build_args={"BASE_IMAGE": image.base_image, "VERSION": version},
                    tags=[self.ref],
                ),
                opts=child,
            ).image_id
        elif isinstance(image, RegistryImage):
            self.image_id = docker.RemoteImage(f"{name}-pull", name=self.ref, keep_locally=True, opts=child).image_id
        elif isinstance(image, S3Image):
            self.image_id = self._from_store(name, image, docker_host, child)
        self.register_outputs({"imageId": self.image_id, "ref": self.ref})

    def _from_store(
        self, name: str, image: S3Image, docker_host: str | None, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """Pull the tag from the bucket (checksum verified, docker load) and report its image id.

        The pull's own output goes to stderr, so stdout carries only the id.
        The tag is immutable in the store, so the command runs once per version.
        """
        store = ["--bucket", image.bucket, "--prefix", image.prefix]
        if image.endpoint_url:
            store += ["--endpoint-url", image.endpoint_url]
        pull = bluegreen_cli("image", "pull", self.ref, *store)
        inspect = shlex.join(["docker", "image", "inspect", "-f", "{{.Id}}", self.ref])
        loaded = command.local.Command(
            f"{name}-s3",
            create=f"{pull} >&2 && {inspect}",
            environment=docker_env(docker_host) or None,
            opts=opts,
        )
        return loaded.stdout.apply(lambda out: (out or "").strip().rsplit("\n", 1)[-1])
