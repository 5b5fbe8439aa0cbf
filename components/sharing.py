"""Several apps behind one router (docs/edge.md): the owner's edge network, and an app's join to it.

The owner (router.shared) makes a network its router's namespace joins and
exports `edge`: that network, its deployment and how clients reach it. An app
(router.join) reads that export with a StackReference, puts its own router's
namespace on the network, and runs `bluegreen router join` once its first
switch is live, and `router leave` when it is destroyed or joins elsewhere.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from bluegreen.config.tls import uncovered
from bluegreen.engine.names import ROLE_NETWORK, edge_network_name
from bluegreen.engine.topology import Topology
from components.cli import Engine, bluegreen_cli


def edge_network(name: str, topology: Topology, opts: pulumi.ResourceOptions) -> docker.Network:
    """Only routers are on it: the owner's and its apps'; no app container reaches another app's router."""
    labels = topology.labels(ROLE_NETWORK)
    return docker.Network(
        f"{name}-edge",
        name=edge_network_name(topology.deployment),
        labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in labels.items()],
        opts=opts,
    )


def edge_export(topology: Topology) -> dict[str, Any]:
    """What a joining stack reads (its StackReference): where the owner's router is and how clients reach it."""
    settings = topology.settings
    scheme, port = ("https", settings.tls.port) if settings.tls else ("http", settings.router.port)
    names = settings.tls.served_names() if settings.tls else []  # public: any client reads them off the handshake
    return {"deployment": topology.deployment, "network": edge_network_name(topology.deployment),
            "scheme": scheme, "port": port, "names": names}  # fmt: skip


class JoinedRouter(pulumi.ComponentResource):
    """The owner's `edge` export, and this app's entry at the owner's router."""

    edge: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, topology: Topology, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bluegreen:index:JoinedRouter", name, None, opts)
        join = topology.settings.router.join or ""
        reference = pulumi.StackReference(join, opts=pulumi.ResourceOptions(parent=self))
        self.edge = reference.require_output("edge").apply(lambda edge: _edge_of(join, edge))
        self.edge.apply(lambda edge: _warn_uncovered(join, topology.settings.router.hosts, edge))
        self.network: pulumi.Output[str] = self.edge.apply(lambda edge: str(edge["network"]))
        self.register_outputs({"owner": self.edge.apply(lambda edge: edge["deployment"])})

    def entry(
        self, name: str, topology: Topology, engine: Engine, after: list[pulumi.Resource]
    ) -> command.local.Command:
        """`router join` once the app's router routes (`after`); `router leave` when the entry is deleted.

        New hosts are an update: the join rewrites the app's entry in place, with no moment in which the
        app is out. Another owner is a replacement (`triggers`): the new owner's join, then the old one's
        leave."""
        hosts = ",".join(topology.settings.router.hosts)

        def run(action: str, owner: str) -> str:
            return bluegreen_cli("router", action, "--stack", topology.stack, "--project", topology.project,
                                 "--owner", owner, "--hosts", hosts)  # fmt: skip

        owner = self.edge.apply(lambda edge: str(edge["deployment"]))
        return command.local.Command(
            f"{name}-join",
            create=owner.apply(lambda o: run("join", o)),
            update=owner.apply(lambda o: run("join", o)),
            delete=owner.apply(lambda o: run("leave", o)),
            triggers=[owner],
            environment=engine.env(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    def url(self, topology: Topology) -> pulumi.Output[str]:
        """The app's address: its first host name, on the owner's scheme and port."""
        host = topology.settings.router.hosts[0]

        def url(edge: dict[str, Any]) -> str:
            scheme, port = str(edge["scheme"]), int(edge["port"])
            return f"{scheme}://{host}" + ("" if (scheme, port) in (("http", 80), ("https", 443)) else f":{port}")

        return self.edge.apply(url)


def _warn_uncovered(join: str, hosts: list[str], edge: dict[str, Any]) -> None:
    """An owner serving HTTPS must hold a certificate for the app's hosts; nothing adds them to it (its ACME
    order or its certificate is the owner's config), so the app's preview says which are missing."""
    if edge["scheme"] != "https" or "names" not in edge:  # an owner from before it exported its names
        return
    missing = uncovered(hosts, [str(n) for n in edge["names"]])
    if missing:
        pulumi.log.warn(
            f"router.hosts: {', '.join(missing)} not among the names of {join}'s certificate "
            f"({', '.join(edge['names']) or 'none'}): HTTPS clients will refuse them; add them to that stack's "
            "tls.acme.hosts, or to its certificate (docs/edge.md)"
        )


def _edge_of(join: str, edge: Any) -> dict[str, Any]:
    if not isinstance(edge, dict) or not {"deployment", "network", "scheme", "port"} <= set(edge):
        raise pulumi.RunError(
            f"router.join: {join} exports no shared router (its `edge` output); set router.shared: true on that "
            "stack and run pulumi up there first; nothing was changed"
        )
    return edge
