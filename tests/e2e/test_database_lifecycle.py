"""The notes survive every ordinary change to the database: a destroy and an up on the kept volume (a new
generated password), a password rotation, and a new image of the same major version.

POSTGRES_PASSWORD reaches a data directory only when it is empty; before this, each of the first two left the
colours unable to log in (both unhealthy for a minute, the deploy failed). The database container now gives
the role the current password before the server starts (components/database.py, START).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.dockercli import docker, get
from lab.engine import destroy, up
from lab.images import POSTGRES_IMAGE
from lab.paths import ROOT
from tests.e2e.test_database_release import BASE, DB, URL, VOLUME, remove_volume, reset_dev

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

DB_CONTAINER = "docker:index/container:Container::app-db"
SAME_MAJOR = "bluegreen-local/postgres:15-rebuilt"


@pytest.fixture
def clean_dev() -> Iterator[None]:
    reset_dev()
    yield
    reset_dev()
    docker("rmi", SAME_MAJOR, check=False)


def deploy(changes: dict[str, Any] | None = None, secret: bool = False) -> list[str]:
    _, operations = up("dev", {**BASE, **(changes or {})}, secret_keys=("database",) if secret else ())
    return operations


def notes() -> set[str]:
    status, _, body = get(URL + "/notes")
    assert status == 200, body
    return {n["text"] for n in json.loads(body)}


def write(text: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", int(URL.rsplit(":", 1)[1]), timeout=10)
    try:
        conn.request("POST", "/notes", json.dumps({"text": text, "author": "lifecycle"}),
                     {"Content-Type": "application/json"})  # fmt: skip
        response = conn.getresponse()
        assert response.status == 201, response.read()
    finally:
        conn.close()


def said_by_the_database() -> str:
    logs = docker("logs", DB)
    return logs.stdout + logs.stderr


def test_notes_survive_destroy_and_up_a_password_rotation_and_an_image_change(clean_dev: None) -> None:
    deploy()
    write("before anything")

    destroy("dev")  # the volume is kept (retain_on_delete); the generated password is gone with the state
    assert docker("volume", "inspect", VOLUME).returncode == 0
    again = deploy()
    assert f"create {DB_CONTAINER}" in again
    assert "bluegreen: role app has the current database.password" in said_by_the_database()
    assert notes() == {"before anything"}, "a new generated password opens the kept data"
    write("after destroy and up")

    rotated = deploy({"database.password": "a-rotated-password-of-some-length"}, secret=True)
    assert f"replace {DB_CONTAINER}" in rotated, "pulumi preview names the database's replacement"
    assert "bluegreen: role app has the current database.password" in said_by_the_database()
    assert notes() == {"before anything", "after destroy and up"}
    write("after the rotation")

    # Another build of the same major version (a patch release): a new image id.
    built = subprocess.run(["docker", "build", "-q", "-t", SAME_MAJOR, "-"], input=f"FROM {POSTGRES_IMAGE}\n"
                           "LABEL org.opencontainers.image.version=15-rebuilt\n", capture_output=True, text=True,
                           timeout=300, check=False)  # fmt: skip
    assert built.returncode == 0, built.stderr
    moved = deploy({"database.password": "a-rotated-password-of-some-length", "database.image": SAME_MAJOR},
                   secret=True)  # fmt: skip
    assert f"replace {DB_CONTAINER}" in moved
    assert notes() == {"before anything", "after destroy and up", "after the rotation"}
    assert deploy({"database.password": "a-rotated-password-of-some-length", "database.image": SAME_MAJOR},
                  secret=True) == [], "and nothing changes on the next up"  # fmt: skip

    # Another major version: refused before anything changes, naming the data directory's version and the way.
    with pytest.raises(Exception, match=r"database\.image: got 'bluegreen-local/postgres:16'; allowed: an image of "
                                        r"PostgreSQL 15, the version of the data directory"):  # fmt: skip
        deploy({"database.password": "a-rotated-password-of-some-length",
                "database.image": "bluegreen-local/postgres:16"}, secret=True)  # fmt: skip
    assert notes() == {"before anything", "after destroy and up", "after the rotation"}


def test_the_start_script_refuses_a_user_the_data_directory_does_not_have() -> None:
    """The database's start script on the real image: a new password reaches the role, a new user is refused
    in one line naming it, and the data directory is left as it was."""
    from components.database import START

    volume = "bluegreen-test-db-start"
    docker("volume", "rm", "-f", volume, check=False)
    docker("volume", "create", volume)

    def start(user: str, password: str, detach: bool = True) -> subprocess.CompletedProcess[str]:
        return docker("run", *(["-d"] if detach else []), "--rm", "--user", "999:999", "--read-only",
                      "--tmpfs", "/tmp", "--tmpfs", "/var/run/postgresql", "--label", "bluegreen.test=1",
                      "-e", f"POSTGRES_USER={user}", "-e", "POSTGRES_DB=app", "-e", f"POSTGRES_PASSWORD={password}",
                      "-e", "PGDATA=/var/lib/postgresql/data", "-v", f"{volume}:/var/lib/postgresql/data",
                      POSTGRES_IMAGE, "sh", "-c", START, check=False, timeout=120)  # fmt: skip

    try:
        first = start("app", "first-password-of-some-length").stdout.strip()
        assert first, "the server started"
        for _ in range(60):
            if docker("exec", first, "pg_isready", "-h", "127.0.0.1", check=False).returncode == 0:
                break
            time.sleep(0.5)
        docker("stop", first)
        refused = start("other", "x" * 20, detach=False)
        assert refused.returncode == 1
        assert "bluegreen: could not give role other the current database.password" in refused.stderr
        assert 'role "other" does not exist' in refused.stderr
    finally:
        docker("volume", "rm", "-f", volume, check=False)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bluegreen", *args, "--stack", "dev"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_a_backup_restored_into_a_fresh_stack_returns_the_same_notes(clean_dev: None, tmp_path: Path) -> None:
    deploy()
    for text in ("first", "second", "third"):
        write(text)
    dump = tmp_path / "notes.dump"
    saved = cli("db", "backup", "--output", str(dump))
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith("backup of bluegreen-dev-db: ") and dump.read_bytes()[:5] == b"PGDMP"
    assert not dump.with_name("notes.dump.partial").exists()

    destroy("dev")
    remove_volume()  # a fresh stack: a new volume, a new password, the schema from the migration only
    deploy()
    assert notes() == set()
    not_a_dump = tmp_path / "notes.txt"
    not_a_dump.write_text("hello")
    refused = cli("db", "restore", str(not_a_dump), "--yes")
    assert refused.returncode == 2 and "not a pg_dump custom-format file" in refused.stderr
    asked = cli("db", "restore", str(dump))
    assert asked.returncode == 2 and "add --yes" in asked.stderr and notes() == set()
    restored = cli("db", "restore", str(dump), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert notes() == {"first", "second", "third"}
    write("after the restore")  # the app writes on: the restored tables and sequences are its own
    assert "after the restore" in notes()
