"""The router container's fixed parts: base nginx.conf and the "no route yet" routing.

Both the Pulumi Router component and the integration tests build the router
from these, so what is tested is what is deployed. The base config runs as any
non-root user (pid and temp files in /tmp) and includes the routing directory,
which the switch rewrites; it loads on nginx 1.27.4 or later with njs (nginx-unprivileged 1.28, the
stand-in Debian 1.30).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import shlex
from dataclasses import dataclass
from typing import Any

from bluegreen.config.router import RouterSettings
from bluegreen.router.layout import (
    BASE_CONFIG,
    COOKIE_KEY_FILE,
    HEALTH_SCRIPT,
    HTTP_CONF,
    LIVE_PORT,
    LOCAL_PORTS,
    PREVIEW_PORT,
    REUSEPORT,
    ROUTER_ONLY,
    ROUTING_DIR,
    STATUS_PATH,
    STATUS_PORT,
    TLS_PORT,
)
from bluegreen.router.scripts import script

# In the routing volume, not /etc/nginx: the router's root filesystem is read-only
# (bluegreen/engine/hardening.py). The program seeds the volume before the router starts
# (router/seed.py): pulumi-docker's uploads extract at "/",
# which Docker refuses for a read-only container.
BASE_CONFIG_PATH = f"{ROUTING_DIR}/{BASE_CONFIG}"
STOP_SIGNAL = "SIGQUIT"  # nginx's graceful stop: in-flight requests finish
# Of the network namespace, so set on the container that owns it (the router's net container):
# a target without a kept-alive group opens a connection per request, so reuse TIME_WAIT ports; and a
# listening socket that closes (a router stopping) hands the connections in its queue to another
# socket of its SO_REUSEPORT group (the router beside it) instead of resetting them (Linux 5.14).
ROUTER_SYSCTLS = {"net.ipv4.tcp_tw_reuse": "1", "net.ipv4.tcp_migrate_req": "1"}
# The net container only holds the namespace and the host ports: nothing to stop gracefully.
NET_COMMAND = ["sleep", "infinity"]
COMMAND = ["nginx", "-c", BASE_CONFIG_PATH, "-g", "daemon off;"]
ROUTER_USER = "101:101"  # nginx-unprivileged's uid; the stand-in image uses the same
HEALTH_SCRIPT_PATH = f"{ROUTING_DIR}/{HEALTH_SCRIPT}"
FILES_LABEL = "bluegreen.router.files-files"  # router_files_hash() of what the seed wrote for this router


@dataclass(frozen=True)
class Healthcheck:
    """The router's Docker healthcheck: its own status listener (bluegreen/router/sh/health.sh)."""

    test: tuple[str, ...] = ("CMD", "sh", HEALTH_SCRIPT_PATH, str(STATUS_PORT), STATUS_PATH)
    interval: str = "5s"
    timeout: str = "3s"
    start_period: str = "10s"
    retries: int = 3

    def docker_run_args(self) -> list[str]:
        """The same check as `docker run` flags (the test lab's router)."""
        return [
            f"--health-cmd={shlex.join(self.test[1:])}", f"--health-interval={self.interval}",
            f"--health-timeout={self.timeout}", f"--health-start-period={self.start_period}",
            f"--health-retries={self.retries}",
        ]  # fmt: skip


HEALTHCHECK = Healthcheck()

BASE_NGINX_CONF = f"""\
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

    # The access log (what `bluegreen metrics` reads) is part of the routing: bluegreen.plan.model.
    include {ROUTING_DIR}/http*.conf;
}}
"""

# Routing before the first switch: every listener answers, none routes.
INITIAL_ROUTING = f"""\
# No switch has run yet.
access_log off;
map $http_x_request_id $bg_request_id {{
    default $http_x_request_id;
    "" $request_id;
}}

server {{
    listen {LIVE_PORT} default_server {REUSEPORT};
    listen 127.0.0.1:{LOCAL_PORTS["live"]};  {ROUTER_ONLY}
    location / {{
        default_type application/json;
        return 503 '{{"error":"no route yet"}}';
    }}
}}

server {{
    listen {PREVIEW_PORT} {REUSEPORT};
    listen 127.0.0.1:{LOCAL_PORTS["preview"]};  {ROUTER_ONLY}
    location / {{
        default_type application/json;
        return 503 '{{"error":"no route yet"}}';
    }}
}}

{ROUTER_ONLY} begin
server {{
    listen 127.0.0.1:{STATUS_PORT};
    access_log off;
    location = {STATUS_PATH} {{
        default_type application/json;
        return 200 '{{"configHash":null,"planHash":null,"state":"no route yet"}}';
    }}
}}
{ROUTER_ONLY} end
"""


