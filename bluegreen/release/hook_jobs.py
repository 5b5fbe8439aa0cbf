"""Hooks in swarm mode: each run a one-shot Swarm job made from the colour's service.

A colour in swarm mode is a service whose tasks may run on any node, so a
hook runs the way Swarm runs the colour: a replicated job (one completion,
never restarted) with the colour's task template (its image by id, its
environment and secrets, user, limits, hardening, network and placement) and
the hook's command. The manager reports the job's exit code and its logs from
whichever node ran it. The rules are container mode's
(bluegreen/release/hooks.py): once per image and hook definition, the last
run kept (a finished job) until the next run replaces it, a re-run waits for
an earlier one still running, and a failure quotes the last lines and keeps
traffic where it is.
"""

from __future__ import annotations

import copy
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from bluegreen.colors import Color
from bluegreen.config.hooks import CommandHook
from bluegreen.engine.client import DockerClient
from bluegreen.engine.names import (
    COLOR_LABEL,
    DEPLOYMENT_LABEL,
    HOOK_RUN_LABEL,
    ROLE_APP,
    ROLE_LABEL,
    VERSION_LABEL,
    hook_container_name,
)
from bluegreen.engine.targets import filters
from bluegreen.errors import HookFailedError
from bluegreen.release.hooks import POLL_SECONDS, TAIL_LINES, HookRun, failure, hook_labels, run_hook, run_key
from bluegreen.release.progress import Progress, quiet

FINISHED = frozenset({"complete", "failed", "rejected", "shutdown", "orphaned", "remove"})


def color_service(client: DockerClient, deployment: str, color: Color, image: str) -> dict[str, Any] | None:
    """The colour's service on `image`, when the colour runs as one (None: it runs as containers)."""
    found = client.services({DEPLOYMENT_LABEL: deployment, ROLE_LABEL: ROLE_APP, COLOR_LABEL: color})
    on_image = [s for s in found if s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0] == image]
    return min(on_image, key=lambda s: s["Spec"]["Name"]) if on_image else None


def job_spec(
    source: dict[str, Any], name: str, stage: str, color: Color, hook: CommandHook, key: str
) -> dict[str, Any]:
    """The Engine API body of a hook's job: the colour's task template with the hook's command, no healthcheck
    and no restart."""
    template = copy.deepcopy(source["Spec"]["TaskTemplate"])
    template.pop("ForceUpdate", None)
    container = template["ContainerSpec"]
    labels = container.get("Labels") or {}
    marks = hook_labels(labels.get(DEPLOYMENT_LABEL, ""), stage, color, hook, key, labels.get(VERSION_LABEL, ""),
                        container["Image"].split("@")[0])  # fmt: skip
    container.update(Command=list(hook.command), Labels=marks, Healthcheck={"Test": ["NONE"]})
    container.pop("Args", None)
    template["RestartPolicy"] = {"Condition": "none", "MaxAttempts": 0}
    return {
        "Name": name,
        "Labels": marks,
        "TaskTemplate": template,
        "Mode": {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}},
    }


def _job(client: DockerClient, name: str) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """The job named `name` and its newest task, or None when there is no such job."""
    service = client.get_json(f"/services/{urllib.parse.quote(name)}", allow=(404,))
    if service is None:
        return None
    tasks = client.get_json(f"/tasks?filters={filters(service=[service['ID']])}") or []
    return service, max(tasks, key=lambda t: t["CreatedAt"]) if tasks else None


def _state(task: dict[str, Any] | None) -> str:
    return str(((task or {}).get("Status") or {}).get("State", "new"))


def _outcome(task: dict[str, Any]) -> str:
    """What ended a task, for the failure message: its exit code, or Swarm's reason (a rejected task has none)."""
    status = task.get("Status") or {}
    code = (status.get("ContainerStatus") or {}).get("ExitCode")
    return f"exited {code}" if code not in (None, 0) else f"ended {status.get('State')}: {status.get('Err') or '?'}"


def _unless_running(
    client: DockerClient, name: str, hook: CommandHook, progress: Progress,
    clock: Callable[[], float], sleep: Callable[[float], None],
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:  # fmt: skip
    """The hook's last job once its task has finished: a migration in flight is waited for, never cut off."""
    last = _job(client, name)
    if last is None or _state(last[1]) in FINISHED:
        return last
    progress(f"hook {hook.name}: job {name} is still running (an earlier run); waiting up to {hook.timeout_seconds}s")
    deadline = clock() + hook.timeout_seconds
    while (last := _job(client, name)) is not None and _state(last[1]) not in FINISHED:
        if clock() >= deadline:
            raise HookFailedError(
                f"hook {hook.name}: an earlier run (job {name}) is still running after {hook.timeout_seconds}s; "
                f"nothing was started and traffic was not moved (docker service logs {name}; docker service rm "
                f"{name} to end it)"
            )
        sleep(POLL_SECONDS)
    return last


def run_job(
    client: DockerClient, deployment: str, stage: str, color: Color, hook: CommandHook, image: str,
    source: dict[str, Any], progress: Progress = quiet, clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> HookRun:  # fmt: skip
    """Run `hook` once as a job of `source` (the colour's service); HookFailedError quotes its last lines."""
    key, name = run_key(hook, image), hook_container_name(deployment, stage, hook.name)
    last = _unless_running(client, name, hook, progress, clock, sleep)
    if last is not None:
        ran_before = last[0]["Spec"].get("Labels", {}).get(HOOK_RUN_LABEL) == key
        if ran_before and _state(last[1]) == "complete":
            progress(f"{stage} hook {hook.name}: already ran for image {image[:19]} (job {name} completed); not run "
                     "again")  # fmt: skip
            return HookRun(name, image, None, 0.0, ())
        client.request("DELETE", f"/services/{urllib.parse.quote(name)}", allow=(404,))
    started = clock()
    client.request("POST", "/services/create", job_spec(source, name, stage, color, hook, key))
    progress(f"{stage} hook {hook.name}: running {' '.join(hook.command)} in {color}'s image {image[:19]} as job "
             f"{name}")  # fmt: skip
    while _state(task := (_job(client, name) or ({}, None))[1]) not in FINISHED:
        if clock() >= started + hook.timeout_seconds:
            client.request("DELETE", f"/services/{urllib.parse.quote(name)}", allow=(404,))
            what = f"ran out of its {hook.timeout_seconds}s"
            raise HookFailedError(failure(stage, hook, what, client, name, kind="services"))
        sleep(POLL_SECONDS)
    seconds = clock() - started
    if _state(task) != "complete":
        what = f"{_outcome(task or {})} after {seconds:.1f}s"
        raise HookFailedError(failure(stage, hook, what, client, name, kind="services"))
    tail = tuple(client.tail(name, TAIL_LINES, kind="services"))
    progress(f"{stage} hook {hook.name}: exited 0 after {seconds:.1f}s")
    return HookRun(name, image, 0, seconds, tail)


def run_hook_for_color(
    client: DockerClient, deployment: str, stage: str, color: Color, hook: CommandHook, image: str,
    progress: Progress = quiet,
) -> HookRun:  # fmt: skip
    """A hook where the colour runs: a job when the colour is a Swarm service, else a container."""
    service = color_service(client, deployment, color, image)
    if service is not None:
        return run_job(client, deployment, stage, color, hook, image, service, progress)
    return run_hook(client, deployment, stage, color, hook, image, progress)
