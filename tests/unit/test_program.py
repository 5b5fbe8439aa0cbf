"""The Pulumi program under mocks: the resource graph, and what a change touches.

Each test runs the real __main__.py fresh (runpy) with preview=False, so
every Output resolves and the comparisons below see real input values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen.conventions import RESERVED_ENV
from bluegreen.routing import parse_plan
from bluegreen.settings import parse_settings
from tests.support.pulumi_harness import ProgramRun, RecordingMocks, Registered, run_program
from tests.support.stacks import stack_raw, with_changes

CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"
COMMAND = "command:local:Command"


def by_name(run: ProgramRun) -> dict[str, Registered]:
    return {f"{r.type}::{r.name}": r for r in run.resources}


def changed(before: ProgramRun, after: ProgramRun) -> set[str]:
    """Resources whose inputs differ, or that exist in only one of the runs."""
    a, b = by_name(before), by_name(after)
    return {key for key in a.keys() | b.keys() if key not in a or key not in b or a[key].inputs != b[key].inputs}


def app_containers(run: ProgramRun) -> list[Registered]:
    return [r for r in run.by_type(CONTAINER) if r.name != "router"]


def labels(resource: Registered) -> dict[str, str]:
    return {item["label"]: item["value"] for item in resource.inputs["labels"]}


def switch_plan(run: ProgramRun) -> dict[str, Any]:
    (switch,) = run.by_type(COMMAND)
    plan: dict[str, Any] = json.loads(switch.inputs["stdin"])
    return plan


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_resource_graph_of_each_stack(stack: str) -> None:
    settings = parse_settings(stack_raw(stack), stack)
    run = run_program(stack_raw(stack), stack=stack)
    types = [r.type for r in run.resources]
    replicas = settings.blue.replicas + settings.green.replicas
    assert len(app_containers(run)) == replicas
    assert types.count("docker:index/network:Network") == 1
    assert types.count("docker:index/volume:Volume") == 1
    assert types.count(COMMAND) == 1
    versions = {(settings.color(c).version, settings.color(c).digest) for c in ("blue", "green")}
    assert types.count(IMAGE) == len(versions) + 1  # one per version, plus the router's
    assert types.count("pulumi:providers:docker") == (1 if settings.docker.host else 0)
    for component in ("BlueGreenDeployment", "ColorStack", "Router", "Switch", "AppImage"):
        assert f"bluegreen:index:{component}" in types
    plan = switch_plan(run)
    assert plan["deployment"] == f"bluegreen-{stack}"
    assert sorted(plan["colors"]["blue"]["containers"] + plan["colors"]["green"]["containers"]) == sorted(
        r.inputs["name"] for r in app_containers(run)
    )


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_container_is_non_root_and_limited(stack: str) -> None:
    run = run_program(stack_raw(stack), stack=stack)
    for container in run.by_type(CONTAINER):
        user = container.inputs["user"]
        assert user.split(":")[0] not in ("", "0", "root"), container.name
        assert container.inputs["memory"] > 0 and float(container.inputs["cpus"]) > 0, container.name
        assert container.inputs["logOpts"]["max-size"], container.name
        assert container.inputs["restart"] == "unless-stopped"


def test_app_containers_carry_labels_health_and_env() -> None:
    run = run_program(stack_raw("staging"), stack="staging")
    for container in app_containers(run):
        tags = labels(container)
        assert tags["bluegreen.deployment"] == "bluegreen-staging" and tags["bluegreen.role"] == "app"
        assert tags["bluegreen.color"] in ("blue", "green") and tags["bluegreen.version"] == "1.3.0"
        assert container.inputs["healthcheck"]["tests"][0] == "CMD"
        env = dict(item.split("=", 1) for item in container.inputs["envs"])
        assert env.keys() >= RESERVED_ENV and env["APP_COLOR"] == tags["bluegreen.color"]
        assert env["APP_LOG_LEVEL"] == "info"
        assert container.inputs["wait"] is True


def test_router_owns_the_ports_and_is_replaced_delete_first() -> None:
    run = run_program(stack_raw("dev"), stack="dev")
    (router,) = [r for r in run.by_type(CONTAINER) if r.name == "router"]
    ports = {(p["internal"], p["external"], p["ip"]) for p in router.inputs["ports"]}
    assert ports == {(8080, 8080, "127.0.0.1"), (8081, 8081, "127.0.0.1")}
    assert router.inputs["volumes"][0]["containerPath"] == "/etc/nginx/bluegreen"
    assert {u["file"] for u in router.inputs["uploads"]} == {"/etc/nginx/nginx.conf", "/etc/nginx/bluegreen/http.conf"}
    assert all("ports" not in r.inputs for r in app_containers(run)), "only the router publishes ports"


@pytest.mark.parametrize(
    "changes",
    [{"activeColor": "green"}, {"trafficWeight": 90}, {"trafficWeight": 10, "stickiness": "cookie"}],
    ids=["flip", "canary-90", "canary-10-sticky"],
)
def test_traffic_changes_touch_only_the_switch(changes: dict[str, Any]) -> None:
    before = run_program(stack_raw("dev"), stack="dev")
    after = run_program(with_changes(stack_raw("dev"), changes), stack="dev")
    assert changed(before, after) == {f"{COMMAND}::switch"}
    (a,), (b,) = before.by_type(COMMAND), after.by_type(COMMAND)
    assert a.inputs["stdin"] != b.inputs["stdin"]
    assert {k: v for k, v in a.inputs.items() if k != "stdin"} == {k: v for k, v in b.inputs.items() if k != "stdin"}


def test_release_to_the_idle_colour_touches_its_containers_image_and_switch() -> None:
    before = run_program(stack_raw("staging"), stack="staging")
    after = run_program(with_changes(stack_raw("staging"), {"green.version": "1.4.0"}), stack="staging")
    touched = changed(before, after)
    assert touched == {
        f"{CONTAINER}::green-1", f"{CONTAINER}::green-2", f"{IMAGE}::image-1.4.0-build",
        "bluegreen:index:AppImage::image-1.4.0", f"{COMMAND}::switch",
    }  # fmt: skip
    blue_before = {r.inputs["name"] for r in app_containers(before) if labels(r)["bluegreen.color"] == "blue"}
    blue_after = {r.inputs["name"] for r in app_containers(after) if labels(r)["bluegreen.color"] == "blue"}
    assert blue_before == blue_after
    green_after = {r.inputs["name"] for r in app_containers(after) if labels(r)["bluegreen.color"] == "green"}
    assert all("-1.4.0-" in name for name in green_after), "a new version gets new names: create before delete"


def test_image_is_passed_by_id_not_tag() -> None:
    run = run_program(stack_raw("dev"), stack="dev")
    for container in run.by_type(CONTAINER):
        assert container.inputs["image"].startswith("sha256:")


def test_registry_stack_pins_by_digest_when_given() -> None:
    digest = "sha256:" + "b" * 64
    run = run_program(with_changes(stack_raw("prod"), {"blue.digest": digest}), stack="prod")
    refs = {r.inputs["name"] for r in run.by_type(IMAGE)}
    assert f"acme/bluegreen-app@{digest}" in refs and "acme/bluegreen-app:1.4.1" in refs


def test_remote_docker_host_reaches_provider_and_switch() -> None:
    run = run_program(stack_raw("prod"), stack="prod")
    (provider,) = run.by_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://deploy@app-prod-1.internal"
    (switch,) = run.by_type(COMMAND)
    assert switch.inputs["environment"]["DOCKER_HOST"] == "ssh://deploy@app-prod-1.internal"
    assert run.outputs["url"] == "http://app-prod-1.internal:80"


class DriftMocks(RecordingMocks):
    """The engine answers the status invoke with a live plan and the program's last applied one."""

    def __init__(self, live: str | None, applied: str | None) -> None:
        super().__init__()
        self.report = {
            "live": {"planHash": live},
            "programPlanHash": applied,
            "drift": applied is not None and live != applied,
        }

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "command:local:run":
            return {"stdout": json.dumps(self.report), "stderr": ""}, []
        return {}, []


