"""Every CrossGuard rule, called directly: passing and failing cases, and the real program's resources.

Props reach the rules the way the real analyzer delivers them: wrapped in
pulumi_policy's unknown-checking proxy, with unknowns as its sentinels, and
stack resources linked to their parents.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from lab.paths import ROOT
from lab.pulumi_harness import Registered, run_program
from lab.stacks import stack_raw, with_changes
from policies import rules

OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def urn(stack: str, typ: str, name: str) -> str:
    return f"urn:pulumi:{stack}::bluegreen::{typ}::{name}"


def check(policy: ResourceValidationPolicy, props: dict[str, Any], typ: str = rules.CONTAINER,
          stack: str = "staging", config: dict[str, Any] | None = None, name: str = "app-1") -> list[str]:  # fmt: skip
    found: list[str] = []
    args = ResourceValidationArgs(typ, unknown_checking_proxy(props), urn(stack, typ, name), name, OPTS, None, config)
    policy.validate(args, collector(found))
    return found


def collector(found: list[str]) -> Callable[[str, str | None], None]:
    def report(message: str, _urn: str | None = None) -> None:
        found.append(message)

    return report


def app(**changes: Any) -> dict[str, Any]:
    """A container that passes every rule; tests change one thing at a time."""
    props: dict[str, Any] = {
        "name": "bluegreen-dev-blue-1", "image": "sha256:" + "a" * 64, "user": "10001:10001",
        "memory": 256, "cpus": "0.5", "restart": "unless-stopped", "logDriver": "json-file",
        "logOpts": {"max-size": "10m"}, "readOnly": True, "securityOpts": ["no-new-privileges:true"],
        "capabilities": {"drops": ["ALL"]},
        "healthcheck": {"tests": ["CMD", "python", "-m", "bluegreen_app.healthcheck"]},
        "labels": [{"label": "bluegreen.role", "value": "app"}, {"label": "bluegreen.color", "value": "blue"}],
    }  # fmt: skip
    props.update(changes)
    return {k: v for k, v in props.items() if v is not None}


ROUTER_LABELS = [{"label": "bluegreen.role", "value": "router"}]


def test_baseline_container_passes_every_rule() -> None:
    for policy in rules.RESOURCE_POLICIES:
        assert check(policy, app()) == [], policy.name


@pytest.mark.parametrize(
    ("policy", "changes", "expected"),
    [
        (rules.non_root, {"user": None}, "sets no user"),
        (rules.non_root, {"user": "root"}, "runs as root"),
        (rules.non_root, {"user": "0:0"}, "runs as root"),
        (rules.non_root, {"user": "0"}, "runs as root"),
        (rules.non_root, {"user": "00"}, "runs as root"),
        (rules.non_root, {"user": "root:root"}, "runs as root"),
        (rules.non_root, {"user": "000:1000"}, "runs as root"),
        (rules.memory_limit, {"memory": None}, "no memory limit"),
        (rules.memory_limit, {"memory": 8192}, "exceeds maxMemoryMb 4096"),
        (rules.cpu_limit, {"cpus": None}, "no CPU limit"),
        (rules.cpu_limit, {"cpus": "16"}, "exceeds maxCpus 4"),
        (rules.not_privileged, {"privileged": True}, "is privileged"),
        (rules.no_host_namespaces, {"networkMode": "host"}, "host's network namespace"),
        (rules.no_host_namespaces, {"pidMode": "host"}, "host's PID namespace"),
        (rules.no_host_namespaces, {"ipcMode": "host"}, "host's IPC namespace"),
        (rules.no_sensitive_mounts, {"volumes": [{"hostPath": "/var/run/docker.sock", "containerPath": "/s"}]},
         "mounts host path /var/run/docker.sock"),
        (rules.no_sensitive_mounts, {"mounts": [{"type": "bind", "source": "/etc/ssl", "target": "/x"}]},
         "forbidden: /etc"),
        (rules.no_sensitive_mounts, {"volumes": [{"hostPath": "/", "containerPath": "/host"}]}, "forbidden: /"),
        (rules.capabilities_allowlist, {"capabilities": {"adds": ["SYS_ADMIN"]}}, "adds capabilities SYS_ADMIN"),
        (rules.images_pinned, {"image": "acme/app"}, "has no tag"),
        (rules.images_pinned, {"image": "acme/app:latest"}, "moving tag 'latest'"),
        (rules.app_healthcheck, {"healthcheck": None}, "no healthcheck"),
        (rules.app_healthcheck, {"healthcheck": {"tests": ["NONE"]}}, "no healthcheck"),
        (rules.restart_policy, {"restart": None}, "restart policy is 'no'"),
        (rules.log_rotation, {"logOpts": None}, "without logOpts max-size"),
        (rules.ports_only_router, {"ports": [{"internal": 8000, "external": 8000}]}, "only the router"),
        (rules.read_only_root, {"readOnly": None}, "writable root filesystem"),
        (rules.read_only_root, {"readOnly": False}, "writable root filesystem"),
        (rules.no_new_privileges, {"securityOpts": None}, "can gain privileges"),
        (rules.no_new_privileges, {"securityOpts": ["no-new-privileges:false"]}, "can gain privileges"),
        (rules.capabilities_dropped, {"capabilities": None}, "keeps Docker's default capabilities"),
        (rules.capabilities_dropped, {"capabilities": {"drops": ["NET_RAW"]}}, "keeps Docker's default"),
        (rules.no_sensitive_mounts, {"volumes": [{"hostPath": "/var/run", "containerPath": "/r"}]},
         "forbidden: /var/run/docker.sock"),
    ],
)  # fmt: skip
def test_each_rule_refuses_its_case(policy: ResourceValidationPolicy, changes: dict[str, Any], expected: str) -> None:
    found = check(policy, app(**changes))
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("policy", "changes"),
    [
        (rules.no_sensitive_mounts, {"volumes": [{"volumeName": "data", "containerPath": "/data"}]}),
        (rules.no_sensitive_mounts, {"volumes": [{"hostPath": "/srv/etc-backup", "containerPath": "/b"}]}),
        (rules.no_sensitive_mounts, {"mounts": [{"type": "volume", "source": "/etc", "target": "/x"}]}),
        (rules.capabilities_allowlist, {"capabilities": {"adds": ["CAP_NET_BIND_SERVICE"], "drops": ["ALL"]}}),
        (rules.capabilities_dropped, {"capabilities": {"drops": ["all"], "adds": ["NET_BIND_SERVICE"]}}),
        (rules.no_new_privileges, {"securityOpts": ["no-new-privileges"]}),
        (rules.no_new_privileges, {"securityOpts": ["label=disable", "no-new-privileges=true"]}),
        (rules.images_pinned, {"image": "acme/app:1.2.3"}),
        (rules.images_pinned, {"image": "acme/team/app:2.0.0"}),
        (rules.app_healthcheck, {"healthcheck": None, "labels": ROUTER_LABELS}),
        (rules.restart_policy, {"restart": "on-failure"}),
        (rules.log_rotation, {"logDriver": "journald", "logOpts": None}),
        (rules.ports_only_router, {"ports": [{"internal": 8080, "external": 80, "ip": "0.0.0.0"}],
                                   "labels": ROUTER_LABELS}),
    ],
)  # fmt: skip
def test_each_rule_accepts_what_is_safe(policy: ResourceValidationPolicy, changes: dict[str, Any]) -> None:
    assert check(policy, app(**changes)) == []


def test_limits_are_configurable() -> None:
    assert check(rules.memory_limit, app(memory=2048), config={"maxMemoryMb": 1024})
    assert not check(rules.memory_limit, app(memory=2048))
    assert check(rules.capabilities_allowlist, app(capabilities={"adds": ["NET_RAW"]}))
    assert not check(rules.capabilities_allowlist, app(capabilities={"adds": ["NET_RAW"]}),
                     config={"allowedCapabilities": ["NET_RAW"]})  # fmt: skip


def test_dev_stacks_bind_only_loopback() -> None:
    router = app(labels=ROUTER_LABELS, ports=[{"internal": 8080, "external": 8080, "ip": "0.0.0.0"}])
    assert "dev binds 127.0.0.1" in check(rules.ports_only_router, router, stack="dev")[0]
    assert check(rules.ports_only_router, router, stack="staging") == []
    loopback = app(labels=ROUTER_LABELS, ports=[{"internal": 8080, "external": 8080, "ip": "127.0.0.1"}])
    assert check(rules.ports_only_router, loopback, stack="dev") == []


@pytest.mark.parametrize(
    ("ref", "stack", "ok"),
    [
        ("acme/app:1.4.2", "prod", True),
        ("acme/app:v2.0.0-rc.1", "prod", True),
        ("acme/app@sha256:" + "b" * 64, "prod", True),
        ("acme/app:main", "prod", False),
        ("nginxinc/nginx-unprivileged:1.28", "prod", False),
        ("acme/app:main", "staging", True),
    ],
)
def test_production_needs_a_digest_or_an_immutable_tag(ref: str, stack: str, ok: bool) -> None:
    found = check(rules.images_pinned, {"name": ref}, typ=rules.REMOTE_IMAGE, stack=stack)
    assert (found == []) is ok, found


def test_unknown_image_during_preview_is_not_a_violation() -> None:
    assert check(rules.images_pinned, app(image=None)) == []


def test_rules_only_look_at_their_types() -> None:
    assert check(rules.non_root, {"user": "root"}, typ="docker:index/network:Network") == []


def test_every_policy_is_named_described_and_enforced() -> None:
    names = [p.name for p in rules.ALL_POLICIES]
    assert len(names) == len(set(names))
    for policy in rules.ALL_POLICIES:
        assert policy.description and policy.enforcement_level is not None
        if policy.config_schema is not None:
            assert all("default" in prop for prop in policy.config_schema.properties.values()), policy.name
    assert rules.read_only_root.enforcement_level is EnforcementLevel.MANDATORY


def test_read_only_root_is_advisory_in_dev_and_mandatory_in_production() -> None:
    import json

    levels = {s: json.loads((ROOT / "policies" / f"config.{s}.json").read_text()) for s in ("dev", "staging", "prod")}
    assert levels["dev"]["container-read-only-root"] == "advisory"
    assert "container-read-only-root" not in levels["prod"] and levels["prod"]["all"] == "mandatory"


# --- the stack rules --------------------------------------------------------------------


def as_policy_resources(
    resources: list[Registered], stack: str, unknown: Callable[[Registered], list[str]] | None = None
) -> list[PolicyResource]:
    """What the analyzer hands a stack policy: proxied props (`unknown` names props not known yet), parents linked."""
    found: dict[str, PolicyResource] = {}
    for r in resources:
        props = {k: (UNKNOWN_STRING_VALUE if unknown and k in unknown(r) else v) for k, v in r.inputs.items()}
        found[r.urn] = PolicyResource(r.type, unknown_checking_proxy(props), r.urn, r.name, OPTS, None, None, [], {})
    for r in resources:
        found[r.urn].parent = found.get(r.parent)
    assert all(r.urn.startswith(f"urn:pulumi:{stack}::") for r in resources)
    return list(found.values())


def check_stack(policy: StackValidationPolicy, resources: list[PolicyResource]) -> list[str]:
    found: list[str] = []
    policy.validate(StackValidationArgs(resources), collector(found))
    return found


def program_resources(stack: str, changes: dict[str, Any] | None = None) -> list[Registered]:
    return run_program(with_changes(stack_raw(stack), changes or {}), stack=stack).resources


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_program_passes_every_mandatory_rule(stack: str) -> None:
    resources = program_resources(stack)
    violations: list[str] = []
    for resource in resources:
        for policy in rules.RESOURCE_POLICIES:
            if policy.enforcement_level is EnforcementLevel.MANDATORY:
                violations += [f"{policy.name}: {m}" for m in check(policy, resource.inputs, resource.type, stack,
                                                                    name=resource.name)]  # fmt: skip
    policy_resources = as_policy_resources(resources, stack)
    for stack_policy in rules.STACK_POLICIES:
        violations += [f"{stack_policy.name}: {m}" for m in check_stack(stack_policy, policy_resources)]
    assert violations == []
    assert any(r.type == rules.CONTAINER for r in resources), "the rules must have had something to check"


def test_stack_shape_counts_colour_stacks_and_routers() -> None:
    resources = as_policy_resources(program_resources("dev"), "dev")
    without_router = [r for r in resources if not (r.resource_type == rules.CONTAINER and r.name == "app-router")]
    assert check_stack(rules.stack_shape, without_router) == ["expected exactly one router container, found 0"]
    one_color = [r for r in resources if not (r.resource_type == rules.COLOR_STACK and r.name == "app-green")]
    assert check_stack(rules.stack_shape, one_color) == ["expected exactly two colour stacks (blue and green), found 1"]


def test_live_colour_and_weights_follow_the_replicas() -> None:
    resources = as_policy_resources(program_resources("dev", {"trafficWeight": 90}), "dev")
    assert check_stack(rules.live_color_has_replicas, resources) == []
    assert check_stack(rules.traffic_weight_consistent, resources) == []
    no_green = [r for r in resources if not (r.resource_type == rules.CONTAINER and r.name.startswith("app-green"))]
    assert check_stack(rules.traffic_weight_consistent, no_green) == [
        "the idle colour green takes 10% but has no replicas"
    ]
    no_blue = [r for r in resources if not (r.resource_type == rules.CONTAINER and r.name.startswith("app-blue"))]
    assert check_stack(rules.live_color_has_replicas, no_blue) == [
        "the active colour blue (share 90%) has no replicas to promote"
    ]


def test_broken_weights_are_reported() -> None:
    resources = as_policy_resources(program_resources("dev"), "dev")
    switch = next(r for r in resources if rules.is_switch(r))
    plan = json.loads(switch.props["stdin"])
    plan["weights"] = {"blue": 70, "green": 20}
    switch.props = unknown_checking_proxy({**switch.props, "stdin": json.dumps(plan)})
    assert check_stack(rules.traffic_weight_consistent, resources) == ["the two shares add up to 90, not 100"]


def test_every_rule_in_the_module_is_registered() -> None:
    defined = [v for v in vars(rules).values() if isinstance(v, ResourceValidationPolicy | StackValidationPolicy)]
    assert defined and {id(p) for p in defined} == {id(p) for p in rules.ALL_POLICIES}
    assert len(rules.RESOURCE_POLICIES) + len(rules.STACK_POLICIES) == len(rules.ALL_POLICIES)


def test_the_pack_entry_point_builds_one_pack_of_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run policies/__main__.py with PolicyPack replaced: it must hand over exactly ALL_POLICIES."""
    import runpy
    import sys

    import pulumi_policy

    built: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.append(kwargs))
    monkeypatch.setitem(sys.modules, "rules", rules)  # the entry point imports its sibling as `rules`
    runpy.run_path(str(ROOT / "policies" / "__main__.py"), run_name="__main__")
    assert len(built) == 1 and built[0]["policies"] == rules.ALL_POLICIES
    assert built[0]["enforcement_level"] is EnforcementLevel.MANDATORY


