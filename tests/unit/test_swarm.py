"""orchestrator: swarm without a daemon: settings, names, targets, the gate over tasks, the program, the pack."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from bluegreen.config.rollout import HealthGate
from bluegreen.config.settings import parse_settings
from bluegreen.engine.names import SERVICE_NAME_MAX, service_name
from bluegreen.engine.targets import Resolver
from bluegreen.errors import GateError, SettingsError
from bluegreen.plan.model import parse_plan
from bluegreen.release.health import run_gate
from bluegreen.router.seam import HttpResult
from lab.pulumi_harness import ProgramRun, run_program
from lab.stacks import stack_raw, with_changes
from policies import rules
from tests.policies.test_rules import OPTS, collector, urn
from tests.unit.test_program import CONTAINER, DriftMocks, by_name, labels, switch_plan

SERVICE = "docker:index/service:Service"
SWARM: dict[str, Any] = {"orchestrator": "swarm", "blue.replicas": 2, "green.replicas": 2}
NET = "bluegreen-dev-net"


def run(changes: dict[str, Any], stack: str = "dev") -> ProgramRun:
    return run_program(with_changes(stack_raw(stack), {**SWARM, **changes}), stack=stack)


# --- settings and names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"orchestrator": "kubernetes"}, "orchestrator: got 'kubernetes'; allowed: 'container' or 'swarm'"),
    ],
)  # fmt: skip
def test_swarm_settings_refused_with_the_key_named(changes: dict[str, Any], line: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_changes(stack_raw("dev"), changes), "dev")
    assert line in str(raised.value)


def test_hooks_and_a_database_container_run_in_swarm_mode_the_hooks_after_their_colours_service() -> None:
    hooks = {"preSwitch": [{"name": "migrate", "command": ["python", "-m", "bluegreen_app", "migrate"]}],
             "postPromote": [{"name": "notify", "command": ["true"]}]}  # fmt: skip
    result = run({"database.mode": "container", "hooks": hooks})
    found = by_name(result)
    services = {labels(s)["bluegreen.color"]: s for s in result.by_type(SERVICE)}
    for color in ("blue", "green"):
        migrate = found[f"command:local:Command::app-hooks-{color}-migrate"]
        assert services[color].urn in migrate.dependencies, migrate.dependencies
    db = found[f"{CONTAINER}::app-db"]
    assert db.inputs["networksAdvanced"][0]["name"] == NET  # the overlay: tasks on every node reach it by name
    assert found["command:local:Command::app-post-promote-notify"]


def test_service_names_are_one_dns_label_and_keep_versions_apart() -> None:
    name = service_name("bluegreen-prod", "green", "1.4.2-rc.1", "abc123")
    assert name == "bluegreen-prod-green-1-4-2-rc-1-abc123"
    long = service_name("bluegreen-production", "green", "v" * 100, "abc123")
    assert len(long) == SERVICE_NAME_MAX and long.endswith("-abc123")
    assert service_name("d", "blue", "1.0.0", "aaaaaa") != service_name("d", "blue", "1.0.0", "bbbbbb")


def test_a_container_plan_hashes_as_before_and_a_swarm_plan_differently() -> None:
    raw = {"deployment": "bluegreen-dev", "active": "blue", "weights": {"blue": 100, "green": 0},
           "colors": {"blue": {"containers": ["a-1"], "alias": "a"}}}  # fmt: skip
    plain, explicit = parse_plan(raw), parse_plan({**raw, "orchestrator": "container"})
    assert plain.plan_hash() == explicit.plan_hash() and "orchestrator" not in plain.canonical()
    assert parse_plan({**raw, "orchestrator": "swarm"}).plan_hash() != plain.plan_hash()


# --- targets and the gate ---------------------------------------------------------------------


def task(slot: int, state: str, address: str, created: str = "2026-11-23T00:00:00Z") -> dict[str, Any]:
    attachment = {"Network": {"ID": "n1", "Spec": {"Name": NET}}, "Addresses": [f"{address}/24"]}
    return {"Slot": slot, "CreatedAt": created, "Status": {"State": state}, "NetworksAttachments": [attachment]}


class Swarm:
    """A manager's API in memory: one service whose task list changes per round."""

    def __init__(self, rounds: list[list[dict[str, Any]]], service: str = "svc") -> None:
        self.rounds, self.service, self.asked = rounds, service, 0

    def inspect(self, name: str) -> dict[str, Any] | None:
        raise AssertionError("swarm mode inspects no container")

    def exec(self, name: str, cmd: Sequence[str], user: str | None = None, timeout: float | None = None) -> Any:
        raise AssertionError(f"no colour declares schema versions: nothing runs {cmd} in {name}")

    def get_json(self, path: str, allow: Sequence[int] = ()) -> Any:
        if path.startswith("/services/"):
            return (
                {"Spec": {"Name": self.service, "Labels": {"bluegreen.color": "blue"}}}
                if self.service in path
                else None
            )
        assert path.startswith("/tasks?")
        self.asked += 1
        return self.rounds[min(self.asked - 1, len(self.rounds) - 1)]


