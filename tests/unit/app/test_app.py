"""The sample workload: config profiles, readiness states, headers, logs, drain."""

from __future__ import annotations

import http.server
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from bluegreen_app import healthcheck
from bluegreen_app.config import AppConfig, ConfigError, load_config
from bluegreen_app.lifecycle import Lifecycle, Phase
from bluegreen_app.logs import JsonFormatter
from bluegreen_app.server import DrainingServer
from bluegreen_app.web import create_app


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("APP_"):
            monkeypatch.delenv(name)


def config(monkeypatch: pytest.MonkeyPatch, **env: str) -> AppConfig:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_config()


@pytest.fixture
def status_server() -> Iterator[tuple[int, list[int]]]:
    """A loopback HTTP server whose status code the test sets: [200] or [503]."""
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], status
    server.shutdown()


# --- config ---------------------------------------------------------------


def test_profiles_set_different_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = config(monkeypatch, APP_PROFILE="development")
    prod = config(monkeypatch, APP_PROFILE="production")
    assert (dev.log_level, dev.shutdown_timeout_seconds) == ("debug", 5.0)
    assert (prod.log_level, prod.shutdown_timeout_seconds) == ("info", 25.0)


def test_environment_overrides_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = config(monkeypatch, APP_PROFILE="development", APP_LOG_LEVEL="warning", APP_PORT="9000")
    assert (dev.log_level, dev.port) == ("warning", 9000)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"APP_PORT": "eighty"}, "APP_PORT: got 'eighty'"),
        ({"APP_PORT": "70000"}, "APP_PORT: got '70000'"),
        ({"APP_PROFILE": "qa"}, "APP_PROFILE: got 'qa'; allowed: development, staging, production"),
        ({"APP_COLOUR": "blue"}, "APP_COLOUR: unknown setting"),
        ({"APP_DOWNSTREAM_URL": "not a url"}, "APP_DOWNSTREAM_URL: got 'not a url'"),
        ({"APP_LOG_LEVEL": "loud"}, "APP_LOG_LEVEL: got 'loud'"),
        ({"APP_SHUTDOWN_TIMEOUT_SECONDS": "0"}, "APP_SHUTDOWN_TIMEOUT_SECONDS: got '0'"),
        ({"APP_FAULT_ERROR_RATE": "1.5"}, "APP_FAULT_ERROR_RATE: got '1.5'"),
        ({"APP_FAULT_ERROR_RATE": "0.2"}, "APP_FAULT_ERROR_RATE: got 0.2; allowed: 0 in the production profile"),
        ({"APP_FAULT_LATENCY_MS": "50"}, "APP_FAULT_LATENCY_MS: got 50; allowed: 0 in the production profile"),
    ],
)
def test_bad_config_fails_fast(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(monkeypatch, **env)
    assert any(line.startswith(expected) for line in caught.value.lines), caught.value.lines


def test_main_exits_2_on_bad_config(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bluegreen_app.server import main

    monkeypatch.setenv("APP_PORT", "x")
    assert main() == 2
    assert "config error: APP_PORT: got 'x'" in capsys.readouterr().err


# --- lifecycle and readiness -----------------------------------------------


def test_lifecycle_moves_one_way() -> None:
    life = Lifecycle()
    assert life.phase is Phase.STARTING and not life.serving
    life.mark_ready()
    assert life.serving
    assert life.start_draining() is True
    assert life.start_draining() is False
    life.mark_ready()
    assert life.phase is Phase.DRAINING and not life.serving


def test_live_but_not_ready_while_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(config(monkeypatch, APP_STARTUP_DELAY_SECONDS="60"))
    with TestClient(app) as client:
        assert client.get("/health/live").status_code == 200
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["phase"] == "starting"


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 5
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "never became ready"
        time.sleep(0.01)


def test_ready_then_draining(monkeypatch: pytest.MonkeyPatch) -> None:
    life = Lifecycle()
    app = create_app(config(monkeypatch), life)
    with TestClient(app) as client:
        wait_ready(client)
        assert client.get("/health").json()["ready"] is True
        life.start_draining()
        ready = client.get("/health/ready")
        assert (ready.status_code, ready.json()["phase"]) == (503, "draining")
        summary = client.get("/health")
        assert summary.status_code == 503 and summary.json()["live"] is True
        assert client.get("/health/live").status_code == 200


def test_downstream_check_gates_readiness(monkeypatch: pytest.MonkeyPatch, status_server) -> None:
    port, status = status_server
    app = create_app(config(monkeypatch, APP_DOWNSTREAM_URL=f"http://127.0.0.1:{port}/"))
    with TestClient(app) as client:
        wait_ready(client)
        check = client.get("/health/ready").json()["checks"][0]
        assert check["name"] == "downstream" and check["ok"] is True and check["latency_ms"] >= 0
        status[0] = 503
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"][0]["detail"] == "HTTP 503"


def test_unreachable_downstream_is_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    app = create_app(config(monkeypatch, APP_DOWNSTREAM_URL=f"http://127.0.0.1:{closed_port}/"))
    with TestClient(app) as client:
        time.sleep(0.05)
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"][0]["ok"] is False


# --- responses --------------------------------------------------------------


def test_index_and_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(config(monkeypatch, APP_COLOR="green", APP_VERSION="2.0.1"))
    with TestClient(app) as client:
        response = client.get("/", headers={"X-Request-ID": "abc-123"})
        assert response.json()["color"] == "green" and response.json()["version"] == "2.0.1"
        assert response.json()["request_id"] == "abc-123"
        assert response.headers["x-app-color"] == "green"
        assert response.headers["x-app-version"] == "2.0.1"
        assert response.headers["x-request-id"] == "abc-123"
        assert client.get("/health/live").headers["x-app-color"] == "green"
        assert set(response.json()) == {"color", "version", "request_id"}, "no hostname or other host detail"


@pytest.mark.parametrize("profile", ["production", "staging"])
def test_debug_endpoints_are_off_unless_asked(monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    from starlette.websockets import WebSocketDisconnect

    with TestClient(create_app(config(monkeypatch, APP_PROFILE=profile))) as client:
        assert client.get("/slow?seconds=0").status_code == 404
        assert client.post("/echo", content=b"x").status_code == 404
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws"):
            pass
    with TestClient(create_app(config(monkeypatch, APP_PROFILE=profile, APP_DEBUG_ENDPOINTS="1"))) as client:
        assert client.get("/slow?seconds=0").status_code == 200


def test_development_profile_serves_debug_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(config(monkeypatch, APP_PROFILE="development"))) as client:
        assert client.get("/slow?seconds=0").status_code == 200


def test_request_id_is_made_when_missing_or_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(config(monkeypatch))
    with TestClient(app) as client:
        made = client.get("/").headers["x-request-id"]
        unsafe = client.get("/", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert len(made) == 32 and len(unsafe) == 32 and made != unsafe


@pytest.mark.parametrize(("seconds", "status"), [("0.01", 200), ("31", 400), ("-1", 400), ("abc", 400)])
def test_slow_is_bounded(monkeypatch: pytest.MonkeyPatch, seconds: str, status: int) -> None:
    app = create_app(config(monkeypatch, APP_DEBUG_ENDPOINTS="1"))
    with TestClient(app) as client:
        response = client.get(f"/slow?seconds={seconds}")
    assert response.status_code == status
    if status == 400:
        assert "allowed: 0 to 30" in response.json()["error"]


def test_websocket_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(config(monkeypatch, APP_COLOR="blue", APP_DEBUG_ENDPOINTS="1"))
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_bytes() == b"\x00\x01"


def test_access_log_is_json_with_request_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("blue", "1.2.3"))
    logger = logging.getLogger("bluegreen_app")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        app = create_app(config(monkeypatch))
        with TestClient(app) as client:
            client.get("/health/live", headers={"X-Request-ID": "req-42"})
    finally:
        logger.removeHandler(handler)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [e for e in entries if e.get("event") == "access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["request_id"] == "req-42" and entry["path"] == "/health/live"
    assert entry["status"] == 200 and entry["method"] == "GET"
    assert entry["color"] == "blue" and entry["version"] == "1.2.3" and entry["level"] == "info"
    assert isinstance(entry["duration_ms"], float) and "time" in entry and entry["message"] == "request"


# --- shutdown ----------------------------------------------------------------


def test_sigterm_drains_then_exits_and_second_signal_forces(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import uvicorn

    life = Lifecycle()
    life.mark_ready()
    server = DrainingServer(uvicorn.Config(lambda *a: None), life, drain_delay=0.2)
    server.handle_exit(15, None)
    assert life.phase is Phase.DRAINING and not server.should_exit
    assert asyncio.run(server.on_tick(1)) is False
    time.sleep(0.25)
    assert asyncio.run(server.on_tick(1)) is True
    server.handle_exit(15, None)
    assert server.force_exit is True


def test_by_default_the_app_keeps_serving_a_second_after_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    # The router may still send to a stopping Swarm task at its SIGTERM (docs/apps.md, "Why a second after SIGTERM").
    monkeypatch.delenv("APP_DRAIN_DELAY_SECONDS", raising=False)
    assert config(monkeypatch).drain_delay_seconds == 1.0
    assert config(monkeypatch, APP_DRAIN_DELAY_SECONDS="0").drain_delay_seconds == 0.0


# --- Docker HEALTHCHECK --------------------------------------------------------


def test_healthcheck_follows_readiness(monkeypatch: pytest.MonkeyPatch, status_server) -> None:
    port, status = status_server
    monkeypatch.setenv("APP_PORT", str(port))
    assert healthcheck.main() == 0
    status[0] = 503
    assert healthcheck.main() == 1


def test_healthcheck_fails_when_nothing_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("APP_PORT", str(sock.getsockname()[1]))
    assert healthcheck.main() == 1


def test_post_echo_answers_once_with_what_it_received(monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from bluegreen_app.web import ECHO_MAX_BYTES

    with TestClient(create_app(config(monkeypatch, APP_DEBUG_ENDPOINTS="1"))) as client:
        answer = client.post("/echo", content=b"order-42")
        assert answer.status_code == 200
        assert answer.json()["received"] == 8 and answer.json()["sha256"] == hashlib.sha256(b"order-42").hexdigest()
        assert client.post("/echo", content=b"x" * (ECHO_MAX_BYTES + 1)).status_code == 413
        assert client.get("/echo").status_code == 405


def test_injected_faults_answer_500_at_their_rate_and_spare_the_health_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faulty = config(monkeypatch, APP_PROFILE="staging", APP_FAULT_ERROR_RATE="0.3", APP_FAULT_LATENCY_MS="20")
    with TestClient(create_app(faulty)) as client:
        codes = [client.get("/").status_code for _ in range(400)]
        assert 80 <= codes.count(500) <= 160 and set(codes) == {200, 500}, codes.count(500)
        assert all(client.get("/health/ready").status_code == 200 for _ in range(50)), "the gate still passes"
        started = time.perf_counter()
        client.get("/")
        assert time.perf_counter() - started >= 0.02
    allowed = config(monkeypatch, APP_PROFILE="production", APP_FAULT_ERROR_RATE="1", APP_FAULT_ALLOW="1")
    with TestClient(create_app(allowed)) as client:
        assert client.get("/").status_code == 500


# --- the notes feature without a database ---------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_notes_without_a_database_answer_503(monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(config(monkeypatch))) as client:
        assert client.get("/notes").status_code == 503
        answer = client.post("/notes", json={"text": "x"})
        assert answer.status_code == 503 and "APP_DATABASE_URL is not set" in answer.json()["error"]
        assert client.get("/health/ready").json()["checks"] == [], "no database, no database check"


def test_an_unreachable_database_makes_the_app_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql://app:pw@127.0.0.1:{closed_port()}/app"
    with TestClient(create_app(config(monkeypatch, APP_DATABASE_URL=url))) as client:
        time.sleep(0.05)
        ready = client.get("/health/ready")
        (check,) = ready.json()["checks"]
        assert ready.status_code == 503 and check["name"] == "database" and check["ok"] is False
        assert "refused" in check["detail"].lower() or "connect" in check["detail"].lower(), check
        bad = client.post("/notes", json={"text": 5})
        assert bad.status_code == 400 and bad.json()["error"].startswith("text: got 5;")
        assert client.post("/notes", json={"text": "x"}).status_code == 503


def test_a_bad_database_url_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        config(monkeypatch, APP_DATABASE_URL="mysql://app:s3cret@db/app")
    assert caught.value.lines[0].startswith("APP_DATABASE_URL: got [redacted];")
    assert "s3cret" not in str(caught.value)
    monkeypatch.delenv("APP_DATABASE_URL")
    with pytest.raises(ConfigError) as schema:
        config(monkeypatch, APP_SCHEMA_VERSION="4")
    assert schema.value.lines[0].startswith("APP_SCHEMA_VERSION: got '4';")


def test_migrate_and_unknown_commands(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bluegreen_app.server import main

    assert main(["migrate"]) == 2
    assert "migrate: APP_DATABASE_URL is not set" in capsys.readouterr().err
    assert main(["serve", "now"]) == 2 and main(["upgrade"]) == 2
    assert "usage: python -m bluegreen_app [serve|migrate]; got 'upgrade'" in capsys.readouterr().err
    monkeypatch.setenv("APP_DATABASE_URL", f"postgresql://app:pw@127.0.0.1:{closed_port()}/app")
    monkeypatch.setattr("bluegreen_app.db.CONNECT_SECONDS", 0.2)
    started = time.monotonic()
    import asyncio

    from bluegreen_app import db

    with pytest.raises(ConnectionError, match=r"database unreachable after 0\.5s"):
        asyncio.run(db.migrate(load_config().database_url or "", 2, wait_seconds=0.5))
    assert time.monotonic() - started < 10
