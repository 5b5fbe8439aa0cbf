"""The router's edge as nginx config: limits, whose addresses to believe, and who may use the preview.

What a load balancer in front would otherwise own (router.edge in stack
config), plus the two rules that protect the unreleased colour and the
clients of a router that is shutting down.
"""

from __future__ import annotations

from collections.abc import Sequence

from bluegreen.config.router import Edge

# How long a kept-alive client of a worker that shuts down may still send its next request.
KEEPALIVE_GRACE_SECONDS = 5

PREVIEW_REFUSED = '{"error":"the preview is not for containers of the stack network"}'


def preview_guard(stack_networks: Sequence[tuple[str, str]]) -> str:
    """Who may not use the preview listener: the containers of the router's own networks.

    The preview serves the colour that is not released yet, for the operator
    (it is published on 127.0.0.1 by default). A request for it from the live
    app (an SSRF, a compromised dependency) must not reach the unreleased
    colour through the router's network address. Requests through the
    published port arrive from the network's gateway (Docker's proxy, or the
    NAT of a host address), or with the client's own address: those pass.
    """
    rows = "".join(
        f"    {network} 1;\n" + (f"    {gateway} 0;\n" if gateway else "") for network, gateway in stack_networks
    )
    return f"geo $bg_preview_blocked {{\n    default 0;\n{rows}}}"


def edge_config(edge: Edge, drain_seconds: int, edge_networks: Sequence[str] | None = None) -> str:
    """Body and time limits, the per-client connection limit, and whose X-Forwarded-For to believe: the
    trusted proxies, and for an app joined to a shared router (`edge_networks` given), the owner's edge network."""
    keepalive_grace = max(1, min(KEEPALIVE_GRACE_SECONDS, drain_seconds - 1))  # inside the drain bound
    lines = [
        # A kept-alive client of a worker that is shutting down (a reload, a router hand-over) gets this long
        # to send its next request, answered with `Connection: close`, before nginx closes the connection:
        # no request races the close (nginx 1.27.4 and later).
        f"keepalive_min_timeout {keepalive_grace}s;",
        f"client_max_body_size {edge.max_body_mb}m;",
        f"client_header_timeout {edge.client_header_timeout_seconds}s;",
        f"client_body_timeout {edge.client_body_timeout_seconds}s;",
    ]
    if edge.max_connections_per_client is not None:
        lines += ["limit_conn_zone $binary_remote_addr zone=bg_conn:10m;", "limit_conn_status 429;"]
    trusted = [*edge.trusted_proxies, *(edge_networks or [])]
    if trusted:
        lines += [f"set_real_ip_from {cidr};" for cidr in trusted]
        lines += [f"real_ip_header {'proxy_protocol' if edge.proxy_protocol else 'X-Forwarded-For'};",
                  "real_ip_recursive on;"]  # fmt: skip
    if edge_networks is not None:
        lines.append(joined_proto(edge_networks))
    return "\n".join(lines)


def joined_proto(edge_networks: Sequence[str]) -> str:
    """The scheme the app is told: the owner's, for a request the owner's router passed on (it terminates
    TLS), else this listener's. Which address sent it is the one before realip replaced it."""
    rows = "".join(f"    {cidr} 1;\n" for cidr in edge_networks)
    return (
        f"geo $realip_remote_addr $bg_from_edge {{\n    default 0;\n{rows}}}\n"
        'map $bg_from_edge:$http_x_forwarded_proto $bg_forwarded_proto {\n    "1:https" https;\n    "1:http" http;\n'
        "    default $scheme;\n}"
    )
