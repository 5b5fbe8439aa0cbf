"""router, tls and maintenance: the nginx router's listeners, edge, certificate and maintenance page."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from bluegreen.config.problems import MISSING, Problem
from bluegreen.config.secrets import NOT_SHOWN, SECRET_PLACEHOLDER
from bluegreen.config.sharing import StackName
from bluegreen.config.stacks import is_production
from bluegreen.config.tls import HOW_TO_SET, Acme, pair_problems, read_certificate
from bluegreen.config.types import Allowed, Cpus, HostPort, ImageRef, IpAddress, Model
from bluegreen.engine.container_spec import MAX_DRAIN_SECONDS
from bluegreen.images.pinning import image_problem

if TYPE_CHECKING:
    from bluegreen.config.settings import StackSettings


class RateLimit(Model):
    requests_per_second: int = Field(ge=1, le=100000, description="Sustained rate per client IP.")
    burst: int = Field(20, ge=0, le=100000, description="Requests above the rate queued, then 429.")


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*|[0-9.]+|[0-9a-fA-F:]+")

HostName = Annotated[
    str,
    StringConstraints(pattern=rf"^(?:{HOST_NAME.pattern})$", max_length=253),
    Allowed("a DNS name (a leading *. allowed) or an IP address, such as shop.example.com"),
]


def _check_cidr(value: str) -> str:
    """The network written back normalised (10.1.2.3/8 -> 10.0.0.0/8), so nginx gets exactly what was checked.

    An IPv6 scope id ("%eth0") passes `ip_network` with anything after it, newlines and `;` included, and would
    become nginx directives; a network of every address lets any client choose the address it is logged,
    limited and pinned by.
    """
    if "%" in value:
        raise ValueError("an IPv6 scope id (%...) is not allowed")
    network = ipaddress.ip_network(value, strict=False)
    if network.prefixlen == 0:
        raise ValueError("a network of every address would trust every client's X-Forwarded-For")
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


Cidr = Annotated[
    str,
    AfterValidator(_check_cidr),
    Allowed("an address or network such as 10.0.0.0/8 or 192.0.2.10, without a scope id, not /0"),
]


class Edge(Model):
    """Limits and client addresses at the router: what a load balancer in front would otherwise own.

    Part of the routing plan (a change is an nginx config change: checked,
    then one reload).
    """

    max_body_mb: int = Field(10, ge=1, le=4096, description="Largest request body, MiB; 413 above it.")
    proxy_read_timeout_seconds: int = Field(
        120, ge=1, le=3600, description="Longest silence from the app on a request (and a WebSocket), seconds."
    )
    client_header_timeout_seconds: int = Field(10, ge=1, le=300, description="Time to send the request headers.")
    client_body_timeout_seconds: int = Field(30, ge=1, le=600, description="Longest pause while sending a body.")
    max_connections_per_client: int | None = Field(
        None, ge=1, le=100000, description="Open connections per client address (limit_conn); 429 above it."
    )
    trusted_proxies: list[Cidr] = Field(
        default_factory=list,
        description="Load balancers in front: their X-Forwarded-For (or PROXY protocol) names the client. "
        "Empty: a client's own X-Forwarded-For is never trusted.",
    )
    proxy_protocol: bool = Field(False, description="The load balancer speaks PROXY protocol to the router.")
    upstream_keepalive_seconds: int = Field(
        4,
        ge=0,
        le=300,
        description="How long the router keeps an idle connection to the app for the next request; 0: a new "
        "connection per request. Keep it below the app server's own keep-alive timeout (uvicorn 5 s, node 5 s), "
        "or the app may close a connection the router is about to send a POST on.",
    )
    color_header: bool = Field(
        False,
        description="Add X-Bluegreen-Color (the colour that answered) to live answers, for debugging and tests. "
        "Off: a client that sees its colour could drop its canary cookie until it lands where it wants.",
    )


class TlsListener(Model):
    """What of `tls` the routing needs: the HTTPS listener, redirect and protocol versions (no key material)."""

    port: HostPort = Field(443, description="Host port of the HTTPS live listener (on router.bindAddress).")
    redirect_http: bool = Field(
        True, description="router.port answers 308 to https (path and query kept) instead of serving."
    )
    hsts: bool = Field(False, description="Send Strict-Transport-Security (max-age one year) on HTTPS answers; opt in.")
    min_version: Literal["TLSv1.2", "TLSv1.3"] = Field("TLSv1.2", description="Oldest TLS version accepted.")
    host_names: list[HostName] = Field(
        default_factory=list,
        description="Hosts the HTTP to HTTPS redirect may name (the client's Host when it is one, else the first); "
        "empty: the certificate's names.",
    )


class Tls(TlsListener):
    """TLS at the router (docs/edge.md). A top-level key, not under `router`.

    Pulumi marks a whole top-level key secret, so `--secret --path tls.key`
    keeps every router setting (and what is derived from it) plain.
    """

    certificate: str | None = Field(
        None, min_length=1, description="PEM certificate chain, leaf first; set it with --secret (docs/edge.md)."
    )
    key: str | None = Field(
        None, min_length=1, description="PEM private key of the certificate; must be set with --secret."
    )
    acme: Acme | None = Field(
        None, description="Have the certificate issued and renewed through ACME instead (docs/edge.md)."
    )

    def served_names(self) -> list[str]:
        """The names the router's certificate is for: what ACME orders, or what the given certificate names."""
        if self.acme is not None:
            return list(self.acme.hosts)
        try:
            return list(read_certificate(self.certificate or "").names)
        except ValueError:
            return []  # refused elsewhere with its own message (pair_problems)

    def listener(self) -> TlsListener:
        """The routing's part; the redirect's host names default to the certificate's own."""
        listener = TlsListener.model_validate(self.model_dump(include=set(TlsListener.model_fields)))
        if listener.host_names:
            return listener
        names = [n for n in self.served_names() if HOST_NAME.fullmatch(n)]
        return listener.model_copy(update={"host_names": names})


