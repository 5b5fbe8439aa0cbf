"""Stack settings: the shipped stacks pass, and every bad value is refused by
name, identically offline (`python -m bluegreen validate`) and in the program
(`pulumi.RunError` under mocks)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from bluegreen.cli.main import main as cli_main
from bluegreen.config.settings import parse_settings
from bluegreen.config.stacks import is_production
from bluegreen.errors import SettingsError
from lab.paths import ROOT
from lab.pulumi_harness import run_program
from lab.stacks import DELETE, stack_raw, with_changes

STACKS = ["dev", "staging", "prod"]


# (id, stack, changes on top of the dev stack, the key the first problem must name)
BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("color-unknown", "dev", {"activeColor": "purple"}, "activeColor"),
    ("color-missing", "dev", {"activeColor": DELETE}, "activeColor"),
    ("color-wrong-type", "dev", {"activeColor": 7}, "activeColor"),
    ("weight-above-100", "dev", {"trafficWeight": 101}, "trafficWeight"),
    ("weight-negative", "dev", {"trafficWeight": -1}, "trafficWeight"),
    ("weight-not-a-number", "dev", {"trafficWeight": "half"}, "trafficWeight"),
    ("stickiness-unknown", "dev", {"stickiness": "session"}, "stickiness"),
    ("typo-top-level", "dev", {"activeColour": "green"}, "activeColour"),
    ("replicas-too-many", "dev", {"blue.replicas": 11}, "blue.replicas"),
    ("replicas-not-int", "dev", {"blue.replicas": "two"}, "blue.replicas"),
    ("version-with-space", "dev", {"green.version": "1.0 beta"}, "green.version"),
    ("version-leading-dot", "dev", {"blue.version": ".hidden"}, "blue.version"),
    ("typo-nested", "dev", {"blue.replica": 2}, "blue.replica"),
    ("app-port-privileged", "dev", {"app.port": 80}, "app.port"),
    ("health-path-relative", "dev", {"app.healthPath": "health"}, "app.healthPath"),
    ("memory-zero", "dev", {"app.resources.memoryMb": 0}, "app.resources.memoryMb"),
    ("cpus-too-many", "dev", {"app.resources.cpus": 100}, "app.resources.cpus"),
    ("env-bad-name", "dev", {"app.env": {"1BAD": "x"}}, "app.env.1BAD"),
    ("env-reserved", "dev", {"app.env": {"APP_COLOR": "red"}}, "app.env.APP_COLOR"),
    ("profile-unknown", "dev", {"app.profile": "qa"}, "app.profile"),
    ("image-source-unknown", "dev", {"image": {"source": "ftp"}}, "image.source"),
    ("registry-without-repo", "dev", {"image": {"source": "registry"}}, "image.repository"),
    (
        "registry-uppercase",
        "dev",
        {"image": {"source": "registry", "repository": "Acme/App"}},
        "image.repository",
    ),
    ("database-mode-unknown", "dev", {"database.mode": "mysql"}, "database.mode"),
    (
        "webhook-plain-http",
        "dev",
        {"notifications.webhookUrl": "http://hooks.example.com/T0/B0/x"},
        "notifications.webhookUrl",
    ),
    (
        "webhook-control-char",
        "dev",
        {"notifications.webhookUrl": "https://hooks.example.com/T0\nB0"},
        "notifications.webhookUrl",
    ),
    ("database-external-without-url", "dev", {"database.mode": "external"}, "database.url"),
    ("database-url-not-postgres", "dev", {"database": {"mode": "external", "url": "mysql://db/x"}}, "database.url"),
    (
        "database-password-plain",
        "dev",
        {"database": {"mode": "container", "password": "long-enough-password-1"}},
        "database.password",
    ),
    ("database-as-root", "dev", {"database": {"mode": "container", "runAs": "0:0"}}, "database.runAs"),
    ("database-image-latest", "dev", {"database": {"mode": "container", "image": "postgres:latest"}}, "database.image"),
    (
        "database-url-set-twice",
        "dev",
        {"database.mode": "container", "app.env": {"APP_DATABASE_URL": "postgresql://x"}},
        "app.env.APP_DATABASE_URL",
    ),
    (
        "hook-name-uppercase",
        "dev",
        {"hooks": {"preSwitch": [{"name": "Migrate", "command": ["x"]}]}},
        "hooks.preSwitch[0].name",
    ),
    (
        "hook-without-command",
        "dev",
        {"hooks": {"preSwitch": [{"name": "m", "command": []}]}},
        "hooks.preSwitch[0].command",
    ),
    (
        "hook-names-twice",
        "dev",
        {"hooks": {"postPromote": [{"name": "a", "command": ["x"]} for _ in "12"]}},
        "hooks.postPromote",
    ),
    (
        "smoke-status-unknown",
        "dev",
        {"hooks": {"smoke": [{"name": "a", "path": "/", "expectStatus": 700}]}},
        "hooks.smoke[0].expectStatus",
    ),
    ("router-port-range", "dev", {"router.port": 70000}, "router.port"),
    ("router-same-ports", "dev", {"router.previewPort": 8080}, "router.previewPort"),
    ("bind-not-an-ip", "dev", {"router.bindAddress": "localhost"}, "router.bindAddress"),
    ("drain-too-long", "dev", {"router.drainSeconds": 99999}, "router.drainSeconds"),
    (
        "rate-limit-without-rate",
        "dev",
        {"router.rateLimit": {"burst": 5}},
        "router.rateLimit.requestsPerSecond",
    ),
    ("gate-timeout-zero", "dev", {"healthGate.timeoutSeconds": 0}, "healthGate.timeoutSeconds"),
    (
        "gate-interval-over-timeout",
        "dev",
        {"healthGate.timeoutSeconds": 10, "healthGate.intervalSeconds": 30},
        "healthGate.intervalSeconds",
    ),
    ("canary-without-standby", "dev", {"trafficWeight": 90, "green.replicas": 0}, "trafficWeight"),
    ("active-without-replicas", "dev", {"blue.replicas": 0}, "blue.replicas"),
    ("version-missing", "dev", {"blue.version": DELETE}, "blue.version"),
    ("prod-latest", "prod", {"blue.version": "latest", "image": {"source": "build"}}, "blue.version"),
    ("docker-host-no-scheme", "dev", {"docker": {"host": "localhost:2375"}}, "docker.host"),
    ("digest-on-build", "dev", {"blue.digest": "sha256:" + "a" * 64}, "blue.digest"),
    ("section-not-a-mapping", "dev", {"healthGate": "fast"}, "healthGate"),
    ("app-runs-as-root", "dev", {"app.user": "0:0"}, "app.user"),
    ("app-user-with-space", "dev", {"app.user": "my user"}, "app.user"),
    ("health-command-empty", "dev", {"app.healthCommand": []}, "app.healthCommand"),
    ("s3-bucket-invalid", "dev", {"image": {"source": "s3", "bucket": "Bad_Bucket"}}, "image.bucket"),
]


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_are_valid(stack: str) -> None:
    settings = parse_settings(stack_raw(stack), stack)
    assert settings.active_color in ("blue", "green")


def test_shipped_stacks_differ_as_documented() -> None:
    dev, staging, prod = (parse_settings(stack_raw(s), s) for s in STACKS)
    assert (dev.blue.replicas, staging.blue.replicas, prod.blue.replicas) == (1, 2, 3)
    assert dev.router.bind_address == "127.0.0.1"
    assert prod.router.rate_limit is not None
    assert prod.docker.host is not None and dev.docker.host is None
    assert prod.app.resources.memory_mb <= staging.app.resources.memory_mb


def test_table_is_large_enough() -> None:
    assert len(BAD) >= 25
    assert len({case[0] for case in BAD}) == len(BAD)


@pytest.mark.parametrize(("stack", "changes", "key"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_value_refused_by_parse(stack: str, changes: dict[str, Any], key: str) -> None:
    raw = with_changes(stack_raw("dev"), changes)
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, stack)
    keys = [p.key for p in caught.value.problems]
    assert key in keys, f"expected {key} among {keys}"
    line = next(p.line() for p in caught.value.problems if p.key == key)
    assert line.startswith(f"{key}: ")
    assert "allowed:" in line or "required:" in line or "known keys here:" in line


@pytest.mark.parametrize(("stack", "changes", "key"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_value_refused_by_validate_cli(tmp_path: Path, stack: str, changes: dict[str, Any], key: str) -> None:
    raw = with_changes(stack_raw("dev"), changes)
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    stack_file = tmp_path / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {f"bluegreen:{k}": v for k, v in raw.items()}}))
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["validate", str(stack_file), "--project-file", str(tmp_path / "Pulumi.yaml")], out, err)
    assert code == 2
    assert out.getvalue() == ""
    assert f"{stack_file}: {key}: " in err.getvalue()
    assert "nothing was changed" in err.getvalue()


@pytest.mark.parametrize(("stack", "changes", "key"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_value_refused_by_program(stack: str, changes: dict[str, Any], key: str) -> None:
    raw = with_changes(stack_raw("dev"), changes)
    with pytest.raises(pulumi.RunError) as caught:
        run_program(raw, stack=stack)
    message = str(caught.value)
    assert f"stack '{stack}' has" in message and "nothing was changed" in message
    assert f"\n{key}: " in message
    assert "Traceback" not in message


@pytest.mark.parametrize("stack", STACKS)
def test_program_accepts_shipped_stacks(stack: str) -> None:
    run = run_program(stack_raw(stack), stack=stack)
    settings = parse_settings(stack_raw(stack), stack)
    assert run.outputs["activeColor"] == settings.active_color
    assert run.outputs["trafficWeight"] == settings.traffic_weight


def test_engine_strings_parse_like_yaml() -> None:
    """The engine passes "40" and JSON text; the result equals the YAML-typed parse."""
    raw = with_changes(stack_raw("dev"), {"trafficWeight": 40})
    as_engine = {k: (str(v) if not isinstance(v, dict) else v) for k, v in raw.items()}
    assert parse_settings(as_engine, "dev") == parse_settings(raw, "dev")


def test_problems_are_reported_together() -> None:
    raw = with_changes(stack_raw("dev"), {"activeColor": "red", "router.port": 0, "typo": 1})
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, "dev")
    assert {p.key for p in caught.value.problems} == {"activeColor", "router.port", "typo"}


def test_did_you_mean_for_typos() -> None:
    raw = with_changes(stack_raw("dev"), {"activeColour": "green"})
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, "dev")
    assert "did you mean activeColor?" in str(caught.value)


def test_allowed_text_comes_from_the_constraint() -> None:
    raw = with_changes(stack_raw("dev"), {"trafficWeight": 150})
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, "dev")
    assert str(caught.value) == "trafficWeight: got 150; allowed: an integer from 0 to 100"


@pytest.mark.parametrize(
    ("stack", "production"),
    [("prod", True), ("production", True), ("prod-eu", True), ("dev", False), ("product", False)],
)
def test_production_stacks(stack: str, production: bool) -> None:
    assert is_production(stack) is production


@pytest.mark.parametrize(
    ("stack", "changes", "key", "needle"),
    [
        ("dev", {"blue.version": "latest"}, "blue.version", "uses the moving tag 'latest'"),
        ("prod", {"blue.version": "main"}, "blue.version", "production needs a digest or an immutable version tag"),
        ("prod", {"router.image": "nginxinc/nginx-unprivileged:1.28"}, "router.image", "immutable version tag"),
        ("staging", {"router.image": "nginx"}, "router.image", "has no tag"),
    ],
)
def test_validate_applies_the_packs_pinning_rule(stack: str, changes: dict[str, Any], key: str, needle: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes(stack_raw(stack), changes), stack)
    assert [p.key for p in caught.value.problems] == [key] and needle in str(caught.value)


def test_main_is_fine_outside_production() -> None:
    raw = with_changes(stack_raw("staging"), {"blue.version": "main"})
    assert parse_settings(raw, "staging").blue.version == "main"


def test_weights_add_up() -> None:
    raw = with_changes(stack_raw("dev"), {"activeColor": "green", "trafficWeight": 10})
    assert parse_settings(raw, "dev").weights() == {"green": 10, "blue": 90}


def test_proxy_protocol_needs_trusted_proxies_and_proxies_are_networks() -> None:
    from bluegreen.config.settings import parse_settings
    from bluegreen.errors import SettingsError
    from lab.stacks import stack_raw, with_changes

    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes(stack_raw("dev"), {"router.edge": {"proxyProtocol": True}}), "dev")
    assert caught.value.problems[0].line().startswith("router.edge.proxyProtocol: got true; allowed: false, or")
    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes(stack_raw("dev"), {"router.edge": {"trustedProxies": ["10.0.0.0/33"]}}), "dev")
    assert caught.value.problems[0].key == "router.edge.trustedProxies[0]"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("fe80::1%eth0;\nallow all", "an IPv6 scope id (%...) is not allowed"),  # would become nginx directives
        ("fe80::1%x", "an IPv6 scope id (%...) is not allowed"),
        ("0.0.0.0/0", "a network of every address would trust every client's X-Forwarded-For"),
        ("::/0", "a network of every address would trust every client's X-Forwarded-For"),
    ],
)
def test_a_trusted_proxy_that_would_trust_everyone_or_inject_config_is_refused(value: str, why: str) -> None:
    from bluegreen.config.settings import parse_settings
    from bluegreen.errors import SettingsError
    from lab.stacks import stack_raw, with_changes

    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes(stack_raw("dev"), {"router.edge": {"trustedProxies": [value]}}), "dev")
    (problem,) = caught.value.problems
    assert problem.key == "router.edge.trustedProxies[0]" and why in problem.line(), problem.line()
    assert "without a scope id, not /0" in problem.line()


def test_trusted_proxies_are_written_back_normalised() -> None:
    from bluegreen.config.settings import parse_settings
    from lab.stacks import stack_raw, with_changes

    raw = with_changes(
        stack_raw("dev"), {"router.edge": {"trustedProxies": ["10.1.2.3/8", "192.0.2.10/32", "2001:db8::1/32"]}}
    )
    assert parse_settings(raw, "dev").router.edge.trusted_proxies == ["10.0.0.0/8", "192.0.2.10", "2001:db8::/32"]


def test_a_prod_stack_that_never_set_router_image_validates() -> None:
    """The default is a release tag: a new prod stack is not refused for a value its author never set."""
    raw = stack_raw("prod")
    raw.get("router", {}).pop("image", None)
    assert parse_settings(raw, "prod").router.image == "nginxinc/nginx-unprivileged:1.28.0"
