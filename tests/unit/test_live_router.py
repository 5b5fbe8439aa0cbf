"""What the in-router HTTP clients print, Docker's stream framing, and what each router script's output becomes."""

from __future__ import annotations

import io
import json
import struct
import tarfile
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from bluegreen.engine.client import DockerClient, ExecResult, _demux, tar_files
from bluegreen.errors import (
    ConfigRefusedError,
    DockerError,
    LockLostError,
    NotLiveError,
    OutcomeUnknownError,
    RouterError,
)
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.scripts import MAX_INLINE_FILE, ScriptExit
from bluegreen.router.seam import Lock, Publication
from bluegreen.router.seam import parse_response as parse_response

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
    result = parse_response(raw)
    assert (result.status, result.body, result.ok) == (status, body, status == 200)


def test_no_answer_keeps_the_error_text() -> None:
    result = parse_response("bash: connect: Connection refused\nbash: /dev/tcp/10.0.0.9/8000: Connection refused")
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


# --- LiveRouter over a scripted engine: what each script's output and exit code become -----------------

STATUS_OK = 'HTTP/1.1 200 OK\r\n\r\n{"configHash":"c1","planHash":"p1"}'
LOCK = Lock("tok", "ops@host pid 1 (cli)", 60)


class ScriptedEngine:
    """Answers each exec with the next scripted result; counts uploads."""

    def __init__(self, *results: ExecResult | Exception) -> None:
        self.results = list(results)
        self.archives = 0
        self.requests: list[tuple[str, str]] = []
        self.archive_paths: list[tuple[str, str]] = []
        self.full = False  # the routing volume has no room left
        self.commands: list[list[str]] = []
        self.answers: dict[str, Any] = {}  # get_json's answer per path
        self.queries: list[tuple[str, str]] = []  # get_json's paths and their filters

    def exec(self, container: str, cmd: list[str], user: str | None = None, timeout: float | None = None) -> Any:
        self.commands.append(cmd)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def put_archive(self, name: str, path: str, archive: bytes) -> None:
        self.archives += 1
        self.archive_paths.append((name, path))
        if self.full:
            raise DockerError(f"PUT /containers/{name}/archive: 500 Error processing tar file(exit status 1): write "
                              "/etc/nginx/bluegreen/g1/http.conf: no space left on device")  # fmt: skip

    def get_json(self, path: str, allow: Any = ()) -> Any:
        where, _, query = path.partition("?")
        self.queries.append((where, urllib.parse.parse_qs(query).get("filters", [""])[0]))
        return self.answers.get(where)

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, bytes]:
        self.requests.append((method, path.split("?")[0]))
        return 200, b"{}"

    def inspect(self, name: str) -> dict[str, Any]:
        return {
            "Config": {"User": "101"},
            "NetworkSettings": {"Networks": {"net": {}}},
            "Image": "sha256:abc",
            "Mounts": [{"Type": "volume", "Name": "bluegreen-dev-routing", "Destination": "/etc/nginx/bluegreen"}],
        }


def router(*results: ExecResult | Exception) -> tuple[LiveRouter, ScriptedEngine]:
    engine = ScriptedEngine(*results)
    return LiveRouter(engine, "bluegreen-dev-router"), engine  # type: ignore[arg-type]


def begun(lock_line: str, status: str = STATUS_OK, holder: str = "", joined: str = "") -> ExecResult:
    out = (f"@@bluegreen:lock\n{lock_line}\n\n@@bluegreen:status\n{status}\n@@bluegreen:live\n\n"
           f"@@bluegreen:program\n\n@@bluegreen:holder\n{holder}\n\n@@bluegreen:joined\n{joined}\n"
           "@@bluegreen-probes\n")  # fmt: skip
    return ExecResult(0, out, "")


def test_a_shared_routers_snapshot_names_its_joined_apps_and_their_hosts() -> None:
    joined = "bluegreen-blog server_name blog.test;\nbluegreen-shop server_name shop.test www.shop.test;\n"
    live, _ = router(begun("acquired", joined=joined))
    snapshot = live.begin(LOCK).snapshot
    assert snapshot is not None
    assert snapshot.apps == {"bluegreen-blog": ["blog.test"], "bluegreen-shop": ["shop.test", "www.shop.test"]}


def test_begin_returns_the_snapshot_once_the_lock_is_ours() -> None:
    live, _ = router(begun("acquired"))
    result = live.begin(LOCK)
    assert result.acquired and result.snapshot is not None and result.snapshot.status["planHash"] == "p1"


def test_begin_names_the_holder_of_a_held_lock_and_what_was_live_meanwhile() -> None:
    live, _ = router(begun("held tok2 1790000000 ci@runner pid 7 (program)", holder="tok2 1790000000 ci@runner pid 7"))
    result = live.begin(LOCK, [("10.0.0.2", 8000, "/health/ready")])
    assert not result.acquired and result.results == [] and result.armed == {}
    assert result.snapshot is not None and result.snapshot.status["planHash"] == "p1"  # a rollback's compare-and-swap
    assert result.holder == "ci@runner pid 7 (lock expires at 1790000000)"


