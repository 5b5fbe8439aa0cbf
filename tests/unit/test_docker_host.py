"""Which engine a command talks to, and which addresses may reach ssh at all."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from bluegreen.cli.main import main
from bluegreen.engine.client import DockerClient
from bluegreen.engine.host import DEFAULT_HOST, ambient_context_problem, context_engine, host_problem, resolve
from bluegreen.errors import EngineUnreachableError, InputError
from lab.paths import ROOT
from tests.support.docker_context import save_context


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


def test_ssh_ends_its_options_before_the_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line is the docker SDK's: this pins what an SDK upgrade may not change."""
    from docker.transport import sshconn

    ran: list[list[str]] = []

    def popen(args: list[str], **_: object) -> None:
        ran.append(args)
        raise OSError("not run in this test")

    monkeypatch.setattr(sshconn.subprocess, "Popen", popen)
    with pytest.raises(EngineUnreachableError):
        DockerClient("ssh://deploy@h.example:2222", timeout=2).inspect("x")
    assert ran[0] == ["ssh", "-l", "deploy", "-p", "2222", "--", "h.example", "docker system dial-stdio"]


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no ssh client on this machine")
def test_what_ssh_said_is_what_the_user_reads(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(EngineUnreachableError) as caught:
        DockerClient("ssh://nobody@nonexistent.invalid", timeout=5).inspect("x")
    assert "ssh: Could not resolve hostname nonexistent.invalid" in capfd.readouterr().err
    assert str(caught.value) == (
        "no Docker engine answers at ssh://nobody@nonexistent.invalid (ssh ended the connection; what ssh printed "
        "says why); start one or set DOCKER_HOST"
    )


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


def test_a_docker_context_names_the_engine_and_its_tls_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A context the docker SDK wrote (an http:// host, its TLS files) reads as `docker context inspect` shows it."""
    import trustme
    from docker.context import ContextAPI
    from docker.tls import TLSConfig

    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    certs = tmp_path / "certs"
    certs.mkdir()
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    ca.issue_cert("bluegreen-client").cert_chain_pems[0].write_to_path(str(certs / "cert.pem"))
    ca.issue_cert("bluegreen-client").private_key_pem.write_to_path(str(certs / "key.pem"))
    tls = TLSConfig(client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")), ca_cert=str(certs / "ca.pem"))
    ContextAPI.create_context("qa-box", host="tcp://10.0.0.7:2376", tls_cfg=tls)
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    monkeypatch.chdir(project(project_dir, "qa", "  bluegreen:docker:\n    context: qa-box\n"))

    env = {"DOCKER_CONFIG": str(config)}
    found = resolve("qa", None, env)
    assert (found.host, found.source) == ("tcp://10.0.0.7:2376", "Pulumi.qa.yaml: docker.context (context qa-box)")
    assert found.cert_path is not None and (Path(found.cert_path) / "ca.pem").read_bytes() == ca.cert_pem.bytes()
    # A context overrides a host, as for the docker CLI and pulumi-docker; the flag overrides both.
    both = {**env, "DOCKER_HOST": "unix:///run/other.sock", "DOCKER_CONTEXT": "qa-box"}
    assert resolve("qa", None, both).host == "tcp://10.0.0.7:2376"
    assert resolve("qa", None, {**env, "DOCKER_HOST": "unix:///run/other.sock"}).host == "unix:///run/other.sock"
    assert resolve("qa", "unix:///run/flag.sock", both).host == "unix:///run/flag.sock"
    with pytest.raises(InputError) as unknown:
        resolve(None, None, {**env, "DOCKER_CONTEXT": "nope"})
    assert str(unknown.value) == (
        "DOCKER_CONTEXT: got Docker context 'nope'; allowed: one of default, qa-box (`docker context ls`; the "
        "docker config folder is $DOCKER_CONFIG, else ~/.docker)"
    )


def test_contexts_are_read_from_docker_config_even_without_a_config_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docker SDK would look beside ~/.docker/config.json here and find the other engine."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home_config = tmp_path / "home" / ".docker"
    home_config.mkdir(parents=True)
    (home_config / "config.json").write_text("{}")
    save_context(home_config, "prod-box", "tcp://10.0.0.1:2376")
    config = tmp_path / "ci-docker-config"
    save_context(config, "prod-box", "tcp://10.0.0.2:2376")

    assert (
        resolve(None, None, {"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "prod-box"}).host == "tcp://10.0.0.2:2376"
    )
    assert context_engine("prod-box", "docker.context", {}).host == "tcp://10.0.0.1:2376", "unset: ~/.docker"
    assert context_engine("default", "DOCKER_CONTEXT", {"DOCKER_CONFIG": str(config)}).host == DEFAULT_HOST
    with pytest.raises(InputError) as unknown:
        context_engine("qa-box", "docker.context", {"DOCKER_CONFIG": str(config)})
    assert "got Docker context 'qa-box'; allowed: one of default, prod-box " in str(unknown.value)
    broken = save_context(config, "broken", "tcp://10.0.0.3:2376")
    broken.write_text("{not json")
    with pytest.raises(InputError, match=r"docker.context: Docker context 'broken' cannot be read from .*meta.json"):
        context_engine("broken", "docker.context", {"DOCKER_CONFIG": str(config)})


def test_an_exported_context_may_not_override_the_stack_files_host() -> None:
    assert ambient_context_problem("ssh://deploy@prod-1", {"DOCKER_CONTEXT": "laptop"}) is not None
    assert ambient_context_problem("ssh://deploy@prod-1", {"DOCKER_CONTEXT": "default"}) is None
    assert ambient_context_problem(None, {"DOCKER_CONTEXT": "laptop"}) is None  # dev: the context is the engine
