"""ColorService: one colour as a Docker Swarm service (orchestrator: swarm), the swarm twin of ColorStack.

The service is named like the colour's network alias in container mode
(bluegreen.engine.topology), so a new version is a new service created before the
old one goes, exactly as new containers are; the Switch re-points the router
in between. Endpoint mode dnsrr: the service's name resolves to its healthy
tasks' addresses (no VIP: this project's hosts have no IPVS), which is what
the router already sends requests to. A change Swarm can roll in place (the
replica count, the held environment) rolls start-first and rolls back on
failure; a task that dies is replaced by Swarm and enters DNS once healthy.

What pulumi-docker 5's service spec cannot say, and container mode sets:
no-new-privileges and a pids limit (docs/swarm.md).
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from bluegreen.engine.container_spec import LOG_OPTS
from bluegreen.engine.hardening import CAP_DROP
from bluegreen.engine.names import ROLE_APP
from components.app_spec import ColorArgs, app_env, healthcheck

# Container mode's restart policy, unless-stopped, in Swarm's words.
RESTART = docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="1s", window="10s")
# What pulumi-docker's service keeps out of a held colour: the environment it runs (bluegreen.engine.topology).
HELD_ENV = "taskSpec.containerSpec.env"


class ColorService(pulumi.ComponentResource):
    service: docker.Service | None

    def __init__(self, name: str, args: ColorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bluegreen:index:ColorService", name, None, opts)
        settings = args.topology.settings
        replicas = settings.color(args.color).replicas
        self.service = None
        if replicas > 0:
            self.service = docker.Service(
                f"{name}-service",
                name=args.alias.apply(lambda a: a or ""),
                labels=[docker.ServiceLabelArgs(label=k, value=v) for k, v in self._labels(args).items()],
                task_spec=self._task_spec(args),
                # Every node pulls the image itself: with registryAuth, with the provider's credentials.
                auth=docker.ServiceAuthArgs(
                    server_address=settings.registry_auth.address, username=settings.registry_auth.username,
                    password=pulumi.Output.secret(settings.registry_auth.password),
                ) if settings.registry_auth else None,
                mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=replicas)),
                endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
                update_config=docker.ServiceUpdateConfigArgs(
                    parallelism=1, order="start-first", failure_action="rollback", monitor="10s", delay="1s"
                ),
                rollback_config=docker.ServiceRollbackConfigArgs(
                    parallelism=1, order="start-first", failure_action="pause", monitor="10s"
                ),
                # Like a container's `wait`: the update waits until every task runs and is healthy.
                converge_config=docker.ServiceConvergeConfigArgs(
                    delay="1s", timeout=f"{int(settings.health_gate.timeout_seconds) + 60}s"
                ),
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=[HELD_ENV] if args.hold_env else None),
            )  # fmt: skip
        self.register_outputs({"service": self.service.name if self.service else None})

    @staticmethod
    def _labels(args: ColorArgs) -> dict[str, str]:
        labels: dict[str, str] = args.topology.labels(ROLE_APP, args.color)
        return labels

    def _task_spec(self, args: ColorArgs) -> docker.ServiceTaskSpecArgs:
        """The colour's container as a task: the environment, user, limits and healthcheck its containers get."""
        app = args.topology.settings.app
        hardening = app.security.hardening()
        # The same pairs as a container's, as the map a service takes (secret where they are).
        envs = pulumi.Output.from_input(app_env(args.topology, args.color, args.database_url)).apply(
            lambda pairs: {k: v for k, _, v in (pair.partition("=") for pair in pairs)}
        )
        labels = self._labels(args)
        grace = f"{app.stop_grace_seconds}s"
        image_id, network = args.image_id, args.network
        return docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=image_id,
                env=envs,
                labels=[docker.ServiceTaskSpecContainerSpecLabelArgs(label=k, value=v)
                        for k, v in labels.items()],
                user=app.user,
                read_only=hardening.read_only,
                cap_drops=list(CAP_DROP),
                cap_adds=list(hardening.cap_add) or None,
                mounts=[
                    docker.ServiceTaskSpecContainerSpecMountArgs(
                        type="tmpfs", target=path,
                        tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(
                            size_bytes=size_mb * 1024 * 1024, mode=0o1777,
                        ),
                    )
                    for path, size_mb in hardening.tmpfs_mb.items()
                ],
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(**healthcheck(app)),
                stop_signal="SIGTERM",
                stop_grace_period=grace,
            ),
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(
                    memory_bytes=app.resources.memory_mb * 1024 * 1024,
                    nano_cpus=int(app.resources.cpus * 1e9),
                )
            ),
            restart_policy=RESTART,
            placement=docker.ServiceTaskSpecPlacementArgs(prefs=["spread=node.id"]),
            networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=network.id)],
            log_driver=docker.ServiceTaskSpecLogDriverArgs(name="json-file", options=dict(LOG_OPTS)),
        )  # fmt: skip
