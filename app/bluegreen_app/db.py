"""The notes feature's database: versioned migrations and the queries each schema version runs.

Blue and green share one database, so during a canary the old and the new
release run against one schema at once. Every migration here is an *expand*
step: the release that needs it adds to the schema, and the release before it
keeps working because it names the columns it uses and ignores the rest
(docs/database.md). A release knows its schema version (APP_SCHEMA_VERSION,
default the newest this code ships); `python -m bluegreen_app migrate` brings
the database up to it, once: each applied migration is a row of
schema_migrations, written in the same transaction as the change, and the
version is recorded in bluegreen_schema, which bluegreen reads to keep traffic
away from a release that cannot run on it (its schemaVersions setting).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

# Serialises concurrent `migrate` runs (two colours released at once): pg_advisory_lock on this key.
MIGRATION_LOCK = 0x626C7565
CONNECT_SECONDS = 2.0
# The schema version bluegreen reads before it gives a colour traffic (bluegreen/release/schema.py).
BLUEGREEN_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bluegreen_schema (version integer NOT NULL, "
    "recorded_at timestamptz NOT NULL DEFAULT clock_timestamp())"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS = (
    Migration(
        1,
        "create notes",
        "CREATE TABLE notes (id bigserial PRIMARY KEY, text text NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())",
    ),
    # Expand: a nullable column. Release 1 never names it, so it keeps inserting and listing notes.
    Migration(2, "add notes.author", "ALTER TABLE notes ADD COLUMN author text"),
    # Contract: every note has an author. Release 1 inserts none, so it cannot run on this schema
    # (green.schemaVersions says which releases can: docs/database.md).
    Migration(
        3,
        "require notes.author",
        "UPDATE notes SET author = 'anonymous' WHERE author IS NULL; "
        "ALTER TABLE notes ALTER COLUMN author SET NOT NULL",
    ),
)
LATEST = MIGRATIONS[-1].version


class NotMigratedError(RuntimeError):
    """The table or column this release uses is not there yet: its migration has not run."""


async def connect(url: str, timeout: float = CONNECT_SECONDS) -> asyncpg.Connection:
    return await asyncpg.connect(url, timeout=timeout)


async def migrate(url: str, target: int, say: Any = print, wait_seconds: float = 30.0) -> list[int]:
    """Apply every migration up to `target` not yet recorded; returns the versions applied.

    Waits up to `wait_seconds` for the database to accept connections: a
    hook may start while the server is still coming up.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            conn = await connect(url)
            break
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() >= deadline:
                raise ConnectionError(f"database unreachable after {wait_seconds:g}s: {exc}") from exc
            await asyncio.sleep(0.5)
    applied: list[int] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute(BLUEGREEN_SCHEMA)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in MIGRATIONS:
            if migration.version > target or migration.version in done:
                continue
            say(f"migration {migration.version:04d} {migration.name}: applying")
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
                )
                await conn.execute("INSERT INTO bluegreen_schema (version) VALUES ($1)", migration.version)
            say(f"migration {migration.version:04d} {migration.name}: applied")
            applied.append(migration.version)
        now = max(done | set(applied), default=0)
        # A database migrated before bluegreen_schema existed: record where it is once.
        await conn.execute(
            "INSERT INTO bluegreen_schema (version) SELECT $1 "
            "WHERE $1 > 0 AND NOT EXISTS (SELECT 1 FROM bluegreen_schema)",
            now,
        )
        say(f"schema at version {now} (this release needs {target})")
    finally:
        await conn.close()
    return applied


class Notes:
    """The queries of one schema version: release 1 never names `author`."""

    def __init__(self, pool: asyncpg.Pool, schema: int) -> None:
        self.pool = pool
        self.schema = schema

    @property
    def columns(self) -> str:
        return "id, text, created_at" + (", author" if self.schema >= 2 else "")

    async def add(self, text: str, author: str | None) -> dict[str, Any]:
        try:
            async with self.pool.acquire() as conn:
                if self.schema >= 2:
                    row = await conn.fetchrow(
                        f"INSERT INTO notes (text, author) VALUES ($1, $2) RETURNING {self.columns}",  # noqa: S608 # nosec B608
                        text,
                        author if author is not None or self.schema < 3 else "anonymous",
                    )
                else:
                    row = await conn.fetchrow(f"INSERT INTO notes (text) VALUES ($1) RETURNING {self.columns}", text)  # noqa: S608 # nosec B608
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as exc:
            raise NotMigratedError(str(exc)) from exc
        return _note(row)

    async def all(self) -> list[dict[str, Any]]:
        try:
            async with self.pool.acquire() as conn:
                rows = await conn.fetch(f"SELECT {self.columns} FROM notes ORDER BY id")  # noqa: S608 # nosec B608
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as exc:
            raise NotMigratedError(str(exc)) from exc
        return [_note(r) for r in rows]

    async def ping(self, timeout: float) -> None:
        async with self.pool.acquire(timeout=timeout) as conn:
            await conn.fetchval("SELECT 1", timeout=timeout)


def _note(row: Any) -> dict[str, Any]:
    note = dict(row)
    note["created_at"] = note["created_at"].isoformat()
    return note


async def open_pool(url: str) -> asyncpg.Pool:
    """No connection at start (min_size 0): the app starts and reports why it is not ready instead of dying."""
    return await asyncpg.create_pool(url, min_size=0, max_size=4, timeout=CONNECT_SECONDS)
