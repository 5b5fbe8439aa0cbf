"""Schema compatibility tied to traffic: the setting, the database's record and the switch's refusal.

The switch runs against the fake router of test_switch; the database container is a fake that answers the
one exec bluegreen.release.schema runs. tests/e2e/test_schema.py runs the same on the real engine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from bluegreen.config.settings import StackSettings, parse_settings
from bluegreen.engine.client import ExecResult
from bluegreen.errors import SettingsError, SwitchError
from bluegreen.plan.model import parse_plan
from bluegreen.release import schema
from bluegreen.release.live import rollback
from bluegreen.release.schema import LiveSchema, SchemaRange, check_schema, read_schema, schema_problem
from bluegreen.release.status import _schema
from bluegreen.router.layout import LIVE_PLAN
from tests.unit.test_health import Clock, container
from tests.unit.test_switch import NET, Engine, FakeRouter, plan

DB = "bluegreen-dev-db"


class Database(Engine):
    """Every app container healthy, and a database container whose bluegreen_schema holds `rows`."""

    def __init__(self, version: int | None, running: bool = True, exit_code: int = 0, present: bool = True) -> None:
        super().__init__()
        self.version, self.running, self.exit_code, self.present = version, running, exit_code, present
        self.execs: list[tuple[str, list[str]]] = []

    def inspect(self, name: str) -> dict[str, Any] | None:
        if name == DB:
            return {"State": {"Running": self.running, "Status": "running" if self.running else "exited"}} if (
                self.present) else None  # fmt: skip
        return container(net=NET)

    def exec(self, name: str, cmd: Sequence[str], user: str | None = None, timeout: float | None = None) -> Any:
        self.execs.append((name, list(cmd)))
        if self.exit_code:
            return ExecResult(self.exit_code, "", "psql: error: connection to server on socket failed\n")
        line = "" if self.version is None else f"{self.version}|2026-12-04 23:50:01.5+00\n"
        return ExecResult(0, line, "")


def load_settings(raw: dict[str, Any]) -> StackSettings:
    return parse_settings({"activeColor": "blue", "blue": {"version": "1.0.0"}, **raw}, "dev")


def schema_plan(blue: str | None, green: str | None, **changes: Any) -> Any:
    colors = {"blue": {"version": "1.0.0", "containers": ["b1"], "schemaVersions": blue},
              "green": {"version": "2.0.0", "containers": ["g1"], "schemaVersions": green}}  # fmt: skip
    return plan(colors=colors, **changes)


def switch(router: FakeRouter, engine: Engine, p: Any) -> Any:
    from bluegreen.release.switch import apply_plan

    clock = Clock()
    return apply_plan(router, engine, p, clock=clock, sleep=clock.sleep)


def test_a_range_is_one_version_or_oldest_to_newest() -> None:
    assert SchemaRange.parse("3") == SchemaRange(3, 3) and str(SchemaRange.parse("3")) == "3"
    two_three = SchemaRange.parse("2-3")
    assert 2 in two_three and 3 in two_three and 1 not in two_three and 4 not in two_three
    assert str(two_three) == "2-3"


@pytest.mark.parametrize("value", ["3-2", "two", "1-", "-1", "1-2-3", "1.5"])
def test_a_bad_range_is_refused_naming_the_key_the_value_and_what_is_allowed(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"green": {"version": "2.0.0", "schemaVersions": value}})
    message = str(refused.value)
    assert "green.schemaVersions" in message and value in message, message
    assert "a schema version such as 3, or a range from oldest to newest such as 2-3" in message


def test_a_number_typed_without_quotes_is_the_version_meant() -> None:
    """`pulumi config set --path green.schemaVersions 3` stores the number 3."""
    settings = load_settings({"green": {"version": "2.0.0", "schemaVersions": 3}})
    assert settings.color("green").schema_versions == "3"


def test_a_plan_without_schema_versions_hashes_as_it_did_before_the_setting_existed() -> None:
    """Upgrading bluegreen must not look like drift: unset, the key stays out of the canonical plan."""
    plain = plan()
    assert "schemaVersions" not in plain.canonical()
    declared = schema_plan("1-2", None)
    assert '"schemaVersions":"1-2"' in declared.canonical() and declared.plan_hash() != plain.plan_hash()
    assert declared.canonical().count("schemaVersions") == 1


def test_the_problem_names_the_colour_its_range_and_the_live_schema() -> None:
    live = LiveSchema(3, "2026-12-04 23:50:01+00")
    back_to_blue = schema_plan("1-2", "2-3", active="blue", weights={"blue": 100, "green": 0})
    problem = schema_problem(back_to_blue, live)
    assert problem == (
        "blue.schemaVersions: blue (1.0.0) runs on schema 1-2, the database is at schema 3 (bluegreen_schema, "
        "recorded 2026-12-04 23:50:01+00); allowed: traffic only to a colour that runs on 3 (green does)"
    )
    assert schema_problem(schema_plan("1-2", "2-3", active="green", weights={"blue": 0, "green": 100}), live) is None
    assert schema_problem(back_to_blue, LiveSchema(2)) is None
    assert schema_problem(back_to_blue, LiveSchema(None)) is None, "nothing recorded: nothing to hold against"
    undeclared = schema_plan(None, "2-3", active="blue", weights={"blue": 100, "green": 0})
    assert schema_problem(undeclared, live) is None, "a colour that declares nothing is not checked"


def test_a_canary_weight_counts_and_the_preview_does_not() -> None:
    """Green at 10% answers live requests; on the preview only, it is what is left to replace after a contract."""
    canary = schema_plan("1-3", "1", active="green", weights={"blue": 90, "green": 10})
    problem = schema_problem(canary, LiveSchema(3))
    assert problem is not None and problem.startswith("green.schemaVersions: green (2.0.0) runs on schema 1")
    assert problem.endswith("(blue does)")
    preview_only = schema_plan("1-3", "1", active="blue", weights={"blue": 100, "green": 0})
    assert preview_only.preview == "green"
    assert schema_problem(preview_only, LiveSchema(3)) is None


def test_reading_the_record_runs_one_exec_in_the_database_container() -> None:
    db = Database(3)
    live = read_schema(db, "bluegreen-dev")
    assert live == LiveSchema(3, "2026-12-04 23:50:01.5+00")
    ((name, cmd),) = db.execs
    assert name == DB and cmd[:2] == ["sh", "-c"] and "bluegreen_schema" in cmd[2]
    assert read_schema(Database(None), "bluegreen-dev") == LiveSchema(None)
    assert read_schema(Database(3, present=False), "bluegreen-dev").unread == (
        "no database container bluegreen-dev-db (database.mode is not container)"
    )
    assert read_schema(Database(3, running=False), "bluegreen-dev").unread == (
        "the database container bluegreen-dev-db is not running"
    )
    failed = read_schema(Database(3, exit_code=2), "bluegreen-dev")
    assert failed.version is None and failed.unread is not None and "connection to server" in failed.unread


def test_a_rollback_to_a_colour_that_cannot_run_on_the_live_schema_is_refused_and_changes_nothing() -> None:
    router = FakeRouter()
    switch(router, Database(2), schema_plan("1-2", "2-3", active="green", weights={"blue": 0, "green": 100}))
    published = len(router.publications)
    with pytest.raises(SwitchError) as refused:
        rollback(router, Database(3))
    message = str(refused.value)
    assert message.startswith("blue.schemaVersions: blue (1.0.0) runs on schema 1-2, the database is at schema 3")
    assert message.endswith("; nothing was changed") and "\n" not in message
    assert len(router.publications) == published and router.held_by_us is None, "no publication, lock released"
    live = json.loads(router.publications[-1].files[LIVE_PLAN])["plan"]
    assert live["weights"] == {"blue": 0, "green": 100}


def test_within_the_range_the_rollback_goes_through() -> None:
    router = FakeRouter()
    switch(router, Database(2), schema_plan("1-2", "2-3", active="green", weights={"blue": 0, "green": 100}))
    report = rollback(router, Database(2))
    assert report.weights == {"blue": 100, "green": 0} and report.warnings == []


def test_a_database_that_cannot_be_read_is_a_warning_never_a_veto() -> None:
    """An emergency rollback must not wait on the database; the health gate still proves the colour serves."""
    router = FakeRouter()
    report = switch(router, Database(3, exit_code=2), schema_plan("1-2", "2-3"))
    assert report.changed
    (warning,) = report.warnings
    assert warning.startswith("schema not checked: psql in bluegreen-dev-db failed: psql: error: connection")


def test_no_declared_range_reads_nothing() -> None:
    db = Database(3)
    assert check_schema(db, plan()) is None and db.execs == []


def test_status_reports_the_live_schema_and_each_colours_range() -> None:
    record = {"plan": json.loads(schema_plan("1-2", "2-3").canonical())}
    found = _schema(Database(3), "bluegreen-dev", record)  # type: ignore[arg-type]
    assert found == {"version": 3, "recordedAt": "2026-12-04 23:50:01.5+00", "unread": None,
                     "colors": {"blue": "1-2", "green": "2-3"}}  # fmt: skip
    quiet = Database(3)
    undeclared = _schema(quiet, "bluegreen-dev", {"plan": json.loads(plan().canonical())})  # type: ignore[arg-type]
    assert undeclared["version"] is None and quiet.execs == [] and undeclared["colors"] == {"blue": None, "green": None}


def test_the_plan_carries_the_ranges_from_the_stack_settings() -> None:
    from bluegreen.plan.derive import plan_from_settings

    settings = load_settings({"blue": {"version": "1.0.0", "schemaVersions": "1-2"},
                              "green": {"version": "2.0.0", "schemaVersions": "2-3"}})  # fmt: skip
    derived = plan_from_settings(settings, "bluegreen-dev", {"blue": ["b1"], "green": ["g1"]})
    assert schema.ranges(derived) == {"blue": "1-2", "green": "2-3"}
    assert parse_plan(json.loads(derived.canonical())) == derived