def test_drift_after_an_emergency_rollback_reapplies_the_plan() -> None:
    in_sync = run_program(stack_raw("dev"), stack="dev")
    drifted = run_program(stack_raw("dev"), stack="dev", mocks=DriftMocks("0000aaaa1111bbbb", "1111cccc2222dddd"))
    assert changed(in_sync, drifted) == {f"{COMMAND}::switch"}
    (switch,) = drifted.by_type(COMMAND)
    assert switch.inputs["environment"]["BLUEGREEN_OBSERVED"] == "drift:0000aaaa1111bbbb"
    (first,) = in_sync.by_type(COMMAND)
    assert first.inputs["environment"]["BLUEGREEN_OBSERVED"] == "in-sync"


@pytest.mark.parametrize(("live", "applied"), [("aaaa", "aaaa"), ("aaaa", None)], ids=["applied", "first-run"])
def test_a_config_change_is_not_drift(live: str, applied: str | None) -> None:
    """The live plan differs from this run's plan (a flip), but it is the program's own: no drift."""
    mocks = DriftMocks(live, applied)
    run = run_program(with_changes(stack_raw("dev"), {"activeColor": "green"}), stack="dev", mocks=mocks)
    (switch,) = run.by_type(COMMAND)
    assert switch.inputs["environment"]["BLUEGREEN_OBSERVED"] == "in-sync"
    _, args = next(c for c in mocks.calls if c[0] == "command:local:run")
    assert "-m bluegreen status --stack dev --project bluegreen --json" in args["command"]


