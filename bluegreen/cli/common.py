"""What the commands that reach a running deployment share: its engine, its router, one report line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from bluegreen.config.hooks import SmokeCheck
from bluegreen.config.stackfile import read_text
from bluegreen.engine.client import DockerClient
from bluegreen.engine.host import host_problem, resolve
from bluegreen.engine.names import deployment_name
from bluegreen.env import SMOKE_ENV
from bluegreen.errors import EXIT_OK, BluegreenError, SettingsError, StackFileError
from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.release.switch import SwitchReport
from bluegreen.router.adapter import LiveRouter


def deployment(args: argparse.Namespace) -> str:
    return deployment_name(args.project, args.stack)


def client_of(args: argparse.Namespace) -> DockerClient:
    """The engine of `--stack`, in RESOLUTION_ORDER (bluegreen/engine/host.py)."""
    found = resolve(args.stack, args.docker_host)
    problem = host_problem(found.host)
    if problem:
        raise StackFileError(f"{found.source}: docker host {problem}")
    return DockerClient(found.host, cert_path=found.cert_path)


def on_router(
    args: argparse.Namespace, deployment: str, run: Callable[[LiveRouter, DockerClient], SwitchReport]
) -> SwitchReport:
    client = client_of(args)
    return run(LiveRouter.find(client, deployment), client)


def report_or_fail(
    verb: str, label: str, args: argparse.Namespace, out: TextIO, err: TextIO, run: Callable[[], SwitchReport]
) -> int:
    """Print the switch report, or the one line saying why nothing changed."""
    try:
        report = run()
    except BluegreenError as exc:
        err.write(f"{verb} {label}: {exc}\n")
        return exc.exit_code
    print_report(args, report, out)
    return EXIT_OK


def print_report(args: argparse.Namespace, report: SwitchReport, out: TextIO) -> None:
    if args.json:
        json.dump(dataclasses.asdict(report), out)
        out.write("\n")
    else:
        out.write(report.line() + "\n")


def read_plan(source: str, stdin: TextIO) -> object:
    """The plan JSON from a file or stdin; StackFileError names what is wrong with it."""
    name = "stdin" if source == "-" else source
    text = stdin.read() if source == "-" else read_text(Path(source), "plan")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackFileError(f"plan {name}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc


def checked_plan(args: argparse.Namespace, err: TextIO) -> RoutingPlan | None:
    """The plan of --plan, for this deployment; None (the reason on stderr) when it is refused."""
    try:
        plan = parse_plan(read_plan(args.plan, sys.stdin))
    except SettingsError as exc:
        for p in exc.problems:
            err.write(f"plan: {p.line()}\n")
        err.write("plan refused; routing unchanged\n")
        return None
    label = deployment(args)
    if plan.deployment != label:
        err.write(f"plan: deployment: got {plan.deployment!r}; allowed: {label!r} (from --project and --stack)\n")
        return None
    return plan


def smoke_checks() -> list[SmokeCheck]:
    """hooks.smoke as the program hands it to the switch (SMOKE_ENV); a CLI switch has none."""
    raw = os.environ.get(SMOKE_ENV)
    if not raw:
        return []
    try:
        return [SmokeCheck.model_validate(item) for item in json.loads(raw)]
    except (json.JSONDecodeError, TypeError, ValidationError) as exc:
        raise StackFileError(f"{SMOKE_ENV}: not a list of smoke checks ({exc})") from exc
