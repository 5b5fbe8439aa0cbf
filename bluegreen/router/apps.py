"""Several apps behind one router: the owner's config for its joined apps, and each app's files. Pure.

The owner (router.shared) renders, next to its own listeners, one server per
listener for the apps: its names and its routes come from files in
`apps/` of the routing volume, which `bluegreen router join` writes and
`router leave` removes (bluegreen/release/join.py). So a join or a leave is
one reload of the owner's router and never touches its routing generations;
the owner's switches keep the apps, and an app's switches never touch the
owner (each app's own router decides its colours).

Per app, four files:

    apps/<deployment>.names      `server_name shop.example.com;` (in the apps' servers)
    apps/<deployment>.map        `shop.example.com bg_app_<hash>;` (host -> upstream group)
    apps/<deployment>.targets    `shop.example.com <app router>:8080;` (host -> the group's name, for its backup)
    apps/<deployment>.upstream   the group: the app router's name on the edge network, kept alive
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from bluegreen.plan.model import RoutingPlan
from bluegreen.router.layout import (
    APP_CHECK_PATH,
    APPS_DIR,
    LIVE_PORT,
    LOCAL_PORTS,
    ROUTING_DIR,
    TARGET_HEADER,
    TLS_PORT,
)
from bluegreen.router.tls_config import ACME_LOCATION
from bluegreen.router.upstreams import upstream_block

# The owner closes an idle connection to an app's router well before that router would (keepalive_timeout 65 s):
# a request is never sent on a connection the app's router is closing.
APP_KEEPALIVE_SECONDS = 4
NO_APP_NAME = "bluegreen-no-app.invalid"  # the apps' servers always have a name, also before any app joined


@dataclass(frozen=True)
class JoinedApp:
    deployment: str
    hosts: tuple[str, ...]
    target: str  # host:port of the app's router on the owner's edge network

    @property
    def upstream(self) -> str:
        """The group's name, new whenever the app's entry changes: what a join waits to see served."""
        key = f"{self.deployment} {' '.join(self.hosts)} {self.target}"
        return "bg_app_" + hashlib.sha256(key.encode()).hexdigest()[:12]

    def files(self) -> dict[str, str]:
        """The app's files, relative to the routing directory."""
        hosts = [h.lower() for h in self.hosts]
        group = upstream_block(self.upstream, self.target, APP_KEEPALIVE_SECONDS, connections=16)
        return {
            f"{APPS_DIR}/{self.deployment}.names": f"server_name {' '.join(hosts)};\n",
            f"{APPS_DIR}/{self.deployment}.map": "".join(f"{host} {self.upstream};\n" for host in hosts),
            f"{APPS_DIR}/{self.deployment}.targets": "".join(f"{host} {self.target};\n" for host in hosts),
            f"{APPS_DIR}/{self.deployment}.upstream": f"{group}\n",
        }


def parse_names(text: str) -> list[str]:
    """The host names of an `apps/<deployment>.names` file."""
    return text.strip().removeprefix("server_name").rstrip(";").split()


def _app_location(proxy_settings: str, headers: Sequence[str]) -> str:
    return "\n".join(
        [
            f"    location = {APP_CHECK_PATH} {{",
            "        allow 127.0.0.1;",
            "        deny all;",
            "        return 200 $bg_app;",
            "    }",
            "    location / {",
            '        if ($bg_app = "") {',
            "            return 503;",
            "        }",
            "        proxy_pass http://$bg_app;",
            proxy_settings.rstrip("\n"),
            f"        proxy_set_header {TARGET_HEADER} $bg_app_target;",
            *headers,
            "    }",
        ]
    )


# The map's room for such a name: read when each map is parsed, so it comes before the config's first map.
SHARED_MAP_BUCKETS = "map_hash_bucket_size 512;"


def shared_config(plan: RoutingPlan, proxy_settings: str, tls_headers: Sequence[str], router_only: str) -> list[str]:
    """The owner's blocks for its apps: their groups and host map, and a server per live listener.

    The servers follow the owner's own listeners: plain, or TLS (with the
    owner's certificate, which must name the apps' hosts) and a plain one
    that redirects, keeping ACME's answers. Not logged here: each app's own
    router logs and counts its requests.
    """
    if not plan.shared:
        return []
    folder = f"{ROUTING_DIR}/{APPS_DIR}"
    blocks = [
        "server_names_hash_bucket_size 512;",  # room for any host name a stack may give (253 characters)
        f"include {folder}/*.upstream;",
        f'map $host $bg_app {{\n    hostnames;\n    default "";\n    include {folder}/*.map;\n}}',
        f'map $host $bg_app_target {{\n    hostnames;\n    default "";\n    include {folder}/*.targets;\n}}',
    ]
    local = f"    listen 127.0.0.1:{LOCAL_PORTS['live']};  {router_only}\n"
    head = f"    server_name {NO_APP_NAME};\n    include {folder}/*.names;\n    access_log off;\n"
    tls = plan.tls
    if tls is None:
        blocks.append(f"server {{\n    listen {LIVE_PORT};\n{local}{head}{_app_location(proxy_settings, [])}\n}}")
        return blocks
    suffix = "" if tls.port == 443 else f":{tls.port}"
    plain = ACME_LOCATION + f"    location / {{\n        return 308 https://$host{suffix}$request_uri;\n    }}"
    if not tls.redirect_http:
        plain = _app_location(proxy_settings, [])
    blocks.append(f"server {{\n    listen {LIVE_PORT};\n{head}{plain}\n}}")
    secure = _app_location(proxy_settings, tls_headers)
    blocks.append(f"server {{\n    listen {TLS_PORT} ssl;\n{local}{head}{secure}\n}}")
    return blocks
