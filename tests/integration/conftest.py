from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.support.dockergate import BASE_IMAGE, RUNTIME_IMAGE, need_image
from tests.support.dockerutil import remove_test_containers
from tests.support.paths import ROOT

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
