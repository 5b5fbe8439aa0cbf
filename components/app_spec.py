"""What a colour's processes get whether they run as containers (ColorStack) or as Swarm tasks (ColorService)."""

from __future__ import annotations

from typing import Any

import pulumi

from bluegreen.colors import Color
from bluegreen.config.app import AppSettings
from bluegreen.engine.container_spec import (
    DATABASE_URL_ENV,
    HEALTHCHECK_INTERVAL,
    HEALTHCHECK_RETRIES,
    HEALTHCHECK_START_PERIOD,
    HEALTHCHECK_TIMEOUT,
)
from bluegreen.engine.topology import Topology


def app_env(topology: Topology, color: Color, database_url: pulumi.Output[str] | None) -> pulumi.Input[list[str]]:
    """KEY=value pairs of the colour's processes. Any secret value (app.env, the database URL) makes the
    whole input secret: in state, in previews, in diffs."""
    env = topology.app_env(color)
    if database_url is not None:
        return pulumi.Output.secret(database_url.apply(lambda url: [*env, f"{DATABASE_URL_ENV}={url}"]))
    return pulumi.Output.secret(env) if topology.secrets.env else env


def healthcheck(app: AppSettings) -> dict[str, Any]:
    """Keyword arguments of both providers' healthcheck types (the container's and the service's)."""
    return {
        "tests": ["CMD", *app.health_command], "interval": HEALTHCHECK_INTERVAL, "timeout": HEALTHCHECK_TIMEOUT,
        "start_period": HEALTHCHECK_START_PERIOD, "retries": HEALTHCHECK_RETRIES,
    }  # fmt: skip