@pytest.mark.parametrize(
    ("stack", "production"),
    [("prod", True), ("production", True), ("prod-eu", True), ("product", False), ("prodigy", False),
     ("staging", False)],
)  # fmt: skip
def test_the_pack_and_validate_agree_on_production(stack: str, production: bool) -> None:
    """One rule, two callers: `blue.version: main` is refused by both exactly where the stack is production."""
    from bluegreen.config.settings import parse_settings
    from bluegreen.errors import SettingsError

    raw = with_changes(stack_raw("prod"), {"blue.version": "main"})
    try:
        parse_settings(raw, stack)
        validate_refuses = False
    except SettingsError as exc:
        validate_refuses = [p.key for p in exc.problems] == ["blue.version"]
    pack = check(rules.images_pinned, {"name": "acme/bluegreen-app:main"}, typ=rules.REMOTE_IMAGE, stack=stack)
    assert validate_refuses is production
    assert bool(pack) is production, pack


# --- what the real analyzer delivers, and the gaps a review found ---------------------------------


@pytest.mark.parametrize("user", ["root", "0", "00", "000:000", "0:0", "00:00", "root:root", "0:10001"])
def test_every_spelling_of_uid_0_is_root(user: str) -> None:
    assert "runs as root" in check(rules.non_root, app(user=user))[0]


