"""BlueGreenDeployment: the whole stack, from settings to a switched router.

Every child is named after this component (`app-blue`, `app-router`, ...), so
two deployments in one program never register the same URN. Aliases keep the
router's and the switch's URNs from before that prefix: renaming them would
make Pulumi create a second router on the same ports and name.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pulumi
import pulumi_docker as docker

from bluegreen.colors import COLORS, Color
from bluegreen.config.image import BuildImage
from bluegreen.config.secrets import Secrets, redact_value
from bluegreen.config.settings import StackSettings
from bluegreen.config.tls import read_certificate
from bluegreen.engine.host import ambient_context_problem, context_engine
from bluegreen.engine.names import ROLE_NETWORK
from bluegreen.engine.topology import Topology
from bluegreen.env import BLIND_UP_ENV
from bluegreen.errors import InputError
from bluegreen.images.context import context_hash
from bluegreen.plan.derive import plan_from_settings
from bluegreen.plan.model import RoutingPlan
from bluegreen.plan.traffic import contract_problem
from components.app_spec import ColorArgs
from components.cli import PROJECT_DIR, Engine
from components.color_service import ColorService
from components.color_stack import ColorStack
from components.database import Database
from components.drift import (
    LiveStatus,
    database_major_problem,
    env_holds,
    live_active,
    live_status,
    orchestrator_problem,
    owner_problem,
    read_observed,
    stale_digests,
    unreadable_problem,
    unshare_problem,
    warn_database_replacement,
    warn_double_replacement,
    warn_hand_installed_certificate,
    warn_held_env,
    warn_router_replacement,
    warn_unencrypted_overlay,
)
from components.hooks import PostPromoteHooks, PreSwitchHooks
from components.image import AppImage, image_name
from components.name_key import NameKey
from components.router import Router
from components.sharing import JoinedRouter, edge_export, edge_network
from components.switch import Switch

Names = pulumi.Output[dict[Color, list[str]]]
Aliases = pulumi.Output[dict[Color, str | None]]


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


@dataclass(frozen=True)
class BlueGreenDeploymentArgs:
    """What one deployment is made of: the stack's settings, its project and stack names, which values are secrets."""

    settings: StackSettings
    project: str
    stack: str
    secrets: Secrets = field(default_factory=Secrets)


