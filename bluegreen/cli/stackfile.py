"""Commands on stack files, offline: validate, release, promote, and the configuration reference."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bluegreen.cli.args import Subparsers, weight
from bluegreen.colors import COLORS
from bluegreen.config.problems import Problem
from bluegreen.config.reference import reference, with_reference
from bluegreen.config.settings import StackSettings, parse_settings
from bluegreen.config.stackfile import read_stack_file, read_text
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_OK, BluegreenError, SettingsError, StackFileError


def summary(stack: str, s: StackSettings) -> str:
    """One line a human can check a stack against at a glance."""
    parts = [f"active {s.active_color} {s.traffic_weight}%"]
    for color in COLORS:
        spec = s.color(color)
        parts.append(f"{color} {spec.version or '-'} x{spec.replicas}")
    parts.append(f"image {s.image.source}")
    parts.append(f"router {s.router.bind_address}:{s.router.port}")
    parts.append(f"preview {s.router.preview_bind_address}:{s.router.preview_port}")
    if s.tls is not None:
        parts.append(f"https {s.router.bind_address}:{s.tls.port}")
    if s.maintenance.enabled:
        parts.append("MAINTENANCE on")
    return f"stack {stack}: valid (" + ", ".join(parts) + ")"


def project_file_of(args: argparse.Namespace) -> Path:
    """--project-file, else the Pulumi.yaml beside the stack file (where Pulumi looks), not the working
    directory's."""
    if args.project_file:
        return Path(args.project_file)
    return Path(args.stack_file).parent / "Pulumi.yaml"


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    stack_file = Path(args.stack_file)
    project_file = project_file_of(args)
    problems: list[Problem] = []
    settings: StackSettings | None = None
    stack = stack_file.name
    try:
        config = read_stack_file(stack_file, project_file)
        stack = config.stack
        settings = parse_settings(config.raw, config.stack, config.secret_paths)
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
            "relaxed": settings.app.security.relaxed() if settings else [],
        }
        json.dump(report, out, indent=2)
        out.write("\n")
    elif problems:
        for p in problems:
            err.write(f"{stack_file}: {p.line()}\n")
        err.write(f"{stack_file}: {len(problems)} problem(s); nothing was changed\n")
    elif settings is not None:
        out.write(f"{stack_file}: {summary(stack, settings)}\n")
        for line in settings.app.security.relaxed():
            out.write(f"{stack_file}: relaxed: {line}\n")
    return EXIT_BAD_INPUT if problems else EXIT_OK


def cmd_release(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The idle colour's version in the stack file: the commit a release pull request carries."""
    from bluegreen.config.stack_edit import release  # ruamel.yaml: only the commands that edit a file pay for it

    return _edit_stack(args, out, err, lambda: release(Path(args.stack_file), project_file_of(args),
                                                      args.version, args.digest))  # fmt: skip


def cmd_promote(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """activeColor and trafficWeight in the stack file: the commit a promotion pull request carries."""
    from bluegreen.config.stack_edit import promote

    return _edit_stack(
        args, out, err, lambda: promote(Path(args.stack_file), project_file_of(args), args.weight, args.to)
    )


def _edit_stack(args: argparse.Namespace, out: TextIO, err: TextIO, run: Callable[[], str]) -> int:
    try:
        out.write(run() + "\n")
    except SettingsError as exc:
        for p in exc.problems:
            err.write(f"{args.stack_file}: {p.line()}\n")
        err.write(f"{args.stack_file}: {len(exc.problems)} problem(s); nothing was changed\n")
        return EXIT_BAD_INPUT
    except BluegreenError as exc:
        err.write(f"{args.command}: {exc}\n")
        return exc.exit_code
    return EXIT_OK


def cmd_reference(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.write:
        path = Path(args.write)
        path.write_text(with_reference(read_text(path), str(path)), encoding="utf-8")
        out.write(f"{path}: reference updated\n")
    else:
        out.write(reference() + "\n")
    return EXIT_OK


def register(sub: Subparsers) -> None:
    validate = sub.add_parser(
        "validate",
        help="check a stack file offline with the program's own rules",
        description=(
            "Validate Pulumi.<stack>.yaml with the rules the program applies in `pulumi preview`, "
            "including the policy pack's image pinning (with the pack's default config)."
        ),
    )
    validate.add_argument("stack_file", metavar="STACK_FILE", help="e.g. Pulumi.prod.yaml")
    validate.add_argument("--project-file", help="the project's Pulumi.yaml (default: the one beside the stack file)")
    validate.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    validate.set_defaults(func=cmd_validate)

    rel = sub.add_parser(
        "release",
        help="set the idle colour's version in a stack file (the change a release pull request commits)",
    )
    rel.add_argument("stack_file", metavar="STACK_FILE", help="e.g. Pulumi.prod.yaml")
    # --tag, not --version: every other tool's --version prints its own version.
    rel.add_argument("--tag", dest="version", required=True, help="the image tag to release, e.g. 1.5.0")
    rel.add_argument("--digest", help="sha256:... to pin it by (registry images); unset removes a stale one")
    rel.add_argument("--project-file", help="the project's Pulumi.yaml (default: the one beside the stack file)")
    rel.set_defaults(func=cmd_release)
    prom = sub.add_parser(
        "promote",
        help="move traffic in a stack file: to --to COLOR, or a running canary's colour to --weight",
        description="Never a toggle: on a fully promoted file it needs --to, and a file that already says what "
        "it asks is left unchanged, so a repeated job changes nothing.",
    )
    prom.add_argument("stack_file", metavar="STACK_FILE", help="e.g. Pulumi.prod.yaml")
    prom.add_argument("--to", choices=list(COLORS), help="the colour that takes the traffic (the idle one to release)")
    prom.add_argument("--weight", type=weight, default=100, help="the new colour's share, 1-100 (default 100)")
    prom.add_argument("--project-file", help="the project's Pulumi.yaml (default: the one beside the stack file)")
    prom.set_defaults(func=cmd_promote)

    ref = sub.add_parser("reference", help="print the configuration reference (docs/configuration.md)")
    ref.add_argument("--write", metavar="FILE", help="replace the reference between its markers in FILE instead")
    ref.set_defaults(func=cmd_reference)