@pytest.mark.parametrize("path", ["/var/run", "/var/run/", "/run", "/var", "/var/lib", "/", "/etc/ssl"])
def test_the_socket_parents_and_sensitive_paths_are_refused(path: str) -> None:
    found = check(rules.no_sensitive_mounts, app(volumes=[{"hostPath": path, "containerPath": "/m"}]))
    assert len(found) == 1 and f"mounts host path {path}" in found[0]


@pytest.mark.parametrize("path", ["/srv/data", "/var/log/app", "/opt/app", "/home/deploy/data"])
def test_ordinary_host_paths_are_accepted(path: str) -> None:
    assert check(rules.no_sensitive_mounts, app(volumes=[{"hostPath": path, "containerPath": "/m"}])) == []


def test_the_pin_check_reads_references_not_image_ids() -> None:
    s3 = {"environment": {"BLUEGREEN_IMAGE_REF": "bluegreen-app:main"}, "create": "... image pull ..."}
    assert "production needs" in check(rules.images_pinned, s3, typ=rules.COMMAND, stack="prod")[0]
    assert check(rules.images_pinned, {"environment": {"BLUEGREEN_IMAGE_REF": "bluegreen-app:1.4.2"}},
                 typ=rules.COMMAND, stack="prod") == []  # fmt: skip
    assert check(rules.images_pinned, {"create": "echo hi"}, typ=rules.COMMAND) == []
    assert check(rules.images_pinned, app(image="sha256:" + "a" * 64), stack="prod") == [], "an id is pinned"


