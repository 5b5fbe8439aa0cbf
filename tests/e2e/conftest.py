from __future__ import annotations

import subprocess

import pytest

from lab.images import BASE_IMAGE, POSTGRES_IMAGE, ROUTER_IMAGE, RUNTIME_IMAGE
from lab.paths import ROOT
from tests.support.dockergate import need_image


@pytest.fixture(scope="module")
def stand_in_images(docker_engine: None) -> None:
    need_image(BASE_IMAGE)
    need_image(RUNTIME_IMAGE)
    need_image(ROUTER_IMAGE)
    need_image(POSTGRES_IMAGE)
    done = subprocess.run(["make", "--no-print-directory", "wheels"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
