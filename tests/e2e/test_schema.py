"""Schema compatibility tied to traffic, on the real engine: a contract migration makes the old release unable
to serve, and from then on neither `bluegreen rollback` nor `pulumi up` gives it traffic; within its range
both go through.

The sample app's schema 3 makes notes.author required (a contract step): release 1 inserts no author, so on
schema 3 it would answer 500 to every new note. Release 1 declares 1-2, release 2 and 3 declare 2-3.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

from lab.dockercli import docker
from lab.engine import EngineError, Steps
from lab.prober import BackgroundProbe
from tests.e2e.test_database_lifecycle import cli
from tests.e2e.test_database_release import BASE, URL, colors_of, ids_of, psql, reset_dev

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

REFUSED = "blue.schemaVersions: blue (1.0.0) runs on schema 1-2, the database is at schema 3 (bluegreen_schema"


@pytest.fixture
def clean_dev() -> Iterator[None]:
    reset_dev()
    yield
    reset_dev()


def schema_status() -> dict[str, object]:
    shown = cli("status", "--json")
    assert shown.returncode == 0, shown.stderr
    found: dict[str, object] = json.loads(shown.stdout)["schema"]
    return found


def test_traffic_never_reaches_a_release_that_cannot_run_on_the_live_schema(clean_dev: None) -> None:
    step = Steps("dev", {**BASE, "blue.schemaVersions": "1-2"})
    step({})
    assert psql("SELECT version FROM bluegreen_schema ORDER BY recorded_at DESC LIMIT 1") == "1"

    # Release 2 (an expand step: schema 2) on green, promoted; release 1 still runs on schema 2.
    release = {"green.version": "2.0.0", "green.env": {"APP_SCHEMA_VERSION": "2"}, "green.schemaVersions": "2-3"}
    step({**release, "activeColor": "green", "trafficWeight": 100})
    assert colors_of("/notes") == Counter({"green": 40})
    found = schema_status()
    assert found["version"] == 2 and found["colors"] == {"blue": "1-2", "green": "2-3"}, found
    assert "schema 2; blue runs on 1-2, green runs on 2-3" in cli("status").stdout

    with BackgroundProbe(URL, connections=8, round_seconds=2) as load:
        back = cli("rollback")
        assert back.returncode == 0, back.stderr
        assert colors_of("/notes") == Counter({"blue": 40})
        forth = cli("rollback")
        assert forth.returncode == 0, forth.stderr
        assert colors_of("/notes") == Counter({"green": 40})

        # The contract step, as release 3's migration runs it: notes.author becomes required (schema 3).
        (green, *_) = ids_of("bluegreen.color=green", "bluegreen.role=app")
        migrated = docker("exec", "-e", "APP_SCHEMA_VERSION=3", green, "python", "-m", "bluegreen_app", "migrate")
        assert "migration 0003 require notes.author: applied" in migrated.stdout, migrated.stdout
        assert schema_status()["version"] == 3

        # Release 1 cannot insert a note on schema 3: neither a rollback nor the program sends it traffic.
        refused = cli("rollback")
        assert refused.returncode != 0
        (line,) = refused.stderr.strip().splitlines()
        assert line.startswith(f"rollback bluegreen-dev: {REFUSED}") and line.endswith("nothing was changed"), line
        with pytest.raises(EngineError) as program:
            step({"activeColor": "blue"})
        assert REFUSED in str(program.value)
        assert colors_of("/notes") == Counter({"green": 40})

        # Within the range it goes through: blue on release 3 (2-3), then back to green and to blue again.
        step({"blue.version": "3.0.0", "blue.env": {"APP_SCHEMA_VERSION": "3"}, "blue.schemaVersions": "2-3"})
        assert colors_of("/notes") == Counter({"blue": 40})
        assert cli("rollback").returncode == 0 and colors_of("/notes") == Counter({"green": 40})
    assert load.stats.failed == 0, load.stats.errors
    assert load.stats.requests > 0