def test_unknown_values_during_preview_neither_raise_nor_report() -> None:
    """The analyzer's proxy raises on an unknown read; every rule must read around it."""
    unknown = {"image": UNKNOWN_STRING_VALUE, "name": UNKNOWN_STRING_VALUE, "user": "10001"}
    for policy in rules.RESOURCE_POLICIES:
        check(policy, app(**unknown))  # must not raise
    assert check(rules.images_pinned, {"name": UNKNOWN_STRING_VALUE}, typ=rules.REMOTE_IMAGE) == []
    assert "sets no user" in check(rules.non_root, app(user=UNKNOWN_STRING_VALUE))[0]


S3_STORE = {"source": "s3", "bucket": "acme-images", "prefix": "shop"}


def test_with_s3_images_an_empty_live_colour_is_still_reported() -> None:
    """The S3 pull is a command whose create says "bluegreen" too; the Switch is found by its parent's type."""
    registered = program_resources("staging", {"image": S3_STORE})
    resources = as_policy_resources(registered, "staging")
    assert sum(r.resource_type == rules.COMMAND for r in resources) >= 2
    assert [r.name for r in resources if rules.is_switch(r)] == ["app-switch"]
    assert all(r.parent is not None for r in resources if r.resource_type == rules.COMMAND), "parents linked"
    assert check_stack(rules.live_color_has_replicas, resources) == []
    no_blue = [r for r in resources if not (r.resource_type == rules.CONTAINER and r.name.startswith("app-blue"))]
    assert check_stack(rules.live_color_has_replicas, no_blue) == [
        "the active colour blue (share 100%) has no replicas to promote"
    ]


