"""Hooks in swarm mode (bluegreen/release/hook_jobs.py) against a fake manager: the job, once per image, failures."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from bluegreen.config.hooks import CommandHook
from bluegreen.errors import HookFailedError
from bluegreen.release.hook_jobs import color_service, job_spec, run_hook_for_color
from bluegreen.release.hooks import remove_run, run_key

IMAGE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
MIGRATE = CommandHook(name="migrate", command=["python", "-m", "bluegreen_app", "migrate"], timeout_seconds=5)
JOB = "bluegreen-dev-hook-preswitch-migrate"


def colour_service(image: str, name: str) -> dict[str, Any]:
    labels = {"bluegreen.deployment": "bluegreen-dev", "bluegreen.role": "app", "bluegreen.color": "green",
              "bluegreen.version": "2.0.0"}  # fmt: skip
    container = {"Image": image, "Env": ["APP_COLOR=green"], "User": "10001:10001", "ReadOnly": True,
                 "CapabilityDrop": ["ALL"], "Labels": labels, "Args": ["serve"],
                 "Healthcheck": {"Test": ["CMD", "true"]}}  # fmt: skip
    template = {"ContainerSpec": container, "Resources": {"Limits": {"MemoryBytes": 268435456}},
                "Networks": [{"Target": "net1"}], "Placement": {"Preferences": [{"Spread": {"SpreadDescriptor":
                "node.id"}}]}, "RestartPolicy": {"Condition": "any"}, "ForceUpdate": 2}  # fmt: skip
    return {"ID": name, "Spec": {"Name": name, "Labels": labels, "TaskTemplate": template}}


class FakeManager:
    """Colour services, and jobs whose one task ends `ends` (complete, failed, rejected) after `runs_for` polls."""

    def __init__(self, ends: str = "complete", exit_code: int = 0, runs_for: int = 1) -> None:
        self.ends, self.exit_code, self.runs_for = ends, exit_code, runs_for
        self.colour = [
            colour_service(OTHER, "bluegreen-dev-green-1-0-0-x"),
            colour_service(IMAGE, "bluegreen-dev-green-2-0-0-y"),
        ]
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.polls = 0

    def services(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        if labels.get("bluegreen.role") == "app":
            return self.colour
        return [j["service"] for j in self.jobs.values() if j["service"]["Spec"]["Labels"].get("bluegreen.hook-run")
                == labels.get("bluegreen.hook-run")]  # fmt: skip

    def containers(self, labels: dict[str, str], all_states: bool = True) -> list[dict[str, Any]]:
        return []

    def get_json(self, path: str, allow: Any = ()) -> Any:
        if path.startswith("/services/"):
            job = self.jobs.get(urllib.parse.unquote(path.removeprefix("/services/")))
            return job["service"] if job else None
        (sid,) = json.loads(urllib.parse.parse_qs(path.split("?")[1])["filters"][0])["service"]
        job = self.jobs[sid]
        task = job["task"]
        if task["Status"]["State"] == "running":
            self.polls += 1
            if self.polls >= self.runs_for:
                task["Status"] = {"State": self.ends, "ContainerStatus": {"ExitCode": self.exit_code},
                                  "Err": "No such image" if self.ends == "rejected" else ""}  # fmt: skip
        return [task]

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> tuple[int, bytes]:
        self.requests.append((method, path))
        if path == "/services/create":
            self.jobs[body["Name"]] = {"service": {"ID": body["Name"], "Spec": body}, "body": body,
                                       "task": {"CreatedAt": "t", "Status": {"State": "running"}}}  # fmt: skip
        elif method == "DELETE":
            self.jobs.pop(urllib.parse.unquote(path.removeprefix("/services/")), None)
        return 200, b""

    def tail(self, name: str, lines: int, kind: str = "containers") -> list[str]:
        assert kind == "services"
        return ["migration 0002: applied"] if self.exit_code == 0 else ["Traceback ...", "KeyError: 'notes'"]


def run(manager: FakeManager, image: str = IMAGE) -> Any:
    return run_hook_for_color(manager, "bluegreen-dev", "preSwitch", "green", MIGRATE, image)  # type: ignore[arg-type]


def test_a_hook_of_a_swarm_colour_is_a_one_shot_job_of_its_service_on_the_new_image() -> None:
    manager = FakeManager()
    done = run(manager)
    assert done.exit_code == 0 and done.container == JOB and done.tail == ("migration 0002: applied",)
    body = manager.jobs[JOB]["body"]
    assert body["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    container = body["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == IMAGE and container["Command"] == MIGRATE.command and "Args" not in container
    assert container["Env"] == ["APP_COLOR=green"] and container["User"] == "10001:10001"
    assert container["ReadOnly"] is True and container["CapabilityDrop"] == ["ALL"]
    assert (
        container["Healthcheck"] == {"Test": ["NONE"]} and body["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
    )
    assert body["TaskTemplate"]["Networks"] == [{"Target": "net1"}] and "ForceUpdate" not in body["TaskTemplate"]
    assert body["Labels"]["bluegreen.role"] == "hook" and body["Labels"]["bluegreen.hook-run"] == run_key(
        MIGRATE, IMAGE
    )
    assert manager.colour[1]["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"] == ["serve"], "the source is untouched"


def test_a_job_that_completed_for_this_image_is_not_run_again_and_a_new_image_replaces_it() -> None:
    manager = FakeManager()
    run(manager)
    again = run(manager)
    assert again.exit_code is None and [r for r in manager.requests if r[1] == "/services/create"] == [
        ("POST", "/services/create")]  # fmt: skip
    manager.colour.append(colour_service(OTHER, "bluegreen-dev-green-3-0-0-z"))
    assert run(manager, OTHER).exit_code == 0
    assert ("DELETE", f"/services/{JOB}") in manager.requests and len(manager.jobs) == 1


@pytest.mark.parametrize(("ends", "code", "said"), [
    ("failed", 3, "exited 3 after"), ("rejected", 0, "ended rejected: No such image after"),
])  # fmt: skip
def test_a_failed_or_rejected_job_quotes_its_lines_and_keeps_traffic(ends: str, code: int, said: str) -> None:
    with pytest.raises(HookFailedError) as raised:
        run(FakeManager(ends=ends, exit_code=code))
    text = str(raised.value)
    assert f"preSwitch hook migrate {said}" in text and "traffic was not moved" in text
    assert f"(docker service logs {JOB})" in text
    assert ("KeyError: 'notes'" in text) == (ends == "failed")


def test_a_job_that_runs_past_its_bound_is_removed_and_fails() -> None:
    manager = FakeManager(runs_for=10**6)
    clock = iter(range(100))
    from bluegreen.release import hook_jobs

    with pytest.raises(HookFailedError, match="ran out of its 5s"):
        hook_jobs.run_job(manager, "bluegreen-dev", "preSwitch", "green", MIGRATE, IMAGE,  # type: ignore[arg-type]
                          manager.colour[1], clock=lambda: float(next(clock)), sleep=lambda _: None)  # fmt: skip
    assert JOB not in manager.jobs


def test_a_colour_of_containers_gets_no_job_and_a_removed_run_takes_its_job() -> None:
    manager = FakeManager()
    assert color_service(manager, "bluegreen-dev", "green", "sha256:" + "c" * 64) is None  # type: ignore[arg-type]
    run(manager)
    assert remove_run(manager, "bluegreen-dev", run_key(MIGRATE, IMAGE)) == 1 and manager.jobs == {}  # type: ignore[arg-type]
    assert job_spec(manager.colour[1], "j", "preSwitch", "green", MIGRATE, "k")["Name"] == "j"
