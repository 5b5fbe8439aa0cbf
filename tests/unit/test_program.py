"""The Pulumi program under mocks: the resource graph, and what a change touches.

Each test runs the real __main__.py fresh (runpy) with preview=False, so
every Output resolves and the comparisons below see real input values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen.config.settings import parse_settings
from bluegreen.engine.container_spec import RESERVED_ENV
from bluegreen.plan.model import parse_plan
from lab.pulumi_harness import ProgramRun, RecordingMocks, Registered, run_program
from lab.stacks import stack_raw, with_changes

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
    return [r for r in run.by_type(CONTAINER) if labels(r)["bluegreen.role"] == "app"]


def labels(resource: Registered) -> dict[str, str]:
    return {item["label"]: item["value"] for item in resource.inputs["labels"]}


def switch_of(run: ProgramRun) -> Registered:
    (switch,) = [r for r in run.by_type(COMMAND) if r.urn.split("::")[2].endswith("bluegreen:index:Switch$" + COMMAND)]
    return switch


def switch_plan(run: ProgramRun) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(switch_of(run).inputs["stdin"])
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
    # The switch, the router's seed and its three hand-over steps, and one pids limit per container
    # (pulumi-docker has no input for it).
    assert types.count(COMMAND) == 5 + types.count(CONTAINER)
    versions = {(settings.color(c).version, settings.color(c).digest) for c in ("blue", "green")}
    assert types.count(IMAGE) == len(versions) + 1  # one per version, plus the router's
    assert len({r.urn for r in run.resources}) == len(run.resources), "every URN is unique"
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


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_container_is_hardened_and_has_a_pids_limit(stack: str) -> None:
    from bluegreen.engine.hardening import pids_limit_of

    run = run_program(stack_raw(stack), stack=stack)
    limits = {r.parent: pids_limit_of(r.inputs["create"]) for r in run.by_type(COMMAND) if r.name.endswith("-pids")}
    for container in run.by_type(CONTAINER):
        assert container.inputs["capabilities"] == {"drops": ["ALL"], "adds": []}, container.name
        assert container.inputs["securityOpts"] == ["no-new-privileges:true"], container.name
        assert container.inputs["readOnly"] is True and "size=" in container.inputs["tmpfs"]["/tmp"], container.name
        assert (limits.get(container.urn) or 0) > 0, f"{container.name} has no pids-limit command"
    (router,) = [r for r in run.by_type(CONTAINER) if r.name == "app-router"]
    assert router.inputs["healthcheck"]["tests"][:2] == ["CMD", "sh"]


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


def test_the_net_container_owns_the_ports_and_the_router_is_handed_over_in_its_namespace() -> None:
    run = run_program(stack_raw("dev"), stack="dev")
    (router,) = [r for r in run.by_type(CONTAINER) if r.name == "app-router"]
    (net,) = [r for r in run.by_type(CONTAINER) if r.name == "app-router-net"]
    ports = {(p["internal"], p["external"], p["ip"]) for p in net.inputs["ports"]}
    assert ports == {(8080, 8080, "127.0.0.1"), (8081, 8081, "127.0.0.1")}
    assert net.inputs["sysctls"]["net.ipv4.tcp_migrate_req"] == "1", "a closing listener hands its queue over"
    assert net.inputs["command"] == ["sleep", "infinity"] and net.ignore_changes == ["image", "logOpts"]
    assert "ports" not in router.inputs and router.inputs["networkMode"] == "container:app-router-net-id"
    assert router.delete_before_replace and net.delete_before_replace, "each keeps its name"
    assert router.inputs["destroyGraceSeconds"] == router.inputs["stopTimeout"], "deleted gracefully, not killed"
    assert router.inputs["volumes"][0]["containerPath"] == "/etc/nginx/bluegreen"
    assert "uploads" not in router.inputs, "pulumi-docker uploads extract at /, refused on a read-only root"
    (seed,) = [r for r in run.by_type(COMMAND) if r.name == "app-router-seed"]
    assert "-m bluegreen seed-routing --volume bluegreen-dev-routing --user 101:101" in seed.inputs["create"]
    assert seed.inputs["environment"]["BLUEGREEN_ROUTER_IMAGE"].startswith("sha256:")
    assert router.inputs["command"][:3] == ["nginx", "-c", "/etc/nginx/bluegreen/nginx.conf"]
    assert all("ports" not in r.inputs for r in app_containers(run)), "only the router's net container publishes"
    steps = {r.name.rsplit("-", 1)[1]: r for r in run.by_type(COMMAND) if "-handover-" in r.name}
    assert sorted(steps) == ["begin", "end", "prepare"]
    for step, command in steps.items():
        assert f"-m bluegreen router handover {step} --stack dev" in command.inputs["create"]
    assert steps["begin"].urn in router.dependencies and steps["prepare"].urn in net.dependencies
    assert router.urn in steps["end"].dependencies
    spec = steps["begin"].inputs["environment"]["BLUEGREEN_ROUTER_SPEC"].split()
    assert spec[1] == "app-router-net-id" and spec[3] == "0.5", "what replaces the router runs it again"
    switch = next(r for r in run.by_type(COMMAND) if r.name == "app-switch")
    assert steps["end"].urn in switch.dependencies, "no switch while a bridge serves"


@pytest.mark.parametrize(
    "changes",
    [
        {"activeColor": "green"},
        {"trafficWeight": 90},
        {"trafficWeight": 10, "stickiness": "cookie"},
        {"maintenance": {"enabled": True, "retryAfterSeconds": 30}},
        {"rollout": {"allowlistHeader": "X-Canary-Tester", "allowlist": ["tester-token-1"]}},
    ],
    ids=["flip", "canary-90", "canary-10-sticky", "maintenance", "allowlist"],
)
def test_traffic_changes_touch_only_the_switch(changes: dict[str, Any]) -> None:
    before = run_program(stack_raw("dev"), stack="dev")
    after = run_program(with_changes(stack_raw("dev"), changes), stack="dev")
    assert changed(before, after) == {f"{COMMAND}::app-switch"}
    a, b = switch_of(before), switch_of(after)
    assert a.inputs["stdin"] != b.inputs["stdin"]
    assert {k: v for k, v in a.inputs.items() if k != "stdin"} == {k: v for k, v in b.inputs.items() if k != "stdin"}


def test_release_to_the_idle_colour_touches_its_containers_image_and_switch() -> None:
    before = run_program(stack_raw("staging"), stack="staging")
    after = run_program(with_changes(stack_raw("staging"), {"green.version": "1.4.0"}), stack="staging")
    touched = changed(before, after)
    assert touched == {
        f"{CONTAINER}::app-green-1", f"{CONTAINER}::app-green-2", f"{IMAGE}::app-image-1.4.0-build",
        "bluegreen:index:AppImage::app-image-1.4.0", f"{COMMAND}::app-switch",
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
    assert switch_of(run).inputs["environment"]["DOCKER_HOST"] == "ssh://deploy@app-prod-1.internal"
    assert run.outputs["url"] == "http://app-prod-1.internal:80"


class DriftMocks(RecordingMocks):
    """The engine answers the status invoke with a live plan and the program's last applied one."""

    def __init__(
        self, live: str | None, applied: str | None, observed: str | None = None, router: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.report = {
            "live": {"planHash": live},
            "lastSwitch": {"appliedAt": "2026-11-22T10:00:00Z"},
            "programPlanHash": applied,
            "programObserved": observed,
            "drift": applied is not None and live != applied,
            "routerSpec": router or {},
        }

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "command:local:run":
            return {"stdout": json.dumps(self.report), "stderr": ""}, []
        return {}, []


def test_another_stacks_deployment_under_the_same_name_is_refused_naming_both() -> None:
    """Project shop with stack api-prod and project shop-api with stack prod are both shop-api-prod."""
    taken = DriftMocks("aa", "aa")
    taken.report["programOwner"] = "bluegreen-other/dev"
    with pytest.raises(Exception) as caught:
        run_program(stack_raw("dev"), stack="dev", mocks=taken)
    assert ("deployment name bluegreen-dev: its router was deployed by project bluegreen-other, stack dev; this is "
            "project bluegreen, stack dev") in str(caught.value)  # fmt: skip
    assert str(caught.value).rstrip().endswith("nothing was changed")
    assert [r.type for r in taken.resources if r.type != "bluegreen:index:BlueGreenDeployment"] == []
    mine = DriftMocks("aa", "aa")
    mine.report["programOwner"] = "bluegreen/dev"
    ran = run_program(stack_raw("dev"), stack="dev", mocks=mine)
    assert switch_plan(ran)["owner"] == "bluegreen/dev", "the program's plan names its stack"
    assert app_containers(run_program(stack_raw("dev"), stack="dev", mocks=DriftMocks("aa", "aa"))), "no owner yet"


def test_drift_after_an_emergency_rollback_runs_the_switch() -> None:
    in_sync = run_program(stack_raw("dev"), stack="dev")
    drifted = run_program(stack_raw("dev"), stack="dev", mocks=DriftMocks("0000aaaa1111bbbb", "1111cccc2222dddd"))
    assert changed(in_sync, drifted) == {f"{COMMAND}::app-switch"}
    observed = switch_of(drifted).inputs["environment"]["BLUEGREEN_OBSERVED"]
    assert observed == "drift:0000aaaa1111bbbb@2026-11-22T10:00:00Z"
    assert switch_of(in_sync).inputs["environment"]["BLUEGREEN_OBSERVED"] == "in-sync"
    # The correction ran with that value and recorded it: the next preview hands it back, no changes.
    corrected = run_program(stack_raw("dev"), stack="dev", mocks=DriftMocks("1111cccc2222dddd", "1111cccc2222dddd",
                                                                            observed))  # fmt: skip
    assert changed(drifted, corrected) == set()


@pytest.mark.parametrize(("live", "applied"), [("aaaa", "aaaa"), ("aaaa", None)], ids=["applied", "first-run"])
def test_a_config_change_is_not_drift(live: str, applied: str | None) -> None:
    """The live plan differs from this run's plan (a flip), but it is the program's own: no drift."""
    mocks = DriftMocks(live, applied)
    run = run_program(with_changes(stack_raw("dev"), {"activeColor": "green"}), stack="dev", mocks=mocks)
    assert switch_of(run).inputs["environment"]["BLUEGREEN_OBSERVED"] == "in-sync"
    _, args = next(c for c in mocks.calls if c[0] == "command:local:run")
    assert "-m bluegreen status --stack dev --project bluegreen --json" in args["command"]
    assert args["logging"] == "none", "the status JSON stays out of every preview"


def test_s3_images_are_pulled_by_a_command_and_used_by_id() -> None:
    store = {"source": "s3", "bucket": "acme-images", "prefix": "shop", "endpointUrl": "http://127.0.0.1:9000"}
    run = run_program(with_changes(stack_raw("staging"), {"image": store, "green.version": "1.4.0"}), "staging")
    pulls = {r.name: r for r in run.by_type(COMMAND) if r.name.endswith("-s3")}
    assert set(pulls) == {"app-image-1.3.0-s3", "app-image-1.4.0-s3"}
    create = pulls["app-image-1.4.0-s3"].inputs["create"]
    assert pulls["app-image-1.4.0-s3"].inputs["environment"]["BLUEGREEN_IMAGE_REF"] == "bluegreen-app:1.4.0"
    assert "-m bluegreen image pull bluegreen-app:1.4.0 --bucket acme-images --prefix shop" in create
    assert "--endpoint-url http://127.0.0.1:9000" in create and "docker image inspect" in create
    assert run.by_type(IMAGE) == [r for r in run.by_type(IMAGE) if r.name == "app-router-image"]
    green = [r for r in app_containers(run) if labels(r)["bluegreen.color"] == "green"]
    assert green and all(c.inputs["image"].startswith("sha256:") for c in green)
    assert "--image-id" not in create and "--allow-http" not in create


def test_an_s3_image_pinned_in_the_stack_file_is_pulled_only_as_that_image() -> None:
    pin = "sha256:" + "4" * 64
    store = {"source": "s3", "bucket": "acme-images", "endpointUrl": "http://minio.internal:9000", "allowHttp": True}
    run = run_program(with_changes(stack_raw("staging"), {"image": store, "green.version": "1.4.0",
                                                          "green.imageId": pin}), "staging")  # fmt: skip
    pulls = {r.name: r.inputs["create"] for r in run.by_type(COMMAND) if r.name.endswith("-s3")}
    assert f"--allow-http --image-id {pin}" in pulls["app-image-1.4.0-s3"]
    assert "--image-id" not in pulls["app-image-1.3.0-s3"], "blue pins nothing"


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
        (
            '{"live": {"planHash": "aa"}, "programPlanHash": "aa", "programObserved": "drift:bb@t1", "drift": false}',
            "drift:bb@t1",
        ),  # after a correction: the value it ran with, so nothing changes
        (
            '{"live": {"planHash": "bb"}, "lastSwitch": {"appliedAt": "t2"}, "programPlanHash": "aa", "drift": true}',
            "drift:bb@t2",
        ),
        ('status x: warning: plan.json is not JSON\n{"live": {"planHash": "bb"}, "drift": true}', "drift:bb@None"),
        ("status bluegreen-dev: no Docker engine answers at unix:///nowhere\n", "in-sync"),  # warned, not blocking
    ],
)
def test_drift_reading(output: str, observed: str) -> None:
    from components.drift import LiveStatus, read_observed

    settings = parse_settings(stack_raw("dev"), "dev")
    assert read_observed("bluegreen-dev", settings, LiveStatus.parse(output)) == observed


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({}, "held: routing green 100% / blue 0% (active green), set by rollback by ops at T; this update keeps it"),
        (
            {"activeColor": "green"},
            "drift: routing green 100% / blue 0% (active green), set by rollback by ops at "
            "T; the stack config changed activeColor/trafficWeight since",
        ),
    ],
)
def test_the_preview_says_whether_an_emergency_rollback_is_kept(
    caplog: pytest.LogCaptureFixture, config: dict[str, Any], said: str
) -> None:
    mocks = DriftMocks("0000aaaa1111bbbb", "1111cccc2222dddd")
    held = "routing green 100% / blue 0% (active green), set by rollback by ops at T"
    blue = {"active": "blue", "weights": {"blue": 100, "green": 0}, "maintenance": {"enabled": False}}
    mocks.report.update(held={"routing": held}, programTraffic=blue)
    with caplog.at_level("WARNING"):
        run = run_program(with_changes(stack_raw("dev"), config), stack="dev", mocks=mocks)
    lines = [r.getMessage() for r in caplog.records if "set by rollback" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith(f"bluegreen-dev: {said}"), lines
    assert switch_of(run).inputs["environment"]["BLUEGREEN_OBSERVED"].startswith("drift:0000aaaa1111bbbb@")


# --- secrets, names and what the real engine would refuse ----------------------------

SECRET = "4821"  # short on purpose: a plain 6-hex hash of it would be reversed in a second


def _everything_but_secret_inputs(run: ProgramRun) -> str:
    """Every name, label and non-secret input of every resource, and the outputs, as one text."""
    parts = [json.dumps(run.outputs, sort_keys=True, default=str)]
    for r in run.resources:
        parts.append(r.urn + " " + r.name)
        parts.extend(json.dumps(v, sort_keys=True, default=str) for k, v in r.inputs.items() if not r.is_secret(k))
    return "\n".join(parts)


def _short_hashes(value: str) -> set[str]:
    import hashlib

    return {hashlib.new(algo, value.encode()).hexdigest()[:6] for algo in ("sha256", "sha1", "md5")}


def test_a_secret_env_value_reaches_containers_only_as_a_secret() -> None:
    raw = with_changes(stack_raw("staging"), {"app.env.DB_PASSWORD": SECRET})
    run = run_program(raw, stack="staging", secret_keys=["app"])
    apps = app_containers(run)
    assert apps and all(c.is_secret("envs") for c in apps), "the envs input is a secret"
    assert all(f"DB_PASSWORD={SECRET}" in c.plain("envs") for c in apps), "the app still gets the value"
    visible = _everything_but_secret_inputs(run)
    assert SECRET not in visible
    leaked = [h for h in _short_hashes(SECRET) if h in visible]
    assert leaked == [], f"a short hash of the secret is visible: {leaked}"
    # The names hash it under the name key, so they still change with it (create-before-delete needs that).
    other = run_program(with_changes(raw, {"app.env.DB_PASSWORD": "4822"}), stack="staging", secret_keys=["app"])
    assert {c.inputs["name"] for c in apps}.isdisjoint({c.inputs["name"] for c in app_containers(other)})
    (key,) = [r for r in run.by_type(COMMAND) if r.name == "app-name-key-random"]
    assert "od -An -N32" in key.inputs["create"]
    assert 'printf %s "$PULUMI_COMMAND_STDOUT"' in key.inputs["update"], "an update keeps the key it had"
    # An attacker who knows every other setting and tries all 4-digit values without the key finds nothing.
    from bluegreen.engine.topology import Topology

    names = {c.inputs["name"] for c in apps}
    for guess in range(10000):
        settings = parse_settings(with_changes(raw, {"app.env.DB_PASSWORD": f"{guess:04d}"}), "staging")
        assert names.isdisjoint(Topology("bluegreen", "staging", settings).all_app_containers()["blue"]), guess


def test_without_secrets_there_is_no_name_key_and_envs_are_plain() -> None:
    run = run_program(with_changes(stack_raw("staging"), {"app.env.WORKERS": "4"}), stack="staging")
    assert not [r for r in run.by_type(COMMAND) if "name-key" in r.name]
    assert not any(c.is_secret("envs") for c in app_containers(run))


def test_a_refused_secret_value_is_never_printed() -> None:
    raw = with_changes(stack_raw("staging"), {"app.env.APP_COLOR": SECRET})  # a reserved name: refused
    with pytest.raises(Exception, match=r"app\.env\.APP_COLOR: got '\[secret\]'") as caught:
        run_program(raw, stack="staging", secret_keys=["app"])
    assert SECRET not in str(caught.value)


def test_a_secret_docker_host_stays_secret_in_provider_commands_and_urls() -> None:
    run = run_program(stack_raw("prod"), stack="prod", secret_keys=["docker"])
    (provider,) = run.by_type("pulumi:providers:docker")
    assert provider.is_secret("host") and provider.plain("host") == "ssh://deploy@app-prod-1.internal"
    assert "app-prod-1.internal" not in _everything_but_secret_inputs(run).replace(
        json.dumps(run.outputs, sort_keys=True, default=str), ""
    )


def test_registry_credentials_reach_the_provider_and_the_password_stays_secret() -> None:
    auth = {"address": "registry.example.com", "username": "ci", "password": "s3cr3t-token"}
    run = run_program(with_changes(stack_raw("prod"), {"registryAuth": auth}), stack="prod",
                      secret_keys=["registryAuth"])  # fmt: skip
    (provider,) = run.by_type("pulumi:providers:docker")
    # Provider inputs travel as JSON text; the secret password makes the whole registryAuth secret.
    assert provider.is_secret("registryAuth")
    assert json.loads(provider.plain("registryAuth")) == [auth]
    assert "s3cr3t-token" not in _everything_but_secret_inputs(run)


def test_a_secret_where_the_program_cannot_keep_it_is_refused() -> None:
    with pytest.raises(Exception, match=r"blue: got '\[secret\]'; allowed: a plain value"):
        run_program(stack_raw("staging"), stack="staging", secret_keys=["blue"])


def test_one_version_two_digests_gives_two_images_with_distinct_names() -> None:
    one, two = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    changes = {"blue.version": "1.4.1", "blue.digest": one, "green.version": "1.4.1", "green.digest": two,
               "green.replicas": 1}  # fmt: skip
    run = run_program(with_changes(stack_raw("prod"), changes), stack="prod")
    app_images = [r for r in run.by_type(IMAGE) if r.name != "app-router-image"]
    assert sorted(r.inputs["name"] for r in app_images) == [f"acme/bluegreen-app@{one}", f"acme/bluegreen-app@{two}"]
    assert len({r.urn for r in app_images}) == 2


def test_a_duplicate_urn_is_refused_like_the_real_engine() -> None:
    """The harness must be able to fail on what the engine refuses, or the test above proves nothing."""
    from lab.pulumi_harness import DuplicateUrnError, StrictMonitor

    monitor = StrictMonitor(RecordingMocks())
    request = type("Request", (), {"parent": "", "type": "bluegreen:index:AppImage", "name": "app-image-1.4.1"})()
    monitor.urns.add(monitor.make_urn("", request.type, request.name))
    with pytest.raises(DuplicateUrnError, match="Duplicate resource URN"):
        monitor.RegisterResource(request)


def test_typed_path_values_are_the_text_the_user_typed() -> None:
    """`pulumi config set --path app.env.WORKERS 4` stores a number; `--path green.version 2` too."""
    run = run_program(with_changes(stack_raw("dev"), {"app.env.WORKERS": 4, "app.env.DEBUG": True}), stack="dev")
    env = app_containers(run)[0].inputs["envs"]
    assert "WORKERS=4" in env and "DEBUG=true" in env


def test_router_drain_bound_and_memory_do_not_replace_the_router() -> None:
    before = run_program(stack_raw("dev"), stack="dev")
    drained = run_program(with_changes(stack_raw("dev"), {"router.drainSeconds": 90}), stack="dev")
    assert changed(before, drained) == {f"{COMMAND}::app-switch"}, "the drain bound is nginx config"
    memory = run_program(with_changes(stack_raw("dev"), {"router.memoryMb": 256}), stack="dev")
    (router,) = [r for r in memory.by_type(CONTAINER) if r.name == "app-router"]
    assert changed(before, memory) == {f"{CONTAINER}::app-router"} and router.inputs["memory"] == 256


def test_a_router_change_is_announced_as_a_hand_over_and_a_new_listener_is_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    live = {"imageTags": ["bluegreen-local/nginx:1.30"], "port": 8080, "previewPort": 8081,
            "bindAddress": "127.0.0.1", "cpus": 0.5, "ownsPorts": False}  # fmt: skip
    raw = with_changes(stack_raw("dev"), {"router.cpus": 1, "router.image": "bluegreen-local/nginx:1.30"})
    with caplog.at_level("INFO"):
        run_program(raw, stack="dev", mocks=DriftMocks("aa", "aa", router=live))
    said = [r for r in caplog.records if "router hand-over" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "INFO" and "router.cpus 0.5 -> 1" in said[0].getMessage()
    assert not [r for r in caplog.records if "nothing listens" in r.getMessage()]
    caplog.clear()
    with caplog.at_level("WARNING"):
        run_program(with_changes(raw, {"router.port": 8090}), stack="dev", mocks=DriftMocks("aa", "aa", router=live))
    warned = [r.getMessage() for r in caplog.records if "nothing listens" in r.getMessage()]
    assert len(warned) == 1 and "router.port 8080 -> 8090" in warned[0] and "router's listener" in warned[0]


def test_build_context_is_relative_and_a_code_change_rebuilds_only_branch_versions(tmp_path: Any) -> None:
    import shutil

    from bluegreen.images.context import context_hash
    from lab.paths import ROOT

    run = run_program(stack_raw("dev"), stack="dev")
    (image,) = [r for r in run.by_type(IMAGE) if r.name != "app-router-image"]
    assert image.inputs["build"]["context"] == "app", "no absolute path: the same plan from every checkout"
    copy = tmp_path / "app"
    shutil.copytree(ROOT / "app", copy)
    before = context_hash(copy)
    (copy / "bluegreen_app" / "web.py").write_text("# changed\n", encoding="utf-8")
    assert context_hash(copy) != before
    (copy / "bluegreen_app" / "__pycache__").mkdir(exist_ok=True)
    (copy / "bluegreen_app" / "__pycache__" / "x.pyc").write_bytes(b"ignored by .dockerignore")
    (copy / "notes.txt").write_text("ignored: not in the allow list", encoding="utf-8")
    changed_hash = context_hash(copy)
    (copy / "notes.txt").unlink()
    assert context_hash(copy) == changed_hash

    from bluegreen.config.settings import parse_settings
    from bluegreen.engine.topology import Topology

    settings = parse_settings(with_changes(stack_raw("staging"), {"image": {"source": "build"}}), "staging")
    old, new = Topology("p", "staging", settings, build_hash="a" * 64), Topology("p", "staging", settings,
                                                                               build_hash="b" * 64)  # fmt: skip
    assert settings.blue.version == "1.3.0"
    assert old.app_containers("blue") == new.app_containers("blue"), "a release version never rebuilds"
    main = parse_settings(with_changes(stack_raw("dev"), {"blue.version": "main"}), "dev")
    assert Topology("p", "dev", main, build_hash="a" * 64).app_containers("blue") != Topology(
        "p", "dev", main, build_hash="b" * 64
    ).app_containers("blue"), "a branch version follows the source"


def test_a_digest_kept_across_a_version_bump_is_refused_before_anything_changes() -> None:
    digest = "sha256:" + "c" * 64
    mocks = DriftMocks("aa", "aa")
    mocks.report["containers"] = [{"color": "blue", "version": "1.4.1", "digest": digest}]
    raw = with_changes(stack_raw("prod"), {"blue.version": "1.5.0", "blue.digest": digest})
    with pytest.raises(Exception, match=r"blue\.digest: got 'sha256:c{64}'; .* blue runs this digest as 1\.4\.1"):
        run_program(raw, stack="prod", mocks=mocks)
    assert [r.type for r in mocks.resources if r.type != "bluegreen:index:BlueGreenDeployment"] == []
    same = with_changes(stack_raw("prod"), {"blue.version": "1.4.1", "blue.digest": digest})
    assert app_containers(run_program(same, stack="prod", mocks=mocks)), "the same version keeps its digest"


class UnreadableMocks(RecordingMocks):
    """Pulumi reaches the engine, but `bluegreen status` cannot read the live router."""

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "command:local:run":
            return {
                "stdout": "status bluegreen-prod: reading the router bluegreen-prod-router failed (exit 1): boom\n"
            }, []
        return {}, []


def test_an_up_fails_closed_when_the_live_status_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks = UnreadableMocks()
    with pytest.raises(Exception, match=r"the live status of bluegreen-prod cannot be read \(status bluegreen-prod: "
                                        r"reading the router .*boom\): the checks that guard a live deployment need "
                                        r"it; nothing was changed\. To deploy without them for this one run: "
                                        r"BLUEGREEN_UP_WITHOUT_LIVE_STATUS=1 pulumi up"):  # fmt: skip
        run_program(stack_raw("prod"), stack="prod", mocks=mocks)
    assert [r.type for r in mocks.resources if r.type != "bluegreen:index:BlueGreenDeployment"] == []
    preview = run_program(stack_raw("prod"), stack="prod", mocks=UnreadableMocks(), preview=True)
    assert app_containers(preview), "a preview only warns: it changes nothing either way"
    monkeypatch.setenv("BLUEGREEN_UP_WITHOUT_LIVE_STATUS", "1")
    assert app_containers(run_program(stack_raw("prod"), stack="prod", mocks=UnreadableMocks())), "deliberately"


class UnreachableMocks(RecordingMocks):
    """The engine answers nothing: its error names the host, as ssh's and Docker's errors do."""

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "command:local:run":
            return {"stdout": "status bluegreen-prod: ssh: connect to host prod-7.internal.acme port 22: refused\n"}, []
        return {}, []


def test_a_secret_docker_host_never_appears_in_a_warning_or_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warnings land in PR comments and CI logs: the host of a secret docker.host is shown as [secret ...]."""
    raw = with_changes(stack_raw("prod"), {"docker.host": "ssh://deploy@prod-7.internal.acme"})
    with pytest.raises(Exception) as caught:
        run_program(raw, stack="prod", mocks=UnreachableMocks(), secret_keys=["docker"])
    assert "prod-7.internal.acme" not in str(caught.value)
    assert "connect to host [secret docker.host] port 22" in str(caught.value)
    monkeypatch.setenv("DOCKER_CONTEXT", "laptop")
    with pytest.raises(Exception) as context:
        run_program(raw, stack="prod", mocks=DriftMocks("aa", "aa"), secret_keys=["docker"])
    assert "DOCKER_CONTEXT: got 'laptop'" in str(context.value) and "[secret docker.host]" in str(context.value)
    assert "prod-7.internal.acme" not in str(context.value)
    plain = with_changes(stack_raw("prod"), {"docker.host": "ssh://deploy@prod-7.internal.acme"})
    with pytest.raises(Exception, match=r"instead of ssh://deploy@prod-7\.internal\.acme"):
        run_program(plain, stack="prod", mocks=DriftMocks("aa", "aa"))


def test_the_live_router_spec_is_read_from_docker_inspect() -> None:
    from bluegreen.config.router import RouterSettings
    from bluegreen.router.files import FILES_LABEL, listener_changes, live_spec, replacing_changes, router_files_hash

    owns_ports = "the router owns its ports (made before router hand-overs): its net container takes them"

    info: dict[str, Any] = {"HostConfig": {"NanoCpus": 500_000_000, "ReadonlyRootfs": True, "PortBindings": {
        "8080/tcp": [{"HostIp": "", "HostPort": "80"}], "8081/tcp": [{"HostIp": "", "HostPort": "8081"}]}},
        "Config": {"Labels": {FILES_LABEL: router_files_hash()}}}  # fmt: skip
    spec = live_spec(info, ["nginxinc/nginx-unprivileged:1.28.0"])
    assert spec == {"imageTags": ["nginxinc/nginx-unprivileged:1.28.0"], "port": 80, "previewPort": 8081,
                    "bindAddress": "0.0.0.0", "previewBindAddress": "0.0.0.0", "cpus": 0.5,
                    "filesHash": router_files_hash(), "tlsPort": None,
                    "readOnly": True, "ownsPorts": True}  # fmt: skip
    same = RouterSettings(port=80, bind_address="0.0.0.0", preview_bind_address="0.0.0.0",
                          image="nginxinc/nginx-unprivileged:1.28.0")  # fmt: skip
    assert replacing_changes(same, spec) == []
    assert listener_changes(same, spec) == [owns_ports], "a router made before hand-overs: once"
    ours = {**spec, "ownsPorts": False}
    assert listener_changes(same, ours) == []
    moved = same.model_copy(update={"port": 8088, "bind_address": "127.0.0.1"})
    assert listener_changes(moved, ours) == ["router.port 80 -> 8088", "router.bindAddress 0.0.0.0 -> 127.0.0.1"]
    assert replacing_changes(moved, ours) == [], "a new listener is not a router hand-over"
    assert listener_changes(moved, {}) == [] and replacing_changes(moved, {}) == [], "no live router"
    assert listener_changes(same, ours, tls_port=443) == ["tls.port none -> 443"], "turning TLS on"
    assert listener_changes(same, {**ours, "tlsPort": 443}, tls_port=443) == []
    assert replacing_changes(same.model_copy(update={"cpus": 1.0}), ours) == ["router.cpus 0.5 -> 1"]
    net = {"HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8090"}]}}}
    joined = {**info, "HostConfig": {**info["HostConfig"], "NetworkMode": "container:abc", "PortBindings": {}}}
    read = live_spec(joined, [], net)
    assert (read["port"], read["bindAddress"], read["ownsPorts"]) == (8090, "127.0.0.1", False), "ports: the net's"
    assert replacing_changes(same, {**spec, "filesHash": "0123"}) == [
        f"router base files 0123 -> {router_files_hash()} (a new bluegreen version)"
    ]
    assert replacing_changes(same, {**spec, "readOnly": False, "filesHash": None}) == [
        "router hardening (read-only root, no capabilities, a pids limit, a healthcheck)"
    ], "a router from before hardening is replaced once"


def test_two_deployments_in_one_program_register_no_duplicate_urn() -> None:
    """Children carry their component's name; the harness refuses a duplicate URN as the engine does."""
    from components.config import stack_settings
    from components.deployment import BlueGreenDeployment, BlueGreenDeploymentArgs

    def two() -> None:
        settings, secrets = stack_settings()
        BlueGreenDeployment("shop", BlueGreenDeploymentArgs(settings, "bluegreen", "dev", secrets))
        BlueGreenDeployment("admin", BlueGreenDeploymentArgs(settings, "bluegreen", "dev", secrets))

    run = run_program(stack_raw("dev"), stack="dev", program=two)
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns)) and sum(r.type == CONTAINER for r in run.resources) == 10

    # Two with one name must fail as the engine fails. In its own interpreter: a run that fails inside
    # Pulumi's registration leaves tasks behind that would fail the next run in this one.
    import subprocess
    import sys

    from lab.paths import ROOT

    clash = (
        "from components.config import stack_settings\n"
        "from components.deployment import BlueGreenDeployment, BlueGreenDeploymentArgs\n"
        "from lab.pulumi_harness import run_program\n"
        "from lab.stacks import stack_raw\n"
        "def clash():\n"
        "    settings, secrets = stack_settings()\n"
        "    BlueGreenDeployment('shop', BlueGreenDeploymentArgs(settings, 'bluegreen', 'dev', secrets))\n"
        "    BlueGreenDeployment('shop', BlueGreenDeploymentArgs(settings, 'bluegreen', 'dev', secrets))\n"
        "run_program(stack_raw('dev'), stack='dev', program=clash)\n"
    )
    done = subprocess.run([sys.executable, "-c", clash], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode != 0 and "Duplicate resource URN" in done.stderr, done.stderr[-2000:]


# --- environment changes: the live colour keeps what it runs -------------------------------


class LiveMocks(RecordingMocks):
    """The status invoke reports `before`'s app containers as running, with these live weights."""

    def __init__(self, before: ProgramRun, weights: dict[str, int]) -> None:
        super().__init__()
        containers = [
            {
                "name": c.inputs["name"], "color": labels(c)["bluegreen.color"], "state": "running",
                "version": labels(c)["bluegreen.version"], "spec": labels(c)["bluegreen.spec"],
            }
            for c in app_containers(before)
        ]  # fmt: skip
        self.report = {"live": {"planHash": "aa", "weights": weights}, "programPlanHash": "aa", "drift": False,
                       "containers": containers}  # fmt: skip

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "command:local:run":
            return {"stdout": json.dumps(self.report), "stderr": ""}, []
        return {}, []


def names_by_color(run: ProgramRun) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"blue": [], "green": []}
    for c in app_containers(run):
        found[labels(c)["bluegreen.color"]].append(c.inputs["name"])
    return found


