"""The Pulumi side of bluegreen.engine.hardening: container inputs, and the pids limit pulumi-docker lacks."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from bluegreen.engine.hardening import CAP_DROP, PIDS_LIMIT_COMMAND, SECURITY_OPTS, Hardening
from bluegreen.env import CONTAINER_ENV
from components.cli import Engine, bluegreen_cli


def container_args(hardening: Hardening) -> dict[str, Any]:
    """Keyword arguments of docker.Container that harden it."""
    return {
        "capabilities": docker.ContainerCapabilitiesArgs(drops=list(CAP_DROP), adds=list(hardening.cap_add)),
        "security_opts": list(SECURITY_OPTS),
        "read_only": hardening.read_only,
        "tmpfs": dict(hardening.tmpfs),
    }


def pids_limit(name: str, container: docker.Container, limit: int, engine: Engine) -> command.local.Command:
    """Apply `limit` to the running container, again whenever it is replaced (its id changes).

    A child of the container, so the policy pack finds it there. The limit is
    in the command line and the id in the environment: the pack can read the
    limit in a preview, before the container (and its id) exists.
    """
    run = bluegreen_cli(PIDS_LIMIT_COMMAND, "--limit", str(limit)) + f' "${CONTAINER_ENV}"'
    return command.local.Command(
        f"{name}-pids",
        create=run,
        update=run,
        environment={**engine.env(), CONTAINER_ENV: container.id},
        opts=pulumi.ResourceOptions(parent=container),
    )
