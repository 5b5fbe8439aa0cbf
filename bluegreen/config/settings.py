"""Typed stack settings: the one model of stack config that every layer reads.

Pulumi hands the program flat strings; operators hand `validate` a YAML file.
Both go through `parse_settings`, so a value is accepted or refused by exactly
the same rules before anything is changed. Field names are the camelCase keys
users type (`pulumi config set --path router.previewPort 8081`); each field's
`Allowed` note is what an error message and the configuration reference say
is allowed, next to the constraint it explains.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from bluegreen.colors import COLORS, Color, other
from bluegreen.config.problems import MISSING, Problem, problems_from_validation_error
from bluegreen.config.secrets import SECRET_PLACEHOLDER, misplaced_secrets, redact, top_level
from bluegreen.config.stacks import DEV_STACKS_PATTERN, is_production
from bluegreen.config.tls import HOW_TO_SET, pair_problems
from bluegreen.engine.container_spec import DATABASE_URL_ENV, MAX_DRAIN_SECONDS, RESERVED_ENV
from bluegreen.engine.hardening import APP_PIDS_LIMIT, APP_TMPFS_MB, TMP, Hardening, is_root_user
from bluegreen.engine.host import ALLOWED as DOCKER_HOST_ALLOWED
from bluegreen.engine.host import PATTERN as DOCKER_HOST_PATTERN
from bluegreen.engine.names import Orchestrator
from bluegreen.errors import SettingsError
from bluegreen.images.pinning import IMAGE_ID_PATTERN, IMAGE_TAG_PATTERN, image_problem
from bluegreen.plan.traffic import traffic_problems

Stickiness = Literal["none", "cookie", "ip"]
Profile = Literal["development", "staging", "production"]


@dataclass(frozen=True)
class Allowed:
    """Human description of what a constrained field accepts (for messages and docs)."""

    text: str


def _check_ip(value: str) -> str:
    ipaddress.ip_address(value)  # raises ValueError with a clear message
    return value


def _typed_path_value(value: Any) -> Any:
    """`pulumi config set --path green.version 2` stores the number 2, `... true` a boolean.

    Where a string is meant, the text the user typed is what they meant.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


TypedText = BeforeValidator(_typed_path_value)

EnvValue = Annotated[str, TypedText, Allowed("a string (numbers and booleans are taken as typed)")]

ImageTag = Annotated[
    str,
    TypedText,
    StringConstraints(pattern=IMAGE_TAG_PATTERN),
    Allowed("an image tag: 1-128 of letters, digits, '_', '.', '-', not starting with '.' or '-'"),
]
Digest = Annotated[
    str,
    StringConstraints(pattern=IMAGE_ID_PATTERN),
    Allowed("a digest 'sha256:' followed by 64 lowercase hex digits"),
]
EnvName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
    Allowed("an environment variable name: letters, digits and '_', not starting with a digit"),
]
UrlPath = Annotated[
    str,
    StringConstraints(pattern=r"^/[A-Za-z0-9_./~%-]*$", max_length=256),
    Allowed("an absolute URL path such as /health/ready"),
]
ImageRef = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/:@-]{0,254}$"),
    Allowed("an image reference such as acme/shop or python:3.11-slim (lowercase)"),
]
Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$"),
    Allowed("a lowercase name: letters, digits, '.', '_', '-', up to 63 characters"),
]
IpAddress = Annotated[
    str,
    AfterValidator(_check_ip),
    Allowed("an IPv4 or IPv6 address such as 127.0.0.1 or 0.0.0.0"),
]
DockerHost = Annotated[
    str,
    StringConstraints(pattern=DOCKER_HOST_PATTERN.pattern),
    Allowed(f"a Docker host: {DOCKER_HOST_ALLOWED}"),
]
DockerContext = Annotated[
    str,
    StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,127}$"),
    Allowed("a Docker context name as `docker context ls` shows it (letters, digits, '_', '.', '+', '-')"),
]
HostPort = Annotated[int, Field(ge=1, le=65535)]


