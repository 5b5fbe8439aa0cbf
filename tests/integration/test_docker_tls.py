"""A tcp:// engine behind TLS, with a throwaway CA: the client verifies it and shows its own certificate.

One test runs a second, real dockerd with `--tlsverify -H tcp://127.0.0.1:PORT`
(its own data and exec roots and bridge). The others, which try wrong CAs
and certificates, put a TLS listener in front of this machine's engine
socket: the same checks, without a daemon start per case.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from bluegreen.engine.client import DockerClient
from bluegreen.errors import DockerError, EngineUnreachableError

pytestmark = pytest.mark.docker


def _pipe(a: socket.socket, b: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := a.recv(65536):
            b.sendall(data)
    for end in (a, b):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def tls_engine(docker_engine: None, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """127.0.0.1:PORT speaking TLS (client certificates required) in front of the local engine's socket."""
    engine = DockerClient().host
    if not engine.startswith("unix://"):
        pytest.skip(f"the engine is not on a local socket ({engine})")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                conn = server_context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(engine.removeprefix("unix://"))
            threading.Thread(target=_pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=_pipe, args=(upstream, conn), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    certs = tmp_path / "certs"
    certs.mkdir()
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    client = ca.issue_cert("bluegreen-client")
    client.cert_chain_pems[0].write_to_path(str(certs / "cert.pem"))
    client.private_key_pem.write_to_path(str(certs / "key.pem"))
    yield {"host": f"tcp://127.0.0.1:{port}", "certs": certs, "ca": ca}
    stop.set()
    listener.close()


def test_tls_variables_make_the_client_verify_the_engine_and_show_its_certificate(
    tls_engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tls_engine["certs"]))
    # requests would let these replace the engine's ca.pem (psf/requests#3829); many CI images set them.
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "unrelated-bundle.pem"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "unrelated-bundle.pem"))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "unrelated-bundle.pem"))
    client = DockerClient(tls_engine["host"], timeout=10)
    version = client.get_json("/version")
    assert isinstance(client.containers({}), list)
    assert client.api.base_url.startswith("https://127.0.0.1:")
    assert client.api.api_version == version["ApiVersion"], "the API version is the engine's (negotiated)"


def test_without_tls_variables_a_tls_port_refuses_plain_http(
    tls_engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    with pytest.raises(DockerError):
        DockerClient(tls_engine["host"], timeout=5).get_json("/version")


def test_an_engine_certificate_from_another_ca_is_refused(
    tls_engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    stranger = trustme.CA()
    stranger.cert_pem.write_to_path(str(other / "ca.pem"))
    for name in ("cert.pem", "key.pem"):
        (other / name).write_bytes((tls_engine["certs"] / name).read_bytes())
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(other))
    with pytest.raises(EngineUnreachableError, match="CERTIFICATE_VERIFY_FAILED"):
        DockerClient(tls_engine["host"], timeout=5).get_json("/version")


def test_missing_certificates_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    with pytest.raises(EngineUnreachableError, match=r"DOCKER_CERT_PATH: .*ca.pem, .*cert.pem, .*key.pem missing"):
        DockerClient("tcp://127.0.0.1:1", timeout=2).get_json("/version")


def test_a_client_certificate_the_engine_does_not_trust_is_refused(
    tls_engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    impostor = tmp_path / "impostor"
    impostor.mkdir()
    (impostor / "ca.pem").write_bytes((tls_engine["certs"] / "ca.pem").read_bytes())
    foreign = trustme.CA().issue_cert("bluegreen-client")
    foreign.cert_chain_pems[0].write_to_path(str(impostor / "cert.pem"))
    foreign.private_key_pem.write_to_path(str(impostor / "key.pem"))
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(impostor))
    with pytest.raises(EngineUnreachableError):
        DockerClient(tls_engine["host"], timeout=5).get_json("/version")


def test_a_stack_files_cert_path_gives_status_its_tls(
    tls_engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No DOCKER_* variable: the stack file's tcp:// docker.host and docker.certPath are all the CLI needs."""
    import io

    from bluegreen.cli.main import main
    from lab.paths import ROOT

    for name in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    stack = f"config:\n  bluegreen:docker:\n    host: {tls_engine['host']}\n    certPath: {tls_engine['certs']}\n"
    (tmp_path / "Pulumi.tlsq.yaml").write_text(stack)
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["status", "--stack", "tlsq"], out, err) == 1, err.getvalue()
    assert err.getvalue().startswith(
        f"status bluegreen-tlsq: no running router for bluegreen-tlsq at {tls_engine['host']}"
    )
    (tmp_path / "Pulumi.tlsq.yaml").write_text(stack.replace(f"    certPath: {tls_engine['certs']}\n", ""))
    err = io.StringIO()
    assert main(["status", "--stack", "tlsq"], io.StringIO(), err) == 2
    assert "no Docker engine answers at" in err.getvalue(), err.getvalue()


@pytest.fixture
def tls_dockerd(docker_engine: None) -> Iterator[dict[str, Any]]:
    """A second dockerd listening only on 127.0.0.1:PORT with --tlsverify, certificates from a throwaway CA."""
    if shutil.which("dockerd") is None or shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("a second dockerd needs the dockerd and ip binaries and root")
    root = Path(tempfile.mkdtemp(prefix="bg-tlsd-", dir="/tmp"))  # short: containerd's socket lives under it
    ca = trustme.CA()
    certs = root / "certs"
    certs.mkdir()
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    server = ca.issue_cert("127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(root / "server-cert.pem"))
    server.private_key_pem.write_to_path(str(root / "server-key.pem"))
    client = ca.issue_cert("bluegreen-client")
    client.cert_chain_pems[0].write_to_path(str(certs / "cert.pem"))
    client.private_key_pem.write_to_path(str(certs / "key.pem"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Its own bridge: with --bridge=none, dockerd deletes docker0, the one this machine's engine uses.
    bridge = f"bgtls{port % 100000}"
    subprocess.run(["ip", "link", "add", "name", bridge, "type", "bridge"], check=True, capture_output=True)
    log = (root / "dockerd.log").open("w")
    daemon = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile",
         str(root / "dockerd.pid"), "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert",
         str(certs / "ca.pem"), "--tlscert", str(root / "server-cert.pem"), "--tlskey", str(root / "server-key.pem"),
         "--iptables=false", "--ip6tables=false", f"--bridge={bridge}", "--storage-driver=vfs"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "API listen on" not in (root / "dockerd.log").read_text():
            assert daemon.poll() is None and time.monotonic() < deadline, (root / "dockerd.log").read_text()[-2000:]
            time.sleep(0.2)
        yield {"host": f"tcp://127.0.0.1:{port}", "certs": certs, "root": str(root / "data")}
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        subprocess.run(["ip", "link", "del", bridge], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_a_real_dockerd_on_a_tls_port_answers_only_over_verified_tls(
    tls_dockerd: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tls_dockerd["certs"]))
    client = DockerClient(tls_dockerd["host"], timeout=10)
    assert client.get_json("/info")["DockerRootDir"] == tls_dockerd["root"], "the second engine, not this machine's"
    assert client.containers({}) == [], "a fresh engine of its own"
    assert client.api.base_url == tls_dockerd["host"].replace("tcp://", "https://")
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    monkeypatch.delenv("DOCKER_CERT_PATH")
    with pytest.raises(DockerError):
        DockerClient(tls_dockerd["host"], timeout=5).get_json("/version")
