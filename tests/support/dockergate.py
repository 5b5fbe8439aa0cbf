"""The Docker gate: skip on a laptop without an engine, fail in CI (BLUEGREEN_REQUIRE_DOCKER=1)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REQUIRE_DOCKER = os.environ.get("BLUEGREEN_REQUIRE_DOCKER") == "1"
# Base images the Docker tests build and run. The stand-ins (make images) by
# default; a runner that can pull sets the real ones (see .github/workflows/ci.yml).
BASE_IMAGE = os.environ.get("BLUEGREEN_TEST_BASE_IMAGE", "bluegreen-local/python:3.11")
# The app image's final stage (RUNTIME_IMAGE): the same Python at the same path as BASE_IMAGE.
RUNTIME_IMAGE = os.environ.get("BLUEGREEN_TEST_RUNTIME_IMAGE", "bluegreen-local/python-runtime:3.11")
ROUTER_IMAGE = os.environ.get("BLUEGREEN_TEST_ROUTER_IMAGE", "bluegreen-local/nginx:1.22")
# PostgreSQL for database.mode container: the official image's contract, uid 999.
POSTGRES_IMAGE = os.environ.get("BLUEGREEN_TEST_POSTGRES_IMAGE", "bluegreen-local/postgres:15")
PULLS = os.environ.get("BLUEGREEN_TEST_PULL") == "1"


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