class Model(BaseModel):
    """Base of every settings model: camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


class ColorSpec(Model):
    """What one colour runs. `replicas: 0` means the colour is not deployed."""

    version: ImageTag | None = Field(None, description="Image tag this colour runs.")
    digest: Digest | None = Field(
        None,
        description="Pin this version's image by digest (registry source); refused once it is another version's.",
    )
    replicas: int = Field(1, ge=0, le=10, description="Containers of this colour.")
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict,
        description="Environment of this colour only, over app.env (a canary-only flag, an injected fault).",
    )


class Resources(Model):
    memory_mb: int = Field(256, ge=32, le=65536, description="Memory limit per container, MiB.")
    cpus: float = Field(0.5, ge=0.05, le=64, description="CPU limit per container, in cores.")


Capability = Annotated[
    str,
    StringConstraints(pattern=r"^(CAP_)?[A-Z][A-Z_]{1,31}$"),
    Allowed("a Linux capability name such as NET_BIND_SERVICE (uppercase)"),
]


class AppSecurity(Model):
    """Hardening an app may need to relax; `bluegreen validate` lists every relaxed value."""

    read_only_root_filesystem: bool = Field(
        True, description="Read-only root filesystem; the app writes only to its /tmp tmpfs."
    )
    tmp_size_mb: int = Field(APP_TMPFS_MB, ge=1, le=4096, description="Size of the /tmp tmpfs, MiB (counts as memory).")
    cap_add: list[Capability] = Field(
        default_factory=list, description="Capabilities added back after dropping ALL (the pack's allowlist applies)."
    )
    pids_limit: int = Field(APP_PIDS_LIMIT, ge=16, le=65536, description="Processes and threads per container.")

    def hardening(self) -> Hardening:
        return Hardening(
            read_only=self.read_only_root_filesystem,
            cap_add=tuple(c.removeprefix("CAP_") for c in self.cap_add),
            pids_limit=self.pids_limit,
            tmpfs_mb={TMP: self.tmp_size_mb},
        )

    def relaxed(self) -> list[str]:
        """`key value (default ...)` for each setting weaker than the default."""
        found = []
        if not self.read_only_root_filesystem:
            found.append("app.security.readOnlyRootFilesystem false (default true): the root filesystem is writable")
        if self.cap_add:
            found.append(f"app.security.capAdd {', '.join(self.cap_add)} (default none): capabilities added back")
        if self.pids_limit > APP_PIDS_LIMIT:
            found.append(f"app.security.pidsLimit {self.pids_limit} (default {APP_PIDS_LIMIT})")
        return found


UserSpec = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$"),
    Allowed("a user as uid[:gid] or name[:group], e.g. 10001:10001"),
]


class AppSettings(Model):
    port: int = Field(8000, ge=1024, le=65535, description="Port the app listens on inside its container.")
    health_path: UrlPath = Field("/health/ready", description="Readiness path probed by the gate.")
    profile: Profile = Field("production", description="APP_PROFILE given to the app.")
    env: dict[EnvName, EnvValue] = Field(default_factory=dict, description="Extra environment for every app container.")
    resources: Resources = Field(default_factory=Resources, description="Limits per app container.")
    stop_grace_seconds: int = Field(
        30, ge=1, le=600, description="SIGTERM to SIGKILL on stop; in-flight requests finish."
    )
    user: UserSpec = Field("10001:10001", description="User the app runs as (never root).")
    security: AppSecurity = Field(default_factory=AppSecurity, description="Container hardening (docs/security.md).")
    health_command: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=lambda: ["python", "-S", "-m", "bluegreen_app.healthcheck"],
        min_length=1,
        description="Docker healthcheck command (exit 0 = healthy), run inside the app container.",
    )


class BuildImage(Model):
    """Build the app image from source on the Docker host (no push)."""

    source: Literal["build"] = "build"
    name: Name = Field("bluegreen-app", description="Local repository name of the built image.")
    context: str = Field("app", min_length=1, description="Build context, relative to Pulumi.yaml.")
    dockerfile: str = Field("Dockerfile", min_length=1, description="Dockerfile in the context.")
    base_image: ImageRef = Field("python:3.11-slim", description="BASE_IMAGE build arg: the builder stage's base.")
    runtime_image: ImageRef | None = Field(
        None,
        description="RUNTIME_IMAGE build arg: the final stage's base, the same Python at the same path "
        "(unset: baseImage).",
    )


class RegistryImage(Model):
    """Run an image that a registry already holds, pinned by tag or digest."""

    source: Literal["registry"]
    repository: ImageRef = Field(description="Repository without tag, e.g. acme/shop.")


class S3Image(Model):
    """Load image tarballs from an S3-compatible bucket (no registry needed)."""

    source: Literal["s3"]
    name: Name = Field("bluegreen-app", description="Image name inside the store.")
    bucket: Annotated[
        str,
        StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
        Allowed("an S3 bucket name: 3-63 lowercase letters, digits, '.', '-'"),
    ]
    prefix: str = Field("images", description="Key prefix inside the bucket.")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint; unset for AWS.")


ImageSettings = Annotated[BuildImage | RegistryImage | S3Image, Field(discriminator="source")]


class RateLimit(Model):
    requests_per_second: int = Field(ge=1, le=100000, description="Sustained rate per client IP.")
    burst: int = Field(20, ge=0, le=100000, description="Requests above the rate queued, then 429.")


def _check_cidr(value: str) -> str:
    ipaddress.ip_network(value, strict=False)
    return value


Cidr = Annotated[
    str,
    AfterValidator(_check_cidr),
    Allowed("an address or network such as 10.0.0.0/8 or 192.0.2.10"),
]


class Edge(Model):
    """Limits and client addresses at the router: what a load balancer in front would otherwise own.

    Part of the routing plan (a change is an nginx config change: checked,
    then one reload).
    """

    max_body_mb: int = Field(10, ge=1, le=4096, description="Largest request body, MiB; 413 above it.")
    proxy_read_timeout_seconds: int = Field(
        120, ge=1, le=3600, description="Longest silence from the app on a request (and a WebSocket), seconds."
    )
    client_header_timeout_seconds: int = Field(10, ge=1, le=300, description="Time to send the request headers.")
    client_body_timeout_seconds: int = Field(30, ge=1, le=600, description="Longest pause while sending a body.")
    max_connections_per_client: int | None = Field(
        None, ge=1, le=100000, description="Open connections per client address (limit_conn); 429 above it."
    )
    trusted_proxies: list[Cidr] = Field(
        default_factory=list,
        description="Load balancers in front: their X-Forwarded-For (or PROXY protocol) names the client. "
        "Empty: a client's own X-Forwarded-For is never trusted.",
    )
    proxy_protocol: bool = Field(False, description="The load balancer speaks PROXY protocol to the router.")


class TlsListener(Model):
    """What of `tls` the routing needs: the HTTPS listener, redirect and protocol versions (no key material)."""

    port: HostPort = Field(443, description="Host port of the HTTPS live listener (on router.bindAddress).")
    redirect_http: bool = Field(
        True, description="router.port answers 308 to https (path and query kept) instead of serving."
    )
    hsts: bool = Field(False, description="Send Strict-Transport-Security (max-age one year) on HTTPS answers; opt in.")
    min_version: Literal["TLSv1.2", "TLSv1.3"] = Field("TLSv1.2", description="Oldest TLS version accepted.")


class Tls(TlsListener):
    """TLS at the router (docs/edge.md). A top-level key, not under `router`.

    Pulumi marks a whole top-level key secret, so `--secret --path tls.key`
    keeps every router setting (and what is derived from it) plain.
    """

    certificate: str = Field(
        min_length=1, description="PEM certificate chain, leaf first; set it with --secret (docs/edge.md)."
    )
    key: str = Field(min_length=1, description="PEM private key of the certificate; must be set with --secret.")

    def listener(self) -> TlsListener:
        return TlsListener.model_validate(self.model_dump(include=set(TlsListener.model_fields)))


MAINTENANCE_MESSAGE_MAX = 500  # characters of the page's text (stack config and `bluegreen maintenance`)


class Maintenance(Model):
    """The live listener answers 503 with Retry-After while enabled; the preview listener keeps serving."""

    enabled: bool = Field(False, description="Answer every live request with the maintenance page.")
    message: Annotated[str, StringConstraints(max_length=MAINTENANCE_MESSAGE_MAX)] = Field(
        "Down for maintenance; back soon.", description="Text of the page (HTML-escaped)."
    )
    retry_after_seconds: int = Field(60, ge=1, le=86400, description="Retry-After on every 503, seconds.")


HeaderName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"),
    Allowed("an HTTP header name such as X-Canary-Tester"),
]
AllowlistToken = Annotated[
    str,
    TypedText,
    StringConstraints(pattern=r"^[A-Za-z0-9_.:@+-]{8,128}$"),
    Allowed("a token of 8-128 letters, digits and _ . : @ + -"),
]


class RolloutStep(Model):
    weight: int = Field(ge=1, le=99, description="activeColor's share at this step, percent.")
    pause_seconds: float = Field(ge=0, le=3600, description="How long the step is analysed before the next one.")


class Analysis(Model):
    """When a canary fails: judged every interval on the router's own log (docs/rollouts.md)."""

    interval_seconds: float = Field(5, ge=1, le=300, description="Length of each judged window.")
    min_requests: int = Field(
        50, ge=1, le=1_000_000, description="Fewer candidate requests in a window: inconclusive, never a pass."
    )
    max_error_rate_pct: float = Field(1, ge=0, le=100, description="Candidate 5xx per 100 requests above it: fail.")
    max_p99_ms: float = Field(500, gt=0, le=600_000, description="Candidate p99 above it: fail.")
    max_p99_ratio: float = Field(
        1.5, ge=1, le=100, description="Candidate p99 above this times the stable colour's (same window): fail."
    )
    failure_limit: int = Field(1, ge=0, le=100, description="Failed windows tolerated; one more aborts.")


