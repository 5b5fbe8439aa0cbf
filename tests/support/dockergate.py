"""The Docker gate: skip on a laptop without an engine, fail in CI (BLUEGREEN_REQUIRE_DOCKER=1)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lab.images import PULLS

REQUIRE_DOCKER = os.environ.get("BLUEGREEN_REQUIRE_DOCKER") == "1"


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    probe = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return "no Docker engine answers: " + (probe.stderr.strip().splitlines() or ["?"])[-1]
    return None


def need(condition_problem: str | None) -> None:
    """Skip (laptop) or fail (CI) when a prerequisite of a Docker test is missing."""
    if condition_problem is None:
        return
    if REQUIRE_DOCKER:
        pytest.fail(f"BLUEGREEN_REQUIRE_DOCKER=1 but {condition_problem}", pytrace=False)
    pytest.skip(condition_problem)


def need_image(name: str) -> None:
    if PULLS:
        subprocess.run(["docker", "pull", "-q", name], capture_output=True, check=False, timeout=600)
    found = subprocess.run(["docker", "image", "inspect", name], capture_output=True, check=False, timeout=30)
    need(None if found.returncode == 0 else f"image {name} is missing (run `make images`)")
