"""`bluegreen ...` (or `python -m bluegreen ...`): the operator's and the program's command line.

Each command family lives in its own module with its arguments beside its
handler; this module only assembles them and answers every error the same
way. The commands only the Pulumi program runs (cli/program.py) work but
stay out of `--help`. Exit codes are the table in bluegreen/errors.py; every
refusal and failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import TextIO

from bluegreen.cli import images, observe, program, router, stackfile, tls, traffic
from bluegreen.cli.args import Parser
from bluegreen.config.stackfile import project_name
from bluegreen.errors import EXIT_CODES, BluegreenError

# In the order `--help` lists them; program.register adds the hidden plumbing last.
FAMILIES = (stackfile, traffic, observe, router, tls, images, program)


def version() -> str:
    try:
        return metadata.version("bluegreen")
    except metadata.PackageNotFoundError:  # a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bluegreen",
        description="Blue/green deployments on a Docker host: validate config, switch, roll back.",
        epilog="exit codes:\n" + "".join(f"  {code}  {text}\n" for code, text in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bluegreen {version()}")
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
    try:
        if getattr(args, "project", "") is None:
            args.project = project_name()
        code: int = args.func(args, out, err)
    except BluegreenError as exc:  # anything a command did not answer itself: still one line
        err.write(f"bluegreen {args.command}: {exc}\n")
        return exc.exit_code
    return code
