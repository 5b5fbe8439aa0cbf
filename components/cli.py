"""How Pulumi-side code runs the bluegreen CLI: one place for the interpreter and DOCKER_HOST."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pulumi

PROJECT_DIR = Path(__file__).resolve().parent.parent


def bluegreen_cli(*args: str) -> str:
    """`python -m bluegreen ...` with this program's interpreter.

    Relative to the project when it is the project's .venv, so the command
    (a resource input) is the same on every machine that runs `pulumi up`.
    """
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(PROJECT_DIR))
    except ValueError:
        shown = str(python)
    return shlex.join([shown, "-m", "bluegreen", *args])


def docker_env(host: pulumi.Input[str] | None) -> dict[str, pulumi.Input[str]]:
    """DOCKER_HOST for a command; `host` may be a secret Output (docker.host set with --secret)."""
    return {"DOCKER_HOST": host} if host else {}