class Rollout(Model):
    """How traffic moves to activeColor: steps judged by analysis, and who may skip the dice."""

    steps: list[RolloutStep] = Field(
        default_factory=list,
        description="Weights walked (each analysed) when activeColor gains traffic, before the configured "
        "trafficWeight; empty: one switch.",
    )
    analysis: Analysis = Field(default_factory=Analysis, description="The judgement of every step.")
    progress_deadline_seconds: float = Field(
        600, ge=1, le=86400, description="A step still without a passing window this long after it began aborts."
    )
    allowlist_header: HeaderName | None = Field(
        None, description="Request header whose value is looked up in rollout.allowlist."
    )
    allowlist: list[AllowlistToken] = Field(
        default_factory=list,
        description="Values of rollout.allowlistHeader that always go to activeColor (testers), whatever the weight.",
    )


class Notifications(Model):
    """A top-level key, so `--secret --path notifications.webhookUrl` keeps everything else plain."""

    webhook_url: (
        Annotated[
            str,
            StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2048),
            Allowed("an http(s) URL such as a Slack incoming webhook; set it with --secret"),
        ]
        | None
    ) = Field(None, description="Receives each rollout event as JSON with a Slack-compatible `text`.")


DATABASE_PASSWORD_MIN = 16
DatabaseMode = Literal["none", "container", "external"]


