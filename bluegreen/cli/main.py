"""`bluegreen ...` (or `python -m bluegreen ...`): the operator's and the program's command line.

Each command family lives in its own module with its arguments beside its
handler; this module only assembles them and answers every error the same
way. The commands only the Pulumi program runs (cli/program.py) work but
stay out of `--help`. Exit codes are the table in bluegreen/errors.py; every
refusal and failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from bluegreen.cli import database, images, observe, program, router, stackfile, tls, traffic
from bluegreen.cli.args import Parser
from bluegreen.config.stackfile import project_name
from bluegreen.errors import EXIT_CODES, BluegreenError

# In the order `--help` lists them; program.register adds the hidden plumbing last.
FAMILIES = (stackfile, traffic, observe, router, tls, database, images, program)


def version() -> str:
    from importlib import metadata  # with its e-mail parsing, a cost every start paid for one flag

    try:
        return metadata.version("bluegreen")
    except metadata.PackageNotFoundError:  # a checkout that was never installed
        return "unknown"


class _Version(argparse.Action):
    """`--version`: the installed version, read only when asked."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        sys.stdout.write(f"bluegreen {version()}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bluegreen",
        description="Blue/green deployments on a Docker host: validate config, switch, roll back.",
        epilog="exit codes:\n" + "".join(f"  {code}  {text}\n" for code, text in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for family in FAMILIES:
        family.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # `bluegreen` alone: what it can do, not an error
        out.write(parser.format_help())
        return 0
    args = parser.parse_args(argv)
    watched, said = _Watched(out), io.StringIO()
    try:
        if getattr(args, "project", "") is None:
            args.project = project_name()
        code: int = args.func(args, watched, _Tee(err, said))
    except BluegreenError as exc:  # anything a command did not answer itself: still one line
        line = f"bluegreen {args.command}: {exc}\n"
        err.write(line)
        said.write(line)
        code = exc.exit_code
    if code != 0 and getattr(args, "json", False) and not watched.written:
        # --json: a failure is a JSON object too, for whatever parses stdout (the lines stay on stderr).
        out.write(json.dumps({"error": said.getvalue().strip(), "exitCode": code}) + "\n")
    return code


class _Watched(io.TextIOBase):
    """stdout, noting whether the command wrote anything to it."""

    def __init__(self, inner: TextIO) -> None:
        self.inner, self.written = inner, False

    def write(self, text: str) -> int:
        self.written = self.written or bool(text)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    # A terminal stays one (status --watch, a rollout's progress bar), and its size and encoding are the real ones.
    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", None) or "utf-8"


class _Tee(io.TextIOBase):
    """stderr, kept also for the JSON error a --json failure prints."""

    def __init__(self, inner: TextIO, copy: io.StringIO) -> None:
        self.inner, self.copy = inner, copy

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()