def test_a_held_lock_whose_status_cannot_be_read_returns_no_snapshot() -> None:
    live, _ = router(begun("held tok2 1790000000 ci@runner pid 7 (program)", status="curl: (7) Failed to connect"))
    result = live.begin(LOCK)
    assert not result.acquired and result.snapshot is None


def test_begin_armed_asks_for_the_live_generations_targets_and_parses_their_answers() -> None:
    ok, refused = "HTTP/1.1 200 OK\r\n\r\n{}", "curl: (7) Failed to connect to 10.0.0.3 port 8000"
    armed = f"\n@@bluegreen-armed\n\n@@bluegreen-target 10.0.0.2 8000 /health/ready\n{ok}\n" \
            f"@@bluegreen-target 10.0.0.3 8000 /health/ready\n{refused}\n"  # fmt: skip
    result = begun("acquired")
    live, engine = router(ExecResult(0, result.stdout + armed, ""), begun("acquired"))
    begun_ = live.begin(LOCK, armed={"10.0.0.3", "10.0.0.2"})
    assert (
        engine.commands[0][4:][6] == ",10.0.0.2,10.0.0.3,"
    )  # ARMED, after DIR STATUS_PORT STATUS_PATH TOKEN TTL OWNER
    assert live.begin(LOCK) and engine.commands[1][4:][6] == "-"  # none
    assert begun_.results == []
    assert {t: r.ok for t, r in begun_.armed.items()} == {
        ("10.0.0.2", 8000, "/health/ready"): True, ("10.0.0.3", 8000, "/health/ready"): False,
    }  # fmt: skip


def test_a_lock_whose_record_cannot_be_written_stops_the_switch_saying_why() -> None:
    live, _ = router(begun("unwritable sh: 1: cannot create .lock-new.t/info: No space left on device"))
    with pytest.raises(
        RouterError,
        match=r"the lock's record cannot be written in /etc/nginx/bluegreen "
        r"\(sh: 1: cannot create .*No space left on device\); nothing was changed",
    ):
        live.begin(LOCK)


def test_a_fresh_root_owned_volume_is_handed_to_the_router_user_then_begin_retries() -> None:
    live, engine = router(ExecResult(ScriptExit.NOT_WRITABLE, "", ""), begun("acquired"))
    assert live.begin(LOCK).acquired and engine.archives == 1
    # Through a container that never starts: the router's root is read-only and it has no capabilities.
    assert engine.archive_paths == [("bluegreen-dev-routing-seed", "/etc/nginx")]
    assert engine.requests == [("DELETE", "/containers/bluegreen-dev-routing-seed"), ("POST", "/containers/create"),
                               ("DELETE", "/containers/bluegreen-dev-routing-seed")]  # fmt: skip


def test_a_lock_taken_with_an_unreadable_status_is_given_back_at_once() -> None:
    live, engine = router(begun("acquired", status="no answer"), ExecResult(0, "", ""))
    with pytest.raises(RouterError, match="status: no answer"):
        live.begin(LOCK)
    assert len(engine.results) == 0, "the release ran"


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (ExecResult(ScriptExit.CONFIG_REFUSED, 'nginx: [emerg] zero size shared memory zone "bg_rate"\n', ""),
         ConfigRefusedError),
        (ExecResult(ScriptExit.NOT_LIVE, "", ""), NotLiveError),
        (ExecResult(ScriptExit.LOCK_LOST, "", ""), LockLostError),
        (ExecResult(ScriptExit.UNUSABLE, "", "cd: no such directory"), RouterError),
        (ExecResult(ScriptExit.NOT_WRITABLE, "sh: 1: cannot create g1/state.json: No space left on device\n", ""),
         RouterError),
        (DockerError("POST /exec: connection reset"), OutcomeUnknownError),
    ],
)  # fmt: skip
def test_publish_turns_each_outcome_into_its_error(result: ExecResult | Exception, error: type[Exception]) -> None:
    live, engine = router(result)
    publication = Publication("g1", {"state.json": "{}"}, True, "c2", "p2", 1.0)
    with pytest.raises(error):
        live.publish(publication, LOCK)
    assert engine.archives == 0, "the files travel in the publishing exec"
    assert engine.commands[0][-2:] == ["state.json", "{}"]


def test_publish_returns_when_the_script_says_live() -> None:
    live, _ = router(ExecResult(0, "", ""))
    live.publish(Publication("g1", {"state.json": "{}"}, False, "c1", "p2"), LOCK)


FULL = (
    r"^writing the new routing into /etc/nginx/bluegreen of bluegreen-dev-router failed \(no space left on device\); "
)


