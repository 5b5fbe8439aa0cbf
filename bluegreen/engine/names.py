"""The names and rules every layer shares, written down once.

Settings, the routing plan, the Pulumi components, the CLI and the CrossGuard
pack all read these; none of them keeps its own copy. Plain Python with no
third-party import, so the policy pack can load it on its own.

Vocabulary (docs/routing.md says the same):

- *deployment*: one stack of one project on a Docker host, named
  `<project>-<stack>` (`bluegreen-dev`); every Docker object carries it.
- *active* colour: the one `activeColor` names, the colour being promoted to;
  it takes `trafficWeight`% of requests.
- *idle* colour: the other one; it takes the rest. While a canary runs it
  still serves most requests; once the active colour has 100% it serves none,
  keeps running, and is what a rollback returns to and a release replaces.
- *preview*: the second listener; it serves the active colour while its share
  is below 100 and the idle colour once it is 100, so the colour a team wants
  to look at next is always there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


# Where the colours run: plain containers on one engine, or Docker Swarm services (docs/swarm.md).
Orchestrator = Literal["container", "swarm"]


def other(color: Color) -> Color:
    return "green" if color == "blue" else "blue"


def utc_now() -> str:
    """Timestamps in records and reports: UTC, seconds, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- names and labels ---------------------------------------------------------

DEPLOYMENT_LABEL = "bluegreen.deployment"
ROLE_LABEL = "bluegreen.role"
COLOR_LABEL = "bluegreen.color"
VERSION_LABEL = "bluegreen.version"
DIGEST_LABEL = "bluegreen.digest"  # only on containers of a colour pinned by digest
# Hash of what replaces an app container, its environment aside: a live colour
# whose spec is unchanged keeps the environment it runs (Topology.held).
SPEC_LABEL = "bluegreen.spec"
SWARM_TASK_LABEL = "com.docker.swarm.task.id"  # Swarm's own, on the container of every task
# Hook containers (bluegreen/hooks.py): which hook, and the run (hook definition + image) it was.
HOOK_LABEL = "bluegreen.hook"
HOOK_RUN_LABEL = "bluegreen.hook-run"
HOOK_STAGE_LABEL = "bluegreen.hook-stage"
# The environment variable that carries an S3-loaded image's reference on its
# command resource, where the policy pack pin-checks it.
IMAGE_REF_ENV = "BLUEGREEN_IMAGE_REF"
# What the program's drift check saw, handed to the Switch command; the switch
# records it so the next check can hand back the same value (components/drift.py).
OBSERVED_ENV = "BLUEGREEN_OBSERVED"
SMOKE_ENV = "BLUEGREEN_SMOKE"  # hooks.smoke as JSON, in the Switch command's environment


def deployment_name(project: str, stack: str) -> str:
    """`bluegreen-dev`: the prefix of every Docker object and the value of DEPLOYMENT_LABEL."""
    return f"{project}-{stack}"


def network_name(deployment: str) -> str:
    return f"{deployment}-net"


def routing_volume_name(deployment: str) -> str:
    return f"{deployment}-routing"


def router_name(deployment: str) -> str:
    return f"{deployment}-router"


def database_name(deployment: str) -> str:
    """The database container, and the host name the colours reach it by on the stack network."""
    return f"{deployment}-db"


def database_volume_name(deployment: str) -> str:
    return f"{deployment}-db-data"


SERVICE_NAME_MAX = 63  # Swarm: a service name is one DNS label


def service_name(deployment: str, color: str, version: str, spec_hash: str) -> str:
    """A swarm colour's service name: container mode's alias made one DNS label (Swarm refuses dots).

    The version is shortened to fit; the spec hash, which covers the full
    version, keeps two versions apart.
    """
    head, tail = f"{deployment}-{color}-", f"-{spec_hash}"
    label = re.sub(r"[^A-Za-z0-9-]+", "-", version).strip("-")
    return head + label[: max(SERVICE_NAME_MAX - len(head) - len(tail), 0)].rstrip("-") + tail


def task_name(service: str, slot: int) -> str:
    """A Swarm task slot as Swarm names it (`docker service ps`): what a swarm colour's plan lists."""
    return f"{service}.{slot}"


def hook_container_name(deployment: str, stage: str, hook: str) -> str:
    """One container per hook: its next run replaces it, so `docker ps -a` shows the last one."""
    return f"{deployment}-hook-{stage.lower()}-{hook}"


# --- images -------------------------------------------------------------------

IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# What production accepts as a tag that never moves (besides a digest).
IMMUTABLE_TAG_PATTERN = r"^v?\d+\.\d+\.\d+([.-][0-9A-Za-z.-]+)?$"
# An image id as the engine reports it (`docker inspect -f {{.Image}}`); a registry digest has the same form.
IMAGE_ID_PATTERN = r"^sha256:[0-9a-f]{64}$"
_IMAGE_ID = re.compile(IMAGE_ID_PATTERN)


def is_immutable_tag(tag: str, immutable: str = IMMUTABLE_TAG_PATTERN) -> bool:
    """A release tag names one build forever; a branch-like tag (`main`) follows the source."""
    return re.match(immutable, tag) is not None


