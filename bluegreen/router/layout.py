"""The router container's contract: its ports and the routing volume's layout, written once.

Python reads these names from here; the shell scripts get them as variables
(`shell_preamble`, prepended to every script one exec runs) and router.js gets
them rendered into its constants block (`js_constants`). A test fails when
router.js's own copy of the block, or a script, spells a name itself.

The routing volume (mounted at ROUTING_DIR):

    nginx.conf              the router's base config (seeded; read-only root elsewhere)
    main.conf, http.conf    stubs that include current/<name>
    cookie.key              signs the stickiness cookie (seeded, never leaves the router)
    g<ns>/                  generations: main.conf, http.conf, router.js, state.json, the plan records
    current -> g<ns>        the generation nginx and router.js read; one atomic rename switches
    previous -> g<ns>       the last good generation: router.js falls back to it
    lock.d/info             the switch lock: a directory (mkdir is atomic) and "TOKEN EXPIRES OWNER"
    rollout.json            a running rollout's progress; rollout-command, an operator's word for it
    tls/g<ns>/, tls/current the certificate generations and the one served
    tls/acme-account.json   the ACME account key (tls.acme), readable by the router's user only
    acme-challenge/<token>  HTTP-01 answers while an order is being validated, served on port 80
    apps/<deployment>.*     a joined app's host names, map row and upstream (router.shared; router/apps.py)
"""

from __future__ import annotations

import json
import shlex
from typing import Final

# Ports inside the router container (the nginx-unprivileged convention).
LIVE_PORT: Final = 8080
PREVIEW_PORT: Final = 8081
STATUS_PORT: Final = 8082
STATUS_PATH: Final = "/status"
TLS_PORT: Final = 8443
# Plain listeners on the router's own loopback, serving exactly what the live and the preview
# listener serve: `bluegreen smoke` checks through them, with or without TLS, from inside.
LOCAL_PORTS: Final = {"live": 8083, "preview": 8084}
# Each kept-alive upstream group's backup (bluegreen/router/upstreams.py): a loopback listener that resolves the
# target named in TARGET_HEADER per request. A group's names are resolved by its workers only after they start,
# so a fresh nginx (a bridge, a restarted router) or a group new in a reload has no address for its first
# requests; they take this path instead of a 502. The bridge binds it beside the router (reuseport).
RESOLVING_PORT: Final = 8085
TARGET_HEADER: Final = "X-Bluegreen-Target"

# The public listeners (live, preview, TLS) bind with SO_REUSEPORT: a second router in the same network
# namespace listens beside the first, and a socket that closes hands its queued connections to it
# (bluegreen/router/handover.py). The loopback listeners below are the router's alone; config lines
# marked ROUTER_ONLY (and blocks between its begin and end) are what the bridge router leaves out.
REUSEPORT: Final = "reuseport"
ROUTER_ONLY: Final = "# bg:router-only"

