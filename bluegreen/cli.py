"""`python -m bluegreen ...`: the operator's and the program's command line.

Exit codes: 0 done; 2 bad input (arguments, config, files), nothing changed;
1 the operation itself failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bluegreen.problems import Problem, SettingsError
from bluegreen.settings import COLORS, StackSettings, parse_settings
from bluegreen.stackfile import StackFileError, read_stack_file

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def summary(stack: str, s: StackSettings) -> str:
    """One line a human can check a stack against at a glance."""
    parts = [f"active {s.active_color} {s.traffic_weight}%"]
    for color in COLORS:
        spec = s.color(color)
        parts.append(f"{color} {spec.version or '-'} x{spec.replicas}")
    parts.append(f"image {s.image.source}")
    parts.append(f"router {s.router.bind_address}:{s.router.port}/{s.router.preview_port}")
    return f"stack {stack}: valid (" + ", ".join(parts) + ")"


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    stack_file = Path(args.stack_file)
    project_file = Path(args.project)
    problems: list[Problem] = []
    settings: StackSettings | None = None
    stack = stack_file.name
    try:
        config = read_stack_file(stack_file, project_file)
        stack = config.stack
        settings = parse_settings(config.raw, config.stack)
    except StackFileError as exc:
        if args.json:
            json.dump({"file": str(stack_file), "valid": False, "error": str(exc)}, out)
            out.write("\n")
        else:
            err.write(f"{exc}\n")
        return EXIT_BAD_INPUT
    except SettingsError as exc:
        problems = exc.problems

    if args.json:
        report = {
            "file": str(stack_file),
            "stack": stack,
            "valid": not problems,
            "problems": [p.as_dict() for p in problems],
            "settings": settings.model_dump(mode="json", by_alias=True) if settings else None,
        }
        json.dump(report, out, indent=2)
        out.write("\n")
    elif problems:
        for p in problems:
            err.write(f"{stack_file}: {p.line()}\n")
        err.write(f"{stack_file}: {len(problems)} problem(s); nothing was changed\n")
    else:
        assert settings is not None
        out.write(f"{stack_file}: {summary(stack, settings)}\n")
    return EXIT_BAD_INPUT if problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bluegreen",
        description="Blue/green deployments on a Docker host: validate config, switch, roll back.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = sub.add_parser(
        "validate",
        help="check a stack file offline with the program's own rules",
        description="Validate Pulumi.<stack>.yaml with the same rules `pulumi preview` applies.",
    )
    validate.add_argument("stack_file", metavar="STACK_FILE", help="e.g. Pulumi.prod.yaml")
    validate.add_argument("--project", default="Pulumi.yaml", help="project file (default: ./Pulumi.yaml)")
    validate.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    validate.set_defaults(func=cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args, out, err)
    return code