class Prober:
    def __init__(self, bad: frozenset[str] = frozenset()) -> None:
        self.bad = bad
        self.asked: list[str] = []

    def fetch(
        self, targets: Sequence[tuple[str, int, str]], closing: Sequence[tuple[str, int, str]] | None = None
    ) -> list[HttpResult]:
        self.asked += [t[0] for t in targets]
        return [HttpResult(503 if t[0] in self.bad else 200, "", "HTTP") for t in targets]


def gate(swarm: Swarm, prober: Prober, names: list[str], successes: int = 2) -> Any:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    policy = HealthGate(timeout_seconds=10, interval_seconds=0.5, successes=successes)
    return run_gate(names, Resolver(swarm, swarm=True), prober, {NET}, 8000, "/health/ready", policy,
                    clock=lambda: now[0], sleep=sleep)  # fmt: skip


def test_the_gate_probes_every_running_task_listing_them_once_per_round() -> None:
    swarm = Swarm([[task(1, "running", "10.0.1.5"), task(2, "running", "10.0.1.6")]])
    prober = Prober()
    result = gate(swarm, prober, ["svc.1", "svc.2"])
    assert result.addresses == {"svc.1": "10.0.1.5", "svc.2": "10.0.1.6"} and result.rounds == 2
    assert swarm.asked == 2 and prober.asked == ["10.0.1.5", "10.0.1.6"] * 2


def test_a_task_swarm_replaces_during_the_gate_starts_its_passes_again() -> None:
    first = [task(1, "running", "10.0.1.5")]
    replaced = [task(1, "running", "10.0.1.9", created="2026-11-23T00:00:09Z")]  # between two rounds
    prober = Prober()
    result = gate(Swarm([first, replaced]), prober, ["svc.1"], successes=2)
    assert result.addresses == {"svc.1": "10.0.1.9"}
    assert prober.asked == ["10.0.1.5", "10.0.1.9", "10.0.1.9"]  # the new task passed twice on its own


def test_the_newest_task_of_a_slot_is_the_one_gated() -> None:
    old = task(1, "running", "10.0.1.5", created="2026-11-23T00:00:00Z")
    new = task(1, "starting", "10.0.1.7", created="2026-11-23T00:00:05Z")
    with pytest.raises(
        GateError, match=r"health gate: task svc.1 not healthy after 10s \(last: not running \(starting\)\)"
    ):
        gate(Swarm([[old, new]]), Prober(), ["svc.1"])


def test_a_missing_service_fails_at_once_and_a_missing_task_waits() -> None:
    with pytest.raises(GateError, match=re.escape("health gate: task gone.1: no such service gone")):
        gate(Swarm([[]]), Prober(), ["gone.1"])
    swarm = Swarm([[], [task(1, "running", "10.0.1.5")]])
    assert gate(swarm, Prober(), ["svc.1"]).addresses == {"svc.1": "10.0.1.5"}


