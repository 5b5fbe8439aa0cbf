"""What a colour's processes get whether they run as containers (ColorStack) or as Swarm tasks (ColorService)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

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
from components.cli import LOCAL_ENGINE, Engine


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


@dataclass(frozen=True)
class ColorArgs:
    """What one colour is built from, as containers (ColorStack) or as a Swarm service (ColorService).

    `names` and `alias` come from bluegreen.engine.topology; Outputs because
    they may hash secrets. Every replica answers to `alias` on the stack
    network: the router sends requests there, so nginx balances across the
    replicas and retries the next one, and no address is ever written down.
    `hold_env`: the colour is live and held (bluegreen.engine.topology): Pulumi
    keeps the environment its processes were created with. `database_url`:
    APP_DATABASE_URL (a secret), from components/database.py; `after`: what
    must be up first (the database: readiness checks it).
    """

    topology: Topology
    color: Color
    image_id: pulumi.Input[str]
    network: docker.Network
    alias: pulumi.Output[str | None]
    names: pulumi.Output[list[str]] | None = None  # containers only: a service is named by its alias
    engine: Engine = LOCAL_ENGINE
    hold_env: bool = False
    database_url: pulumi.Output[str] | None = None
    after: Sequence[pulumi.Resource] = ()
