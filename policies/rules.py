"""A container baseline for Docker hosts, as CrossGuard policies.

Every rule is a module-level policy object with no side effects, so tests and
other packs can import and call them; only __main__.py builds the PolicyPack
(its constructor starts the analyzer server and blocks). Property names are
the engine's (camelCase), as policies see them during `pulumi preview`.

Which stacks count as production or dev comes from the stack name in the
resource URN, matched against `productionStacks` / `devStacks` (regexes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
SWITCH_COMMAND = "command:local:Command"
COLOR_STACK = "bluegreen:index:ColorStack"
ROLE_LABEL = "bluegreen.role"
COLOR_LABEL = "bluegreen.color"

STACK_PATTERNS: dict[str, dict[str, Any]] = {
    "productionStacks": {"type": "string", "default": "^prod", "description": "Regex of production stack names."},
    "devStacks": {"type": "string", "default": "^dev", "description": "Regex of dev stack names."},
}


# --- helpers ------------------------------------------------------------------


def config(args: ResourceValidationArgs | StackValidationArgs, schema: PolicyConfigSchema | None, key: str) -> Any:
    """The policy's config value, or the schema's default when called without config (tests, other packs)."""
    value = args.get_config().get(key)
    if value is None and schema is not None:
        value = schema.properties.get(key, {}).get("default")
    return value


def stack_of(urn: str) -> str:
    """urn:pulumi:STACK::PROJECT::TYPE::NAME -> STACK."""
    parts = urn.split(":")
    return parts[2] if len(parts) > 2 else ""


def labels(props: Mapping[str, Any]) -> dict[str, str]:
    return {str(item.get("label")): str(item.get("value")) for item in props.get("labels") or []}


def role(props: Mapping[str, Any]) -> str | None:
    return labels(props).get(ROLE_LABEL)


def containers_only(check: Any) -> Any:
    """Run `check(args, report)` for docker containers only."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == CONTAINER:
            check(args, report)

    validate.__doc__ = check.__doc__
    return validate