def test_an_env_change_replaces_only_the_idle_colour(caplog: pytest.LogCaptureFixture) -> None:
    before = run_program(stack_raw("dev"), stack="dev")  # blue live at 100%, green idle
    after = run_program(with_changes(stack_raw("dev"), {"app.env": {"FEATURE_X": "on"}}), stack="dev",
                        mocks=LiveMocks(before, {"blue": 100, "green": 0}))  # fmt: skip
    old, new = names_by_color(before), names_by_color(after)
    assert new["blue"] == old["blue"] and new["green"] != old["green"]
    for c in app_containers(after):
        held = labels(c)["bluegreen.color"] == "blue"
        assert c.ignore_changes == [*(["envs"] if held else []), "logOpts"], c.name
    assert switch_plan(after)["colors"]["blue"]["containers"] == old["blue"], "the plan routes to what runs"
    assert "app.env changed: blue serves traffic and keeps the environment" in caplog.text
    assert "replaces the containers of both colours" not in caplog.text


def test_during_a_canary_both_colours_keep_their_env_and_a_release_takes_it() -> None:
    before = run_program(with_changes(stack_raw("dev"), {"activeColor": "green", "trafficWeight": 10}), stack="dev")
    canary = {"blue": 90, "green": 10}
    env = with_changes(stack_raw("dev"), {"activeColor": "green", "trafficWeight": 10, "app.env": {"X": "1"}})
    held = run_program(env, stack="dev", mocks=LiveMocks(before, canary))
    assert names_by_color(held) == names_by_color(before)
    released = run_program(with_changes(env, {"green.version": "1.1.0"}), stack="dev", mocks=LiveMocks(before, canary))
    assert names_by_color(released)["green"] != names_by_color(before)["green"], "a new version takes the new env"
    assert names_by_color(released)["blue"] == names_by_color(before)["blue"]


