from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from lab.deployment import Stack, two_colors
from lab.dockercli import remove_test_containers
from lab.images import BASE_IMAGE, ROUTER_IMAGE, RUNTIME_IMAGE
from lab.paths import ROOT
from tests.support.dockergate import need_image

APP_TEST_VERSION = "itest"


@pytest.fixture(scope="session")
def app_image(docker_engine: None) -> str:
    """The app image, built the way users build it: `make app-image` (offline wheelhouse)."""
    need_image(BASE_IMAGE)
    need_image(RUNTIME_IMAGE)
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "app-image",
            f"VERSION={APP_TEST_VERSION}",
            f"BASE_IMAGE={BASE_IMAGE}",
            f"RUNTIME_IMAGE={RUNTIME_IMAGE}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"make app-image failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return f"bluegreen-app:{APP_TEST_VERSION}"


@pytest.fixture
def containers(docker_engine: None) -> Iterator[None]:
    remove_test_containers()
    yield
    remove_test_containers()


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, app_image: str) -> Iterator[Stack]:
    """The module's deployment, named by its LAB_NAME: 2 blue (1.0.0) and 2 green (2.0.0), all healthy.

    A module's ROUTING_VOLUME_SIZE makes the routing volume a tmpfs that small (a disk that fills up)."""
    need_image(ROUTER_IMAGE)
    size = getattr(request.module, "ROUTING_VOLUME_SIZE", None)
    with two_colors(request.module.LAB_NAME, app_image, routing_volume_size=size) as s:
        yield s


@pytest.fixture
def blue_live(stack: Stack) -> Stack:
    """Each test's starting point: blue takes everything."""
    done = stack.switch(stack.plan("blue"))
    assert done.returncode == 0, done.stderr
    return stack
