"""ColorStack: the replicas of one colour, and nothing about traffic.

activeColor and trafficWeight never reach these inputs: flipping traffic
must not recreate a container. Everything here is fixed per version and
spec, and the names (bluegreen.engine.topology) change whenever a replacement would
happen, so the new replicas come up before the old ones go.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from bluegreen.engine.container_spec import LOG_OPTS
from bluegreen.engine.hardening import Hardening
from bluegreen.engine.names import ROLE_APP
from bluegreen.engine.readback import DAEMON_MERGED, limits
from components.app_spec import ColorArgs, app_env, healthcheck
from components.hardening import container_args, pids_limit


class ColorStack(pulumi.ComponentResource):
    containers: list[docker.Container]
    names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: ColorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bluegreen:index:ColorStack", name, None, opts)
        if args.names is None:
            raise ValueError("ColorStack needs the containers' names (ColorArgs.names)")
        self.names = args.names
        hardening = args.topology.settings.app.security.hardening()
        replicas = args.topology.settings.color(args.color).replicas
        self.containers = [self._container(f"{name}-{i + 1}", args, args.names[i], hardening) for i in range(replicas)]
        self.limits = [
            pids_limit(f"{name}-{i + 1}", container, hardening.pids_limit, args.engine)
            for i, container in enumerate(self.containers)
        ]
        self.register_outputs({"names": self.names})

    def _container(
        self, name: str, args: ColorArgs, container_name: pulumi.Input[str], hardening: Hardening
    ) -> docker.Container:
        topology, app = args.topology, args.topology.settings.app
        return docker.Container(
            name,
            name=container_name,
            image=args.image_id,
            envs=app_env(topology, args.color, args.database_url),
            labels=[
                docker.ContainerLabelArgs(label=k, value=v) for k, v in topology.labels(ROLE_APP, args.color).items()
            ],
            user=app.user,
            **container_args(hardening),
            **limits(app.resources.memory_mb, app.resources.cpus),
            healthcheck=docker.ContainerHealthcheckArgs(**healthcheck(app)),
            restart="unless-stopped",
            log_driver="json-file",
            log_opts=dict(LOG_OPTS),
            stop_signal="SIGTERM",
            stop_timeout=app.stop_grace_seconds,
            destroy_grace_seconds=app.stop_grace_seconds,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=args.network.name, aliases=args.alias.apply(lambda a: [a] if a else [])
                )
            ],
            must_run=True,
            wait=True,
            wait_timeout=int(topology.settings.health_gate.timeout_seconds),
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=[*(["envs"] if args.hold_env else []), *DAEMON_MERGED],
                depends_on=list(args.after),
            ),
        )
