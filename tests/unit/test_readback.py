"""What pulumi-docker reads back from Docker, and a program that sends exactly that for every shipped stack."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.config.settings import parse_settings
from bluegreen.engine.readback import (
    cpus,
    cpus_round_trip,
    duration,
    inspect_of,
    limits,
    parse_duration,
    read_back_differs,
    read_container,
)
from bluegreen.errors import SettingsError
from lab.pulumi_harness import run_program
from lab.stacks import stack_raw, with_changes

CONTAINER = "docker:index/container:Container"


def test_cpus_are_spelled_as_the_providers_nano_decimal_string() -> None:
    # The provider's own test table (TestNanoInt64ToDecimalString), then its quirks.
    assert [cpus(v) for v in (0, 1, 1.5, 2, 2.25)] == ["0", "1.0", "1.5", "2.0", "2.25"]
    assert cpus(0.5) == "0.5" and cpus(0.1) == "0.1" and cpus(64) == "64.0"
    assert cpus(10) == "10.", "ten zeros are not nine: its trailing zeros are trimmed, the point stays"
    assert cpus(0.05) == "0.1" and not cpus_round_trip(0.05), "no spelling of 0.05 reads back as itself"
    assert cpus(10.05) == "10.1" and not cpus_round_trip(10.05)
    assert all(cpus_round_trip(v) for v in (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 10, 16, 64))


def test_durations_are_spelled_as_go_prints_them() -> None:
    cases = {1: "1s", 2: "2s", 30: "30s", 60: "1m0s", 90: "1m30s", 0.5: "500ms", 1.5: "1.5s", 3600: "1h0m0s",
             0.0015: "1.5ms", 61.5: "1m1.5s", 0: "0s"}  # fmt: skip
    assert {s: duration(s) for s in cases} == cases
    assert all(parse_duration(text) == seconds for seconds, text in cases.items())
    with pytest.raises(ValueError, match="not a Go duration: '1 minute'"):
        parse_duration("1 minute")


def test_a_container_created_with_what_the_program_sends_reads_back_the_same() -> None:
    sent = {"memory": 256, "cpus": "1", "healthcheck": {"tests": ["CMD", "true"], "startPeriod": "60s"}}
    state = read_container(inspect_of(sent))
    assert read_back_differs(sent, state) == {
        "cpus": ("1", "1.0"), "healthcheck.startPeriod": ("60s", "1m0s"),
    }, "the spellings that used to replace a container on every up"  # fmt: skip
    assert state["memorySwap"] == 512, "Docker's default swap: memory again"
    fixed = {**{k.replace("memory_swap", "memorySwap"): v for k, v in limits(256, 1.0).items()},
             "healthcheck": {"tests": ["CMD", "true"], "startPeriod": duration(60)}}  # fmt: skip
    assert read_back_differs(fixed, read_container(inspect_of(fixed))) == {}


def _stacks() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("dev", {}),
        ("staging", {}),
        ("prod", {}),
        ("dev", {"database.mode": "container", "database.resources.cpus": 1.0}),
        ("dev", {"app.resources.cpus": 1.0, "router.cpus": 2.0, "app.resources.memoryMb": 1024}),
    ]


@pytest.mark.parametrize(("stack", "changes"), _stacks())
def test_no_shipped_stack_sends_a_value_the_provider_reads_back_otherwise(stack: str, changes: dict[str, Any]) -> None:
    result = run_program(with_changes(stack_raw(stack), changes), stack=stack)
    containers = result.by_type(CONTAINER)
    assert len(containers) >= 3, "the router, its net container and the colours' containers were checked"
    for found in containers:
        sent = {k: found.plain(k) for k in found.inputs}
        assert read_back_differs(sent, read_container(inspect_of(sent))) == {}, found.name
        assert sent.get("memorySwap") == sent.get("memory"), f"{found.name}: swap pinned to memory"


@pytest.mark.parametrize(("stack", "changes"), _stacks())
def test_a_daemon_with_default_log_options_replaces_no_container(stack: str, changes: dict[str, Any]) -> None:
    """daemon.json `log-opts` are merged into every json-file container and read back; no program can send
    them (docker info does not show them), so each container leaves logOpts out of its diff."""
    daemon = ("json-file", {"labels": "team", "max-size": "50m", "compress": "true"})
    result = run_program(with_changes(stack_raw(stack), changes), stack=stack)
    for found in result.by_type(CONTAINER):
        sent = {k: found.plain(k) for k in found.inputs}
        merged = read_container(inspect_of(sent, daemon))
        assert merged["logOpts"] == {"labels": "team", "compress": "true", **sent["logOpts"]}, "ours win"
        differs = read_back_differs(sent, merged)
        assert set(differs) == {"logOpts"}, f"{found.name}: the merge is the only difference ({differs})"
        assert "logOpts" in found.ignore_changes, f"{found.name} would be replaced on every up"
    other_driver = read_container(inspect_of({"logDriver": "json-file", "logOpts": {"max-file": "3"}}, ("local", {})))
    assert other_driver["logOpts"] == {"max-file": "3"}, "only the daemon's own driver gets its options"


def test_a_cpu_limit_docker_reads_back_as_another_value_is_refused_with_its_key() -> None:
    with pytest.raises(SettingsError, match=r"app\.resources\.cpus: got 10\.05; allowed: a number from 0\.1 to 64 "
                                          r"that Docker reads back unchanged"):  # fmt: skip
        parse_settings(with_changes(stack_raw("dev"), {"app.resources.cpus": 10.05}), "dev")