class BlueGreenDeployment(pulumi.ComponentResource):
    """The whole stack, built in named phases; each reads what the ones before it made.

    live state -> engine and provider -> network and database -> images ->
    colours -> router -> plan, hooks and switch -> outputs.
    """

    plan: pulumi.Output[RoutingPlan]
    containers: pulumi.Output[dict[Color, list[str]]]

    def __init__(self, name: str, args: BlueGreenDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bluegreen:index:BlueGreenDeployment", name, None, opts)
        self._name, self._settings, self._secrets = name, args.settings, args.secrets
        image = args.settings.image
        build_hash = (
            context_hash(PROJECT_DIR / image.context, image.dockerfile) if isinstance(image, BuildImage) else ""
        )
        configured = Topology(args.project, args.stack, args.settings, args.secrets, build_hash)
        status = self._live_state(configured)
        self._topology = dataclasses.replace(configured, held=env_holds(configured, status))
        self._engine, self._child = self._engine_and_provider()
        network = self._network_and_database()
        names, aliases = self._names(configured, status)
        image_ids = self._images()
        self._colors(image_ids, network, names, aliases)
        shared = self._settings.router.shared
        self.joined = JoinedRouter(f"{name}-joined", self._topology, opts=self._child) if args.settings.router.join \
            else None  # fmt: skip
        edges = [edge_network(name, self._topology, self._child).name] if shared else []
        self.router = Router(f"{name}-router", self._topology, network, self._engine, opts=pulumi.ResourceOptions.merge(
            self._child, pulumi.ResourceOptions(aliases=[pulumi.Alias(name="router")])),
            edges=[self.joined.network] if self.joined else edges)  # fmt: skip
        self.edge = edge_export(self._topology) if shared else None
        self.plan = pulumi.Output.all(names, aliases).apply(
            lambda both: plan_from_settings(
                args.settings, self._topology.deployment, both[0], both[1], owner=f"{args.project}/{args.stack}"
            )
        )
        self._hooks_and_switch(status, image_ids)
        self._outputs(names)

    def _live_state(self, topology: Topology) -> LiveStatus:
        """What is live, read before anything is registered: every refusal here changes nothing."""
        settings = self._settings
        status = live_status(topology, pulumi.InvokeOptions(parent=self))
        hidden = settings.docker.host if topology.secrets.docker_host else None
        unreadable = unreadable_problem(topology.deployment, status)
        unreadable = redact_value(unreadable, hidden, "docker.host") if unreadable else None
        if unreadable and not pulumi.runtime.is_dry_run() and os.environ.get(BLIND_UP_ENV) != "1":
            raise pulumi.RunError(
                f"{unreadable}: the checks that guard a live deployment need it; nothing was changed. To deploy "
                f"without them for this one run: {BLIND_UP_ENV}=1 pulumi up"
            )
        if unreadable:
            pulumi.log.warn(f"{unreadable}; the contract-step guard, env holds and stale-digest check are off")
        wrong_engine = ambient_context_problem(settings.docker.host)
        wrong_engine = redact_value(wrong_engine, hidden, "docker.host") if wrong_engine else None
        if wrong_engine:
            raise pulumi.RunError(f"{wrong_engine}; nothing was changed")
        taken = owner_problem(topology, status)
        if taken:
            raise pulumi.RunError(f"{taken}; nothing was changed")
        checks = (orchestrator_problem, database_major_problem, unshare_problem)
        problems = [*stale_digests(settings, status), *[p for check in checks if (p := check(settings, status))]]
        if problems:
            raise pulumi.RunError("; ".join(p.line() for p in problems) + "; nothing was changed")
        contract = contract_problem(
            [h.name for h in settings.hooks.pre_switch], live_active(status), settings.active_color
        )
        if contract:
            raise pulumi.RunError(f"{contract}; nothing was changed")
        for line in settings.app.security.relaxed():
            pulumi.log.warn(f"hardening relaxed: {line}")
        if settings.notifications.webhook_url and not self._secrets.webhook:
            pulumi.log.warn(
                "notifications.webhookUrl is not a secret (a webhook URL is its own credential): set it with "
                "`pulumi config set --secret --path notifications.webhookUrl ...`"
            )
        if settings.tls is not None and settings.tls.certificate is not None:
            expiring = read_certificate(settings.tls.certificate).expiry_warning(datetime.now(UTC))
            if expiring:
                pulumi.log.warn(f"tls.certificate: {expiring}")
        return status

    def _engine_and_provider(self) -> tuple[Engine, pulumi.ResourceOptions]:
        """The engine every command reaches, and the provider every resource uses when it is not the local one."""
        settings, secrets = self._settings, self._secrets
        host: pulumi.Input[str] | None = settings.docker.host
        if host and secrets.docker_host:
            host = pulumi.Output.secret(host)
        engine = Engine(host, settings.docker.context, settings.docker.cert_path)
        child = pulumi.ResourceOptions(parent=self)
        if engine.env() or settings.registry_auth:
            provider = docker.Provider(
                f"{self._name}-docker",
                # With a context, an empty host: pulumi-docker would otherwise take DOCKER_HOST from the shell
                # that runs `pulumi up` (a laptop's rootless engine, colima) over the context the stack names.
                host=host if host else ("" if settings.docker.context else None),
                context=settings.docker.context,
                cert_path=settings.docker.cert_path,
                registry_auth=self._registry_auth(settings, secrets),
                opts=child,
            )
            child = pulumi.ResourceOptions(parent=self, providers=[provider])
        return engine, child

    def _network_and_database(self) -> docker.Network:
        topology = self._topology
        network = docker.Network(
            f"{self._name}-net",
            name=topology.network,
            labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in topology.labels(ROLE_NETWORK).items()],
            # Swarm: an overlay across the nodes, attachable so the router (a plain container) joins it.
            driver="overlay" if topology.swarm else None,
            attachable=True if topology.swarm else None,
            # Read when the network is made: the provider reads back the driver's own options (vxlanid_list),
            # and options are create-time, so a diff here would replace a network every service is on.
            options={"encrypted": ""} if topology.swarm and self._settings.swarm.encrypted else None,
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(ignore_changes=["options"])),
        )
        self.database = (
            Database(f"{self._name}-db", topology, network, self._engine, opts=self._child)
            if self._settings.database.mode != "none"
            else None
        )
        return network

    def _names(self, configured: Topology, status: LiveStatus) -> tuple[Names, Aliases]:
        """Container names and aliases, through the name key when they hash secrets; warnings about replacing."""
        topology = self._topology
        key = NameKey(f"{self._name}-name-key", opts=self._child).key if topology.needs_name_key else None
        names, aliases = self._container_names(topology, key)
        if topology.held:
            self._container_names(configured, key)[1].apply(lambda a: warn_held_env(dict(topology.held), a))
        names.apply(lambda n: warn_double_replacement(status, n))
        return names, aliases

    def _images(self) -> dict[Color, pulumi.Input[str]]:
        """One image per distinct reference; an empty colour builds nothing."""
        settings, images = self._settings, {}
        image_ids: dict[Color, pulumi.Input[str]] = {}
        for color in COLORS:
            spec = settings.color(color)
            if spec.replicas == 0:
                continue
            ref = settings.image_ref(color)
            if ref not in images:
                images[ref] = AppImage(
                    image_name(self._name, spec), settings.image, spec, self._topology.build_hash_of(color),
                    self._engine, nodes=settings.swarm.nodes if self._topology.swarm else (), opts=self._child,
                )  # fmt: skip
            image_ids[color] = images[ref].image_id
        return image_ids

    def _colors(
        self, image_ids: dict[Color, pulumi.Input[str]], network: docker.Network, names: Names, aliases: Aliases
    ) -> None:
        """Each colour as containers, or as a Swarm service; an empty colour keeps its (empty) stack."""
        topology, db = self._topology, self.database
        self.color_stacks: dict[Color, ColorStack] = {}
        self.color_services: dict[Color, ColorService] = {}
        for color in COLORS:
            args = ColorArgs(
                topology, color, image_ids.get(color, ""), network, aliases[color], names=names[color],
                engine=self._engine, hold_env=color in topology.held, database_url=db.url if db else None,
                after=[db.container] if db and db.container else [],
            )  # fmt: skip
            if topology.swarm:
                self.color_services[color] = ColorService(f"{self._name}-{color}", args, opts=self._child)
            else:
                self.color_stacks[color] = ColorStack(f"{self._name}-{color}", args, opts=self._child)

    def _hooks_and_switch(self, status: LiveStatus, image_ids: dict[Color, pulumi.Input[str]]) -> None:
        """preSwitch hooks after their colour is healthy and before traffic moves; the Switch; postPromote."""
        name, settings, topology, engine, child = self._name, self._settings, self._topology, self._engine, self._child
        observed = read_observed(topology.deployment, settings, status)
        warn_router_replacement(settings, status)
        warn_database_replacement(self._topology, status)
        warn_hand_installed_certificate(settings, status)
        warn_unencrypted_overlay(settings, status)
        containers: list[pulumi.Resource] = [c for s in self.color_stacks.values() for c in s.containers]
        containers += [s.service for s in self.color_services.values() if s.service is not None]
        self.hooks = PreSwitchHooks(
            f"{name}-hooks", topology, image_ids, {c: self._color_resources(c) for c in image_ids}, engine,
            live_active=live_active(status), opts=child,
        ) if settings.hooks.pre_switch else None  # fmt: skip
        before_switch = [
            self.router.handover_end,
            *([self.router.tls] if self.router.tls else []),
            *(self.hooks.commands if self.hooks else []),
        ]
        self.switch = Switch(
            f"{name}-switch", topology, self.plan, self.router.container, containers, observed, engine,
            after=before_switch,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(aliases=[pulumi.Alias(name="switch")])),
        )  # fmt: skip
        # postPromote follows the colour that last reached 100%: a canary leaves it on the stable colour,
        # so its hooks run when the candidate gets all traffic, and not again at every canary step.
        promoted = settings.active_color if settings.traffic_weight == 100 else settings.idle_color
        self.join_entry = self.joined.entry(name, topology, engine, [self.switch.command]) if self.joined else None
        self.post_promote = PostPromoteHooks(
            f"{name}-post-promote", topology, promoted, image_ids[promoted], self.switch.command, engine, opts=child
        ) if settings.hooks.post_promote and promoted in image_ids else None  # fmt: skip

    def _color_resources(self, color: Color) -> list[pulumi.Resource]:
        """What a colour's hooks wait for: its containers and their limits, or its service (swarm)."""
        if color in self.color_services:
            service = self.color_services[color].service
            return [service] if service is not None else []
        stack = self.color_stacks[color]
        return [*stack.containers, *stack.limits]

    def _outputs(self, names: Names) -> None:
        settings, router = self._settings, self._settings.router
        scheme, live_port = ("https", settings.tls.port) if settings.tls else ("http", router.port)
        address = engine_address(settings)
        self.url: pulumi.Input[str] = (
            self.joined.url(self._topology)
            if self.joined
            else f"{scheme}://{public_host(address, router.bind_address)}:{live_port}"
        )
        self.preview_url: pulumi.Input[str] = (
            f"{scheme}://{public_host(address, router.preview_bind_address)}:{router.preview_port}"
        )
        if self._secrets.docker_host:  # the URLs name the host
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
    def _container_names(topology: Topology, key: pulumi.Output[str] | None) -> tuple[Names, Aliases]:
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
