"""How Pulumi-side code runs the bluegreen CLI: one place for the interpreter and the engine it reaches."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Engine:
    """The Docker engine of the stack, handed to every command as the variables the CLI reads.

    The same engine pulumi-docker deploys to: `host` (may be a secret Output,
    docker.host set with --secret) or a Docker `context`, and for a tcp://
    engine the TLS folder `cert_path` (bluegreen/engine/host.py resolves them).
    """

    host: pulumi.Input[str] | None = None
    context: str | None = None
    cert_path: str | None = None

    def env(self) -> dict[str, pulumi.Input[str]]:
        named = {"DOCKER_HOST": self.host, "DOCKER_CONTEXT": self.context, "DOCKER_CERT_PATH": self.cert_path}
        return {key: value for key, value in named.items() if value}


LOCAL_ENGINE = Engine()
