"""The router container's fixed parts: base nginx.conf and the "no route yet" routing.

Both the Pulumi Router component and the integration tests build the router
from these, so what is tested is what is deployed. The base config runs as any
non-root user (pid and temp files in /tmp) and includes the routing directory,
which the switch rewrites; it loads on nginx 1.22 and on nginx-unprivileged.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from bluegreen.routing import LIVE_PORT, PREVIEW_PORT, ROUTING_DIR, STATUS_PATH, STATUS_PORT
from bluegreen.settings import RouterSettings

BASE_CONFIG_PATH = "/etc/nginx/nginx.conf"
STOP_SIGNAL = "SIGQUIT"  # nginx's graceful stop: in-flight requests finish
# Requests reach the app on a new connection each (routing is decided per request,
# so there is no fixed upstream to keep alive): reuse TIME_WAIT ports.
ROUTER_SYSCTLS = {"net.ipv4.tcp_tw_reuse": "1"}
COMMAND = ["nginx", "-g", "daemon off;"]

BASE_CONFIG = f"""\
# bluegreen router. Routing lives in {ROUTING_DIR}/ and is replaced by
# `python -m bluegreen switch`; this file only changes with the router itself.
worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr notice;
include {ROUTING_DIR}/main*.conf;

events {{
    worker_connections 4096;
}}

http {{
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;

    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 10000;

    log_format bluegreen escape=json '{{"time":"$time_iso8601","request_id":"$bg_request_id",'
        '"color":"$upstream_http_x_app_color","status":$status,"method":"$request_method",'
        '"path":"$uri","duration_ms":$request_time,"upstream":"$upstream_addr","client":"$remote_addr"}}';
    access_log /dev/stdout bluegreen buffer=32k flush=1s;

    include {ROUTING_DIR}/http*.conf;
}}
"""

# Routing before the first switch: every listener answers, none routes.
INITIAL_ROUTING = f"""\
# No switch has run yet.
map $http_x_request_id $bg_request_id {{
    default $http_x_request_id;
    "" $request_id;
}}

server {{
    listen {LIVE_PORT} default_server;
    location / {{
        default_type application/json;
        return 503 '{{"error":"no route yet"}}';
    }}
}}

server {{
    listen {PREVIEW_PORT};
    location / {{
        default_type application/json;
        return 503 '{{"error":"no route yet"}}';
    }}
}}

server {{
    listen 127.0.0.1:{STATUS_PORT};
    access_log off;
    location = {STATUS_PATH} {{
        default_type application/json;
        return 200 '{{"configHash":null,"planHash":null,"state":"no route yet"}}';
    }}
}}
"""


def router_files() -> dict[str, str]:
    """Files placed into the router container before it starts (path -> content)."""
    return {BASE_CONFIG_PATH: BASE_CONFIG, f"{ROUTING_DIR}/http.conf": INITIAL_ROUTING}


def live_spec(info: dict[str, Any], image_tags: list[str]) -> dict[str, Any]:
    """What of a running router's container would take a replacement to change (from docker inspect)."""
    host = info.get("HostConfig") or {}
    bindings = host.get("PortBindings") or {}

    def bound(port: int) -> tuple[str, int] | None:
        found = bindings.get(f"{port}/tcp") or []
        if not found:
            return None
        every_interface = str(ipaddress.IPv4Address(0))  # what Docker binds to when HostIp is empty
        return found[0].get("HostIp") or every_interface, int(found[0].get("HostPort") or 0)

    live, preview = bound(LIVE_PORT), bound(PREVIEW_PORT)
    return {
        "imageTags": image_tags,
        "port": live[1] if live else None,
        "previewPort": preview[1] if preview else None,
        "bindAddress": live[0] if live else None,
        "cpus": (host.get("NanoCpus") or 0) / 1e9,
    }


def replacing_changes(settings: RouterSettings, live: dict[str, Any]) -> list[str]:
    """The router settings whose new value replaces the running router: `key old -> new` each.

    pulumi-docker cannot update these in place, and the router owns fixed host
    ports, so the old container goes first: a few seconds with no listener.
    """
    changes = []
    tags = live.get("imageTags") or []
    if tags and settings.image not in tags:
        changes.append(f"router.image {tags[0]} -> {settings.image}")
    for key, attr in (("port", "port"), ("previewPort", "preview_port"), ("bindAddress", "bind_address")):
        if live.get(key) is not None and live[key] != getattr(settings, attr):
            changes.append(f"router.{key} {live[key]} -> {getattr(settings, attr)}")
    if live.get("cpus") and abs(float(live["cpus"]) - settings.cpus) > 1e-9:
        changes.append(f"router.cpus {float(live['cpus']):g} -> {settings.cpus:g}")
    return changes
