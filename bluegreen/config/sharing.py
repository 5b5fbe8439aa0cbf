"""router.shared, router.join and router.hosts: several apps behind one router (docs/edge.md).

One stack owns the router and its host ports (`shared: true`); each app stack
joins it by the owner's stack name and says which host names are its own.
Each app keeps its own router (colours, switch, lock, rollout, metrics,
maintenance, hooks), with no published live port: the owner's router sends
an app's host names to it over the owner's edge network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import StringConstraints

from bluegreen.config.problems import MISSING, Problem
from bluegreen.config.types import Allowed

if TYPE_CHECKING:
    from bluegreen.config.settings import StackSettings

StackName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$", max_length=200),
    Allowed("the owner's stack as Pulumi names it: org/project/stack (organization/bluegreen/edge on a file backend)"),
]


def problems(s: StackSettings) -> list[Problem]:
    """An app joins with host names of its own; what the owner's router does for it, the app may not set."""
    router = s.router
    if router.join is None:
        return [Problem("router.hosts", router.hosts, "empty unless router.join is set")] if router.hosts else []
    found: list[Problem] = []
    if not router.hosts:
        found.append(Problem("router.hosts", MISSING, "the host names the shared router sends to this app"))
    duplicates = sorted({h.lower() for h in router.hosts if [x.lower() for x in router.hosts].count(h.lower()) > 1})
    if duplicates:
        found.append(Problem("router.hosts", duplicates, "each host name once"))
    refused = {
        "router.shared": (router.shared, "false: a stack that joins another's router does not share its own"),
        "tls": (s.tls is not None, "unset: the owner's router terminates TLS (its certificate names the apps' hosts)"),
        "router.edge.proxyProtocol": (router.edge.proxy_protocol, "false: the owner's router speaks plain HTTP here"),
        "orchestrator": (s.orchestrator == "swarm", "container: a swarm router cannot join another yet"),
    }
    for key, (bad, allowed) in refused.items():
        if bad:
            found.append(Problem(key, "swarm" if key == "orchestrator" else "set" if key == "tls" else True, allowed))
    return found
