"""BlueGreenDeployment: the whole stack, from settings to a switched router.

Every child is named after this component (`app-blue`, `app-router`, ...), so
two deployments in one program never register the same URN. Aliases keep the
router's and the switch's URNs from before that prefix: renaming them would
make Pulumi create a second router on the same ports and name.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import urllib.parse
from datetime import UTC, datetime

import pulumi
import pulumi_docker as docker

from bluegreen.colors import COLORS, Color
from bluegreen.config.image import BuildImage
from bluegreen.config.secrets import Secrets
from bluegreen.config.settings import StackSettings
from bluegreen.config.tls import read_certificate
from bluegreen.engine.host import ambient_context_problem, context_engine
from bluegreen.engine.names import ROLE_NETWORK
from bluegreen.engine.topology import Topology
from bluegreen.errors import InputError
from bluegreen.images.context import context_hash
from bluegreen.plan.derive import plan_from_settings
from bluegreen.plan.model import RoutingPlan
from bluegreen.plan.traffic import contract_problem
from components.cli import PROJECT_DIR, Engine
from components.color_service import ColorService
from components.color_stack import ColorStack
from components.database import Database
from components.drift import (
    env_holds,
    live_active,
    live_status,
    orchestrator_problem,
    read_observed,
    stale_digests,
    warn_double_replacement,
    warn_held_env,
    warn_router_replacement,
)
from components.hooks import PostPromoteHooks, PreSwitchHooks
from components.image import AppImage, image_name
from components.name_key import NameKey
from components.router import Router
from components.switch import Switch


def engine_address(settings: StackSettings) -> str | None:
    """The engine URL the stack deploys to, for naming the host in exported URLs.

    A context's endpoint is read from the same docker config folder pulumi-docker
    reads; an unreadable context leaves the URLs on localhost, because the
    provider then stops the deployment with its own error.
    """
    if settings.docker.context:
        try:
            return context_engine(settings.docker.context, "docker.context").host
        except InputError:
            return None
    return settings.docker.host


def public_host(engine: str | None, address: str) -> str:
    """Host part of a URL users open for a port bound to `address` on `engine`.

    A loopback address stays itself, also on a remote host (reach it there, or
    through `ssh -L`); otherwise the remote Docker host, else the address.
    """
    if ipaddress.ip_address(address).is_loopback:
        return address
    if engine and not engine.startswith("unix://"):
        return urllib.parse.urlsplit(engine).hostname or "localhost"
    return "localhost" if ipaddress.ip_address(address).is_unspecified else address


class BlueGreenDeployment(pulumi.ComponentResource):
    plan: pulumi.Output[RoutingPlan]
    containers: pulumi.Output[dict[Color, list[str]]]

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        project: str,
        stack: str,
        secrets: Secrets | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("bluegreen:index:BlueGreenDeployment", name, None, opts)
        secrets = secrets or Secrets()
        image = settings.image
        build_hash = ""
        if isinstance(image, BuildImage):
            build_hash = context_hash(PROJECT_DIR / image.context, image.dockerfile)
        topology = Topology(project, stack, settings, secrets, build_hash)
        # What is live, read before anything is registered: a refusal here changes nothing.
        status = live_status(topology, pulumi.InvokeOptions(parent=self))
        stale = stale_digests(settings, status)
        changed_orchestrator = orchestrator_problem(settings, status)
        wrong_engine = ambient_context_problem(settings.docker.host)
        if wrong_engine:
            raise pulumi.RunError(f"{wrong_engine}; nothing was changed")
        if stale or changed_orchestrator:
            problems = [*stale, *([changed_orchestrator] if changed_orchestrator else [])]
            raise pulumi.RunError("; ".join(p.line() for p in problems) + "; nothing was changed")
        for line in settings.app.security.relaxed():
            pulumi.log.warn(f"hardening relaxed: {line}")
        if settings.notifications.webhook_url and not secrets.webhook:
            pulumi.log.warn(
                "notifications.webhookUrl is not a secret (a webhook URL is its own credential): set it with "
                "`pulumi config set --secret --path notifications.webhookUrl ...`"
            )
        if settings.tls is not None:
            expiring = read_certificate(settings.tls.certificate).expiry_warning(datetime.now(UTC))
            if expiring:
                pulumi.log.warn(f"tls.certificate: {expiring}")
        configured = topology
        topology = dataclasses.replace(topology, held=env_holds(topology, status))
        child = pulumi.ResourceOptions(parent=self)
        host: pulumi.Input[str] | None = settings.docker.host
        if host and secrets.docker_host:
            host = pulumi.Output.secret(host)
        engine = Engine(host, settings.docker.context, settings.docker.cert_path)
        if engine.env() or settings.registry_auth:
            provider = docker.Provider(
                f"{name}-docker",
                host=host,
                context=settings.docker.context,
                cert_path=settings.docker.cert_path,
                registry_auth=self._registry_auth(settings, secrets),
                opts=child,
            )
            child = pulumi.ResourceOptions(parent=self, providers=[provider])

        network = docker.Network(
            f"{name}-net",
            name=topology.network,
            labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in topology.labels(ROLE_NETWORK).items()],
            # Swarm: an overlay across the nodes, attachable so the router (a plain container) joins it.
            driver="overlay" if topology.swarm else None,
            attachable=True if topology.swarm else None,
            opts=child,
        )
        live = live_active(status)
        problem = contract_problem([h.name for h in settings.hooks.pre_switch], live, settings.active_color)
        if problem:
            raise pulumi.RunError(f"{problem}; nothing was changed")
        self.database = (
            Database(f"{name}-db", topology, network, engine, opts=child) if settings.database.mode != "none" else None
        )
        database_url = self.database.url if self.database else None
        database_up = [self.database.container] if self.database and self.database.container else []
        key = NameKey(f"{name}-name-key", opts=child).key if topology.needs_name_key else None
        names, aliases = self._container_names(topology, key)
        if topology.held:
            self._container_names(configured, key)[1].apply(lambda a: warn_held_env(dict(topology.held), a))
        names.apply(lambda n: warn_double_replacement(status, n))
        images: dict[str, AppImage] = {}
        image_ids: dict[Color, pulumi.Input[str]] = {}
        self.color_stacks: dict[Color, ColorStack] = {}
        self.color_services: dict[Color, ColorService] = {}
        for color in COLORS:
            spec = settings.color(color)
            image_id: pulumi.Input[str] = ""
            if spec.replicas > 0:  # an empty colour keeps its (empty) stack, but builds nothing
                ref = settings.image_ref(color)
                if ref not in images:
                    images[ref] = AppImage(
                        image_name(name, spec), image, spec, topology.build_hash_of(color), engine, opts=child
                    )
                image_id = image_ids[color] = images[ref].image_id
            if topology.swarm:
                self.color_services[color] = ColorService(
                    f"{name}-{color}", topology, color, image_id, network, aliases[color],
                    hold_env=color in topology.held, database_url=database_url, opts=child,
                )  # fmt: skip
                continue
            self.color_stacks[color] = ColorStack(
                f"{name}-{color}", topology, color, image_id, network, names[color], aliases[color], engine,
                hold_env=color in topology.held, database_url=database_url, after=database_up, opts=child,
            )  # fmt: skip
        self.router = Router(f"{name}-router", topology, network, engine, opts=pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(aliases=[pulumi.Alias(name="router")])))  # fmt: skip

        self.plan = pulumi.Output.all(names, aliases).apply(
            lambda both: plan_from_settings(settings, topology.deployment, both[0], both[1])
        )
        observed = read_observed(topology.deployment, status)
        warn_router_replacement(settings, status)
        containers: list[pulumi.Resource] = [c for s in self.color_stacks.values() for c in s.containers]
        containers += [s.service for s in self.color_services.values() if s.service is not None]
        # Migrations and other preSwitch hooks: after their colour is healthy, before any traffic moves.
        stacks = self.color_stacks
        self.hooks = PreSwitchHooks(
            f"{name}-hooks", topology, image_ids, {c: [*stacks[c].containers, *stacks[c].limits] for c in image_ids},
            engine, live_active=live, opts=child,
        ) if settings.hooks.pre_switch else None  # fmt: skip
        before_switch = [*([self.router.tls] if self.router.tls else []), *(self.hooks.commands if self.hooks else [])]
        self.switch = Switch(
            f"{name}-switch", topology, self.plan, self.router.container, containers, observed, engine,
            after=before_switch,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(aliases=[pulumi.Alias(name="switch")])),
        )  # fmt: skip

        # postPromote follows the colour that last reached 100%: a canary leaves it on the stable colour,
        # so its hooks run when the candidate gets all traffic, and not again at every canary step.
        promoted = settings.active_color if settings.traffic_weight == 100 else settings.idle_color
        self.post_promote = PostPromoteHooks(
            f"{name}-post-promote", topology, promoted, image_ids[promoted], self.switch.command, engine, opts=child
        ) if settings.hooks.post_promote and promoted in image_ids else None  # fmt: skip

        router = settings.router
        scheme, live_port = ("https", settings.tls.port) if settings.tls else ("http", router.port)
        address = engine_address(settings)
        self.url: pulumi.Input[str] = f"{scheme}://{public_host(address, router.bind_address)}:{live_port}"
        self.preview_url: pulumi.Input[str] = (
            f"{scheme}://{public_host(address, router.preview_bind_address)}:{router.preview_port}"
        )
        if secrets.docker_host:  # the URLs name the host
            self.url, self.preview_url = pulumi.Output.secret(self.url), pulumi.Output.secret(self.preview_url)
        self.containers = names
        self.register_outputs(
            {
                "url": self.url,
                "previewUrl": self.preview_url,
                "planHash": self.plan.apply(lambda p: p.plan_hash()),
                "containers": self.containers,
            }
        )

    @staticmethod
    def _registry_auth(settings: StackSettings, secrets: Secrets) -> list[docker.ProviderRegistryAuthArgs] | None:
        """The provider's pull credentials; the password a secret Output whether or not it was set as one."""
        auth = settings.registry_auth
        if auth is None:
            return None
        if not secrets.registry_password:
            pulumi.log.warn("registryAuth.password is not a secret: set it with `pulumi config set --secret`")
        return [
            docker.ProviderRegistryAuthArgs(
                address=auth.address, username=auth.username, password=pulumi.Output.secret(auth.password)
            )
        ]

    @staticmethod
    def _container_names(
        topology: Topology, key: pulumi.Output[str] | None
    ) -> tuple[pulumi.Output[dict[Color, list[str]]], pulumi.Output[dict[Color, str | None]]]:
        """Container names and network aliases per colour; through the name key only when they hash secrets."""
        if key is None:
            return pulumi.Output.from_input(topology.all_app_containers()), pulumi.Output.from_input(
                topology.all_aliases()
            )
        # An HMAC under a random key reveals nothing: the names need not be secret.
        return (
            pulumi.Output.unsecret(key.apply(topology.all_app_containers)),
            pulumi.Output.unsecret(key.apply(topology.all_aliases)),
        )