def _check_postgres_url(value: str) -> str:
    # A stack file's `secure:` value cannot be decrypted offline: it stays opaque.
    if value != SECRET_PLACEHOLDER and not re.match(r"^postgres(ql)?://\S+$", value):
        raise ValueError("not a postgresql:// URL")
    return value


PostgresUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_check_postgres_url),
    Allowed("a postgresql:// URL such as postgresql://app:PASSWORD@db.internal:5432/app; set it with --secret"),
]


class DatabaseResources(Model):
    memory_mb: int = Field(512, ge=64, le=65536, description="Memory limit of the database container, MiB.")
    cpus: float = Field(1.0, ge=0.05, le=64, description="CPU limit of the database container, in cores.")


class Database(Model):
    """PostgreSQL both colours share (docs/database.md). A top-level key: `--secret --path database.password`."""

    mode: DatabaseMode = Field(
        "none",
        description="none; container: PostgreSQL in the stack, data on a named volume; external: database.url.",
    )
    image: ImageRef = Field("postgres:17.2-bookworm", description="PostgreSQL image (mode container).")
    name: Name = Field("app", description="Database the app uses (mode container).")
    user: Name = Field("app", description="Role the app connects as (mode container).")
    password: str | None = Field(
        None,
        min_length=1,
        description="Role password, a secret (mode container); unset: generated once, kept in state as a secret.",
    )
    url: PostgresUrl | None = Field(None, description="The database's URL, a secret (mode external).")
    run_as: UserSpec = Field("999:999", description="User the database container runs as (the image's postgres).")
    resources: DatabaseResources = Field(default_factory=DatabaseResources, description="Database container limits.")


HookName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$"),
    Allowed("a hook name: 1-31 lowercase letters, digits and '-'"),
]


class CommandHook(Model):
    """A one-off container of a colour's image (its environment, network and limits) running `command`."""

    name: HookName = Field(description="Names the hook's container and resource; contract* marks a contract step.")
    command: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        min_length=1, description="Command run in the colour's image, e.g. [python, -m, bluegreen_app, migrate]."
    )
    timeout_seconds: int = Field(300, ge=1, le=3600, description="Killed and failed after this long.")


