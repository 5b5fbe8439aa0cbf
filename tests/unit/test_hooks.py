"""The hook runner (bluegreen/release/hooks.py) and the smoke checks (bluegreen/release/smoke.py) against fakes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from bluegreen.colors import Color
from bluegreen.config.hooks import CommandHook, SmokeCheck
from bluegreen.config.settings import parse_settings
from bluegreen.errors import HookFailedError, SmokeFailedError
from bluegreen.plan.derive import plan_from_settings
from bluegreen.plan.model import RoutingPlan
from bluegreen.plan.traffic import contract_problem
from bluegreen.release.hooks import container_spec, run_hook, run_key
from bluegreen.release.smoke import candidate, run_smoke
from bluegreen.router.layout import LOCAL_PORTS
from bluegreen.router.seam import HttpResult

IMAGE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
MIGRATE = CommandHook(name="migrate", command=["python", "-m", "bluegreen_app", "migrate"], timeout_seconds=5)


def source(image: str = IMAGE) -> dict[str, Any]:
    return {
        "Image": image,
        "Config": {"Env": ["APP_COLOR=green", "APP_DATABASE_URL=postgresql://x"], "User": "10001:10001",
                   "Labels": {"bluegreen.version": "2.0.0"}, "WorkingDir": "/opt/app"},
        "HostConfig": {"Memory": 268435456, "NanoCpus": 500000000, "CapDrop": ["ALL"], "CapAdd": None,
                       "SecurityOpt": ["no-new-privileges:true"], "ReadonlyRootfs": True,
                       "Tmpfs": {"/tmp": "rw,size=64m"}, "PidsLimit": 256, "PortBindings": {"8000/tcp": []}},
        "NetworkSettings": {"Networks": {"bluegreen-dev-net": {}}},
    }  # fmt: skip


class FakeDocker:
    """Containers by name; a started hook exits with `exit_code` after `runs_for` polls."""

    def __init__(self, exit_code: int = 0, runs_for: int = 1, logs: Sequence[str] = ("done",)) -> None:
        self.exit_code, self.runs_for, self.logs = exit_code, runs_for, list(logs)
        self.app = {"Names": ["/bluegreen-dev-green-2.0.0-abc-1"], "ImageID": IMAGE}
        self.old = {"Names": ["/bluegreen-dev-green-1.0.0-def-1"], "ImageID": OTHER}
        self.hooks: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.polls = 0

    def containers(self, labels: dict[str, str], all_states: bool = True) -> list[dict[str, Any]]:
        if labels.get("bluegreen.role") == "app":
            return [self.old, self.app]
        return [{"Id": n} for n, h in self.hooks.items() if h["Config"]["Labels"].get("bluegreen.hook-run")
                == labels.get("bluegreen.hook-run")]  # fmt: skip

    def inspect(self, name: str) -> dict[str, Any] | None:
        if name == "bluegreen-dev-green-2.0.0-abc-1":
            return source()
        found = self.hooks.get(name)
        if found is not None and found["State"]["Running"]:
            self.polls += 1
            if self.polls >= self.runs_for:
                found["State"] = {"Running": False, "ExitCode": self.exit_code}
        return found

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> tuple[int, bytes]:
        self.requests.append((method, path.split("?")[0]))
        if path.startswith("/containers/create"):
            name = path.split("name=")[1]
            self.hooks[name] = {"Config": {"Labels": body["Labels"]}, "State": {"Running": False}, "Body": body}
        elif path.endswith("/start"):
            self.hooks[path.split("/")[2]]["State"] = {"Running": True}
        elif method == "DELETE":
            self.hooks.pop(path.split("/")[2].split("?")[0], None)
        return 204, b""

    def tail(self, name: str, lines: int, kind: str = "containers") -> list[str]:
        return self.logs[-lines:]


def test_a_hook_runs_in_the_colour_s_new_image_with_its_env_limits_and_network() -> None:
    client = FakeDocker(logs=["migration 0002 add notes.author: applied"])
    run = run_hook(client, "bluegreen-dev", "preSwitch", "green", MIGRATE, IMAGE, sleep=lambda _: None)  # type: ignore[arg-type]
    assert run.exit_code == 0 and run.container == "bluegreen-dev-hook-preswitch-migrate"
    body = client.hooks[run.container]["Body"]
    assert body["Image"] == IMAGE and body["Cmd"] == MIGRATE.command
    assert "APP_DATABASE_URL=postgresql://x" in body["Env"] and body["User"] == "10001:10001"
    assert body["Healthcheck"] == {"Test": ["NONE"]}
    host = body["HostConfig"]
    assert host["NetworkMode"] == "bluegreen-dev-net" and host["RestartPolicy"] == {"Name": "no"}
    assert host["PidsLimit"] == 256 and host["ReadonlyRootfs"] and "PortBindings" not in host and "CapAdd" not in host
    assert body["Labels"]["bluegreen.digest"] == IMAGE and body["Labels"]["bluegreen.hook-run"] == run_key(
        MIGRATE, IMAGE
    )
    assert body["Labels"]["bluegreen.role"] == "hook" and body["Labels"]["bluegreen.version"] == "2.0.0"
    # Again with the same image and definition: the last run succeeded, so nothing runs.
    again = run_hook(client, "bluegreen-dev", "preSwitch", "green", MIGRATE, IMAGE, sleep=lambda _: None)  # type: ignore[arg-type]
    assert again.exit_code is None and client.requests.count(("POST", "/containers/create")) == 1


def test_a_failed_hook_quotes_its_last_lines_and_a_slow_one_is_killed() -> None:
    logs = [f"line {i}" for i in range(30)]
    client = FakeDocker(exit_code=1, logs=logs)
    with pytest.raises(HookFailedError) as failed:
        run_hook(client, "bluegreen-dev", "preSwitch", "green", MIGRATE, IMAGE, sleep=lambda _: None)  # type: ignore[arg-type]
    text = str(failed.value)
    assert text.startswith("preSwitch hook migrate exited 1 after") and "traffic was not moved" in text
    assert "  | line 29" in text and "  | line 10" in text and "line 9\n" not in text
    clock = iter(range(0, 100, 3))
    slow = FakeDocker(runs_for=10**6)
    with pytest.raises(HookFailedError, match="ran out of its 5s"):
        run_hook(slow, "bluegreen-dev", "postPromote", "green", MIGRATE, IMAGE,  # type: ignore[arg-type]
                 clock=lambda: float(next(clock)), sleep=lambda _: None)  # fmt: skip
    assert ("POST", "/containers/bluegreen-dev-hook-postpromote-migrate/kill") in slow.requests


def test_a_re_run_waits_for_an_earlier_run_still_in_flight_instead_of_killing_it() -> None:
    """A cancelled `pulumi up` leaves its migration running; the next one must not kill it halfway."""
    client = FakeDocker(runs_for=4)
    name = "bluegreen-dev-hook-preswitch-migrate"
    labels = {"bluegreen.hook-run": run_key(MIGRATE, IMAGE)}
    client.hooks[name] = {"Config": {"Labels": labels}, "State": {"Running": True}, "Body": {}}
    said: list[str] = []
    run = run_hook(client, "bluegreen-dev", "preSwitch", "green", MIGRATE, IMAGE, progress=said.append,  # type: ignore[arg-type]
                   sleep=lambda _: None)  # fmt: skip
    assert ("POST", f"/containers/{name}/kill") not in client.requests
    assert ("DELETE", f"/containers/{name}") not in client.requests, "it finished (exit 0): not run again"
    assert run.exit_code is None and said[0].startswith(f"hook migrate: {name} is still running (an earlier run)")
    stuck = FakeDocker(runs_for=10**6)
    stuck.hooks[name] = {"Config": {"Labels": labels}, "State": {"Running": True}, "Body": {}}
    clock = iter(range(0, 100, 3))
    with pytest.raises(HookFailedError, match=r"an earlier run .* is still running after 5s; nothing was started"):
        run_hook(stuck, "bluegreen-dev", "preSwitch", "green", MIGRATE, IMAGE,  # type: ignore[arg-type]
                 clock=lambda: float(next(clock)), sleep=lambda _: None)  # fmt: skip
    assert stuck.requests == [], "nothing killed, deleted or started"


def test_a_hook_needs_a_running_container_of_its_image() -> None:
    with pytest.raises(Exception, match="no running green container of bluegreen-dev on image sha256:cccc"):
        run_hook(FakeDocker(), "bluegreen-dev", "preSwitch", "green", MIGRATE, "sha256:" + "c" * 64)  # type: ignore[arg-type]


def test_run_keys_change_with_the_image_and_the_definition_only() -> None:
    assert run_key(MIGRATE, IMAGE) == run_key(MIGRATE.model_copy(), IMAGE)
    assert run_key(MIGRATE, IMAGE) != run_key(MIGRATE, OTHER)
    assert run_key(MIGRATE, IMAGE) != run_key(MIGRATE.model_copy(update={"timeout_seconds": 6}), IMAGE)
    spec = container_spec(source(), "d", "preSwitch", "blue", MIGRATE, "k")
    assert spec["Labels"]["bluegreen.color"] == "blue" and spec["WorkingDir"] == "/opt/app"


def test_contract_steps_never_share_an_update_with_a_colour_change() -> None:
    assert contract_problem(["migrate", "contract-notes"], "blue", "green") is not None
    assert contract_problem(["migrate", "contract-notes"], "blue", "blue") is None
    assert contract_problem(["migrate"], "blue", "green") is None
    assert contract_problem(["contract"], None, "green") is None, "no live routing yet: nothing to switch from"


# --- smoke --------------------------------------------------------------------------------------


def plan(active: str, weight: int = 100) -> RoutingPlan:
    raw = {"activeColor": active, "trafficWeight": weight, "blue": {"version": "1.0.0"},
           "green": {"version": "2.0.0", "replicas": 1}}  # fmt: skip
    names: dict[Color, list[str]] = {"blue": ["b-1"], "green": ["g-1"]}
    aliases: dict[Color, str | None] = {"blue": "b", "green": "g"}
    return plan_from_settings(parse_settings(raw, "dev"), "bluegreen-dev", names, aliases)


class FakeFetcher:
    def __init__(self, answers: list[HttpResult]) -> None:
        self.answers = answers
        self.asked: list[list[tuple[str, int, str]]] = []

    def fetch(self, targets: Sequence[tuple[str, int, str]]) -> list[HttpResult]:
        self.asked.append(list(targets))
        return self.answers[: len(targets)]


CHECKS = [SmokeCheck(name="ready", path="/health/ready"), SmokeCheck(name="notes", path="/notes")]


def test_smoke_checks_the_colour_that_gains_traffic_through_the_preview() -> None:
    assert candidate(plan("blue"), plan("green", 10)) == "green"
    assert candidate(plan("green", 10), plan("green", 50)) == "green"
    assert candidate(plan("green"), plan("green")) is None and candidate(plan("green", 50), plan("green", 10)) == "blue"
    ok = HttpResult(200, "[]", "HTTP 200")
    fetcher = FakeFetcher([ok, ok])
    assert run_smoke(fetcher, CHECKS, plan("blue"), plan("green", 50)) == "green"
    assert fetcher.asked == [[("127.0.0.1", LOCAL_PORTS["preview"], "/health/ready"),
                              ("127.0.0.1", LOCAL_PORTS["preview"], "/notes")]]  # fmt: skip
    first = FakeFetcher([ok, ok])
    run_smoke(first, CHECKS, None, plan("blue"))
    assert first.asked[0][0] == ("b-1", 8000, "/health/ready"), "no live preview yet: the containers directly"
    assert run_smoke(FakeFetcher([]), CHECKS, plan("green"), plan("green")) is None


def test_a_failed_smoke_check_names_the_path_status_and_body() -> None:
    bad = FakeFetcher([HttpResult(200, "{}", "HTTP 200"), HttpResult(503, '{"error":  "schema\\n not migrated"}', "")])
    with pytest.raises(SmokeFailedError) as failed:
        run_smoke(bad, CHECKS, plan("blue"), plan("green"))
    assert str(failed.value) == (
        "smoke check notes: GET /notes on the preview (green) answered 503, expected 200; "
        'body: {"error": "schema\\n not migrated"}'
    )
    silent = FakeFetcher([HttpResult(None, "", "connection refused")])
    with pytest.raises(SmokeFailedError, match=r"answered connection refused, expected 200$"):
        run_smoke(silent, CHECKS[:1], plan("blue"), plan("green"))
    assert json.dumps([c.model_dump(mode="json", by_alias=True) for c in CHECKS]).count("expectStatus") == 2


def test_the_hook_command_refuses_what_the_program_would_never_send(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from bluegreen.cli.main import main

    def hook(*args: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        return main(["hook", *args, "--stack", "dev"], out, err), err.getvalue()

    monkeypatch.delenv("BLUEGREEN_HOOK", raising=False)
    code, err = hook("run", "--stage", "preSwitch", "--color", "green")
    assert code == 2 and err.startswith("hook preSwitch bluegreen-dev: BLUEGREEN_HOOK: got ''; allowed: a hook as JSON")
    monkeypatch.setenv("BLUEGREEN_HOOK", MIGRATE.model_dump_json(by_alias=True))
    monkeypatch.setenv("BLUEGREEN_HOOK_IMAGE", "latest")
    code, err = hook("run", "--stage", "preSwitch", "--color", "green")
    assert code == 2 and "BLUEGREEN_HOOK_IMAGE: got 'latest'; allowed: an image id sha256:<64 hex digits>" in err
    with pytest.raises(SystemExit) as refused:
        hook("remove", "--run", "not-a-key")
    assert refused.value.code == 2
    assert "--run: got 'not-a-key'; allowed: 16 lowercase hex digits" in capsys.readouterr().err


def test_smoke_goes_to_the_new_containers_when_the_preview_still_routes_to_the_old_ones() -> None:
    """One update releases green (new containers) and promotes it: the live preview still has green's old ones."""
    live = plan("blue")  # the preview routes to green's g-1
    raw = plan("green", 50).model_dump(mode="json", by_alias=True)
    raw["colors"]["green"] = {"version": "2.1.0", "containers": ["g2-1"], "alias": "g2"}
    from bluegreen.plan.model import parse_plan

    target = parse_plan(raw)
    ok = HttpResult(200, "[]", "HTTP 200")
    fetcher = FakeFetcher([ok, ok])
    said: list[str] = []
    assert run_smoke(fetcher, CHECKS, live, target, said.append) == "green"
    assert fetcher.asked == [[("g2-1", 8000, "/health/ready"), ("g2-1", 8000, "/notes")]]
    assert said == ["smoke: 2 check(s) passed on g2-1 (green)"]
