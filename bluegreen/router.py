"""The router container's fixed parts: base nginx.conf and the "no route yet" routing.

Both the Pulumi Router component and the integration tests build the router
from these, so what is tested is what is deployed. The base config runs as any
non-root user (pid and temp files in /tmp) and includes the routing directory,
which the switch rewrites; it loads on nginx 1.22 and on nginx-unprivileged.
"""

from __future__ import annotations

from bluegreen.routing import LIVE_PORT, PREVIEW_PORT, ROUTING_DIR, STATUS_PATH, STATUS_PORT

BASE_CONFIG_PATH = "/etc/nginx/nginx.conf"
STOP_SIGNAL = "SIGQUIT"  # nginx's graceful stop: in-flight requests finish
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