class SmokeCheck(Model):
    """A GET through the preview listener, from inside the router, before traffic moves."""

    name: HookName = Field(description="Named in the failure message.")
    path: UrlPath = Field(description="Path requested, e.g. /health/ready.")
    expect_status: int = Field(200, ge=100, le=599, description="The status it must answer.")


class Hooks(Model):
    """What runs between "the candidate is healthy" and "traffic moves" (docs/database.md)."""

    pre_switch: list[CommandHook] = Field(
        default_factory=list,
        description="Before any traffic moves to a new image: once per image and hook definition (migrations).",
    )
    smoke: list[SmokeCheck] = Field(
        default_factory=list, description="Checked through the preview before a switch gives the candidate traffic."
    )
    post_promote: list[CommandHook] = Field(
        default_factory=list, description="After the active colour reaches 100%; a failure fails the update only."
    )


class RouterSettings(Model):
    port: HostPort = Field(8080, description="Host port of the live listener.")
    preview_port: HostPort = Field(8081, description="Host port of the preview listener.")
    bind_address: IpAddress = Field("127.0.0.1", description="Host address the live port binds to.")
    preview_bind_address: IpAddress = Field(
        "127.0.0.1",
        description="Host address the preview port binds to: loopback, so the unreleased colour is reachable "
        "from the host only (ssh -L), unless you open it.",
    )
    image: ImageRef = Field("nginxinc/nginx-unprivileged:1.28", description="nginx image (non-root, listens on 8080).")
    drain_seconds: int = Field(30, ge=0, le=MAX_DRAIN_SECONDS, description="Bound on old connections after a switch.")
    security_headers: bool = Field(True, description="Add HSTS-free security headers (always).")
    rate_limit: RateLimit | None = Field(None, description="Per-client rate limit, 429 beyond it.")
    edge: Edge = Field(default_factory=Edge, description="Limits, timeouts and client addresses (docs/edge.md).")
    memory_mb: int = Field(128, ge=16, le=4096, description="Router memory limit, MiB.")
    cpus: float = Field(0.5, ge=0.05, le=16, description="Router CPU limit, in cores.")


class HealthGate(Model):
    timeout_seconds: float = Field(60, gt=0, le=900, description="Total bound on the gate.")
    interval_seconds: float = Field(0.5, gt=0, le=60, description="First backoff step.")
    successes: int = Field(2, ge=1, le=20, description="Consecutive passes per container.")


class DockerSettings(Model):
    host: DockerHost | None = Field(None, description="Docker host to deploy to; unset uses the local engine.")
    context: DockerContext | None = Field(
        None,
        description="A Docker context to deploy to instead of docker.host (pulumi-docker's `context`); the CLI "
        "reads its endpoint and TLS files from the docker config folder.",
    )
    cert_path: str | None = Field(
        None,
        min_length=1,
        description="For a tcp:// host: the folder with ca.pem, cert.pem and key.pem (pulumi-docker's cert_path); "
        "the engine's certificate is always verified.",
    )
    local: bool = Field(
        False,
        description="A non-dev stack without docker.host deploys to the engine of the machine running pulumi "
        "(a single-machine setup); without this it is refused.",
    )


class RegistryAuth(Model):
    """Pull credentials for the docker provider (pulumi-docker takes them only from its registry_auth).

    A top-level key, not under `image`: Pulumi marks a whole top-level key
    secret, so `--secret --path registryAuth.password` keeps the image settings
    (and the names derived from them) plain.
    """

    address: Annotated[
        str,
        StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{0,252}(:[0-9]{1,5})?$"),
        Allowed("a registry host[:port] such as registry.example.com"),
    ] = Field(description="Registry host the credentials are for.")
    username: str = Field(min_length=1, max_length=256, description="Registry user.")
    password: str = Field(min_length=1, description="Registry password or token; set it with --secret.")