ROUTING_DIR: Final = "/etc/nginx/bluegreen"
BASE_CONFIG: Final = "nginx.conf"
IMAGE_CONFIG: Final = "/etc/nginx/nginx.conf"  # the image's own, for a router created before the volume held one
MAIN_CONF: Final = "main.conf"
HTTP_CONF: Final = "http.conf"
ROUTER_JS: Final = "router.js"
STATE_FILE: Final = "state.json"
COOKIE_KEY_FILE: Final = "cookie.key"
CURRENT: Final = "current"
PREVIOUS: Final = "previous"
LIVE_PLAN: Final = "plan.json"  # the plan a generation serves (a record in it)
PROGRAM_PLAN: Final = "program-plan.json"  # the plan the Pulumi program last asked for
# The targets a generation's gate probed ("HOST PORT PATH" per line): the next switch derived from it
# (rollback, maintenance, resume, abort) probes them in its first exec, beside taking the lock.
ARMED_PROBES: Final = "probes.txt"
LOCK_DIR: Final = "lock.d"
LOCK_INFO: Final = "info"
ROLLOUT_PROGRESS: Final = "rollout.json"  # written by a running rollout, gone when it ends
ROLLOUT_COMMAND: Final = "rollout-command"  # `promote <who>` or `abort <who>`, left for its next window
TLS_FOLDER: Final = "tls"
TLS_DIR: Final = f"{ROUTING_DIR}/{TLS_FOLDER}"  # generations of the certificate; `current` is the one served
CERTIFICATE_FILE: Final = "cert.pem"
KEY_FILE: Final = "key.pem"
# ACME's HTTP-01 tokens, served as files on the plain live listener (never anything else in this folder);
# the account key sits with the certificates, which no listener serves.
ACME_CHALLENGES: Final = "acme-challenge"
ACME_CHALLENGE_PATH: Final = "/.well-known/acme-challenge/"
ACME_ACCOUNT: Final = f"{TLS_FOLDER}/acme-account.json"
# Apps joined to a shared router (router/apps.py): one file of each kind per app, included by the owner's config.
APPS_DIR: Final = "apps"
APP_CHECK_PATH: Final = "/.bluegreen/app"  # answers the app's upstream name, to the router's own loopback only
HEALTH_SCRIPT: Final = "health.sh"
STICKY_COOKIE: Final = "bg_bucket"

# A lock whose record is missing or unreadable is taken over once it is this old (router/sh/lib.sh).
LOCK_ORPHAN_SECONDS: Final = 5

# What the scripts in sh/ know of the volume, as the variables they use.
SHELL_NAMES: Final = {
    "BG_BASE_CONFIG": BASE_CONFIG,
    "BG_IMAGE_CONFIG": IMAGE_CONFIG,
    "BG_MAIN_CONF": MAIN_CONF,
    "BG_HTTP_CONF": HTTP_CONF,
    "BG_CURRENT": CURRENT,
    "BG_PREVIOUS": PREVIOUS,
    "BG_LIVE_PLAN": LIVE_PLAN,
    "BG_PROGRAM_PLAN": PROGRAM_PLAN,
    "BG_ARMED_PROBES": ARMED_PROBES,
    "BG_LOCK_DIR": LOCK_DIR,
    "BG_LOCK_INFO": LOCK_INFO,
    "BG_ROLLOUT_PROGRESS": ROLLOUT_PROGRESS,
    "BG_TLS": TLS_FOLDER,
    "BG_CERTIFICATE": CERTIFICATE_FILE,
    "BG_KEY": KEY_FILE,
    "BG_ROUTER_ONLY": ROUTER_ONLY,
    "BG_APPS": APPS_DIR,
    "BG_APP_CHECK_PATH": APP_CHECK_PATH,
}

# What router.js knows of the volume, as its constants.
JS_NAMES: Final = {
    "ROOT": ROUTING_DIR + "/",
    "STATE_FILE": STATE_FILE,
    "CURRENT": CURRENT,
    "PREVIOUS": PREVIOUS,
    "COOKIE_KEY": COOKIE_KEY_FILE,
    "STICKY_COOKIE": STICKY_COOKIE,
    "TLS_CURRENT": f"{TLS_FOLDER}/{CURRENT}",
}
JS_BLOCK_BEGIN: Final = "// bluegreen:layout begin"
JS_BLOCK_END: Final = "// bluegreen:layout end"


def shell_preamble() -> str:
    """The volume's names as shell variables: what every script one exec runs starts with."""
    names = {**SHELL_NAMES, "BG_LOCK_ORPHAN_SECONDS": str(LOCK_ORPHAN_SECONDS)}
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in names.items())


def js_constants() -> str:
    """router.js's constants block, rendered from these names (router.js keeps a checked copy)."""
    body = "".join(f"var {name} = {json.dumps(value)};\n" for name, value in JS_NAMES.items())
    return f"{JS_BLOCK_BEGIN} (rendered from bluegreen/router/layout.py)\n{body}{JS_BLOCK_END}"