def test_a_change_that_replaces_both_colours_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    before = run_program(stack_raw("dev"), stack="dev")
    after = run_program(with_changes(stack_raw("dev"), {"app.resources.memoryMb": 300}), stack="dev",
                        mocks=LiveMocks(before, {"blue": 100, "green": 0}))  # fmt: skip
    old, new = names_by_color(before), names_by_color(after)
    assert not set(old["blue"]) & set(new["blue"]) and not set(old["green"]) & set(new["green"])
    assert "replaces the containers of both colours at once" in caplog.text


def test_the_preview_port_is_loopback_unless_opened() -> None:
    """The unreleased colour is not public: prod's live port is on 0.0.0.0, its preview on 127.0.0.1."""
    run = run_program(stack_raw("prod"), stack="prod")
    (net,) = [r for r in run.by_type(CONTAINER) if r.name == "app-router-net"]
    ports = {p["internal"]: p["ip"] for p in net.inputs["ports"]}
    assert ports == {8080: "0.0.0.0", 8081: "127.0.0.1"}
    assert run.outputs["url"] == "http://app-prod-1.internal:80"
    assert run.outputs["previewUrl"] == "http://127.0.0.1:8081", "reached on the host, or through ssh -L"
    opened = run_program(with_changes(stack_raw("prod"), {"router.previewBindAddress": "0.0.0.0"}), stack="prod")
    assert opened.outputs["previewUrl"] == "http://app-prod-1.internal:8081"


