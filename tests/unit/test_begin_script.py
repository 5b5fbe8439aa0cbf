"""sh/begin.sh's express path as the router runs it, under the machine's POSIX sh, on a real directory.

No Docker: the same text one exec runs (the layout's names, lib.sh, sh_publish, begin.sh), against a
status listener and two health paths served from this process on 127.0.0.1. The status reports the
plan hash of whatever `current/state.json` holds, as the router's status listener does.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen.router.layout import CURRENT, HTTP_CONF, LIVE_PLAN, LOCK_DIR, MAIN_CONF, PROGRAM_PLAN, STATE_FILE
from bluegreen.router.scripts import script

TOKEN = "tok"


@pytest.fixture
def routing(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A routing directory with generation g1 live (plan p1, config c1, a program record), and its listener."""
    (tmp_path / "g1").mkdir()
    (tmp_path / "g1" / STATE_FILE).write_text(json.dumps({"planHash": "p1"}))
    (tmp_path / "g1" / LIVE_PLAN).write_text('{"planHash": "p1"}\n')
    (tmp_path / "g1" / PROGRAM_PLAN).write_text('{"planHash": "p0", "source": "program"}\n')
    (tmp_path / CURRENT).symlink_to("g1")
    for name in (MAIN_CONF, HTTP_CONF):  # the stubs point into `current`: no first-publish reload
        (tmp_path / name).write_text(f"include {tmp_path}/{CURRENT}/{name};\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/status":
                state = json.loads((tmp_path / CURRENT / STATE_FILE).read_text())
                status = {"configHash": "c1", "planHash": state["planHash"]}
                code, body = 200, json.dumps(status, separators=(",", ":"))  # compact, as router.js writes it
            else:
                code, body = (200, "{}") if self.path == "/ok" else (503, "{}")
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield tmp_path, server.server_address[1]
    finally:
        server.shutdown()


def begin(routing: tuple[Path, int], paths: list[str], config: str = "c1", plan: str = "p2") -> str:
    directory, port = routing
    targets = [part for path in paths for part in ("127.0.0.1", str(port), path)]
    state = json.dumps({"planHash": plan})
    args = [str(directory), str(port), "/status", TOKEN, "60", "ops@host pid 1 (cli)", "-", str(len(paths)),
            *targets, "g2", config, plan, "20", STATE_FILE, state, LIVE_PLAN, '{"planHash": "p2"}']  # fmt: skip
    done = subprocess.run(["sh", "-c", script("begin"), "sh", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_target_answering_200_publishes_in_the_same_exec_and_carries_the_programs_record(
    routing: tuple[Path, int],
) -> None:
    directory, _ = routing
    out = begin(routing, ["/ok", "/ok"])
    assert out.rstrip().endswith("@@bluegreen-expressed 0")
    assert (directory / CURRENT).readlink() == Path("g2") and (directory / "previous").readlink() == Path("g1")
    assert (directory / "g2" / PROGRAM_PLAN).read_text().strip() == '{"planHash": "p0", "source": "program"}'
    assert not (directory / LOCK_DIR).exists(), "publishing released the lock"
    assert out.count("\n@@bluegreen 127.0.0.1:") == 2 and '"planHash": "p1"' in out  # what it read, as before


@pytest.mark.parametrize(
    ("paths", "config", "plan"),
    [(["/ok", "/bad"], "c1", "p2"), (["/ok"], "c9", "p2"), (["/ok"], "c1", "p1")],
    ids=["a-target-answers-503", "a-reload-is-needed", "already-live"],
)
def test_otherwise_nothing_is_published_the_staged_files_go_and_the_lock_is_kept(
    routing: tuple[Path, int], paths: list[str], config: str, plan: str
) -> None:
    directory, _ = routing
    out = begin(routing, paths, config, plan)
    assert "@@bluegreen-express" not in out and (directory / CURRENT).readlink() == Path("g1")
    assert not (directory / "g2").exists() and (directory / LOCK_DIR).is_dir()