# --- the program under mocks, and the pack on what it registers -------------------------------


def test_swarm_colours_are_services_on_an_attachable_overlay_with_the_plan_naming_their_tasks() -> None:
    result = run({})
    found = by_name(result)
    network = found["docker:index/network:Network::app-net"]
    assert network.inputs["driver"] == "overlay" and network.inputs["attachable"] is True
    assert not [r for r in result.by_type(CONTAINER) if labels(r)["bluegreen.role"] == "app"]
    services = {labels(s)["bluegreen.color"]: s for s in result.by_type(SERVICE)}
    assert set(services) == {"blue", "green"}
    blue = services["blue"].inputs
    assert blue["endpointSpec"] == {"mode": "dnsrr"} and blue["mode"]["replicated"]["replicas"] == 2
    assert blue["updateConfig"]["order"] == "start-first" and blue["updateConfig"]["failureAction"] == "rollback"
    assert blue["taskSpec"]["placement"]["prefs"] == ["spread=node.id"]
    container = blue["taskSpec"]["containerSpec"]
    assert container["env"]["APP_COLOR"] == "blue" and container["capDrops"] == ["ALL"]
    assert {item["label"]: item["value"] for item in container["labels"]} == labels(services["blue"])
    plan = switch_plan(result)
    assert plan["orchestrator"] == "swarm"
    assert plan["colors"]["blue"]["alias"] == blue["name"]
    assert plan["colors"]["blue"]["containers"] == [f"{blue['name']}.1", f"{blue['name']}.2"]


def test_nodes_pull_with_the_providers_registry_credentials() -> None:
    auth = {"address": "registry.example.com", "username": "deploy", "password": "a-registry-token"}
    result = run({"image": {"source": "registry", "repository": "registry.example.com/acme/app"},
                  "registryAuth": auth})  # fmt: skip
    for service in result.by_type(SERVICE):
        assert service.is_secret("auth")  # the password, and so the whole input, never plain in state
        assert service.plain("auth") == {**{"serverAddress": "registry.example.com"}, "username": "deploy",
                                         "password": "a-registry-token"}  # fmt: skip
    assert not run({}).by_type(SERVICE)[0].inputs.get("auth")


def test_a_rotated_registry_password_is_a_new_service_name_so_the_replacement_can_start_first() -> None:
    """`auth` is ForceNew in the provider; Swarm refuses a second service under the name the old one holds."""
    image = {"source": "registry", "repository": "registry.example.com/acme/app"}
    auth = {"address": "registry.example.com", "username": "deploy", "password": "a-registry-token"}
    before = run({"image": image, "registryAuth": auth})
    after = run({"image": image, "registryAuth": {**auth, "password": "the-rotated-token"}})
    names = [{s.plain("name") for s in r.by_type(SERVICE)} for r in (before, after)]
    assert len(names[0]) == 2 and not names[0] & names[1], names
    assert all("token" not in n for n in names[0] | names[1]), "a fingerprint, never the password"
    unchanged = run({"image": image, "registryAuth": auth})
    assert {s.plain("name") for s in unchanged.by_type(SERVICE)} == names[0]


def test_a_traffic_change_touches_no_service() -> None:
    before, after = run({}), run({"activeColor": "green"})
    a, b = by_name(before), by_name(after)
    assert {k for k in a if k.startswith(SERVICE) and a[k].inputs != b[k].inputs} == set()
    assert switch_plan(after)["active"] == "green" and switch_plan(before)["active"] == "blue"


def resource_args(typ: str, props: dict[str, Any], name: str) -> ResourceValidationArgs:
    return ResourceValidationArgs(typ, unknown_checking_proxy(props), urn("dev", typ, name), name, OPTS, None, None)


