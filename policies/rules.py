"""A container baseline for Docker hosts, as CrossGuard policies.

Every rule is a module-level policy object with no side effects, so tests and
other packs can import and call them; only __main__.py builds the PolicyPack
(its constructor starts the analyzer server and blocks). Property names are
the engine's (camelCase), as policies see them during `pulumi preview`.

Which stacks count as production or dev comes from the stack name in the
resource URN, matched against `productionStacks` / `devStacks` (regexes).
`productionStacks` defaults to the pattern `bluegreen validate` uses: it, the
label keys, the pinning rule and the traffic rule come from
bluegreen/ (engine/names.py, images/pinning.py, plan/traffic.py), the one copy every layer reads.

Every rule registers itself with `@resource_rule` / `@stack_rule`, so the pack
cannot forget one: ALL_POLICIES is whatever this module defines.

During `pulumi preview` the analyzer hands rules its unknown-checking proxy:
reading a value that is not known yet (an image id, a name that hashes a new
key) raises UnknownValueError. Rules read through `value()`, which turns that
into None ("cannot tell yet"), so one unknown never silences a whole stack rule.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
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
from pulumi_policy.proxy import UnknownValueError

from bluegreen.colors import COLORS, Color
from bluegreen.config.stacks import PRODUCTION_STACKS_PATTERN, is_production
from bluegreen.engine.hardening import is_root_user, pids_limit_of
from bluegreen.engine.names import (
    COLOR_LABEL,
    ROLE_APP,
    ROLE_LABEL,
    ROLE_ROUTER,
    ROLE_ROUTER_CONTROL,
    ROLE_ROUTER_NET,
)
from bluegreen.env import IMAGE_REF_ENV
from bluegreen.images.pinning import IMMUTABLE_TAG_PATTERN, image_problem
from bluegreen.plan.traffic import contract_problem, traffic_problems

CONTAINER = "docker:index/container:Container"
SERVICE = "docker:index/service:Service"  # orchestrator swarm: checked as the container of each of its tasks
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
COMMAND = "command:local:Command"
SWITCH = "bluegreen:index:Switch"
COLOR_STACK = "bluegreen:index:ColorStack"
COLOR_SERVICE = "bluegreen:index:ColorService"
PRE_SWITCH_HOOKS = "bluegreen:index:PreSwitchHooks"

STACK_PATTERNS: dict[str, dict[str, Any]] = {
    "productionStacks": {
        "type": "string",
        "default": PRODUCTION_STACKS_PATTERN,
        "description": "Regex of production stack names (the default is the one `bluegreen validate` uses).",
    },
    "devStacks": {"type": "string", "default": "^dev", "description": "Regex of dev stack names."},
}

Check = Callable[[Any, ReportViolation], None]
ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = []


def resource_rule(
    name: str,
    description: str,
    level: EnforcementLevel = EnforcementLevel.MANDATORY,
    config_schema: PolicyConfigSchema | None = None,
    types: tuple[str, ...] | None = (CONTAINER, SERVICE),
) -> Callable[[Check], ResourceValidationPolicy]:
    """Register `check(args, report)` as a policy that sees only resources of `types` (None: every type).

    A Swarm service reaches the check as its tasks' container (`task_container`).
    """

    def register(check: Check) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if types is None or args.resource_type in types:
                check(task_container(args) if args.resource_type == SERVICE else args, report)

        policy = ResourceValidationPolicy(
            name=name, description=description, enforcement_level=level, config_schema=config_schema,
            validate=validate,
        )  # fmt: skip
        ALL_POLICIES.append(policy)
        return policy

    return register


def stack_rule(
    name: str, description: str, level: EnforcementLevel = EnforcementLevel.MANDATORY
) -> Callable[[Check], StackValidationPolicy]:
    """Register `check(args, report)` as a policy over the whole stack."""

    def register(check: Check) -> StackValidationPolicy:
        policy = StackValidationPolicy(name=name, description=description, enforcement_level=level, validate=check)
        ALL_POLICIES.append(policy)
        return policy

    return register


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


def value(props: Mapping[str, Any], key: str) -> Any:
    """props[key], or None when it is absent or not known yet (preview)."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def labels(props: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in value(props, "labels") or []:
        label, text = value(item, "label"), value(item, "value")
        if label is not None:
            found[str(label)] = str(text)
    return found