def test_a_generation_that_cannot_be_written_releases_the_lock_and_removes_what_was_written() -> None:
    live, _ = router(
        ExecResult(ScriptExit.NOT_WRITABLE, "sh: 1: cannot create g17/state.json: No space left on device\n", "")
    )
    with pytest.raises(RouterError, match=FULL + "nothing was changed$"):
        live.publish(Publication("g17", {"state.json": "{}"}, False, "c1", "p2"), LOCK)


def test_a_file_too_large_for_an_argument_is_uploaded_first_and_a_full_volume_releases_the_lock() -> None:
    live, engine = router(ExecResult(0, "", ""))
    engine.full = True
    with pytest.raises(RouterError, match=FULL + "nothing was changed$"):
        live.publish(Publication("g17", {"http.conf": "x" * (MAX_INLINE_FILE + 1)}, False, "c1", "p2"), LOCK)
    assert engine.archives == 1
    (release,) = engine.commands
    assert release[-3:] == ["/etc/nginx/bluegreen", "tok", "g17"] and "lock_drop" in release[2]


def test_serving_names_healthy_containers_and_running_tasks_on_the_routers_networks() -> None:
    live, engine = router()
    engine.answers = {
        "/containers/json": [
            {"NetworkSettings": {"Networks": {"net": {"IPAddress": "172.18.0.3"}, "other": {"IPAddress": "10.9.0.2"}}}},
            {"NetworkSettings": {"Networks": {"net": {"IPAddress": ""}}}},
        ],
        "/tasks": [
            {"Status": {"State": "running"}, "NetworksAttachments": [
                {"Network": {"Spec": {"Name": "net"}}, "Addresses": ["10.0.1.7/24"]},
                {"Network": {"Spec": {"Name": "ingress"}}, "Addresses": ["10.0.0.9/24"]}]},
            {"Status": {"State": "starting"}, "NetworksAttachments": [
                {"Network": {"Spec": {"Name": "net"}}, "Addresses": ["10.0.1.8/24"]}]},
        ],
    }  # fmt: skip
    assert live.serving() == {"172.18.0.3", "10.0.1.7"}
    asked = dict(engine.queries)
    assert json.loads(asked["/containers/json"]) == {"network": ["net"], "status": ["running"],
                                                     "health": ["healthy", "none"]}  # fmt: skip
    assert json.loads(asked["/tasks"]) == {"desired-state": ["running"]}


EXPRESS = Publication("g9", {"state.json": "{}"}, False, "c1", "p2", 1.0)
TARGET = ("10.0.0.2", 8000, "/health/ready")


def expressed(tail: str, code: int = 0) -> ExecResult:
    """sh/begin.sh's output for an express switch: the read, one 200 probe, then how publishing ended."""
    probe = "\n@@bluegreen 10.0.0.2:8000/health/ready\nHTTP/1.1 200 OK\r\n\r\n{}\n\n@@bluegreen-armed\n"
    return ExecResult(code, begun("acquired").stdout + probe + tail, "")


def test_an_express_begin_carries_the_generation_and_reports_it_published() -> None:
    live, engine = router(expressed("\n@@bluegreen-express\n\n@@bluegreen-expressed 0\n"))
    result = live.begin(LOCK, [TARGET], express=EXPRESS)
    assert result.published and result.acquired and [r.ok for r in result.results] == [True]
    args = engine.commands[0][4:]
    assert args[7:11] == ["1", "10.0.0.2", "8000", "/health/ready"]  # COUNT, then the targets
    assert args[11:15] == ["g9", "c1", "p2", "20"] and args[15:] == ["state.json", "{}"]


def test_an_express_begin_that_did_not_publish_keeps_the_lock_for_the_switch_to_go_on() -> None:
    live, engine = router(expressed(""))
    result = live.begin(LOCK, [TARGET], express=EXPRESS)
    assert result.acquired and not result.published and len(engine.commands) == 1  # nothing released


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (expressed("\n@@bluegreen-express\n\n@@bluegreen-expressed 5\n"), NotLiveError),
        (expressed("\n@@bluegreen-express\nsh: 1: cannot create g9/state.json: I/O error\n\n"
                   "@@bluegreen-expressed 7\n"), RouterError),
        (expressed("\n@@bluegreen-express\n", code=137), OutcomeUnknownError),  # killed while publishing
        (DockerError("POST /exec: connection reset"), OutcomeUnknownError),
    ],
)  # fmt: skip
def test_an_express_begin_turns_each_publishing_outcome_into_its_error(
    result: ExecResult | Exception, error: type[Exception]
) -> None:
    live, _ = router(result)
    with pytest.raises(error):
        live.begin(LOCK, [TARGET], express=EXPRESS)


def test_without_the_lock_no_express_is_carried() -> None:
    live, engine = router(begun(""))
    live.begin(None, express=EXPRESS)
    assert "g9" not in engine.commands[0]
