"""`bluegreen db backup|restore` against a fake engine: what runs where, and what is refused before anything."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from bluegreen.engine.client import ExecResult
from bluegreen.errors import BluegreenError, InputError
from bluegreen.release import backup

RUNNING = {"State": {"Running": True, "Status": "running"}, "Config": {"User": "999:999"}}


class FakeEngine:
    def __init__(self, container: dict[str, Any] | None = RUNNING, dump: bytes = b"PGDMP\x01rest", code: int = 0):
        self.container, self.dump, self.code = container, dump, code
        self.ran: list[list[str]] = []
        self.files: dict[str, tuple[bytes, int, int]] = {}

    def inspect(self, name: str) -> dict[str, Any] | None:
        return self.container

    def exec_to(self, name: str, cmd: list[str], sink: BinaryIO) -> tuple[int, str]:
        self.ran.append(cmd)
        sink.write(self.dump)
        return self.code, "" if self.code == 0 else "pg_dump: error: connection failed"

    def put_file(self, name: str, directory: str, filename: str, source: BinaryIO, uid: int, gid: int) -> None:
        self.files[f"{directory}/{filename}"] = (source.read(), uid, gid)

    def exec(self, name: str, cmd: list[str], timeout: float | None = None) -> ExecResult:
        self.ran.append(cmd)
        return ExecResult(self.code, "", "" if self.code == 0 else 'pg_restore: error: relation "x" exists')


def test_a_backup_streams_pg_dump_of_the_apps_database() -> None:
    engine, sink = FakeEngine(), io.BytesIO()
    said = backup.backup(engine, "bluegreen-dev", sink)  # type: ignore[arg-type]
    assert sink.getvalue() == b"PGDMP\x01rest" and said == "backup of bluegreen-dev-db: 10 bytes, pg_dump custom format"
    (cmd,) = engine.ran
    assert cmd[:2] == ["sh", "-c"] and "--format=custom" in cmd[2] and '"$POSTGRES_USER"' in cmd[2]


def test_a_restore_copies_into_the_volume_runs_one_transaction_and_removes_the_copy() -> None:
    engine = FakeEngine()
    said = backup.restore(engine, "bluegreen-dev", io.BytesIO(b"PGDMP\x01data"))  # type: ignore[arg-type]
    assert engine.files == {"/var/lib/postgresql/data/.bluegreen-restore.dump": (b"PGDMP\x01data", 999, 999)}
    (cmd,) = engine.ran
    assert "--single-transaction" in cmd[2] and 'rm -f "$1"' in cmd[2]
    assert cmd[-1] == "/var/lib/postgresql/data/.bluegreen-restore.dump" and said.startswith("restored ")


def test_what_is_refused_before_anything_changes() -> None:
    with pytest.raises(InputError, match="not a pg_dump custom-format file"):
        backup.restore(FakeEngine(), "d", io.BytesIO(b"hello"))  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"no database container d-db: database\.mode is not 'container'"):
        backup.backup(FakeEngine(container=None), "d", io.BytesIO())  # type: ignore[arg-type]
    stopped = {"State": {"Running": False, "Status": "exited"}}
    with pytest.raises(BluegreenError, match=r"the database container d-db is not running \(exited\)"):
        backup.backup(FakeEngine(container=stopped), "d", io.BytesIO())  # type: ignore[arg-type]
    with pytest.raises(BluegreenError, match=r"pg_restore in d-db failed \(exit 1\), nothing was changed: "
                                             r"pg_restore: error: relation"):  # fmt: skip
        backup.restore(FakeEngine(code=1), "d", io.BytesIO(b"PGDMP"))  # type: ignore[arg-type]


def test_the_cli_asks_for_yes_and_a_file_before_a_restore(tmp_path: Path) -> None:
    from tests.unit.test_stack_edit import run

    code, out, err = run("db", "restore", str(tmp_path / "missing.dump"), "--stack", "dev")
    assert code == 2 and out == "" and "file: got" in err and "allowed: a file bluegreen db backup wrote" in err
    dump = tmp_path / "a.dump"
    dump.write_bytes(b"PGDMP")
    code, out, err = run("db", "restore", str(dump), "--stack", "dev")
    assert code == 2 and "add --yes to do it" in err
