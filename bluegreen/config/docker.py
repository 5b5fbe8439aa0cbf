"""docker: the engine a stack deploys to (a host, a context, or the local engine)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field

from bluegreen.config.problems import MISSING, Problem
from bluegreen.config.stacks import DEV_STACKS_PATTERN
from bluegreen.config.types import DockerContext, DockerHost, Model

if TYPE_CHECKING:
    from bluegreen.config.settings import StackSettings


class DockerSettings(Model):
    host: DockerHost | None = Field(None, description="Docker host to deploy to; unset uses the local engine.")
    context: DockerContext | None = Field(
        None,
        description="A Docker context to deploy to instead of docker.host (pulumi-docker's `context`); the CLI "
        "reads its endpoint and TLS files from the docker config folder.",
    )
    cert_path: str | None = Field(
        None,
        min_length=1,
        description="For a tcp:// host: the folder with ca.pem, cert.pem and key.pem (pulumi-docker's cert_path); "
        "the engine's certificate is always verified.",
    )
    local: bool = Field(
        False,
        description="A non-dev stack without docker.host deploys to the engine of the machine running pulumi "
        "(a single-machine setup); without this it is refused.",
    )


def problems(s: StackSettings, stack: str) -> list[Problem]:
    """One engine, TLS only where it can apply, and an engine named for every stack but dev."""
    found: list[Problem] = []
    if s.docker.host and s.docker.context:
        found.append(Problem("docker.context", s.docker.context, "unset while docker.host is set (one engine)"))
    if s.docker.cert_path and not (s.docker.context or (s.docker.host or "").startswith("tcp://")):
        found.append(
            Problem("docker.certPath", s.docker.cert_path, "set only with a tcp:// docker.host (or docker.context)")
        )
    dev = re.match(DEV_STACKS_PATTERN, stack) is not None
    if (s.docker.host or "").startswith("tcp://") and not s.docker.cert_path and not dev:
        allowed = (
            f"ssh://, or tcp:// with docker.certPath (TLS with a client certificate) on stack '{stack}': a plain "
            "tcp:// engine is root on the host for anyone who reaches the port"
        )
        found.append(Problem("docker.host", s.docker.host, allowed))
    if not s.docker.host and not s.docker.context and not s.docker.local and not dev:
        found.append(
            Problem(
                "docker.host",
                MISSING,
                f"the engine stack '{stack}' deploys to (ssh://user@host, tcp://host:2376), a docker.context, or "
                "docker.local: true when it runs on the machine that runs pulumi; otherwise a CI runner deploys to "
                "itself",
            )
        )
    return found