def _tls(days: float = 90) -> dict[str, Any]:
    import trustme

    from lab.tls import issue_pem

    chain, key, _ = issue_pem(trustme.CA(), days)
    return {"certificate": chain, "key": key, "port": 8443}


def test_the_tls_pair_reaches_the_router_only_as_a_secret_and_the_plan_only_its_listener() -> None:
    tls = _tls()
    run = run_program(with_changes(stack_raw("dev"), {"tls": tls}), stack="dev", secret_keys=["tls"])
    (install,) = [r for r in run.by_type(COMMAND) if r.name == "app-router-tls"]
    assert install.is_secret("stdin") and json.loads(install.plain("stdin")) == {
        "certificate": tls["certificate"], "key": tls["key"]}  # fmt: skip
    assert "tls install" in install.inputs["create"] and "--stdin" in install.inputs["create"]
    hidden = _everything_but_secret_inputs(run)
    assert tls["key"].splitlines()[1] not in hidden and tls["certificate"].splitlines()[1] not in hidden
    (net,) = [r for r in run.by_type(CONTAINER) if labels(r)["bluegreen.role"] == "router-net"]
    assert {"internal": 8443, "external": 8443, "ip": "127.0.0.1"} in net.inputs["ports"]
    assert switch_plan(run)["tls"] == {"port": 8443, "redirectHttp": True, "hsts": False, "minVersion": "TLSv1.2",
                                       "hostNames": ["127.0.0.1", "localhost"]}, "the certificate's names"  # fmt: skip
    assert run.outputs["url"] == "https://127.0.0.1:8443"


