"""Shared fixtures: repository paths, the Docker gate and the strict-CI flag.

Tests that need a Docker engine carry `@pytest.mark.docker`. On a laptop
without an engine they skip with the reason; with BLUEGREEN_REQUIRE_DOCKER=1
(CI sets it) the same condition fails the test, so CI cannot go green by
skipping what it was meant to prove.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.paths import ROOT
from tests.support.dockergate import docker_problem, need

pytest_plugins = ["tests.support.s3"]  # the S3 fixtures (a moto server on 127.0.0.1)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    need(docker_problem())


@pytest.fixture(autouse=True)
def _docker_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is not None:
        request.getfixturevalue("docker_engine")


@pytest.fixture
def repo_root() -> Path:
    return ROOT