def test_every_resource_rule_passes_the_programs_services_and_catches_a_root_one() -> None:
    (service, _) = run({}).by_type(SERVICE)
    checked = 0
    for policy in rules.RESOURCE_POLICIES:
        found: list[str] = []
        policy.validate(resource_args(SERVICE, service.inputs, service.name), collector(found))
        assert found == [], policy.name
        checked += 1
    assert checked == len(rules.RESOURCE_POLICIES) > 10
    root = json.loads(json.dumps(service.inputs))
    root["taskSpec"]["containerSpec"]["user"] = "0:0"
    del root["taskSpec"]["resources"]
    found = []
    for policy in (rules.non_root, rules.memory_limit, rules.cpu_limit):
        policy.validate(resource_args(SERVICE, root, service.name), collector(found))
    assert [line.split(" ", 2)[2][:24] for line in found] == [
        "runs as root (user '0:0'", "has no memory limit; set", "has no CPU limit; set cp",
    ]  # fmt: skip


def test_an_external_database_reaches_every_task_only_as_a_secret() -> None:
    url = "postgresql://app:an-external-secret-password@db.internal:5432/app"
    result = run_program(with_changes(stack_raw("dev"), {**SWARM, "database": {"mode": "external", "url": url}}),
                         stack="dev", secret_keys=("database",))  # fmt: skip
    for service in result.by_type(SERVICE):
        assert service.is_secret("taskSpec")
        assert service.plain("taskSpec")["containerSpec"]["env"]["APP_DATABASE_URL"] == url


@pytest.mark.parametrize(("orchestrator", "running"), [("swarm", "container"), ("container", "task")])
def test_changing_the_orchestrator_of_a_running_stack_is_refused_before_anything_changes(
    orchestrator: str, running: str
) -> None:
    mocks = DriftMocks(None, None)
    mocks.report["containers"] = [{"name": "x-1", "color": "blue", "state": "running", "kind": running}]
    stack = with_changes(stack_raw("dev"), {**SWARM, "orchestrator": orchestrator})
    with pytest.raises(Exception, match=r"orchestrator: got '\w+'; allowed: '\w+', what this stack runs now") as raised:
        run_program(stack, stack="dev", mocks=mocks)
    assert "nothing was changed" in str(raised.value)
    assert not [r for r in mocks.resources if r.type.startswith("docker:")]


# --- more than one node ------------------------------------------------------------------------

NODES = ["ssh://deploy@node2", "ssh://deploy@node3"]
COMMAND = "command:local:Command"


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"orchestrator": "container", "swarm.nodes": NODES},
         "swarm.nodes: got [\"ssh://deploy@node2\", \"ssh://deploy@node3\"]; allowed: unset unless orchestrator"),
        ({"orchestrator": "container", "swarm.encrypted": False},
         "swarm.encrypted: got false; allowed: unset unless orchestrator is swarm"),
        ({"swarm.nodes": ["ssh://deploy@node2", "ssh://deploy@node2"]},
         "swarm.nodes: got 'ssh://deploy@node2'; allowed: each other node once: "
         "'ssh://deploy@node2' is listed twice"),
        ({"docker.host": "ssh://deploy@node1", "swarm.nodes": ["ssh://deploy@node1"]},
         "is the deploying engine (docker.host)"),
        ({"swarm.nodes": ["ssh://-oProxyCommand=x@node2"]},
         "swarm.nodes[0]: got 'ssh://-oProxyCommand=x@node2'; allowed: a Docker host"),
    ],
)  # fmt: skip
def test_swarm_nodes_refused_with_the_key_named(changes: dict[str, Any], line: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_changes(stack_raw("dev"), {**SWARM, **changes}), "dev")
    assert line in str(raised.value)


def test_a_built_image_is_copied_to_every_node_before_any_service_runs_it() -> None:
    result = run({"swarm.nodes": NODES})
    found = by_name(result)
    copy = found[f"{COMMAND}::app-image-1.0.0-nodes"]
    assert " -m bluegreen image copy sha256:" in copy.inputs["create"]
    assert copy.inputs["create"].endswith("--to ssh://deploy@node2 --to ssh://deploy@node3")
    assert NODES[0] in copy.inputs["triggers"] and NODES[1] in copy.inputs["triggers"]
    for service in result.by_type(SERVICE):  # the image id reaches the service only through the copy
        assert copy.urn in service.dependencies, service.name
    assert not [r for r in run({}).by_type(COMMAND) if r.name.endswith("-nodes")]