def role(props: Mapping[str, Any]) -> str | None:
    return labels(props).get(ROLE_LABEL)


def schema(properties: dict[str, dict[str, Any]]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


def task_container(args: ResourceValidationArgs) -> ResourceValidationArgs:
    """A docker.Service's arguments as those of the container each of its tasks runs, so one rule serves both."""
    props = args.props
    task = value(props, "taskSpec") or {}
    spec = value(task, "containerSpec") or {}
    limits = value(value(task, "resources") or {}, "limits") or {}
    memory, nano = value(limits, "memoryBytes"), value(limits, "nanoCpus")
    restart = value(value(task, "restartPolicy") or {}, "condition") or "any"  # Swarm's default
    log = value(task, "logDriver") or {}
    container = {
        "name": value(props, "name"), "image": value(spec, "image"), "user": value(spec, "user"),
        "memory": int(memory) // (1024 * 1024) if memory else None, "cpus": str(nano / 1e9) if nano else None,
        "readOnly": value(spec, "readOnly"), "healthcheck": value(spec, "healthcheck"),
        "capabilities": {"drops": value(spec, "capDrops") or [], "adds": value(spec, "capAdds") or []},
        "restart": {"any": "always", "on-failure": "on-failure"}.get(str(restart), "no"),
        "logDriver": value(log, "name") or "json-file", "logOpts": value(log, "options") or {},
        "mounts": value(spec, "mounts") or [], "labels": value(props, "labels") or [],
        "ports": [{"external": value(p, "publishedPort"), "internal": value(p, "targetPort"), "ip": ""}
                  for p in value(value(props, "endpointSpec") or {}, "ports") or []],
    }  # fmt: skip
    return ResourceValidationArgs(CONTAINER, container, args.urn, args.name, args.opts, args.provider,
                                  args.get_config(), args.stack_tags)  # fmt: skip


# --- identity and limits -----------------------------------------------------------


@resource_rule(
    "container-non-root",
    "Containers run as an explicit non-root user (uid 0 in no spelling: root, 0, 00, 0:0, ...).",
)
def non_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    user = str(value(args.props, "user") or "")
    if not user:
        report(
            f"container {args.name} sets no user, so it runs as the image's (often root); set user, e.g. 10001", None
        )
    elif is_root_user(user):
        report(f"container {args.name} runs as root (user {user!r}); use a non-root uid such as 10001", None)


MEMORY_SCHEMA = schema({"maxMemoryMb": {"type": "integer", "default": 4096, "minimum": 16,
                                        "description": "Largest memory limit allowed, MiB."}})  # fmt: skip


@resource_rule(
    "container-memory-limit",
    "Containers have a memory limit, at most maxMemoryMb.",
    config_schema=MEMORY_SCHEMA,
)
def memory_limit(args: ResourceValidationArgs, report: ReportViolation) -> None:
    memory = int(value(args.props, "memory") or 0)
    ceiling = int(config(args, MEMORY_SCHEMA, "maxMemoryMb"))
    if memory <= 0:
        report(f"container {args.name} has no memory limit; set memory (MiB)", None)
    elif memory > ceiling:
        report(f"container {args.name} memory limit {memory} MiB exceeds maxMemoryMb {ceiling}", None)


CPU_SCHEMA = schema({"maxCpus": {"type": "number", "default": 4, "description": "Largest CPU limit, in cores."}})


@resource_rule(
    "container-cpu-limit",
    "Containers have a CPU limit (cpus or cpuQuota), at most maxCpus.",
    config_schema=CPU_SCHEMA,
)
def cpu_limit(args: ResourceValidationArgs, report: ReportViolation) -> None:
    cpus = float(value(args.props, "cpus") or 0)
    quota = int(value(args.props, "cpuQuota") or 0)
    ceiling = float(config(args, CPU_SCHEMA, "maxCpus"))
    if cpus <= 0 and quota <= 0:
        report(f"container {args.name} has no CPU limit; set cpus (e.g. '0.5') or cpuQuota", None)
    elif cpus > ceiling:
        report(f"container {args.name} CPU limit {cpus:g} exceeds maxCpus {ceiling:g}", None)


# --- isolation ------------------------------------------------------------------------


@resource_rule(
    "container-not-privileged",
    "Containers are not privileged.",
)
def not_privileged(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if value(args.props, "privileged"):
        report(f"container {args.name} is privileged: it can do anything the host kernel can", None)


@resource_rule(
    "container-no-host-namespaces",
    "Containers use their own network, PID, IPC and user namespaces (no '*Mode: host').",
)
def no_host_namespaces(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for key, what in (("networkMode", "network"), ("pidMode", "PID"), ("ipcMode", "IPC"), ("usernsMode", "user")):
        if str(value(args.props, key) or "") == "host":
            report(f"container {args.name} shares the host's {what} namespace ({key}: host)", None)


MOUNT_SCHEMA = schema({"forbiddenHostPaths": {
    "type": "array", "items": {"type": "string"},
    "default": ["/var/run/docker.sock", "/run/docker.sock", "/", "/etc", "/proc", "/sys", "/root", "/boot",
                "/dev", "/var/lib/docker", "/run/containerd"],
    "description": "Host paths that must not be mounted, nor anything below them, nor any directory above "
                   "them (/var/run holds the Docker socket).",
}})  # fmt: skip


def _host_paths(props: Mapping[str, Any]) -> Iterable[str]:
    for volume in value(props, "volumes") or []:
        if value(volume, "hostPath"):
            yield str(value(volume, "hostPath"))
    for mount in value(props, "mounts") or []:
        if (value(mount, "type") or "bind") == "bind" and value(mount, "source"):
            yield str(value(mount, "source"))


def _clean(path: str) -> str:
    return "/" + "/".join(part for part in path.split("/") if part and part != ".")


def _exposes(mounted: str, forbidden: str) -> bool:
    """Mounting `mounted` exposes `forbidden`: the same path, a path below it, or a directory above it."""
    a, b = _clean(mounted), _clean(forbidden)
    if b == "/":  # the root itself: everything else lies below it, and is judged by its own entries
        return a == "/"
    return a == b or a.startswith(b + "/") or b.startswith(a.rstrip("/") + "/")


@resource_rule(
    "container-no-sensitive-mounts",
    "No Docker socket or other sensitive host path is mounted (volumes and bind mounts).",
    config_schema=MOUNT_SCHEMA,
)
def no_sensitive_mounts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    forbidden = list(config(args, MOUNT_SCHEMA, "forbiddenHostPaths"))
    for path in _host_paths(args.props):
        for bad in forbidden:
            if _exposes(path, bad):
                report(f"container {args.name} mounts host path {path} (forbidden: {bad})", None)
                break


CAPABILITY_SCHEMA = schema({"allowedCapabilities": {
    "type": "array", "items": {"type": "string"}, "default": ["NET_BIND_SERVICE"],
    "description": "Linux capabilities a container may add.",
}})  # fmt: skip


@resource_rule(
    "container-capabilities-allowlist",
    "Containers add no Linux capabilities outside allowedCapabilities.",
    config_schema=CAPABILITY_SCHEMA,
)
def capabilities_allowlist(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = {c.upper().removeprefix("CAP_") for c in config(args, CAPABILITY_SCHEMA, "allowedCapabilities")}
    added = value(value(args.props, "capabilities") or {}, "adds") or []
    extra = sorted({str(c).upper().removeprefix("CAP_") for c in added} - allowed)
    if extra:
        report(f"container {args.name} adds capabilities {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}",
               None)  # fmt: skip


# --- images ----------------------------------------------------------------------------

IMAGE_SCHEMA = schema({**STACK_PATTERNS, "immutableTag": {
    "type": "string", "default": IMMUTABLE_TAG_PATTERN,
    "description": "Regex of tags production accepts (besides digests).",
}})  # fmt: skip


def image_reference(resource_type: str, props: Mapping[str, Any]) -> str | None:
    """The image *reference* a resource runs, where the pin check can see one.

    A RemoteImage's name (built, pulled or the router's), an S3-loaded image's
    BLUEGREEN_IMAGE_REF, a container's image when it is a reference rather
    than an id (this program's containers get ids: their reference is checked
    on the RemoteImage or the S3 command).
    """
    if resource_type == REMOTE_IMAGE:
        ref = value(props, "name")
    elif resource_type == COMMAND:
        ref = value(value(props, "environment") or {}, IMAGE_REF_ENV)
    elif resource_type == CONTAINER:
        ref = value(props, "image")
        ref = None if isinstance(ref, str) and ref.startswith("sha256:") else ref
    else:
        return None
    return str(ref) if ref else None


@resource_rule(
    "images-pinned",
    "Image references (RemoteImage names, S3 image refs, container images) are pinned: no 'latest', no tagless "
    "reference; production by digest or an immutable tag.",
    config_schema=IMAGE_SCHEMA,
    types=None,
)
def images_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    ref = image_reference(args.resource_type, args.props)
    if ref is None:
        return  # no reference here, or not known yet
    production = is_production(stack_of(args.urn), config(args, IMAGE_SCHEMA, "productionStacks"))
    problem = image_problem(ref, production, config(args, IMAGE_SCHEMA, "immutableTag"))
    if problem:
        report(problem, None)


# --- operability ----------------------------------------------------------------------------


@resource_rule(
    "app-healthcheck",
    "App containers (every container but the router's three) define a healthcheck.",
)
def app_healthcheck(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if role(args.props) in (ROLE_ROUTER, ROLE_ROUTER_NET, ROLE_ROUTER_CONTROL):
        # the router is probed through its status listener by every switch; its net container only sleeps;
        # its control loop is asked by every switch, which uses an exec when it does not answer
        return
    tests = value(value(args.props, "healthcheck") or {}, "tests") or []
    if not tests or tests[0] == "NONE":
        report(f"container {args.name} has no healthcheck: the switch cannot tell when it is ready", None)


@resource_rule(
    "container-restart-policy",
    "Containers restart after a crash or a host reboot.",
)
def restart_policy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = str(value(args.props, "restart") or "no")
    if policy not in ("unless-stopped", "always", "on-failure"):
        report(f"container {args.name} restart policy is {policy!r}; use unless-stopped, always or on-failure", None)


@resource_rule(
    "container-log-rotation",
    "File log drivers rotate (logOpts max-size).",
)
def log_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    driver = str(value(args.props, "logDriver") or "json-file")
    if driver in ("json-file", "local") and not value(value(args.props, "logOpts") or {}, "max-size"):
        report(f"container {args.name} logs to {driver} without logOpts max-size: the disk fills up", None)


PORT_SCHEMA = schema(dict(STACK_PATTERNS))


@resource_rule(
    "ports-only-router",
    "Only the router (its net container, which owns its ports) publishes host ports, and in dev stacks only on "
    "127.0.0.1.",
    config_schema=PORT_SCHEMA,
)
def ports_only_router(args: ResourceValidationArgs, report: ReportViolation) -> None:
    ports = value(args.props, "ports") or []
    if not ports:
        return
    if role(args.props) not in (ROLE_ROUTER, ROLE_ROUTER_NET):
        report(
            f"container {args.name} publishes host ports; only the router's net container (label "
            f"{ROLE_LABEL}={ROLE_ROUTER_NET}) may",
            None,
        )
    if re.search(config(args, PORT_SCHEMA, "devStacks"), stack_of(args.urn)):
        for port in ports:
            ip = str(value(port, "ip") or ipaddress.IPv4Address(0))  # unset is Docker's default: every interface
            if not ip.startswith("127.") and ip != "::1":
                report(f"container {args.name} publishes port {value(port, 'external')} on {ip}; dev binds "
                       "127.0.0.1", None)  # fmt: skip


# --- least privilege (bluegreen/engine/hardening.py sets all of these) ----------------------------------


@resource_rule(
    "container-read-only-root",
    "Containers have a read-only root filesystem (writes go to a tmpfs or a volume). Mandatory by default; "
    "the dev stack's pack config makes it advisory.",
)
def read_only_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not value(args.props, "readOnly"):
        report(f"container {args.name} has a writable root filesystem; set readOnly with a tmpfs for /tmp", None)


@resource_rule(
    "container-no-new-privileges",
    "Containers cannot gain privileges (securityOpts no-new-privileges): setuid binaries do not raise them. "
    "Swarm services are out of scope: pulumi-docker's service spec cannot set it (docs/swarm.md).",
    types=(CONTAINER,),
)
def no_new_privileges(args: ResourceValidationArgs, report: ReportViolation) -> None:
    opts = [str(o).replace("=", ":").lower() for o in value(args.props, "securityOpts") or []]
    if not any(o in ("no-new-privileges", "no-new-privileges:true") for o in opts):
        report(f"container {args.name} can gain privileges; add securityOpts no-new-privileges:true", None)


@resource_rule(
    "container-capabilities-dropped",
    "Containers drop every Linux capability (capabilities.drops ALL) and add back only what they need.",
)
def capabilities_dropped(args: ResourceValidationArgs, report: ReportViolation) -> None:
    drops = {str(c).upper() for c in value(value(args.props, "capabilities") or {}, "drops") or []}
    if "ALL" not in drops:
        report(f"container {args.name} keeps Docker's default capabilities; set capabilities.drops [ALL]", None)


def _pids_limits(resources: list[PolicyResource]) -> dict[str, int | None]:
    """Container URN -> the limit its pids-limit command sets (None: not known yet, in a preview).

    The command is the container's child: found by its parent, or, when the
    analyzer did not link one, by its URN's type chain and its name (`NAME-pids`).
    """
    containers = {r.name: r.urn for r in resources if r.resource_type == CONTAINER}
    found: dict[str, int | None] = {}
    for resource in resources:
        if resource.resource_type != COMMAND:
            continue
        create = value(resource.props, "create")
        limit = pids_limit_of(str(create)) if create is not None else None
        if create is not None and limit is None:
            continue  # another command
        if resource.parent is not None and resource.parent.resource_type == CONTAINER:
            found[resource.parent.urn] = limit
        elif resource.parent is None and f"{CONTAINER}${COMMAND}" in resource.urn:
            owner = containers.get(resource.name.removesuffix("-pids"))
            if owner is not None:
                found[owner] = limit
    return found


@stack_rule(
    "container-pids-limit",
    "Every container gets a positive process limit. pulumi-docker has no input for it, so it is a "
    "`bluegreen pids-limit` command that is the container's child (bluegreen/engine/hardening.py).",
)
def pids_limit(args: StackValidationArgs, report: ReportViolation) -> None:
    limits = _pids_limits(args.resources)
    for resource in args.resources:
        if resource.resource_type != CONTAINER:
            continue
        if resource.urn not in limits:
            report(f"container {resource.name} has no pids limit: a fork bomb can exhaust the host's processes; "
                   "give it a `bluegreen pids-limit --limit N` child command", None)  # fmt: skip
        elif (limits[resource.urn] or 1) < 1:
            report(f"container {resource.name} pids limit {limits[resource.urn]}; allowed: a positive number", None)


# --- the stack as a whole -----------------------------------------------------------------------


def is_switch(resource: PolicyResource) -> bool:
    """The Switch's command, found by its parent component's type (the URN's type chain when unlinked)."""
    if resource.resource_type != COMMAND:
        return False
    if resource.parent is not None:
        return resource.parent.resource_type == SWITCH
    chain = resource.urn.split("::")[2] if resource.urn.count("::") >= 3 else ""
    return chain.endswith(f"{SWITCH}${COMMAND}")


def _plan(resources: list[PolicyResource]) -> dict[str, Any] | None:
    """The plan the Switch will apply, or None when there is none or it is not known yet."""
    for resource in resources:
        if is_switch(resource):
            try:
                plan: dict[str, Any] = json.loads(value(resource.props, "stdin") or "")
            except json.JSONDecodeError:
                return None
            return plan
    return None


def _replicas(resources: list[PolicyResource]) -> dict[Color, int]:
    counts: dict[Color, int] = {c: 0 for c in COLORS}
    for resource in resources:
        if resource.resource_type in (CONTAINER, SERVICE) and role(resource.props) == ROLE_APP:
            color = labels(resource.props).get(COLOR_LABEL, "")
            replicated = value(value(resource.props, "mode") or {}, "replicated") or {}
            for known in COLORS:
                if color == known:
                    counts[known] += int(value(replicated, "replicas") or 1) if resource.resource_type == SERVICE else 1
    return counts


@stack_rule(
    "bluegreen-stack-shape",
    "A blue/green stack has exactly two colour stacks (containers or Swarm services) and one router.",
)
def stack_shape(args: StackValidationArgs, report: ReportViolation) -> None:
    stacks = [r for r in args.resources if r.resource_type in (COLOR_STACK, COLOR_SERVICE)]
    routers = [r for r in args.resources if r.resource_type == CONTAINER and role(r.props) == ROLE_ROUTER]
    if len(stacks) != 2:
        report(f"expected exactly two colour stacks (blue and green), found {len(stacks)}", None)
    if len(routers) != 1:
        report(f"expected exactly one router container, found {len(routers)}", None)


def _traffic(args: StackValidationArgs, kinds: tuple[str, ...], report: ReportViolation) -> None:
    """The plan the Switch will apply, checked by the rule settings and plans use (plan/traffic.py)."""
    plan = _plan(args.resources)
    if plan is None or plan.get("active") not in COLORS:
        return
    for problem in traffic_problems(plan["active"], plan.get("weights") or {}, _replicas(args.resources)):
        if problem.kind in kinds:
            report(problem.text, None)


@stack_rule(
    "live-colour-has-replicas",
    "The active colour (the one traffic moves to) has at least one replica.",
)
def live_color_has_replicas(args: StackValidationArgs, report: ReportViolation) -> None:
    _traffic(args, ("active-empty",), report)


@stack_rule(
    "traffic-weight-consistent",
    "Weights add up to 100 and every colour that takes traffic has replicas.",
)
def traffic_weight_consistent(args: StackValidationArgs, report: ReportViolation) -> None:
    _traffic(args, ("weights", "idle-empty"), report)


@stack_rule(
    "hooks-contract-apart-from-switch",
    "A contract migration (a preSwitch hook named contract*) and a change of activeColor are never one update: "
    "the release being replaced must keep working until traffic has left it.",
)
def contract_apart_from_switch(args: StackValidationArgs, report: ReportViolation) -> None:
    plan = _plan(args.resources)
    for resource in args.resources:
        if resource.resource_type != PRE_SWITCH_HOOKS or plan is None:
            continue
        contracts = [str(n) for n in value(resource.props, "contractHooks") or []]
        live = value(resource.props, "liveActiveColor")
        problem = contract_problem(contracts, str(live) if live else None, str(plan.get("active")))
        if problem:
            report(problem, None)


RESOURCE_POLICIES = [p for p in ALL_POLICIES if isinstance(p, ResourceValidationPolicy)]
STACK_POLICIES = [p for p in ALL_POLICIES if isinstance(p, StackValidationPolicy)]