def router_files() -> dict[str, str]:
    """Files seeded into the routing volume before the router starts (name in ROUTING_DIR -> content)."""
    files = {
        BASE_CONFIG_PATH: BASE_NGINX_CONF,
        f"{ROUTING_DIR}/{HTTP_CONF}": INITIAL_ROUTING,
        HEALTH_SCRIPT_PATH: script("health"),
    }
    return {path.removeprefix(f"{ROUTING_DIR}/"): text for path, text in files.items()}


def router_files_hash() -> str:
    """Of router_files(): a new base config, health script or first routing replaces the router."""
    return hashlib.sha256(json.dumps(router_files(), sort_keys=True).encode()).hexdigest()[:16]


def seed_files() -> dict[str, str]:
    """router_files() and a fresh key that signs the stickiness cookie (router.js).

    The key is new with every seed, so with every new router: cookies from the
    old one are re-rolled once. It is not part of the files hash, and it never
    leaves the routing volume.
    """
    return {**router_files(), COOKIE_KEY_FILE: secrets.token_hex(32) + "\n"}


def network_owner(info: dict[str, Any]) -> str | None:
    """The container whose network namespace a container joined (`network_mode: container:<id>`), from
    docker inspect; None when it has its own (a router made before hand-overs owns its ports)."""
    mode = str((info.get("HostConfig") or {}).get("NetworkMode") or "")
    if not mode.startswith("container:"):
        return None
    return mode.partition(":")[2] or None


def live_spec(info: dict[str, Any], image_tags: list[str], net: dict[str, Any] | None = None) -> dict[str, Any]:
    """What of a running router would take a replacement to change (from docker inspect): the router's
    container, and the one that owns its ports (`net`: its net container; the router itself before them)."""
    host = info.get("HostConfig") or {}
    bindings = ((net or info).get("HostConfig") or {}).get("PortBindings") or {}

    def bound(port: int) -> tuple[str, int] | None:
        found = bindings.get(f"{port}/tcp") or []
        if not found:
            return None
        every_interface = str(ipaddress.IPv4Address(0))  # what Docker binds to when HostIp is empty
        return found[0].get("HostIp") or every_interface, int(found[0].get("HostPort") or 0)

    live, preview, tls = bound(LIVE_PORT), bound(PREVIEW_PORT), bound(TLS_PORT)
    return {
        "imageTags": image_tags,
        "port": live[1] if live else None,
        "previewPort": preview[1] if preview else None,
        "bindAddress": live[0] if live else None,
        "previewBindAddress": preview[0] if preview else None,
        "tlsPort": tls[1] if tls else None,
        "cpus": (host.get("NanoCpus") or 0) / 1e9,
        "filesHash": ((info.get("Config") or {}).get("Labels") or {}).get(FILES_LABEL),
        "readOnly": bool(host.get("ReadonlyRootfs")),
        "ownsPorts": network_owner(info) is None,
    }


def replacing_changes(settings: RouterSettings, live: dict[str, Any], tls_port: int | None = None) -> list[str]:
    """The router settings whose new value replaces a running router container: `key old -> new` each.

    pulumi-docker cannot update these in place. Each is a router hand-over
    (bluegreen/router/handover.py): no listener goes away. listener_changes
    names those that replace the listener itself.
    """
    changes = []
    tags = live.get("imageTags") or []
    if tags and settings.image not in tags:
        changes.append(f"router.image {tags[0]} -> {settings.image}")
    if live.get("cpus") and abs(float(live["cpus"]) - settings.cpus) > 1e-9:
        changes.append(f"router.cpus {float(live['cpus']):g} -> {settings.cpus:g}")
    if live and live.get("readOnly") is False:
        changes.append("router hardening (read-only root, no capabilities, a pids limit, a healthcheck)")
    elif live.get("filesHash") not in (None, router_files_hash()):
        changes.append(f"router base files {live['filesHash']} -> {router_files_hash()} (a new bluegreen version)")
    return changes


def listener_changes(settings: RouterSettings, live: dict[str, Any], tls_port: int | None = None) -> list[str]:
    """The settings that replace the router's listener (its net container, which owns the host ports):
    seconds in which nothing listens. So is the first update of a router made before hand-overs."""
    changes = []
    for key, attr in (
        ("port", "port"),
        ("previewPort", "preview_port"),
        ("bindAddress", "bind_address"),
        ("previewBindAddress", "preview_bind_address"),
    ):
        if live.get(key) is not None and live[key] != getattr(settings, attr):
            changes.append(f"router.{key} {live[key]} -> {getattr(settings, attr)}")
    if live and live.get("tlsPort") != tls_port:
        changes.append(f"tls.port {live.get('tlsPort') or 'none'} -> {tls_port or 'none'}")
    if live.get("ownsPorts"):
        changes.append("the router owns its ports (made before router hand-overs): its net container takes them")
    return changes