def image_problem(ref: str, production: bool, immutable: str = IMMUTABLE_TAG_PATTERN) -> str | None:
    """Why an image reference is not pinned enough, or None. `validate` and the pack both ask this."""
    if _IMAGE_ID.match(ref) or "@sha256:" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {ref} has no tag (it means :latest)"
    tag = last.rsplit(":", 1)[1]
    if tag == "latest":
        return f"image {ref} uses the moving tag 'latest'"
    if production and not is_immutable_tag(tag, immutable):
        return f"image {ref}: production needs a digest or an immutable version tag (matching {immutable})"
    return None


# --- production ---------------------------------------------------------------

# Stacks whose names match are production: images must be pinned. The pack's
# `productionStacks` config defaults to the same pattern.
PRODUCTION_STACKS_PATTERN = r"^(prod|production)([-_.].*)?$"
# Stacks that may deploy to whatever engine the machine running pulumi has (the pack's devStacks default).
DEV_STACKS_PATTERN = r"^dev"


def is_production(stack: str, pattern: str = PRODUCTION_STACKS_PATTERN) -> bool:
    return re.search(pattern, stack) is not None


# --- what the program puts on every container ----------------------------------


def program_env(color: Color, version: str, port: int, profile: str, health_path: str) -> dict[str, str]:
    """The app's own variables, set by the program; a user value for any of them is refused."""
    return {
        "APP_COLOR": color,
        "APP_VERSION": version,
        "APP_PORT": str(port),
        "APP_PROFILE": profile,
        "APP_HEALTH_PATH": health_path,
    }


RESERVED_ENV = frozenset(program_env("blue", "", 0, "", "/"))
# Set by the program when stack config has a database (database.mode container or external).
DATABASE_URL_ENV = "APP_DATABASE_URL"


def is_root_user(user: str) -> bool:
    """uid 0 in every spelling Docker accepts: `0`, `00`, `0:0`, `root`, `root:root`, `0:1000`."""
    uid = user.strip().split(":", 1)[0].strip()
    return uid == "root" or (uid.isdigit() and int(uid) == 0)


# Docker healthcheck timings of app containers (app/Dockerfile says the same; a test compares).
HEALTHCHECK_INTERVAL = "1s"
HEALTHCHECK_TIMEOUT = "2s"
HEALTHCHECK_START_PERIOD = "30s"
HEALTHCHECK_RETRIES = 3
# json-file rotation of every container: the pack refuses a file driver without max-size.
# The longest drain bound a stack may set (router.drainSeconds). The router's
# Docker stop timeout is fixed just above it: the bound itself is nginx's
# worker_shutdown_timeout, written by each switch, so changing it never
# touches (and never replaces) the router container.
MAX_DRAIN_SECONDS = 3600
ROUTER_STOP_TIMEOUT = MAX_DRAIN_SECONDS + 5

LOG_OPTS = {"max-size": "10m", "max-file": "3"}


# --- traffic consistency ------------------------------------------------------


@dataclass(frozen=True)
class TrafficProblem:
    """A routing that cannot mean anything. `color` is the colour at fault (None: the weights)."""

    kind: Literal["weights", "active-empty", "idle-empty"]
    color: Color | None
    text: str


def traffic_problems(
    active: Color, weights: Mapping[Color, int], replicas: Mapping[Color, int]
) -> list[TrafficProblem]:
    """The one consistency rule of weights and replicas, for settings, plans and the pack.

    The active colour always needs replicas: it is what traffic moves to and
    what the preview shows. The idle colour needs them while it has a share.
    """
    problems: list[TrafficProblem] = []
    total = sum(int(weights.get(c, 0)) for c in COLORS)
    if total != 100:
        problems.append(TrafficProblem("weights", None, f"the two shares add up to {total}, not 100"))
    share = int(weights.get(active, 0))
    if int(replicas.get(active, 0)) < 1:
        problems.append(
            TrafficProblem(
                "active-empty", active, f"the active colour {active} (share {share}%) has no replicas to promote"
            )
        )
    idle = other(active)
    idle_share = int(weights.get(idle, 0))
    if idle_share > 0 and int(replicas.get(idle, 0)) < 1:
        problems.append(
            TrafficProblem("idle-empty", idle, f"the idle colour {idle} takes {idle_share}% but has no replicas")
        )
    return problems


def preview_color(active: Color, active_share: int, idle_has_replicas: bool) -> Color | None:
    """What the preview listener serves: the active colour until it has 100%, then the idle one."""
    if active_share < 100:
        return active
    return other(active) if idle_has_replicas else None


CONTRACT_PREFIX = "contract"  # a preSwitch hook named contract* removes what the previous release still uses


def contract_problem(hook_names: Iterable[str], live_active: str | None, active: str) -> str | None:
    """Why a contract step and a change of activeColor may not share one update, or None.

    A contract migration drops what the previous release reads; switching
    colours in the same update would leave no release to roll back to. The
    program refuses it, and so does the policy pack (same function).
    """
    contracts = sorted(n for n in hook_names if n.startswith(CONTRACT_PREFIX))
    if not contracts or live_active is None or live_active == active:
        return None
    return (
        f"hooks.preSwitch {', '.join(contracts)}: a contract step, and activeColor changes from {live_active} to "
        f"{active} in the same update; allowed: switch first, then contract in an update that keeps activeColor "
        "(docs/database.md)"
    )
