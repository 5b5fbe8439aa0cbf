"""Parsing what the in-router HTTP clients print, and Docker's stream framing."""

from __future__ import annotations

import io
import struct
import tarfile
from pathlib import Path

import pytest

from bluegreen.docker_api import DockerClient, DockerError, _demux, tar_files
from bluegreen.live_router import _parse_response

CURL = 'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\n\r\n{"configHash":"abc"}'
BASH = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\n{}"
WGET_OK = '  HTTP/1.1 200 OK\n  Server: nginx\n  Content-Length: 20\n{"configHash":"abc"}'
WGET_503 = "  HTTP/1.1 503 Service Unavailable\nwget: server returned error: HTTP/1.1 503 Service Unavailable"


@pytest.mark.parametrize(
    ("raw", "status", "body"),
    [
        (CURL, 200, '{"configHash":"abc"}'),
        (BASH, 503, "{}"),
        (WGET_OK, 200, '{"configHash":"abc"}'),
        (WGET_503, 503, ""),
    ],
)
def test_parses_every_client(raw: str, status: int, body: str) -> None:
    result = _parse_response(raw)
    assert (result.status, result.body, result.ok) == (status, body, status == 200)


def test_no_answer_keeps_the_error_text() -> None:
    result = _parse_response("bash: connect: Connection refused\nbash: /dev/tcp/10.0.0.9/8000: Connection refused")
    assert result.status is None and not result.ok
    assert result.detail == "bash: /dev/tcp/10.0.0.9/8000: Connection refused"


def test_demux_splits_stdout_and_stderr() -> None:
    def frame(kind: int, data: bytes) -> bytes:
        return bytes([kind, 0, 0, 0]) + struct.pack(">I", len(data)) + data

    out, err = _demux(frame(1, b"hello ") + frame(2, b"oops") + frame(1, b"world"))
    assert (out, err) == (b"hello world", b"oops")


def test_tar_files_sets_owner_and_mode() -> None:
    archive = tar_files({".pending.http.conf": "x"}, uid=101, gid=101)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.getmember(".pending.http.conf")
        assert (member.uid, member.gid, member.mode, member.size) == (101, 101, 0o644, 1)


def test_bad_docker_host_is_named() -> None:
    with pytest.raises(DockerError, match="DOCKER_HOST: got 'ftp://x'"):
        DockerClient("ftp://x").inspect("a")


def test_unreachable_engine_is_one_line(tmp_path: Path) -> None:
    client = DockerClient(f"unix://{tmp_path}/nothing.sock", timeout=1)
    with pytest.raises(DockerError, match=r"no Docker engine answers at unix://"):
        client.inspect("a")


def test_tar_files_can_claim_the_directory() -> None:
    archive = tar_files({"a.conf": "x"}, uid=101, gid=101, directory="/etc/nginx/bluegreen")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        directory, member = tar.getmember("bluegreen"), tar.getmember("bluegreen/a.conf")
    assert directory.isdir() and (directory.uid, directory.mode) == (101, 0o755)
    assert (member.uid, member.name) == (101, "bluegreen/a.conf")
