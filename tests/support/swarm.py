"""A single-node Docker Swarm for a test or a benchmark: made on entry, left on exit (if this made it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tests.support.dockerutil import docker


def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()


@contextlib.contextmanager
def single_node_swarm() -> Iterator[None]:
    """`docker swarm init` on 127.0.0.1 (this machine has no other address to advertise), then leave again.

    A swarm that was there before is used and kept: it is not this test's to leave.
    """
    made = swarm_state() != "active"
    if made:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        if made:
            docker("swarm", "leave", "--force")
            assert swarm_state() == "inactive", "the node is still in the swarm this made"
