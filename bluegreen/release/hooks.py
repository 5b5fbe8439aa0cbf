"""Hooks: one-off containers of a colour's image, run before its traffic moves (preSwitch) or after it
reached 100% (postPromote).

A hook container is the colour's first running container again, with the
hook's command: same image (by id), environment, user, network and limits,
no healthcheck and no restart. It stays, exited, until the next run of the
same hook replaces it, so `docker ps -a` shows the last run, its exit code
and its logs.

Once per image and hook definition: the program re-runs the hook's resource
only when one of them changes (components/hooks.py), and the runner skips a
run whose last container already succeeded with this run key (two colours on
one image run a migration once). `python -m bluegreen rollback` runs none.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.colors import Color
from bluegreen.config.hooks import CommandHook
from bluegreen.engine.client import DockerClient
from bluegreen.engine.names import (
    COLOR_LABEL,
    DEPLOYMENT_LABEL,
    DIGEST_LABEL,
    HOOK_LABEL,
    HOOK_RUN_LABEL,
    HOOK_STAGE_LABEL,
    ROLE_APP,
    ROLE_HOOK,
    ROLE_LABEL,
    VERSION_LABEL,
    hook_container_name,
)
from bluegreen.errors import BluegreenError, HookFailedError, InputError
from bluegreen.release.progress import Progress, quiet

TAIL_LINES = 20
POLL_SECONDS = 0.2
# Copied from the colour's container, so the hook runs under the same limits and hardening.
HOST_CONFIG_KEYS = (
    "Memory", "NanoCpus", "CapDrop", "CapAdd", "SecurityOpt", "ReadonlyRootfs", "Tmpfs", "PidsLimit", "LogConfig",
)  # fmt: skip


def definition_hash(hook: CommandHook) -> str:
    """What makes a hook run again when it changes: its command and its bound."""
    return hashlib.sha256(json.dumps(hook.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def run_key(hook: CommandHook, image_id: str) -> str:
    """One run per image and hook definition."""
    return hashlib.sha256(f"{definition_hash(hook)}:{image_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class HookRun:
    container: str
    image: str
    exit_code: int | None  # None: skipped, it already ran for this image and definition
    seconds: float
    tail: tuple[str, ...]


def color_container(client: DockerClient, deployment: str, color: Color, image: str) -> dict[str, Any]:
    """The first running container of `color` on `image`: the environment and network a hook runs with.

    During a release the colour's replaced containers still run (Pulumi deletes them last): the image
    the program built for this run picks the new ones.
    """
    found = client.containers(
        {DEPLOYMENT_LABEL: deployment, ROLE_LABEL: ROLE_APP, COLOR_LABEL: color}, all_states=False
    )
    on_image = sorted(c["Names"][0].lstrip("/") for c in found if c.get("ImageID") == image)
    if not on_image:
        raise InputError(
            f"no running {color} container of {deployment} on image {image[:19]} to take the environment and "
            f"network from ({len(found)} {color} container(s) on other images)"
        )
    info = client.inspect(on_image[0])
    if info is None:
        raise BluegreenError(f"{on_image[0]} disappeared before its hook could start")
    return info


def hook_labels(
    deployment: str, stage: str, color: Color, hook: CommandHook, key: str, version: str, image: str
) -> dict[str, str]:
    """What marks a hook's run, on its container or its swarm job: `remove_run` and the next run find it by them."""
    return {
        DEPLOYMENT_LABEL: deployment, ROLE_LABEL: ROLE_HOOK, HOOK_LABEL: hook.name, HOOK_STAGE_LABEL: stage,
        HOOK_RUN_LABEL: key, COLOR_LABEL: color, VERSION_LABEL: version, DIGEST_LABEL: image,
    }  # fmt: skip


def container_spec(
    source: Mapping[str, Any], deployment: str, stage: str, color: Color, hook: CommandHook, key: str
) -> dict[str, Any]:
    """The Engine API body of a hook container made from a colour's container (`docker inspect` of it)."""
    config, host = source["Config"], source["HostConfig"]
    labels = config.get("Labels") or {}
    network = next(iter(source["NetworkSettings"]["Networks"]))
    return {
        "Image": source["Image"],
        "Cmd": list(hook.command),
        "Env": list(config.get("Env") or []),
        "User": config.get("User") or "",
        "WorkingDir": config.get("WorkingDir") or "",
        "Healthcheck": {"Test": ["NONE"]},
        "Labels": hook_labels(deployment, stage, color, hook, key, labels.get(VERSION_LABEL, ""), source["Image"]),
        "HostConfig": {
            **{k: host[k] for k in HOST_CONFIG_KEYS if host.get(k) is not None},
            "NetworkMode": network,
            "RestartPolicy": {"Name": "no"},
        },
    }


