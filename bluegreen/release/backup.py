"""`bluegreen db backup` and `db restore`: the database container's data out to a file and back, through the
engine (a remote host's too), in pg_dump's custom format.

A backup streams `pg_dump` from inside the database container to the file as it comes: no temporary file on
either side. A restore copies the file into the data volume (the container's root filesystem is read-only),
runs `pg_restore --clean --if-exists --single-transaction` there (all of it or nothing), and removes it. Both
connect over the container's local socket as the app's role, with the container's own POSTGRES_USER and
POSTGRES_DB, so no password is typed, shown or passed.
"""

from __future__ import annotations

from typing import BinaryIO

from bluegreen.engine.client import DockerClient
from bluegreen.engine.names import database_name
from bluegreen.errors import BluegreenError, InputError

DATA_DIR = "/var/lib/postgresql/data"  # the volume: writable, and large enough for what it holds
RESTORE_FILE = ".bluegreen-restore.dump"
DUMP = 'exec pg_dump --format=custom --no-owner --username "$POSTGRES_USER" --dbname "$POSTGRES_DB"'
RESTORE = (
    'pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error --username "$POSTGRES_USER" '
    '--dbname "$POSTGRES_DB" "$1"; code=$?; rm -f "$1"; exit $code'
)
CUSTOM_FORMAT_MAGIC = b"PGDMP"


def _running_database(client: DockerClient, deployment: str) -> tuple[str, int, int]:
    """The database container's name and uid:gid, or why there is none to use."""
    name = database_name(deployment)
    found = client.inspect(name)
    if found is None:
        raise InputError(f"no database container {name}: database.mode is not 'container' on this stack, or it "
                         "was never deployed")  # fmt: skip
    if not (found.get("State") or {}).get("Running"):
        raise BluegreenError(f"the database container {name} is not running ({found['State'].get('Status')})")
    user = str((found.get("Config") or {}).get("User") or "999:999")
    uid, _, gid = user.partition(":")
    return name, int(uid), int(gid or uid)


def backup(client: DockerClient, deployment: str, sink: BinaryIO) -> str:
    """pg_dump of the app's database into `sink`; one line saying what was written."""
    name, _, _ = _running_database(client, deployment)
    code, stderr = client.exec_to(name, ["sh", "-c", DUMP], sink)
    if code != 0:
        raise BluegreenError(f"pg_dump in {name} failed (exit {code}): {stderr.strip().splitlines()[-1:]}")
    return f"backup of {name}: {sink.tell():,} bytes, pg_dump custom format"


def restore(client: DockerClient, deployment: str, source: BinaryIO) -> str:
    """The app's database replaced by the dump in `source` (all of it, or nothing on an error)."""
    if source.read(len(CUSTOM_FORMAT_MAGIC)) != CUSTOM_FORMAT_MAGIC:
        raise InputError("not a pg_dump custom-format file (bluegreen db backup writes one); nothing was changed")
    source.seek(0)
    name, uid, gid = _running_database(client, deployment)
    client.put_file(name, DATA_DIR, RESTORE_FILE, source, uid, gid)
    result = client.exec(name, ["sh", "-c", RESTORE, "sh", f"{DATA_DIR}/{RESTORE_FILE}"], timeout=3600)
    if result.exit_code != 0:
        said = [line for line in result.stderr.splitlines() if "error" in line.lower()] or result.stderr.splitlines()
        raise BluegreenError(f"pg_restore in {name} failed (exit {result.exit_code}), nothing was changed: "
                             f"{said[-1] if said else 'no output'}")  # fmt: skip
    return f"restored {name} from the backup (the database's previous contents are replaced)"