def test_s3_images_are_pulled_by_a_command_and_used_by_id() -> None:
    store = {"source": "s3", "bucket": "acme-images", "prefix": "shop", "endpointUrl": "http://127.0.0.1:9000"}
    run = run_program(with_changes(stack_raw("staging"), {"image": store, "green.version": "1.4.0"}), "staging")
    pulls = {r.name: r for r in run.by_type(COMMAND) if r.name != "switch"}
    assert set(pulls) == {"image-1.3.0-s3", "image-1.4.0-s3"}
    create = pulls["image-1.4.0-s3"].inputs["create"]
    assert "-m bluegreen image pull bluegreen-app:1.4.0 --bucket acme-images --prefix shop" in create
    assert "--endpoint-url http://127.0.0.1:9000" in create and "docker image inspect" in create
    assert run.by_type(IMAGE) == [r for r in run.by_type(IMAGE) if r.name == "router-image"]
    green = [r for r in app_containers(run) if labels(r)["bluegreen.color"] == "green"]
    assert green and all(c.inputs["image"].startswith("sha256:") for c in green)


@pytest.mark.parametrize(
    ("weight", "blue", "green", "preview"),
    [(10, 90, 10, "green"), (50, 50, 50, "green"), (100, 0, 100, "blue")],
)
def test_active_color_and_weight_reach_the_switch_as_one_meaning(
    weight: int, blue: int, green: int, preview: str
) -> None:
    """activeColor is the colour promoted to and trafficWeight its share; the preview shows the candidate."""
    run = run_program(with_changes(stack_raw("dev"), {"activeColor": "green", "trafficWeight": weight}))
    plan = parse_plan(switch_plan(run))
    assert (plan.active, plan.weight("blue"), plan.weight("green"), plan.preview) == ("green", blue, green, preview)
    assert run.outputs["activeColor"] == "green" and run.outputs["trafficWeight"] == weight


@pytest.mark.parametrize(
    ("output", "observed"),
    [
        ("status bluegreen-dev: no running router for bluegreen-dev: expected ...\n", "in-sync"),  # first deploy
        ('{"live": {"planHash": "aa"}, "programPlanHash": "aa", "drift": false}', "in-sync"),
        ('{"live": {"planHash": "bb"}, "programPlanHash": "aa", "drift": true}', "drift:bb"),
        ('status x: warning: plan.json is not JSON\n{"live": {"planHash": "bb"}, "drift": true}', "drift:bb"),
        ("status bluegreen-dev: no Docker engine answers at unix:///nowhere\n", "in-sync"),  # warned, not blocking
    ],
)
def test_drift_reading(output: str, observed: str) -> None:
    from components.drift import read_observed

    assert read_observed("bluegreen-dev", output) == observed
