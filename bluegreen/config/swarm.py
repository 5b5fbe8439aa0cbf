"""swarm: what `orchestrator: swarm` needs besides the engine it deploys to.

The nodes' engines are listed because an image that no registry serves (built
here, or from the S3 store) exists only on the engine that made it; a task
Swarm places on another node would fail with `No such image`. Encryption is
on by default: overlay traffic between hosts is plain VXLAN otherwise, and a
colour's requests would cross the LAN readable by anyone on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bluegreen.config.problems import Problem
from bluegreen.config.types import DockerHost, Model

if TYPE_CHECKING:
    from bluegreen.config.settings import StackSettings


class SwarmSettings(Model):
    nodes: list[DockerHost] = Field(
        default_factory=list,
        description="The engines of the swarm's other nodes (ssh://user@node2, ...): an image from build or s3 is "
        "copied to each and checked by id before its colour's service starts. Not needed with image.source "
        "registry, where every node pulls.",
    )
    encrypted: bool = Field(
        True,
        description="Encrypt the stack network's traffic between nodes (IPsec; the kernel needs ESP). Read when "
        "the network is made: an existing network keeps what it was made with (docs/swarm.md).",
    )


def problems(s: StackSettings) -> list[Problem]:
    """swarm.* only in swarm mode; each node once, and not the deploying engine."""
    if s.orchestrator != "swarm":
        return [
            Problem(f"swarm.{key}", value, "unset unless orchestrator is swarm")
            for key, value, default in (("nodes", s.swarm.nodes, []), ("encrypted", s.swarm.encrypted, True))
            if value != default
        ]
    found: list[Problem] = []
    seen: set[str] = set()
    for node in s.swarm.nodes:
        if node in seen or node == s.docker.host:
            why = "the deploying engine (docker.host)" if node == s.docker.host else "listed twice"
            found.append(Problem("swarm.nodes", node, f"each other node once: {node!r} is {why}"))
        seen.add(node)
    return found