def schema(properties: dict[str, dict[str, Any]]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


# --- identity and limits -----------------------------------------------------------


def _non_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    user = str(args.props.get("user") or "")
    uid = user.split(":")[0]
    if not user:
        report(
            f"container {args.name} sets no user, so it runs as the image's (often root); set user, e.g. 10001", None
        )
    elif uid in ("0", "root"):
        report(f"container {args.name} runs as root (user {user!r}); use a non-root uid such as 10001", None)


non_root = ResourceValidationPolicy(
    name="container-non-root",
    description="Containers run as an explicit non-root user (not root, 0 or 0:0).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=containers_only(_non_root),
)

MEMORY_SCHEMA = schema({"maxMemoryMb": {"type": "integer", "default": 4096, "minimum": 16,
                                        "description": "Largest memory limit allowed, MiB."}})  # fmt: skip


def _memory(args: ResourceValidationArgs, report: ReportViolation) -> None:
    memory = int(args.props.get("memory") or 0)
    ceiling = int(config(args, MEMORY_SCHEMA, "maxMemoryMb"))
    if memory <= 0:
        report(f"container {args.name} has no memory limit; set memory (MiB)", None)
    elif memory > ceiling:
        report(f"container {args.name} memory limit {memory} MiB exceeds maxMemoryMb {ceiling}", None)


memory_limit = ResourceValidationPolicy(
    name="container-memory-limit",
    description="Containers have a memory limit, at most maxMemoryMb.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=MEMORY_SCHEMA,
    validate=containers_only(_memory),
)

CPU_SCHEMA = schema({"maxCpus": {"type": "number", "default": 4, "description": "Largest CPU limit, in cores."}})


def _cpu(args: ResourceValidationArgs, report: ReportViolation) -> None:
    cpus = float(args.props.get("cpus") or 0)
    quota = int(args.props.get("cpuQuota") or 0)
    ceiling = float(config(args, CPU_SCHEMA, "maxCpus"))
    if cpus <= 0 and quota <= 0:
        report(f"container {args.name} has no CPU limit; set cpus (e.g. '0.5') or cpuQuota", None)
    elif cpus > ceiling:
        report(f"container {args.name} CPU limit {cpus:g} exceeds maxCpus {ceiling:g}", None)


cpu_limit = ResourceValidationPolicy(
    name="container-cpu-limit",
    description="Containers have a CPU limit (cpus or cpuQuota), at most maxCpus.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=CPU_SCHEMA,
    validate=containers_only(_cpu),
)


# --- isolation ------------------------------------------------------------------------


def _privileged(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("privileged"):
        report(f"container {args.name} is privileged: it can do anything the host kernel can", None)


not_privileged = ResourceValidationPolicy(
    name="container-not-privileged",
    description="Containers are not privileged.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=containers_only(_privileged),
)


def _namespaces(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for key, what in (("networkMode", "network"), ("pidMode", "PID"), ("ipcMode", "IPC"), ("usernsMode", "user")):
        if str(args.props.get(key) or "") == "host":
            report(f"container {args.name} shares the host's {what} namespace ({key}: host)", None)


no_host_namespaces = ResourceValidationPolicy(
    name="container-no-host-namespaces",
    description="Containers use their own network, PID, IPC and user namespaces (no '*Mode: host').",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=containers_only(_namespaces),
)

MOUNT_SCHEMA = schema({"forbiddenHostPaths": {
    "type": "array", "items": {"type": "string"},
    "default": ["/var/run/docker.sock", "/run/docker.sock", "/", "/etc", "/proc", "/sys", "/root", "/boot",
                "/dev", "/var/lib/docker", "/run/containerd"],
    "description": "Host paths (and everything below them) that must not be mounted.",
}})  # fmt: skip


def _host_paths(props: Mapping[str, Any]) -> Iterable[str]:
    for volume in props.get("volumes") or []:
        if volume.get("hostPath"):
            yield str(volume["hostPath"])
    for mount in props.get("mounts") or []:
        if mount.get("type", "bind") == "bind" and mount.get("source"):
            yield str(mount["source"])


def _mounts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    forbidden = [p.rstrip("/") or "/" for p in config(args, MOUNT_SCHEMA, "forbiddenHostPaths")]
    for path in _host_paths(args.props):
        clean = path.rstrip("/") or "/"
        for bad in forbidden:
            if clean == bad or (bad != "/" and clean.startswith(bad + "/")):
                report(f"container {args.name} mounts host path {path} (forbidden: {bad})", None)
                break


no_sensitive_mounts = ResourceValidationPolicy(
    name="container-no-sensitive-mounts",
    description="No Docker socket or other sensitive host path is mounted (volumes and bind mounts).",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=MOUNT_SCHEMA,
    validate=containers_only(_mounts),
)

CAPABILITY_SCHEMA = schema({"allowedCapabilities": {
    "type": "array", "items": {"type": "string"}, "default": ["NET_BIND_SERVICE"],
    "description": "Linux capabilities a container may add.",
}})  # fmt: skip


def _capabilities(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = {c.upper().removeprefix("CAP_") for c in config(args, CAPABILITY_SCHEMA, "allowedCapabilities")}
    added = (args.props.get("capabilities") or {}).get("adds") or []
    extra = sorted({str(c).upper().removeprefix("CAP_") for c in added} - allowed)
    if extra:
        report(f"container {args.name} adds capabilities {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}",
               None)  # fmt: skip


capabilities_allowlist = ResourceValidationPolicy(
    name="container-capabilities-allowlist",
    description="Containers add no Linux capabilities outside allowedCapabilities.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=CAPABILITY_SCHEMA,
    validate=containers_only(_capabilities),
)


# --- images ----------------------------------------------------------------------------

IMAGE_SCHEMA = schema({**STACK_PATTERNS, "immutableTag": {
    "type": "string", "default": r"^v?\d+\.\d+\.\d+([.-][0-9A-Za-z.-]+)?$",
    "description": "Regex of tags production accepts (besides digests).",
}})  # fmt: skip
_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


def image_problem(ref: str, production: bool, immutable: str) -> str | None:
    """Why `ref` is not pinned enough, or None."""
    if _ID.match(ref) or "@sha256:" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {ref} has no tag (it means :latest)"
    tag = last.rsplit(":", 1)[1]
    if tag == "latest":
        return f"image {ref} uses the moving tag 'latest'"
    if production and not re.match(immutable, tag):
        return f"image {ref}: production needs a digest or an immutable version tag (matching {immutable})"
    return None


def _images(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == REMOTE_IMAGE:
        ref = str(args.props.get("name") or "")
    elif args.resource_type == CONTAINER:
        ref = str(args.props.get("image") or "")
    else:
        return
    if not ref:
        return  # unknown during preview: the image id is an output
    production = bool(re.search(config(args, IMAGE_SCHEMA, "productionStacks"), stack_of(args.urn)))
    problem = image_problem(ref, production, config(args, IMAGE_SCHEMA, "immutableTag"))
    if problem:
        report(problem, None)


images_pinned = ResourceValidationPolicy(
    name="images-pinned",
    description="Images are pinned: no 'latest', no tagless reference; production by digest or an immutable tag.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=IMAGE_SCHEMA,
    validate=_images,
)


# --- operability ----------------------------------------------------------------------------


def _healthcheck(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if role(args.props) == "router":
        return  # the router is probed through its status listener by every switch
    tests = (args.props.get("healthcheck") or {}).get("tests") or []
    if not tests or tests[0] == "NONE":
        report(f"container {args.name} has no healthcheck: the switch cannot tell when it is ready", None)


app_healthcheck = ResourceValidationPolicy(
    name="app-healthcheck",
    description="App containers (every container but the router) define a healthcheck.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=containers_only(_healthcheck),
)


def _restart(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = str(args.props.get("restart") or "no")
    if policy not in ("unless-stopped", "always", "on-failure"):
        report(f"container {args.name} restart policy is {policy!r}; use unless-stopped, always or on-failure", None)


restart_policy = ResourceValidationPolicy(
    name="container-restart-policy",
    description="Containers restart after a crash or a host reboot.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=containers_only(_restart),
)


def _log_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    driver = str(args.props.get("logDriver") or "json-file")
    if driver in ("json-file", "local") and not (args.props.get("logOpts") or {}).get("max-size"):
        report(f"container {args.name} logs to {driver} without logOpts max-size: the disk fills up", None)


log_rotation = ResourceValidationPolicy(
    name="container-log-rotation",
    description="File log drivers rotate (logOpts max-size).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=containers_only(_log_rotation),
)

PORT_SCHEMA = schema(dict(STACK_PATTERNS))


def _ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    ports = args.props.get("ports") or []
    if not ports:
        return
    if role(args.props) != "router":
        report(f"container {args.name} publishes host ports; only the router (label {ROLE_LABEL}=router) may", None)
    if re.search(config(args, PORT_SCHEMA, "devStacks"), stack_of(args.urn)):
        for port in ports:
            ip = str(port.get("ip") or "0.0.0.0")  # noqa: S104 - Docker's default, being checked  # nosec B104
            if not ip.startswith("127.") and ip != "::1":
                report(f"container {args.name} publishes port {port.get('external')} on {ip}; dev binds 127.0.0.1",
                       None)  # fmt: skip


ports_only_router = ResourceValidationPolicy(
    name="ports-only-router",
    description="Only the router publishes host ports, and in dev stacks only on 127.0.0.1.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PORT_SCHEMA,
    validate=containers_only(_ports),
)


def _read_only(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.props.get("readOnly"):
        report(f"container {args.name} has a writable root filesystem; consider readOnly with tmpfs for /tmp", None)


read_only_rootfs = ResourceValidationPolicy(
    name="container-read-only-rootfs",
    description="Containers have a read-only root filesystem (advisory).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=containers_only(_read_only),
)


# --- the stack as a whole -----------------------------------------------------------------------


def _plan(resources: list[PolicyResource]) -> dict[str, Any] | None:
    for resource in resources:
        if resource.resource_type == SWITCH_COMMAND and "bluegreen" in str(resource.props.get("create") or ""):
            try:
                plan: dict[str, Any] = json.loads(resource.props.get("stdin") or "")
            except json.JSONDecodeError:
                return None
            return plan
    return None


def _replicas(resources: list[PolicyResource]) -> dict[str, int]:
    counts = {"blue": 0, "green": 0}
    for resource in resources:
        if resource.resource_type == CONTAINER and role(resource.props) == "app":
            color = labels(resource.props).get(COLOR_LABEL, "")
            counts[color] = counts.get(color, 0) + 1
    return counts


def _shape(args: StackValidationArgs, report: ReportViolation) -> None:
    stacks = [r for r in args.resources if r.resource_type == COLOR_STACK]
    routers = [r for r in args.resources if r.resource_type == CONTAINER and role(r.props) == "router"]
    if len(stacks) != 2:
        report(f"expected exactly two colour stacks (blue and green), found {len(stacks)}", None)
    if len(routers) != 1:
        report(f"expected exactly one router container, found {len(routers)}", None)


stack_shape = StackValidationPolicy(
    name="bluegreen-stack-shape",
    description="A blue/green stack has exactly two colour stacks and one router.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_shape,
)


def _live_colour(args: StackValidationArgs, report: ReportViolation) -> None:
    plan = _plan(args.resources)
    if plan is None:
        return
    active = plan.get("active", "")
    if _replicas(args.resources).get(active, 0) < 1:
        report(f"the live colour {active} has no replicas", None)


live_colour_has_replicas = StackValidationPolicy(
    name="live-colour-has-replicas",
    description="The active colour has at least one running replica.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_live_colour,
)


def _weights(args: StackValidationArgs, report: ReportViolation) -> None:
    plan = _plan(args.resources)
    if plan is None:
        return
    weights: dict[str, int] = plan.get("weights") or {}
    if sum(weights.values()) != 100:
        report(f"traffic weights {weights} do not add up to 100", None)
    replicas = _replicas(args.resources)
    for color, weight in weights.items():
        if weight > 0 and replicas.get(color, 0) == 0:
            report(f"{color} takes {weight}% of traffic but has no replicas", None)


traffic_weight_consistent = StackValidationPolicy(
    name="traffic-weight-consistent",
    description="Weights add up to 100 and every colour that takes traffic has replicas.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_weights,
)

RESOURCE_POLICIES = [
    non_root, memory_limit, cpu_limit, not_privileged, no_host_namespaces, no_sensitive_mounts,
    capabilities_allowlist, images_pinned, app_healthcheck, restart_policy, log_rotation, ports_only_router,
    read_only_rootfs,
]  # fmt: skip
STACK_POLICIES = [stack_shape, live_colour_has_replicas, traffic_weight_consistent]
ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [*RESOURCE_POLICIES, *STACK_POLICIES]