class StackSettings(Model):
    """The whole stack config of the `bluegreen` Pulumi project."""

    active_color: Color = Field(description="The colour being promoted to; it takes trafficWeight% of requests.")
    traffic_weight: int = Field(
        100, ge=0, le=100, description="Share of requests for activeColor; the idle colour gets the rest."
    )
    stickiness: Stickiness = Field("none", description="Keep a client on one colour during a canary.")
    blue: ColorSpec = Field(default_factory=ColorSpec, description="What the blue colour runs.")
    green: ColorSpec = Field(default_factory=lambda: ColorSpec(replicas=0), description="What the green colour runs.")
    app: AppSettings = Field(default_factory=AppSettings, description="The app containers of both colours.")
    image: ImageSettings = Field(
        default_factory=BuildImage, description="Where images come from: build, registry or s3 (docs/images.md)."
    )
    router: RouterSettings = Field(default_factory=RouterSettings, description="The nginx router.")
    health_gate: HealthGate = Field(default_factory=HealthGate, description="What a switch waits for.")
    registry_auth: RegistryAuth | None = Field(
        None, description="Pull credentials for a login-protected registry (image.source registry)."
    )
    docker: DockerSettings = Field(default_factory=DockerSettings, description="The Docker host.")
    tls: Tls | None = Field(None, description="HTTPS at the router: certificate and key as secrets (docs/edge.md).")
    maintenance: Maintenance = Field(
        default_factory=Maintenance, description="The maintenance page on the live listener (docs/edge.md)."
    )
    rollout: Rollout = Field(
        default_factory=Rollout,
        description="Analysed steps (docs/rollouts.md) and the canary allowlist (docs/edge.md).",
    )
    notifications: Notifications = Field(
        default_factory=Notifications, description="Where rollout events go besides stdout (docs/rollouts.md)."
    )
    database: Database = Field(
        default_factory=Database, description="PostgreSQL for both colours: none, container or external."
    )
    hooks: Hooks = Field(
        default_factory=Hooks, description="preSwitch commands, smoke checks and postPromote commands."
    )
    orchestrator: Orchestrator = Field(
        "container",
        description="What runs the colours: containers on the Docker host, or one Docker Swarm service per colour "
        "over the swarm's nodes (docs/swarm.md).",
    )

    def color(self, color: Color) -> ColorSpec:
        return self.blue if color == "blue" else self.green

    @property
    def idle_color(self) -> Color:
        """The colour activeColor does not name: it takes the rest of the traffic."""
        return other(self.active_color)

    def weights(self) -> dict[Color, int]:
        """Share of live traffic per colour; the two always add up to 100."""
        return {self.active_color: self.traffic_weight, self.idle_color: 100 - self.traffic_weight}

    def image_ref(self, color: Color) -> str:
        return image_ref(self.image, self.color(color))


def image_ref(image: BuildImage | RegistryImage | S3Image, spec: ColorSpec) -> str:
    """The reference a colour's image is built as, pulled by or loaded under (what the pack pin-checks)."""
    version = spec.version or "latest"
    if isinstance(image, RegistryImage):
        return f"{image.repository}@{spec.digest}" if spec.digest else f"{image.repository}:{version}"
    return f"{image.name}:{version}"


def _traffic_problems(s: StackSettings) -> list[Problem]:
    replicas = {c: s.color(c).replicas for c in COLORS}
    problems: list[Problem] = []
    for found in traffic_problems(s.active_color, s.weights(), replicas):
        if found.kind == "active-empty":
            problems.append(
                Problem(
                    f"{s.active_color}.replicas",
                    0,
                    f"at least 1: {found.text} (or set activeColor to {s.idle_color})",
                )
            )
        elif found.kind == "idle-empty":
            problems.append(
                Problem("trafficWeight", s.traffic_weight, f"100, or give {s.idle_color}.replicas >= 1: {found.text}")
            )
    return problems


def _tls_problems(s: StackSettings, secret_tops: Collection[str]) -> list[Problem]:
    """The pair must be usable and the key a secret; its port must be the router's third."""
    if s.tls is None:
        return []
    problems = []
    if "tls" not in secret_tops:
        how = HOW_TO_SET.format(key="key", file="privkey.pem")
        problems.append(Problem("tls.key", SECRET_PLACEHOLDER, f"a secret, never a plain value in a stack file: {how}"))
    if SECRET_PLACEHOLDER not in (s.tls.certificate, s.tls.key):  # a stack file's secure: values stay opaque
        problems += pair_problems(s.tls.certificate, s.tls.key)
    taken = {s.router.port: "router.port", s.router.preview_port: "router.previewPort"}
    if s.tls.port in taken:
        problems.append(Problem("tls.port", s.tls.port, f"a host port other than {taken[s.tls.port]} ({s.tls.port})"))
    return problems


