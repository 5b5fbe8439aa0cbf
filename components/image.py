"""AppImage: the image one version of the app runs, by image id.

Containers get `image_id` (sha256:...), never the tag: a rebuilt or re-pinned
image then rolls the containers, and a moved tag cannot change what runs.
One AppImage per version, built once: the live colour's image is never
rebuilt by a release of the idle colour.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_docker as docker

from bluegreen.settings import BuildImage, ColorSpec, ImageSettings, RegistryImage

PROJECT_DIR = Path(__file__).resolve().parent.parent


class AppImage(pulumi.ComponentResource):
    image_id: pulumi.Output[str]
    ref: str

    def __init__(
        self, name: str, image: ImageSettings, spec: ColorSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("bluegreen:index:AppImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        version = spec.version or "latest"
        if isinstance(image, BuildImage):
            self.ref = f"{image.name}:{version}"
            remote = docker.RemoteImage(
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
            )
        elif isinstance(image, RegistryImage):
            self.ref = f"{image.repository}@{spec.digest}" if spec.digest else f"{image.repository}:{version}"
            remote = docker.RemoteImage(f"{name}-pull", name=self.ref, keep_locally=True, opts=child)
        else:  # refused by settings validation; kept explicit for the type checker
            raise pulumi.RunError(f"image.source: got {image.source!r}; allowed: 'build' or 'registry'")
        self.image_id = remote.image_id
        self.register_outputs({"imageId": self.image_id, "ref": self.ref})
