"""The engine CI starts really runs containers from the base images the tests use."""

from __future__ import annotations

import subprocess

import pytest

from lab.images import BASE_IMAGE, ROUTER_IMAGE
from tests.support.dockergate import need_image

pytestmark = pytest.mark.docker


@pytest.mark.parametrize(
    ("image", "command", "expected"),
    [
        (
            BASE_IMAGE,
            ["python3", "-c", "import sys, venv; print(sys.version_info[:2])"],
            "(3, 11)",
        ),
        (
            ROUTER_IMAGE,
            ["sh", "-c", "id -u && nginx -v 2>&1"],
            "101\nnginx version: nginx/1.",
        ),
    ],
)
def test_stand_in_image_runs(image: str, command: list[str], expected: str) -> None:
    need_image(image)
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image, *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(expected)