def test_an_image_from_the_s3_store_is_copied_after_the_managers_pull() -> None:
    store = {"source": "s3", "bucket": "images", "name": "app"}
    found = by_name(run({"image": store, "swarm.nodes": NODES}))
    copy, pulled = found[f"{COMMAND}::app-image-1.0.0-nodes"], found[f"{COMMAND}::app-image-1.0.0-s3"]
    assert pulled.urn in copy.dependencies and copy.inputs["create"].endswith("--to ssh://deploy@node3")


def test_nodes_pull_a_registry_image_themselves() -> None:
    image = {"source": "registry", "repository": "registry.example.com/acme/app"}
    assert not [r for r in run({"image": image, "swarm.nodes": NODES}).by_type(COMMAND) if r.name.endswith("-nodes")]


def test_the_overlay_is_encrypted_unless_turned_off_and_its_options_never_replace_it() -> None:
    """The provider reads back the driver's own options (vxlanid_list): a diff on them would replace a network
    every service is on, so options are read when it is made and ignored after (lab/engine.py imitates the Read)."""
    network = by_name(run({}))["docker:index/network:Network::app-net"]
    assert network.inputs["options"] == {"encrypted": ""} and network.ignore_changes == ["options"]
    plain = by_name(run({"swarm.encrypted": False}))["docker:index/network:Network::app-net"]
    assert not plain.inputs.get("options")
    bridge = by_name(run({"orchestrator": "container", "blue.replicas": 1, "green.replicas": 0}))
    assert not bridge["docker:index/network:Network::app-net"].inputs.get("options")


def test_status_names_the_node_of_each_task_by_host_name_and_leaves_containers_alone() -> None:
    from bluegreen.engine.targets import task_targets
    from bluegreen.release.status import _on_nodes

    class Manager:
        def get_json(self, path: str, allow: Sequence[int] = ()) -> Any:
            if path == "/nodes":
                return [{"ID": "n2", "Description": {"Hostname": "node2"}}]
            return [
                {**task(1, "running", "10.0.1.5"), "NodeID": "n2"},
                {**task(2, "running", "10.0.1.6"), "NodeID": "n9"},
            ]

    service = {"Spec": {"Name": "bluegreen-dev-blue-1-0-0-abc", "Labels": {"bluegreen.color": "blue"}}}
    entries = [t.status() for t in task_targets(Manager(), service)]  # type: ignore[arg-type]
    assert [e["node"] for e in entries] == ["n2", "n9"]
    container = {"name": "c", "kind": "container"}
    named = _on_nodes(Manager(), [*entries, container])  # type: ignore[arg-type]
    assert [e.get("node") for e in named] == ["node2", "n9", None]  # an unknown node keeps its id


def test_a_network_made_before_swarm_encrypted_is_said_to_stay_as_it_was(caplog: pytest.LogCaptureFixture) -> None:
    cases: list[tuple[dict[str, bool], dict[str, Any], bool]] = [
        ({"encrypted": False}, {}, True),
        ({"encrypted": True}, {}, False),
        ({"encrypted": False}, {"swarm.encrypted": False}, False),
    ]
    for network, changes, warned in cases:
        caplog.clear()
        mocks = DriftMocks("aa", "aa")
        mocks.report["network"] = {"name": NET, "driver": "overlay", **network}
        with caplog.at_level("WARNING"):
            run_program(with_changes(stack_raw("dev"), {**SWARM, **changes}), stack="dev", mocks=mocks)
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("swarm.encrypted:")]
        assert len(said) == warned, (network, changes, said)
        assert all(f"the stack network {NET} was made unencrypted and stays so" in line for line in said)