def test_a_tls_key_not_set_as_a_secret_is_refused_without_showing_it() -> None:
    tls = _tls()
    with pytest.raises(
        Exception,
        match=r"tls\.key: got '\[not shown\]'; allowed: a secret, never a plain value in a stack file: pulumi config",
    ):
        run_program(with_changes(stack_raw("dev"), {"tls": tls}), stack="dev")


def test_an_expiring_certificate_is_warned_in_the_preview(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        run_program(with_changes(stack_raw("dev"), {"tls": _tls(days=3)}), stack="dev", secret_keys=["tls"])
    assert "tls.certificate: the TLS certificate for 127.0.0.1 expires in 3.0 days" in caplog.text


def test_a_certificate_installed_by_hand_is_said_to_be_kept(caplog: pytest.LogCaptureFixture) -> None:
    from bluegreen.config.tls import read_certificate

    own = _tls(days=90)
    by_hand = read_certificate(_tls(days=30)["certificate"]).summary()
    for served, warned in ((by_hand, True), (read_certificate(own["certificate"]).summary(), False)):
        caplog.clear()
        mocks = DriftMocks("aa", "aa")
        mocks.report["certificate"] = served
        with caplog.at_level("WARNING"):
            run_program(with_changes(stack_raw("dev"), {"tls": own}), stack="dev", secret_keys=["tls"], mocks=mocks)
        said = [r.getMessage() for r in caplog.records if "installed by hand" in r.getMessage()]
        assert len(said) == warned and all(f"fingerprint {by_hand['fingerprint']}" in line for line in said)


def test_rollout_steps_make_the_switch_walk_them_and_the_webhook_stays_secret() -> None:
    plain = switch_of(run_program(stack_raw("dev"), stack="dev"))
    assert " switch --stack dev " in plain.inputs["create"]
    assert "BLUEGREEN_WEBHOOK_URL" not in plain.inputs["environment"]
    steps = {"rollout.steps": [{"weight": 10, "pauseSeconds": 30}],
             "notifications": {"webhookUrl": "https://hooks.example.com/T000/B000/XXXX"}}  # fmt: skip
    run = run_program(with_changes(stack_raw("dev"), steps), stack="dev", secret_keys=["notifications"])
    walked = switch_of(run)
    assert " rollout --stack dev " in walked.inputs["create"] and walked.inputs["create"] == walked.inputs["update"]
    assert "XXXX" not in _everything_but_secret_inputs(run)
    assert json.loads(walked.inputs["stdin"])["rollout"]["steps"] == [{"weight": 10, "pauseSeconds": 30.0}]


def test_a_context_and_a_tls_folder_reach_provider_and_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")  # a laptop's rootless engine
    run = run_program(with_changes(stack_raw("prod"), {"docker": {"context": "prod-box"}}), stack="prod")
    (provider,) = run.by_type("pulumi:providers:docker")
    assert provider.inputs["context"] == "prod-box" and provider.inputs["host"] == "", "the stack's context wins"
    assert switch_of(run).inputs["environment"]["DOCKER_CONTEXT"] == "prod-box"
    assert "DOCKER_HOST" not in switch_of(run).inputs["environment"]

    tls = {"docker": {"host": "tcp://10.0.0.5:2376", "certPath": "/etc/bluegreen/engine-tls"}}
    run = run_program(with_changes(stack_raw("prod"), tls), stack="prod")
    (provider,) = run.by_type("pulumi:providers:docker")
    assert provider.inputs["certPath"] == "/etc/bluegreen/engine-tls"
    env = switch_of(run).inputs["environment"]
    assert (env["DOCKER_HOST"], env["DOCKER_CERT_PATH"]) == ("tcp://10.0.0.5:2376", "/etc/bluegreen/engine-tls")


def test_the_urls_name_the_host_of_the_stacks_docker_context(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The context's endpoint, read from the docker config folder the provider reads, names the host."""
    from tests.support.docker_context import save_context

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    save_context(tmp_path, "prod-box", "tcp://app-prod-2.internal:2376")
    public = {"docker": {"context": "prod-box"}}
    run = run_program(with_changes(stack_raw("prod"), public), stack="prod")
    assert run.outputs["url"] == "http://app-prod-2.internal:80"
    assert run.outputs["previewUrl"] == "http://127.0.0.1:8081"

    unknown = {"docker": {"context": "gone"}}
    run = run_program(with_changes(stack_raw("prod"), unknown), stack="prod")
    assert run.outputs["url"] == "http://localhost:80", "the provider reports the missing context"


def test_an_exported_docker_context_cannot_redirect_a_stack_that_names_its_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pulumi-docker's `context` defaults to DOCKER_CONTEXT and overrides `host`: prod would land on that context."""
    monkeypatch.setenv("DOCKER_CONTEXT", "laptop")
    mocks = RecordingMocks()
    with pytest.raises(Exception, match=r"DOCKER_CONTEXT: got 'laptop'; allowed: unset while docker.host is set") as e:
        run_program(stack_raw("prod"), stack="prod", mocks=mocks)
    assert "nothing was changed" in str(e.value)
    assert not [r for r in mocks.resources if r.type.startswith("docker:")]


ACME = {"email": "ops@example.com", "hosts": ["shop.example.com", "www.example.com"]}


def test_tls_acme_runs_tls_renew_at_the_router_and_the_plan_redirects_to_its_hosts() -> None:
    run = run_program(with_changes(stack_raw("dev"), {"tls": {"port": 8443, "acme": ACME}}), stack="dev")
    (renew,) = [r for r in run.by_type(COMMAND) if r.name == "app-router-acme"]
    assert "tls renew" in renew.inputs["create"] and "--stdin" in renew.inputs["create"]
    assert json.loads(renew.plain("stdin"))["directoryUrl"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert not [r for r in run.by_type(COMMAND) if r.name == "app-router-tls"], "no pair to install"
    assert switch_plan(run)["tls"]["hostNames"] == ACME["hosts"]


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"port": 8443}, r"tls\.certificate: missing; required: set with --secret .*or tls\.acme to have one issued"),
        (
            {"port": 8443, "acme": {**ACME, "hosts": ["*.example.com"]}},
            r"tls\.acme\.hosts\[0\]: got '\*\.example\.com'",
        ),
        ({"port": 8443, "acme": {**ACME, "directoryUrl": "http://ca.example/dir"}}, r"tls\.acme\.directoryUrl: got"),
    ],
)
def test_tls_needs_a_pair_or_acme_and_acme_names_plain_dns_names(tls: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        run_program(with_changes(stack_raw("dev"), {"tls": tls}), stack="dev")


def test_acme_with_a_pair_too_is_refused() -> None:
    both = {**_tls(), "acme": ACME}
    with pytest.raises(Exception, match=r"tls\.acme: got .*; allowed: either tls\.acme or tls\.certificate"):
        run_program(with_changes(stack_raw("dev"), {"tls": both}), stack="dev", secret_keys=["tls"])


def test_a_certificate_is_due_when_missing_a_name_or_within_30_days() -> None:
    from datetime import UTC, datetime, timedelta

    from bluegreen.config.tls import Acme, Certificate
    from bluegreen.release.acme import renewal_reason

    acme = Acme.model_validate(ACME)
    now = datetime(2026, 12, 5, tzinfo=UTC)
    fresh = Certificate("shop.example.com", tuple(ACME["hosts"]), now + timedelta(days=60), "f")
    assert renewal_reason(fresh, acme, now) is None
    assert renewal_reason(None, acme, now) == "the router serves no certificate yet"
    assert "does not name www.example.com" in str(renewal_reason(fresh.__class__(
        "shop.example.com", ("shop.example.com",), fresh.not_after, "f"), acme, now))  # fmt: skip
    assert "29.0 days left" in str(
        renewal_reason(Certificate("s", fresh.names, now + timedelta(days=29), "f"), acme, now)
    )