MAINTENANCE_MESSAGE_MAX = 500  # characters of the page's text (stack config and `bluegreen maintenance`)


class Maintenance(Model):
    """The live listener answers 503 with Retry-After while enabled; the preview listener keeps serving."""

    enabled: bool = Field(False, description="Answer every live request with the maintenance page.")
    message: Annotated[str, StringConstraints(max_length=MAINTENANCE_MESSAGE_MAX)] = Field(
        "Down for maintenance; back soon.", description="Text of the page (HTML-escaped)."
    )
    retry_after_seconds: int = Field(60, ge=1, le=86400, description="Retry-After on every 503, seconds.")


class RouterSettings(Model):
    port: HostPort = Field(8080, description="Host port of the live listener.")
    preview_port: HostPort = Field(8081, description="Host port of the preview listener.")
    bind_address: IpAddress = Field("127.0.0.1", description="Host address the live port binds to.")
    preview_bind_address: IpAddress = Field(
        "127.0.0.1",
        description="Host address the preview port binds to: loopback, so the unreleased colour is reachable "
        "from the host only (ssh -L), unless you open it.",
    )
    image: ImageRef = Field(
        "nginxinc/nginx-unprivileged:1.28.0",
        description="nginx 1.27.4 or later with njs (non-root, listens on 8080); a release tag, so prod accepts "
        "the default.",
    )
    drain_seconds: int = Field(30, ge=0, le=MAX_DRAIN_SECONDS, description="Bound on old connections after a switch.")
    security_headers: bool = Field(True, description="Add HSTS-free security headers (always).")
    rate_limit: RateLimit | None = Field(None, description="Per-client rate limit, 429 beyond it.")
    edge: Edge = Field(default_factory=Edge, description="Limits, timeouts and client addresses (docs/edge.md).")
    memory_mb: int = Field(128, ge=16, le=4096, description="Router memory limit, MiB.")
    cpus: Cpus = Field(0.5, ge=0.1, le=16, description="Router CPU limit, in cores.")
    shared: bool = Field(
        False,
        description="Other stacks may join this router (router.join): it sends their hosts to them over its "
        "edge network. Turning it on replaces the net container once (seconds without a listener).",
    )
    join: StackName | None = Field(
        None,
        description="Serve behind another stack's shared router instead of publishing router.port: "
        "org/project/stack of the owner (docs/edge.md).",
    )
    hosts: list[HostName] = Field(
        default_factory=list,
        description="With router.join: the host names the shared router sends to this app, unique across its apps.",
    )


def _tls_problems(s: StackSettings, secret_tops: Collection[str]) -> list[Problem]:
    """The pair must be usable and the key a secret; its port must be the router's third."""
    if s.tls is None:
        return []
    problems = []
    pair = (s.tls.certificate, s.tls.key)
    if s.tls.acme is not None:  # issued by bluegreen: no pair in the stack file
        if pair != (None, None):
            problems.append(Problem("tls.acme", "set", "either tls.acme or tls.certificate and tls.key, not both"))
    elif None in pair:
        key = "tls.certificate" if s.tls.certificate is None else "tls.key"
        how = HOW_TO_SET.format(key=key.removeprefix("tls."), file="fullchain.pem" if "cert" in key else "privkey.pem")
        problems.append(Problem(key, MISSING, f"set with --secret ({how}), or tls.acme to have one issued"))
    elif "tls" not in secret_tops:
        how = HOW_TO_SET.format(key="key", file="privkey.pem")
        problems.append(Problem("tls.key", NOT_SHOWN, f"a secret, never a plain value in a stack file: {how}"))
    if s.tls.certificate and s.tls.key and SECRET_PLACEHOLDER not in pair:  # secure: values stay opaque
        problems += pair_problems(s.tls.certificate, s.tls.key)
    taken = {s.router.port: "router.port", s.router.preview_port: "router.previewPort"}
    if s.tls.port in taken:
        problems.append(Problem("tls.port", s.tls.port, f"a host port other than {taken[s.tls.port]} ({s.tls.port})"))
    return problems


def problems(s: StackSettings, stack: str, secret_tops: Collection[str]) -> list[Problem]:
    """The router's image pinned, its listeners on distinct ports, PROXY protocol only from known proxies, TLS."""
    found: list[Problem] = []
    router_pinned = image_problem(s.router.image, is_production(stack))
    if router_pinned:
        found.append(Problem("router.image", s.router.image, f"a pinned image ({router_pinned})"))
    if s.router.port == s.router.preview_port:
        found.append(
            Problem(
                "router.previewPort", s.router.preview_port, f"a host port other than router.port ({s.router.port})"
            )
        )
    if s.router.edge.proxy_protocol and not s.router.edge.trusted_proxies:
        found.append(
            Problem(
                "router.edge.proxyProtocol",
                True,
                "false, or the load balancers in router.edge.trustedProxies: PROXY protocol from anyone else lets a "
                "client choose its own address",
            )
        )
    return found + _tls_problems(s, secret_tops)
