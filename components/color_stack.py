"""ColorStack: the replicas of one colour, and nothing about traffic.

activeColor and trafficWeight never reach these inputs: flipping traffic
must not recreate a container. Everything here is fixed per version and
spec, and the names (bluegreen.engine.topology) change whenever a replacement would
happen, so the new replicas come up before the old ones go.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from bluegreen.colors import Color
from bluegreen.engine.container_spec import LOG_OPTS
from bluegreen.engine.names import ROLE_APP
from bluegreen.engine.topology import Topology
from components.app_spec import app_env, healthcheck
from components.cli import LOCAL_ENGINE, Engine
from components.hardening import container_args, pids_limit


class ColorStack(pulumi.ComponentResource):
    containers: list[docker.Container]
    names: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        topology: Topology,
        color: Color,
        image_id: pulumi.Input[str],
        network: docker.Network,
        names: pulumi.Output[list[str]],
        alias: pulumi.Output[str | None],
        engine: Engine = LOCAL_ENGINE,
        hold_env: bool = False,
        database_url: pulumi.Output[str] | None = None,
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`names` and `alias` come from bluegreen.engine.topology; Outputs because they may hash secrets.

        Every replica answers to `alias` on the stack network: the router sends
        requests there, so nginx balances across the replicas and retries the
        next one, and no address is ever written down.

        `hold_env`: the colour is live and held (bluegreen.engine.topology): Pulumi
        keeps the environment its containers were created with.

        `database_url`: APP_DATABASE_URL (a secret), from components/database.py;
        `after`: what must be up first (the database: readiness checks it).
        """
        super().__init__("bluegreen:index:ColorStack", name, None, opts)
        app = topology.settings.app
        self.names = names
        envs = app_env(topology, color, database_url)
        hardening = app.security.hardening()
        self.containers = [
            docker.Container(
                f"{name}-{i + 1}",
                name=names[i],
                image=image_id,
                envs=envs,
                labels=[
                    docker.ContainerLabelArgs(label=k, value=v) for k, v in topology.labels(ROLE_APP, color).items()
                ],
                user=app.user,
                **container_args(hardening),
                memory=app.resources.memory_mb,
                cpus=f"{app.resources.cpus:g}",
                healthcheck=docker.ContainerHealthcheckArgs(**healthcheck(app)),
                restart="unless-stopped",
                log_driver="json-file",
                log_opts=dict(LOG_OPTS),
                stop_signal="SIGTERM",
                stop_timeout=app.stop_grace_seconds,
                destroy_grace_seconds=app.stop_grace_seconds,
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(
                        name=network.name, aliases=alias.apply(lambda a: [a] if a else [])
                    )
                ],
                must_run=True,
                wait=True,
                wait_timeout=int(topology.settings.health_gate.timeout_seconds),
                opts=pulumi.ResourceOptions(
                    parent=self, ignore_changes=["envs"] if hold_env else None, depends_on=list(after)
                ),
            )
            for i in range(topology.settings.color(color).replicas)
        ]
        self.limits = [
            pids_limit(f"{name}-{i + 1}", container, hardening.pids_limit, engine)
            for i, container in enumerate(self.containers)
        ]
        self.register_outputs({"names": self.names})
