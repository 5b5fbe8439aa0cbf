"""Schema compatibility tied to traffic: a colour takes requests only when it runs on the database's schema.

Blue and green share one database. An expand migration keeps the release
before it working; a contract migration (dropping or tightening what the old
release uses) does not, and from then on a rollback to the old colour would
serve errors. So each release declares the schema versions it runs on
(`green.schemaVersions: 2-3`, kept in the routing plan, so a rollback knows
it without the program), the app's migrations record the version they leave
in the table `bluegreen_schema` (docs/database.md), and every switch, step,
promotion and rollback refuses a plan that gives traffic to a colour whose
range excludes the recorded version: one line naming both.

The version is a compatibility level, not a migration count: bump it only
with a change an older release cannot run on. It is read through the
database container's local socket (database.mode container); an external
database is not read, and the check is then off (`status` says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bluegreen.colors import COLORS
from bluegreen.engine.names import database_name
from bluegreen.engine.targets import Inspector
from bluegreen.errors import BluegreenError, SwitchError
from bluegreen.plan.model import RoutingPlan

TABLE = "bluegreen_schema"
# One exec: nothing recorded (no table) prints nothing; else the newest row's version and when it was written.
READ = (
    'set -e; q() { psql -X -q -tA -F "|" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -c "$1"; }; '
    '[ "$(q "SELECT to_regclass(\'bluegreen_schema\') IS NOT NULL")" = t ] || exit 0; '
    'q "SELECT version, recorded_at FROM bluegreen_schema ORDER BY recorded_at DESC LIMIT 1"'
)


@dataclass(frozen=True)
class SchemaRange:
    low: int
    high: int

    @classmethod
    def parse(cls, text: str) -> SchemaRange:
        low, _, high = text.partition("-")
        return cls(int(low), int(high or low))

    def __contains__(self, version: int) -> bool:
        return self.low <= version <= self.high

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


@dataclass(frozen=True)
class LiveSchema:
    """What the database says: a version, None when nothing was ever recorded, or why it could not be read."""

    version: int | None
    recorded_at: str | None = None
    unread: str | None = None  # set: not read, and why (no database container, server down)

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "recordedAt": self.recorded_at, "unread": self.unread}


def read_schema(engine: Inspector, deployment: str) -> LiveSchema:
    """The schema version the app's migrations last recorded in the database container."""
    name = database_name(deployment)
    found = engine.inspect(name)
    if found is None:
        return LiveSchema(None, unread=f"no database container {name} (database.mode is not container)")
    if not (found.get("State") or {}).get("Running"):
        return LiveSchema(None, unread=f"the database container {name} is not running")
    try:
        result = engine.exec(name, ["sh", "-c", READ], timeout=30)
    except BluegreenError as exc:
        return LiveSchema(None, unread=f"{name} did not answer: {exc}")
    if result.exit_code != 0:
        said = result.stderr.strip().splitlines()
        return LiveSchema(None, unread=f"psql in {name} failed: {said[-1] if said else f'exit {result.exit_code}'}")
    line = result.stdout.strip()
    if not line:
        return LiveSchema(None)
    version, _, recorded = line.partition("|")
    if not version.strip().lstrip("-").isdigit():
        return LiveSchema(None, unread=f"{TABLE}.version is not a whole number: {version!r}")
    return LiveSchema(int(version), recorded.strip() or None)


def ranges(plan: RoutingPlan) -> dict[str, str | None]:
    """Each colour's declared range as `status` shows it (None: not declared)."""
    return {c: plan.color(c).schema_versions for c in COLORS}


def schema_problem(plan: RoutingPlan, live: LiveSchema) -> str | None:
    """Why `plan` would send live requests to a colour that cannot run on the live schema, or None.

    Live traffic only, as for the health gate: after a contract step the old colour stays on the preview
    (a tester there sees its errors), and refusing it would block every later switch until it is replaced.
    """
    if live.version is None:
        return None
    for color in plan.live_colors():
        declared = plan.color(color).schema_versions
        if declared is None or live.version in SchemaRange.parse(declared):
            continue
        fits = [c for c in COLORS if (d := plan.color(c).schema_versions) and live.version in SchemaRange.parse(d)]
        return (
            f"{color}.schemaVersions: {color} ({plan.color(color).version or 'unversioned'}) runs on schema "
            f"{declared}, the database is at schema {live.version} ({TABLE}, recorded {live.recorded_at or '?'}); "
            f"allowed: traffic only to a colour that runs on {live.version}"
            + (f" ({', '.join(fits)} does)" if fits else " (neither colour does: release one that does)")
        )
    return None


def check_schema(engine: Inspector, plan: RoutingPlan) -> str | None:
    """Refuse (SwitchError) a plan whose traffic the live schema rules out; a warning when it was not read.

    Not read (the server is down, an external database) is not a veto: a rollback in an emergency must not
    wait on the database, and the health gate still proves the colour serves."""
    if all(plan.color(c).schema_versions is None for c in plan.live_colors()):
        return None
    live = read_schema(engine, plan.deployment)
    problem = schema_problem(plan, live)
    if problem:
        raise SwitchError(f"{problem}; nothing was changed")
    return f"schema not checked: {live.unread}" if live.unread else None