def _database_problems(s: StackSettings, stack: str, secret_tops: Collection[str]) -> list[Problem]:
    """Each mode's own keys, and its credentials only as secrets."""
    db = s.database
    problems = []
    if db.mode == "external" and not db.url:
        problems.append(
            Problem("database.url", MISSING, "the database's postgresql:// URL when database.mode is external")
        )
    if db.url and db.mode != "external":
        problems.append(
            Problem("database.url", SECRET_PLACEHOLDER, f"unset; database.mode is '{db.mode}', not external")
        )
    if db.password and db.mode != "container":
        problems.append(
            Problem("database.password", SECRET_PLACEHOLDER, f"unset; database.mode is '{db.mode}', not container")
        )
    for leaf in ("url", "password"):
        if getattr(db, leaf) and "database" not in secret_tops:
            how = f"pulumi config set --secret --path database.{leaf} ..."
            problems.append(Problem(f"database.{leaf}", SECRET_PLACEHOLDER, f"a secret, never a plain value: {how}"))
    if db.mode == "container":
        pinned = image_problem(db.image, is_production(stack))
        if pinned:
            problems.append(Problem("database.image", db.image, f"a pinned image ({pinned})"))
        if is_root_user(db.run_as):
            problems.append(Problem("database.runAs", db.run_as, "a non-root user, e.g. 999:999"))
    if db.mode != "none":
        for where, env in (("app.env", s.app.env), ("blue.env", s.blue.env), ("green.env", s.green.env)):
            if DATABASE_URL_ENV in env:
                problems.append(
                    Problem(
                        f"{where}.{DATABASE_URL_ENV}", SECRET_PLACEHOLDER, f"unset; database.mode {db.mode} sets it"
                    )
                )
    if db.password and db.password != SECRET_PLACEHOLDER and len(db.password) < DATABASE_PASSWORD_MIN:
        problems.append(
            Problem("database.password", SECRET_PLACEHOLDER, f"at least {DATABASE_PASSWORD_MIN} characters")
        )
    return problems


def _swarm_problems(s: StackSettings) -> list[Problem]:
    """What swarm mode does not run yet: anything that is one container on the deploying engine."""
    if s.orchestrator != "swarm":
        return []
    problems = []
    if s.database.mode == "container":
        problems.append(
            Problem(
                "database.mode",
                "container",
                "none or external with orchestrator swarm: a database container keeps its data on one node "
                "(docs/swarm.md)",
            )
        )
    for stage, hooks in (("preSwitch", s.hooks.pre_switch), ("postPromote", s.hooks.post_promote)):
        if hooks:
            problems.append(
                Problem(
                    f"hooks.{stage}",
                    [h.name for h in hooks],
                    "empty with orchestrator swarm: hooks run one-off containers on one engine, not yet on a swarm "
                    "(docs/swarm.md); hooks.smoke works",
                )
            )
    return problems