def test_every_container_of_the_program_has_a_pids_limit_and_one_without_is_refused() -> None:
    registered = program_resources("staging", {})
    resources = as_policy_resources(registered, "staging")
    assert check_stack(rules.pids_limit, resources) == []
    without = [r for r in resources if r.name != "app-blue-1-pids"]
    assert check_stack(rules.pids_limit, without) == [
        "container app-blue-1 has no pids limit: a fork bomb can exhaust the host's processes; give it a "
        "`bluegreen pids-limit --limit N` child command"
    ]
    unknown = as_policy_resources(registered, "staging", lambda r: ["create"] if r.name.endswith("-pids") else [])
    assert check_stack(rules.pids_limit, unknown) == [], "a preview that cannot read the command yet stays quiet"
    for resource in resources:  # an analyzer that links no parents: the URN's type chain and the name still tell
        resource.parent = None
    assert check_stack(rules.pids_limit, resources) == []
    assert len(check_stack(rules.pids_limit, [r for r in resources if r.name != "app-router-pids"])) == 1


def test_unknown_names_and_plan_do_not_silence_the_replica_count() -> None:
    """A preview where container names and the plan are not known yet (a new name key)."""
    registered = program_resources("dev", {"trafficWeight": 90})

    def unknown(r: Registered) -> list[str]:
        return ["name", "image"] if r.type == rules.CONTAINER else ["stdin"] if r.name == "app-switch" else []

    resources = as_policy_resources(registered, "dev", unknown)
    assert check_stack(rules.stack_shape, resources) == []
    assert check_stack(rules.traffic_weight_consistent, resources) == []  # no plan known: nothing to compare yet
    switch = next(r for r in resources if rules.is_switch(r))
    with pytest.raises(UnknownValueError):
        switch.props["stdin"]
    names_only = as_policy_resources(registered, "dev", lambda r: ["name"] if r.type == rules.CONTAINER else [])
    no_green = [r for r in names_only if not (r.resource_type == rules.CONTAINER and r.name.startswith("app-green"))]
    assert check_stack(rules.traffic_weight_consistent, no_green) == [
        "the idle colour green takes 10% but has no replicas"
    ]


