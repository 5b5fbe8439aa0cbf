"""A release with a schema change, through the test engine on the real daemon: PostgreSQL in the stack,
a migration that runs once before traffic moves, smoke checks on the preview, notes written all along.

Release 1 of the sample app keeps notes (text); release 2 adds notes.author
(an expand migration), so during the canary both run against one schema.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from lab.dockercli import docker, get
from lab.engine import EngineError, Steps, destroy
from lab.paths import ROOT
from lab.prober import BackgroundProbe

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

PORT, PREVIEW_PORT = 18280, 18281
URL = f"http://127.0.0.1:{PORT}"
DEPLOYMENT = "bluegreen-dev"
DB = f"{DEPLOYMENT}-db"
VOLUME = f"{DEPLOYMENT}-db-data"
MIGRATE_HOOK = f"{DEPLOYMENT}-hook-preswitch-migrate"
NOTIFY_HOOK = f"{DEPLOYMENT}-hook-postpromote-notify"
SWITCH = "command:local:Command::app-switch"
NOTIFY_RUN = "command:local:Command::app-post-promote-notify"
MIGRATE = {"name": "migrate", "command": ["python", "-m", "bluegreen_app", "migrate"], "timeoutSeconds": 120}
SMOKE = [{"name": "ready", "path": "/health/ready"}, {"name": "notes", "path": "/notes"}]
NOTIFY = {"name": "notify", "command": ["python", "-c", "print('promoted', flush=True)"]}
BASE: dict[str, Any] = {
    "router.port": PORT,
    "router.previewPort": PREVIEW_PORT,
    "database.mode": "container",
    "hooks": {"preSwitch": [MIGRATE], "smoke": SMOKE, "postPromote": [NOTIFY]},
    "blue.env": {"APP_SCHEMA_VERSION": "1"},
    "green.env": {"APP_SCHEMA_VERSION": "1"},
}


def remove_volume() -> None:
    docker("volume", "rm", "-f", VOLUME, check=False)


def reset_dev() -> None:
    """No dev stack and no database volume: what a test that starts from nothing needs, before and after."""
    destroy("dev")
    remove_volume()


@pytest.fixture(scope="module")
def clean_dev() -> Iterator[None]:
    reset_dev()
    yield
    reset_dev()


class NotesWriter:
    """POST /notes on one keep-alive connection as fast as answers come; every 201's note is remembered."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.written: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        i = 0
        while not self.stop.is_set():
            i += 1
            body = json.dumps({"text": f"note {i}", "author": "writer"})
            try:
                conn.request("POST", "/notes", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(f"note {i}: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                continue
            if response.status == 201:
                self.written.append(json.loads(data))
            else:
                self.failures.append(f"note {i}: {response.status} {data[:200]!r}")
            time.sleep(0.02)
        conn.close()

    def __enter__(self) -> NotesWriter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def ids_of(*labels: str) -> list[str]:
    filters = [a for label in (f"bluegreen.deployment={DEPLOYMENT}", *labels) for a in ("--filter", f"label={label}")]
    return docker("ps", "-aq", *filters).stdout.split()


def hook_containers(stage: str = "preSwitch") -> list[dict[str, Any]]:
    ids = ids_of("bluegreen.role=hook", f"bluegreen.hook-stage={stage}")
    return json.loads(docker("inspect", *ids).stdout) if ids else []


def image_of(color: str) -> str:
    (first, *_) = ids_of(f"bluegreen.color={color}", "bluegreen.role=app")
    return docker("inspect", "-f", "{{.Image}}", first).stdout.strip()


def psql(sql: str) -> str:
    return docker("exec", DB, "psql", "-U", "app", "-d", "app", "-tAc", sql).stdout.strip()


def colors_of(path: str, n: int = 40) -> Counter[str]:
    return Counter(get(URL + path)[1].get("X-Bluegreen-Color", "?") for _ in range(n))


def test_release_with_a_migration_under_load(clean_dev: None) -> None:
    step = Steps("dev", BASE)

    # Release 1 on both colours, from nothing: the database, then the migration once (one image: one run).
    first = step({})
    assert "create docker:index/container:Container::app-db" in first
    assert "create random:index/randomPassword:RandomPassword::app-db-password" in first
    (hook,) = hook_containers()
    assert hook["Name"] == f"/{MIGRATE_HOOK}" and hook["State"]["ExitCode"] == 0 and not hook["State"]["Running"]
    assert hook["Config"]["Labels"]["bluegreen.digest"] == image_of("blue") == image_of("green")
    assert psql("SELECT max(version) FROM schema_migrations") == "1"
    env = {
        e.split("=", 1)[0]: e.split("=", 1)[1]
        for e in json.loads(docker("inspect", "-f", "{{json .Config.Env}}", hook["Id"]).stdout)
    }
    assert env["APP_DATABASE_URL"].startswith("postgresql://app:") and env["APP_DATABASE_URL"].endswith(
        f"@{DB}:5432/app"
    )
    status, _, body = get(URL + "/health/ready")
    assert status == 200 and json.loads(body)["checks"][0]["name"] == "database"

    with BackgroundProbe(URL, connections=16, round_seconds=3) as load, NotesWriter(PORT) as writer:
        time.sleep(1)
        # Release 2 whose migration fails (the column exists with another type): the engine's up fails
        # quoting the migration's output; no traffic moved.
        psql("ALTER TABLE notes ADD COLUMN author integer")
        with pytest.raises(EngineError) as failed:
            step({"green.version": "2.0.0", "green.env": {"APP_SCHEMA_VERSION": "2"}})
        assert 'column "author" of relation "notes" already exists' in str(failed.value), failed.value
        assert "preSwitch hook migrate exited 1" in str(failed.value)
        (hook,) = hook_containers()
        assert hook["State"]["ExitCode"] == 1 and hook["Config"]["Labels"]["bluegreen.digest"] == image_of("green")
        assert colors_of("/notes") == Counter({"blue": 40})

        # Repaired, the same up runs it again and it passes: one hook container, exit 0, release 2's image.
        psql("ALTER TABLE notes DROP COLUMN author")
        release = step({})
        assert "replace command:local:Command::app-hooks-green-migrate" in release, release
        assert f"update {SWITCH}" in release
        (hook,) = hook_containers()
        assert hook["State"]["ExitCode"] == 0 and hook["Config"]["Labels"]["bluegreen.digest"] == image_of("green")
        assert psql("SELECT max(version) FROM schema_migrations") == "2"
        assert colors_of("/notes") == Counter({"blue": 40})

        # A smoke check that fails stops the switch before any traffic moves.
        missing = [*SMOKE, {"name": "missing", "path": "/nope"}]
        with pytest.raises(EngineError) as smoked:
            step({"activeColor": "green", "trafficWeight": 50, "hooks": {**step.config["hooks"], "smoke": missing}})
        assert "smoke check missing: GET /nope on the preview (green) answered 404, expected 200" in str(smoked.value)
        assert colors_of("/notes") == Counter({"blue": 40})

        # Canary at 50%: release 1 and 2 answer /notes against one schema; then release 2 takes all.
        canary = step({"hooks": {**step.config["hooks"], "smoke": SMOKE}})
        assert canary == [f"update {SWITCH}"], "no hook runs for a traffic change"
        assert set(colors_of("/notes", 60)) == {"blue", "green"}
        promoted = step({"trafficWeight": 100})
        assert sorted(promoted) == sorted([f"update {SWITCH}", f"replace {NOTIFY_RUN}", f"delete {NOTIFY_RUN}"])
        assert colors_of("/notes") == Counter({"green": 40})
        time.sleep(1)

    print(f"{load.stats.requests} GETs ({load.stats.failed} failed), {len(writer.written)} notes written, "
          f"{len(writer.failures)} failed")  # fmt: skip
    assert load.stats.failed == 0, load.stats.errors
    assert not writer.failures, writer.failures[:5]
    assert len(writer.written) > 100 and {n["author"] for n in writer.written if "author" in n} <= {"writer"}
    notes = json.loads(get(URL + "/notes")[2])
    assert {n["id"] for n in writer.written} <= {n["id"] for n in notes}, "every note written is readable"
    (notify,) = hook_containers("postPromote")
    assert notify["Name"] == f"/{NOTIFY_HOOK}" and notify["Config"]["Labels"]["bluegreen.color"] == "green"
    assert notify["State"]["ExitCode"] == 0 and "promoted" in docker("logs", NOTIFY_HOOK).stdout

    # An unchanged up and a rollback run no hook.
    before = {h["Id"]: h["State"]["StartedAt"] for h in hook_containers() + hook_containers("postPromote")}
    assert step({}) == []
    rollback = subprocess.run([sys.executable, "-m", "bluegreen", "rollback", "--stack", "dev"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert rollback.returncode == 0, rollback.stderr
    assert colors_of("/notes") == Counter({"blue": 40})
    assert {h["Id"]: h["State"]["StartedAt"] for h in hook_containers() + hook_containers("postPromote")} == before

    # The data survives a flip back by config and a router replacement; the database container stays.
    db_id = docker("inspect", "-f", "{{.Id}}", DB).stdout.strip()
    flip = step({"activeColor": "blue", "trafficWeight": 100})
    assert f"replace {NOTIFY_RUN}" in flip, "blue at 100% by config: its postPromote hooks run"
    replaced = step({"router.previewPort": PREVIEW_PORT + 10})
    assert "replace docker:index/container:Container::app-router" in replaced
    assert "replace docker:index/container:Container::app-router-net" in replaced, "a new port: a new listener"
    assert docker("inspect", "-f", "{{.Id}}", DB).stdout.strip() == db_id
    after = json.loads(get(URL + "/notes")[2])
    assert {n["id"] for n in writer.written} <= {n["id"] for n in after}

    # Destroy keeps the data volume (retain_on_delete) and removes every container, hooks included.
    operations = destroy("dev")
    assert "retain docker:index/volume:Volume::app-db-data" in operations
    assert docker("ps", "-aq", "--filter", f"label=bluegreen.deployment={DEPLOYMENT}").stdout.strip() == ""
    assert docker("volume", "ls", "-q", "--filter", f"name={VOLUME}").stdout.strip() == VOLUME
