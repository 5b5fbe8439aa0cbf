"""What the program puts on every container: the app's own variables, healthcheck timings, logs, stop bounds."""

from __future__ import annotations

from bluegreen.colors import Color


def program_env(color: Color, version: str, port: int, profile: str, health_path: str) -> dict[str, str]:
    """The app's own variables, set by the program; a user value for any of them is refused."""
    return {
        "APP_COLOR": color,
        "APP_VERSION": version,
        "APP_PORT": str(port),
        "APP_PROFILE": profile,
        "APP_HEALTH_PATH": health_path,
    }


RESERVED_ENV = frozenset(program_env("blue", "", 0, "", "/"))
# Set by the program when stack config has a database (database.mode container or external).
DATABASE_URL_ENV = "APP_DATABASE_URL"

# Docker healthcheck timings of app containers (app/Dockerfile says the same; a test compares).
HEALTHCHECK_INTERVAL = "1s"
HEALTHCHECK_TIMEOUT = "2s"
HEALTHCHECK_START_PERIOD = "30s"
HEALTHCHECK_RETRIES = 3
# json-file rotation of every container: the pack refuses a file driver without max-size.
# The longest drain bound a stack may set (router.drainSeconds). The router's
# Docker stop timeout is fixed just above it: the bound itself is nginx's
# worker_shutdown_timeout, written by each switch, so changing it never
# touches (and never replaces) the router container.
MAX_DRAIN_SECONDS = 3600
ROUTER_STOP_TIMEOUT = MAX_DRAIN_SECONDS + 5

LOG_OPTS = {"max-size": "10m", "max-file": "3"}