def run_hook(
    client: DockerClient,
    deployment: str,
    stage: str,
    color: Color,
    hook: CommandHook,
    image: str,
    progress: Progress = quiet,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> HookRun:
    """Run `hook` once in `color`'s `image` (an id); HookFailedError quotes its last lines when it fails."""
    source = color_container(client, deployment, color, image)
    key = run_key(hook, image)
    name = hook_container_name(deployment, stage, hook.name)
    last = _unless_running(client, name, hook, progress, clock, sleep)
    if last is not None:
        state = last.get("State") or {}
        same = (last["Config"].get("Labels") or {}).get(HOOK_RUN_LABEL) == key
        if same and not state.get("Running") and state.get("ExitCode") == 0:
            progress(f"{stage} hook {hook.name}: already ran for image {image[:19]} ({name} exited 0); not run again")
            return HookRun(name, image, None, 0.0, ())
        client.request("DELETE", f"/containers/{name}?force=1", allow=(404,))
    started = clock()
    client.request(
        "POST", f"/containers/create?name={name}", container_spec(source, deployment, stage, color, hook, key)
    )
    client.request("POST", f"/containers/{name}/start")
    progress(f"{stage} hook {hook.name}: running {' '.join(hook.command)} in {color}'s image {image[:19]} ({name})")
    deadline = started + hook.timeout_seconds
    while True:
        state = (client.inspect(name) or {}).get("State") or {}
        if not state.get("Running"):
            break
        if clock() >= deadline:
            client.request("POST", f"/containers/{name}/kill", allow=(404, 409))
            raise HookFailedError(failure(stage, hook, f"ran out of its {hook.timeout_seconds}s", client, name))
        sleep(POLL_SECONDS)
    code = int(state.get("ExitCode", -1))
    seconds = clock() - started
    if code != 0:
        raise HookFailedError(failure(stage, hook, f"exited {code} after {seconds:.1f}s", client, name))
    tail = tuple(client.tail(name, TAIL_LINES))
    progress(f"{stage} hook {hook.name}: exited 0 after {seconds:.1f}s")
    return HookRun(name, image, code, seconds, tail)


def _unless_running(
    client: DockerClient,
    name: str,
    hook: CommandHook,
    progress: Progress,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any] | None:
    """The hook's last container once it is not running: a re-run (a `pulumi up` after a cancelled one) waits
    for a migration still in flight instead of killing it halfway, up to the hook's own bound."""
    last = client.inspect(name)
    if last is None or not (last.get("State") or {}).get("Running"):
        return last
    progress(f"hook {hook.name}: {name} is still running (an earlier run); waiting up to {hook.timeout_seconds}s")
    deadline = clock() + hook.timeout_seconds
    while (last := client.inspect(name)) is not None and (last.get("State") or {}).get("Running"):
        if clock() >= deadline:
            raise HookFailedError(
                f"hook {hook.name}: an earlier run ({name}) is still running after {hook.timeout_seconds}s; "
                f"nothing was started and traffic was not moved (docker logs {name}; docker stop {name} to end it)"
            )
        sleep(POLL_SECONDS)
    return last


def failure(stage: str, hook: CommandHook, what: str, client: DockerClient, name: str, kind: str = "containers") -> str:
    """The message of a failed run: what happened, that traffic did not move, and the run's last lines."""
    lines = client.tail(name, TAIL_LINES, kind=kind)
    quoted = "\n".join(f"  | {line}" for line in lines) or "  | (no output)"
    moved = "traffic was not moved" if stage == "preSwitch" else "traffic stays where it is"
    logs = f"docker service logs {name}" if kind == "services" else f"docker logs {name}"
    return f"{stage} hook {hook.name} {what}; {moved}. Last {len(lines)} line(s) of {name} ({logs}):\n{quoted}"


def remove_run(client: DockerClient, deployment: str, key: str) -> int:
    """Remove the hook containers, or swarm jobs, of one run (what a deleted hook resource leaves); how many."""
    labels = {DEPLOYMENT_LABEL: deployment, ROLE_LABEL: ROLE_HOOK, HOOK_RUN_LABEL: key}
    found = client.containers(labels)
    for container in found:
        client.request("DELETE", f"/containers/{container['Id']}?force=1", allow=(404,))
    jobs = client.services(labels)  # none on an engine that is not a swarm manager
    for job in jobs:
        client.request("DELETE", f"/services/{job['ID']}", allow=(404,))
    return len(found) + len(jobs)
