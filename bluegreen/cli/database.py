"""`bluegreen db backup` and `bluegreen db restore`: the database container's data to a file and back."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import TextIO

from bluegreen.cli.args import Parser, Subparsers, add_stack_args
from bluegreen.cli.common import client_of, deployment
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_OK, BluegreenError
from bluegreen.release import backup


def cmd_db(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    label = deployment(args)
    try:
        if args.db_command == "backup":
            path = Path(args.output or f"{label}-{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}.dump")
            partial = path.with_name(path.name + ".partial")
            with partial.open("wb") as sink:
                text = backup.backup(client_of(args), label, sink)
            partial.replace(path)  # a failed or interrupted backup never looks like a whole one
            out.write(f"{text}: {path}\n")
            return EXIT_OK
        source = Path(args.file)
        if not source.is_file():
            err.write(f"db restore {label}: file: got '{source}'; allowed: a file bluegreen db backup wrote\n")
            return EXIT_BAD_INPUT
        if not args.yes:
            err.write(f"db restore {label}: replaces everything in the database with {source}; add --yes to do it\n")
            return EXIT_BAD_INPUT
        with source.open("rb") as data:
            out.write(backup.restore(client_of(args), label, data) + "\n")
        return EXIT_OK
    except BluegreenError as exc:
        err.write(f"db {args.db_command} {label}: {exc}\n")
        return exc.exit_code


def register(sub: Subparsers) -> None:
    db = sub.add_parser("db", help="the database container (database.mode container): back up, restore")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND", parser_class=Parser)
    save = db_sub.add_parser(
        "backup",
        help="pg_dump the app's database to a file (custom format), through the engine",
        description="Streams pg_dump from inside the database container to FILE as it comes; the colours keep "
        "serving. The file is written as FILE.partial and renamed once whole.",
    )
    add_stack_args(save)
    save.add_argument("--output", "-o", metavar="FILE", help="where to write it (default: DEPLOYMENT-UTCTIME.dump)")
    save.set_defaults(func=cmd_db)
    load = db_sub.add_parser(
        "restore",
        help="replace the app's database with a backup (one transaction: all of it or nothing)",
        description="Copies FILE into the database volume, runs pg_restore --clean --if-exists "
        "--single-transaction as the app's role, and removes the copy. Stop writers first (maintenance on).",
    )
    add_stack_args(load)
    load.add_argument("file", metavar="FILE", help="a file `bluegreen db backup` wrote")
    load.add_argument("--yes", action="store_true", help="yes, replace what the database holds now")
    load.set_defaults(func=cmd_db)
