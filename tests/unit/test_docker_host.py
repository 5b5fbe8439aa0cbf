"""Which engine a command talks to, and which addresses may reach ssh at all."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from bluegreen.cli import main
from bluegreen.docker_api import DockerClient, EngineUnreachableError
from bluegreen.docker_host import DEFAULT_HOST, host_problem, resolve, ssh_command
from tests.support.paths import ROOT


@pytest.mark.parametrize(
    "host",
    ["unix:///var/run/docker.sock", "tcp://10.0.0.5:2376", "ssh://deploy@app-prod-1.internal", "ssh://h:2222",
     "ssh://ci_user@host.example"],
)  # fmt: skip
def test_safe_addresses_pass(host: str) -> None:
    assert host_problem(host) is None


@pytest.mark.parametrize(
    "host",
    ["ssh://-oProxyCommand=touch%20x@h", "ssh://-oProxyCommand=x@h", "ssh://u@-oProxyCommand=x", "ssh://a b",
     "ssh://u@h;id", "ftp://h", "tcp://h:2376/$(id)", "unix://relative", "ssh://"],
)  # fmt: skip
def test_anything_ssh_could_read_as_an_option_or_a_shell_could_run_is_refused(host: str) -> None:
    assert host_problem(host) is not None
    with pytest.raises(EngineUnreachableError, match="DOCKER_HOST: got"):
        DockerClient(host).inspect("x")


def test_ssh_ends_its_options_before_the_destination() -> None:
    assert ssh_command("ssh://deploy@h.example:2222") == [
        "ssh", "-o", "BatchMode=yes", "-p", "2222", "--", "deploy@h.example", "docker", "system", "dial-stdio"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="allowed"):
        ssh_command("ssh://-oProxyCommand=x@h")


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no ssh client on this machine")
def test_what_ssh_said_is_what_the_user_reads() -> None:
    with pytest.raises(EngineUnreachableError) as caught:
        DockerClient("ssh://nobody@nonexistent.invalid", timeout=5).inspect("x")
    assert "ssh: Could not resolve hostname nonexistent.invalid" in str(caught.value), caught.value


def project(tmp_path: Path, stack: str, docker: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    text = (ROOT / "Pulumi.dev.yaml").read_text() + docker
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def test_the_stack_file_names_the_engine_and_env_then_the_flag_override_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project(tmp_path, "qa", "  bluegreen:docker:\n    host: ssh://deploy@qa-1.internal\n"))
    assert resolve("qa", None, {}).host == "ssh://deploy@qa-1.internal"
    assert resolve("qa", None, {}).source == "Pulumi.qa.yaml"
    assert resolve("qa", None, {"DOCKER_HOST": "tcp://10.0.0.9:2376"}).host == "tcp://10.0.0.9:2376"
    assert resolve("qa", "unix:///run/other.sock", {"DOCKER_HOST": "tcp://10.0.0.9:2376"}).source == "--docker-host"
    assert resolve("nostack", None, {}).host == DEFAULT_HOST


def test_a_secret_host_in_the_stack_file_asks_for_docker_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project(tmp_path, "qa", "  bluegreen:docker:\n    host:\n      secure: v1:abc\n"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert main(["status", "--stack", "qa"], out, err) == 2
    assert err.getvalue() == (
        "status bluegreen-qa: Pulumi.qa.yaml: docker.host is a secret, which only Pulumi can decrypt; export "
        "DOCKER_HOST or pass --docker-host\n"
    )


def test_status_goes_to_the_stack_files_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With DOCKER_HOST unset, the stack file's host is the one asked (here: a socket nobody listens on)."""
    sock = tmp_path / "nobody.sock"
    monkeypatch.chdir(project(tmp_path, "qa", f"  bluegreen:docker:\n    host: unix://{sock}\n"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert main(["status", "--stack", "qa"], out, err) == 2
    assert f"no Docker engine answers at unix://{sock}" in err.getvalue() and err.getvalue().count("\n") == 1


def test_an_unsafe_flag_is_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["status", "--stack", "dev", "--docker-host", "ssh://-oProxyCommand=x@h"])
    assert caught.value.code == 2
    assert "--docker-host: got 'ssh://-oProxyCommand=x@h'; allowed: unix:///PATH" in capsys.readouterr().err
