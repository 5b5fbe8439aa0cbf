"""The sample app's notes against a real PostgreSQL (the stand-in image, hardened as the stack runs it):
migrations once and in order, release 1 and 2 side by side on one schema, readiness that names the database."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from bluegreen.engine.hardening import DATABASE
from bluegreen_app import db
from bluegreen_app.config import load_config
from bluegreen_app.web import create_app
from lab.dockercli import TEST_LABEL, docker
from lab.images import POSTGRES_IMAGE
from tests.support.dockergate import need_image

pytestmark = pytest.mark.docker
NAME = "bluegreen-itest-postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def database(docker_engine: None) -> Iterator[str]:
    need_image(POSTGRES_IMAGE)
    docker("rm", "-fv", NAME, check=False)
    port = free_port()
    docker("run", "-d", "--name", NAME, "--label", TEST_LABEL, "--user", "999:999", *DATABASE.docker_run_args(),
           "-e", "POSTGRES_PASSWORD=itest-password-long", "-e", "POSTGRES_USER=app", "-e", "POSTGRES_DB=app",
           "-v", "/var/lib/postgresql/data", "-p", f"127.0.0.1:{port}:5432", POSTGRES_IMAGE)  # fmt: skip
    url = f"postgresql://app:itest-password-long@127.0.0.1:{port}/app"
    deadline = time.monotonic() + 60
    while docker("exec", NAME, "pg_isready", "-h", "127.0.0.1", "-U", "app", check=False).returncode != 0:
        assert time.monotonic() < deadline, docker("logs", NAME, check=False).stderr[-2000:]
        time.sleep(0.3)
    yield url
    docker("rm", "-fv", NAME, check=False)


def client_for(monkeypatch: pytest.MonkeyPatch, url: str, schema: int) -> TestClient:
    monkeypatch.setenv("APP_DATABASE_URL", url)
    monkeypatch.setenv("APP_SCHEMA_VERSION", str(schema))
    return TestClient(create_app(load_config()))


def test_migrations_release_1_and_2_share_one_schema(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    assert asyncio.run(db.migrate(database, 1, lines.append)) == [1]
    assert asyncio.run(db.migrate(database, 1, lines.append)) == [], "a second run applies nothing"
    with client_for(monkeypatch, database, 1) as v1:
        created = v1.post("/notes", json={"text": "from release 1", "author": "ignored"})
        assert created.status_code == 201 and "author" not in created.json()
    with client_for(monkeypatch, database, 2) as v2:
        refused = v2.post("/notes", json={"text": "too early"})
        assert refused.status_code == 503 and "run python -m bluegreen_app migrate" in refused.json()["error"]
    assert asyncio.run(db.migrate(database, 2, lines.append)) == [2]
    assert "migration 0002 add notes.author: applied" in lines
    with client_for(monkeypatch, database, 1) as v1, client_for(monkeypatch, database, 2) as v2:
        assert v2.post("/notes", json={"text": "from release 2", "author": "ada"}).status_code == 201
        assert v1.post("/notes", json={"text": "release 1 again"}).status_code == 201
        old, new = v1.get("/notes").json(), v2.get("/notes").json()
        assert [n["text"] for n in old] == [n["text"] for n in new] == [
            "from release 1", "from release 2", "release 1 again"]  # fmt: skip
        assert [n.get("author") for n in new] == [None, "ada", None] and all("author" not in n for n in old)
        assert v2.post("/notes", json={"text": ""}).status_code == 400
        check = v2.get("/health/ready").json()["checks"][0]
        assert check["name"] == "database" and check["ok"] is True


def test_readiness_names_an_unreachable_database(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with client_for(monkeypatch, database, 2) as app:
        deadline = time.monotonic() + 5
        while app.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        docker("pause", NAME)
        try:
            ready = app.get("/health/ready")
            assert ready.status_code == 503, ready.json()
            (check,) = ready.json()["checks"]
            assert check["name"] == "database" and check["ok"] is False, check
            assert check["detail"].endswith("details in the app's log)"), "the driver's words never go public"
            listed = app.get("/notes")
            assert listed.status_code == 503 and listed.json()["error"].startswith("database unavailable (")
        finally:
            docker("unpause", NAME)