def _cross_field_problems(s: StackSettings, stack: str, secret_tops: Collection[str] = ()) -> list[Problem]:
    """Rules that span keys; each names the key a user should change."""
    problems = _traffic_problems(s)
    production = is_production(stack)
    for color in COLORS:
        spec = s.color(color)
        if spec.replicas > 0 and not spec.version:
            problems.append(
                Problem(
                    f"{color}.version",
                    MISSING,
                    f"an image tag, because {color}.replicas is {spec.replicas}",
                )
            )
        elif spec.replicas > 0:
            pinned = image_problem(s.image_ref(color), production)
            if pinned:
                where = f"stack '{stack}' is production" if production else "every stack"
                problems.append(Problem(f"{color}.version", spec.version, f"a pinned version ({where}: {pinned})"))
        if spec.digest and not isinstance(s.image, RegistryImage):
            problems.append(
                Problem(
                    f"{color}.digest",
                    spec.digest,
                    f"unset; a digest pins a registry image, but image.source is '{s.image.source}'",
                )
            )
    router_pinned = image_problem(s.router.image, production)
    if router_pinned:
        problems.append(Problem("router.image", s.router.image, f"a pinned image ({router_pinned})"))
    if s.router.port == s.router.preview_port:
        problems.append(
            Problem(
                "router.previewPort",
                s.router.preview_port,
                f"a host port other than router.port ({s.router.port})",
            )
        )
    for where, env in (("app.env", s.app.env), ("blue.env", s.blue.env), ("green.env", s.green.env)):
        for name in sorted(RESERVED_ENV.intersection(env)):
            problems.append(
                Problem(
                    f"{where}.{name}",
                    env[name],
                    "unset; the program sets " + ", ".join(sorted(RESERVED_ENV)) + " itself",
                )
            )
    if s.docker.host and s.docker.context:
        problems.append(Problem("docker.context", s.docker.context, "unset while docker.host is set (one engine)"))
    if s.docker.cert_path and not (s.docker.context or (s.docker.host or "").startswith("tcp://")):
        problems.append(
            Problem("docker.certPath", s.docker.cert_path, "set only with a tcp:// docker.host (or docker.context)")
        )
    if not s.docker.host and not s.docker.context and not s.docker.local and not re.match(DEV_STACKS_PATTERN, stack):
        problems.append(
            Problem(
                "docker.host",
                MISSING,
                f"the engine stack '{stack}' deploys to (ssh://user@host, tcp://host:2376), a docker.context, or "
                "docker.local: true when it runs on the machine that runs pulumi; otherwise a CI runner deploys to "
                "itself",
            )
        )
    problems += _tls_problems(s, secret_tops)
    weights = [step.weight for step in s.rollout.steps]
    if weights != sorted(set(weights)):
        problems.append(Problem("rollout.steps", weights, "weights that only go up, each once, e.g. [10, 50]"))
    longest = max([step.pause_seconds for step in s.rollout.steps] + [s.rollout.analysis.interval_seconds])
    if s.rollout.steps and s.rollout.progress_deadline_seconds <= longest:
        problems.append(
            Problem(
                "rollout.progressDeadlineSeconds",
                s.rollout.progress_deadline_seconds,
                f"more than every step's pauseSeconds and analysis.intervalSeconds ({longest:g}): a step must be "
                "able to pass before its deadline",
            )
        )
    if bool(s.rollout.allowlist) != bool(s.rollout.allowlist_header):
        key = "rollout.allowlistHeader" if s.rollout.allowlist else "rollout.allowlist"
        problems.append(
            Problem(key, MISSING, "set together with the other: the header testers send, and its allowed values")
        )
    if s.router.edge.proxy_protocol and not s.router.edge.trusted_proxies:
        problems.append(
            Problem(
                "router.edge.proxyProtocol",
                True,
                "false, or the load balancers in router.edge.trustedProxies: PROXY protocol from anyone else lets a "
                "client choose its own address",
            )
        )
    problems += _database_problems(s, stack, secret_tops)
    problems += _swarm_problems(s)
    for stage, hooks in (
        ("preSwitch", s.hooks.pre_switch),
        ("smoke", s.hooks.smoke),
        ("postPromote", s.hooks.post_promote),
    ):
        names = [h.name for h in hooks]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(Problem(f"hooks.{stage}", name, "hook names that differ within a stage"))
    if is_root_user(s.app.user):
        problems.append(Problem("app.user", s.app.user, "a non-root user, e.g. 10001:10001"))
    if s.health_gate.interval_seconds >= s.health_gate.timeout_seconds:
        problems.append(
            Problem(
                "healthGate.intervalSeconds",
                s.health_gate.interval_seconds,
                f"less than healthGate.timeoutSeconds ({s.health_gate.timeout_seconds:g})",
            )
        )
    return problems


def parse_settings(raw: dict[str, Any], stack: str, secret_paths: Collection[str] = ()) -> StackSettings:
    """Validate raw config (keys without namespace) for `stack`.

    Raises SettingsError with one Problem per bad value; field errors first,
    cross-field rules only once every field is valid on its own. A value
    under a secret key (`secret_paths`: `app` from the engine, or leaves such
    as `app.env.DB_PASSWORD` from a stack file) is shown as `[secret]`.
    """
    secret_tops = {top_level(p) for p in secret_paths}
    problems = misplaced_secrets(secret_paths)
    if problems:
        raise SettingsError(redact(problems, secret_tops))
    try:
        settings = StackSettings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(redact(problems_from_validation_error(exc, StackSettings), secret_tops)) from None
    problems = _cross_field_problems(settings, stack, secret_tops)
    if problems:
        raise SettingsError(redact(problems, secret_tops))
    return settings