def test_the_assembled_pack_is_self_contained_and_pinned_like_the_lock(tmp_path: Any) -> None:
    """`pulumi policy publish` packs one folder: it must run from there, with its own conventions."""
    import subprocess
    import sys

    out = tmp_path / "pack"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "policy-pack.sh"), str(out)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    probe = (
        "import runpy, sys, pulumi_policy\n"
        "built = []\n"
        "pulumi_policy.PolicyPack = lambda **kw: built.append(kw)\n"
        f"runpy.run_path({str(out / '__main__.py')!r}, run_name='__main__')\n"
        "mods = [m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'bluegreen']\n"
        "print(len(built[0]['policies']), len(mods), *mods)\n"
    )
    ran = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    count, loaded, *files = ran.stdout.split()
    assert int(count) == len(rules.ALL_POLICIES) and int(loaded) == len(files) >= 5, ran.stdout
    assert all(f.startswith(str(out)) for f in files), ran.stdout  # every bluegreen module from the pack
    assert "virtualenv: venv" in (out / "PulumiPolicy.yaml").read_text()
    lock = (ROOT / "constraints.txt").read_text().splitlines()
    for pin in [line for line in (out / "requirements.txt").read_text().splitlines() if "==" in line]:
        assert pin in lock, f"{pin} differs from constraints.txt"


# --- the database and hooks ------------------------------------------------------------------------

DATABASE_AND_HOOKS = {
    "database": {"mode": "container", "image": "postgres@sha256:" + "e" * 64},
    "hooks": {
        "preSwitch": [{"name": "migrate", "command": ["python", "-m", "bluegreen_app", "migrate"]}],
        "postPromote": [{"name": "notify", "command": ["true"]}],
    },
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_database_and_hooks_pass_every_mandatory_rule(stack: str) -> None:
    resources = program_resources(stack, DATABASE_AND_HOOKS)
    (db,) = [r for r in resources if r.type == rules.CONTAINER and r.name == "app-db"]
    violations: list[str] = []
    for policy in rules.RESOURCE_POLICIES:
        if policy.enforcement_level is EnforcementLevel.MANDATORY:
            violations += [f"{policy.name}: {m}" for m in check(policy, db.inputs, db.type, stack, name=db.name)]
    policy_resources = as_policy_resources(resources, stack)
    for stack_policy in rules.STACK_POLICIES:
        violations += [f"{stack_policy.name}: {m}" for m in check_stack(stack_policy, policy_resources)]
    assert violations == []


def test_a_contract_step_with_a_colour_change_is_refused() -> None:
    contract = {"hooks": {"preSwitch": [{"name": "contract-notes", "command": ["true"]}]}}
    resources = as_policy_resources(program_resources("dev", {**contract, "activeColor": "green"}), "dev")
    (hooks,) = [r for r in resources if r.resource_type == rules.PRE_SWITCH_HOOKS]
    assert list(hooks.props["contractHooks"]) == ["contract-notes"] and "liveActiveColor" not in hooks.props
    assert check_stack(rules.contract_apart_from_switch, resources) == [], "no live routing: nothing to switch from"
    hooks.props = unknown_checking_proxy({"contractHooks": ["contract-notes"], "liveActiveColor": "blue"})
    (found,) = check_stack(rules.contract_apart_from_switch, resources)
    assert found.startswith("hooks.preSwitch contract-notes: a contract step, and activeColor changes from blue")
    hooks.props = unknown_checking_proxy({"contractHooks": ["contract-notes"], "liveActiveColor": "green"})
    assert check_stack(rules.contract_apart_from_switch, resources) == []
