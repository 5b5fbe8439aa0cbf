"""`bluegreen ...` (or `python -m bluegreen ...`): the operator's and the program's command line.

Exit codes: 0 done; 2 bad input (arguments, config, files, an engine address
nobody answers at), nothing changed; 1 the operation itself failed. Every
refusal and failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

from pydantic import ValidationError

from bluegreen.colors import COLORS
from bluegreen.config.problems import Problem
from bluegreen.config.reference import reference, with_reference
from bluegreen.config.settings import (
    MAINTENANCE_MESSAGE_MAX,
    CommandHook,
    Maintenance,
    SmokeCheck,
    StackSettings,
    parse_settings,
)
from bluegreen.config.stack_edit import promote, release
from bluegreen.config.stackfile import project_name, read_stack_file, read_text
from bluegreen.config.tls import pair_problems, read_certificate
from bluegreen.engine.client import DockerClient
from bluegreen.engine.host import host_problem, resolve
from bluegreen.engine.names import deployment_name
from bluegreen.env import HOOK_DEFINITION_ENV, HOOK_IMAGE_ENV, OBSERVED_ENV, SMOKE_ENV, WEBHOOK_ENV
from bluegreen.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    BluegreenError,
    ImageStoreError,
    SettingsError,
    StackFileError,
)
from bluegreen.images.pinning import IMAGE_ID_PATTERN
from bluegreen.images.store import ImageStore
from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.release.hooks import remove_run, run_hook
from bluegreen.release.metrics import as_json, as_prometheus
from bluegreen.release.notify import post
from bluegreen.release.rollout import event_line, run_rollout, steer
from bluegreen.release.status import deployment_status
from bluegreen.release.switch import SwitchReport, apply_plan, rollback, set_maintenance
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.files import router_files, seed_files
from bluegreen.router.layout import LOCAL_PORTS
from bluegreen.router.seed import seed_routing_volume


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


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    stack_file = Path(args.stack_file)
    project_file = Path(args.project_file)
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


def _deployment(args: argparse.Namespace) -> str:
    return deployment_name(args.project, args.stack)


def _read_plan(source: str, stdin: TextIO) -> object:
    """The plan JSON from a file or stdin; StackFileError names what is wrong with it."""
    name = "stdin" if source == "-" else source
    text = stdin.read() if source == "-" else read_text(Path(source), "plan")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackFileError(f"plan {name}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc


def _print_report(args: argparse.Namespace, report: SwitchReport, out: TextIO) -> None:
    if args.json:
        json.dump(dataclasses.asdict(report), out)
        out.write("\n")
    else:
        out.write(report.line() + "\n")


def _checked_plan(args: argparse.Namespace, err: TextIO) -> RoutingPlan | None:
    """The plan of --plan, for this deployment; None (the reason on stderr) when it is refused."""
    try:
        plan = parse_plan(_read_plan(args.plan, sys.stdin))
    except SettingsError as exc:
        for p in exc.problems:
            err.write(f"plan: {p.line()}\n")
        err.write("plan refused; routing unchanged\n")
        return None
    label = _deployment(args)
    if plan.deployment != label:
        err.write(f"plan: deployment: got {plan.deployment!r}; allowed: {label!r} (from --project and --stack)\n")
        return None
    return plan


def _smoke_checks() -> list[SmokeCheck]:
    """hooks.smoke as the program hands it to the switch (SMOKE_ENV); a CLI switch has none."""
    raw = os.environ.get(SMOKE_ENV)
    if not raw:
        return []
    try:
        return [SmokeCheck.model_validate(item) for item in json.loads(raw)]
    except (json.JSONDecodeError, TypeError, ValidationError) as exc:
        raise StackFileError(f"{SMOKE_ENV}: not a list of smoke checks ({exc})") from exc


def cmd_switch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    label = _deployment(args)
    plan = _checked_plan(args, err)
    if plan is None:
        return EXIT_BAD_INPUT

    def progress(line: str) -> None:
        err.write(f"switch: {line}\n")

    log = progress if args.verbose else None
    return _report_or_fail(
        "switch", label, args, out, err,
        lambda: _on_router(args, label, lambda router, client: apply_plan(
            router, client, plan, source=args.source, wait_drain=not args.no_drain_wait, log=log,
            observed=os.environ.get(OBSERVED_ENV) if args.source == "program" else None, lock_wait=args.wait,
            smoke=_smoke_checks(),
        )),
    )  # fmt: skip


def cmd_rollout(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Walk the plan's analysed steps (what the program's Switch runs when rollout.steps is set), or steer one."""
    label = _deployment(args)
    if args.action in ("promote", "abort"):
        try:
            router = LiveRouter.find(_client(args), label)
            progress = steer(router, args.action, lock_wait=args.wait)
        except BluegreenError as exc:
            err.write(f"rollout {args.action} {label}: {exc}\n")
            return exc.exit_code
        out.write(f"{label}: {args.action} left for the rollout of {progress.get('candidate')} at "
                  f"{progress.get('weight')}%; it acts within one analysis interval\n")  # fmt: skip
        return EXIT_OK
    if args.plan is None:
        err.write("rollout: --plan: got none; allowed: a plan file or - (stdin), or the action promote|abort\n")
        return EXIT_BAD_INPUT
    plan = _checked_plan(args, err)
    if plan is None:
        return EXIT_BAD_INPUT
    webhook = os.environ.get(WEBHOOK_ENV)

    def emit(event: dict[str, object]) -> None:
        out.write(event_line(event) + "\n")
        out.flush()
        if webhook:
            failed = post(webhook, event)
            if failed:
                err.write(f"rollout {label}: warning: the webhook did not take the {event['event']} event ({failed})\n")

    observed = os.environ.get(OBSERVED_ENV) if args.source == "program" else None
    return _report_or_fail(
        "rollout", label, args, err, err,
        lambda: _on_router(args, label, lambda router, client: run_rollout(
            router, client, plan, source=args.source, observed=observed, lock_wait=args.wait, emit=emit,
            smoke=_smoke_checks(),
        )),
    )  # fmt: skip


def cmd_rollback(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    label = _deployment(args)
    return _report_or_fail(
        "rollback", label, args, out, err,
        lambda: _on_router(args, label, lambda router, client: rollback(
            router, client, successes=args.successes, lock_wait=args.wait
        )),
    )  # fmt: skip


def _client(args: argparse.Namespace) -> DockerClient:
    """The engine of `--stack`: its stack file's docker.context or docker.host, overridden by DOCKER_HOST,
    DOCKER_CONTEXT, then --docker-host (bluegreen/docker_host.py)."""
    found = resolve(args.stack, args.docker_host)
    problem = host_problem(found.host)
    if problem:
        raise StackFileError(f"{found.source}: docker host {problem}")
    return DockerClient(found.host, cert_path=found.cert_path)


def _on_router(
    args: argparse.Namespace, deployment: str, run: Callable[[LiveRouter, DockerClient], SwitchReport]
) -> SwitchReport:
    client = _client(args)
    return run(LiveRouter.find(client, deployment), client)


def _report_or_fail(
    verb: str, label: str, args: argparse.Namespace, out: TextIO, err: TextIO, run: Callable[[], SwitchReport]
) -> int:
    """Print the switch report, or the one line saying why nothing changed."""
    try:
        report = run()
    except BluegreenError as exc:
        err.write(f"{verb} {label}: {exc}\n")
        return exc.exit_code
    _print_report(args, report, out)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    label = _deployment(args)
    try:
        status = deployment_status(_client(args), label)
    except BluegreenError as exc:
        err.write(f"status {label}: {exc}\n")
        return exc.exit_code
    for warning in status["warnings"]:
        err.write(f"status {label}: warning: {warning}\n")
    if args.json:
        json.dump(status, out, indent=2)
        out.write("\n")
        return EXIT_OK
    live = status["live"]
    if live.get("configHash") is None:
        out.write(f"{label}: router {status['router']} has no route yet\n")
    else:
        weights = live["weights"]
        versions = live["versions"]
        out.write(
            f"{label}: live "
            + ", ".join(f"{c} {weights[c]}% ({versions[c] or '-'})" for c in COLORS)
            + f"; active {live.get('active') or '-'}; preview {live.get('preview') or '-'}"
            + f"; config {live['configHash']}\n"
        )
        if live.get("maintenance"):
            page = live["maintenance"]
            out.write(f"MAINTENANCE: live answers 503 (Retry-After {page['retryAfterSeconds']}): {page['message']}\n")
        last = status["lastSwitch"]
        note = f": {last['note']}" if last.get("note") else ""
        out.write(f"last switch: {last['source']} at {last['appliedAt']}{note}\n")
        if status.get("rollout"):
            run = status["rollout"]
            out.write(f"ROLLOUT running: {run.get('candidate')} at {run.get('weight')}% since {run.get('since')}\n")
        if status["programPlanHash"] is None:
            out.write("program plan: none applied yet\n")
        elif status["drift"]:
            out.write("DRIFT: live routing differs from the last plan the program applied; `pulumi up` re-applies it\n")
        else:
            out.write("program plan: live\n")
    if status.get("certificate"):
        cert = status["certificate"]
        out.write(f"tls: {cert['subject']} until {cert['notAfter']} (fingerprint {cert['fingerprint']})\n")
    for c in status["containers"]:
        out.write(f"  {c['name']:<40} {c['color'] or '?':<6} {c['version'] or '?':<12} {c['state']:<8} {c['health']}\n")
    return EXIT_OK


def cmd_release(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The idle colour's version in the stack file: the commit a release pull request carries."""
    return _edit_stack(args, out, err, lambda: release(Path(args.stack_file), Path(args.project_file),
                                                      args.version, args.digest))  # fmt: skip


def cmd_promote(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """activeColor and trafficWeight in the stack file: the commit a promotion pull request carries."""
    return _edit_stack(args, out, err, lambda: promote(Path(args.stack_file), Path(args.project_file), args.weight))


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


def cmd_smoke(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """GET a path through a listener from inside the router: needs no open port, no curl on the host."""
    label = _deployment(args)
    port = LOCAL_PORTS[args.listener]  # the listener's plain twin on the router's loopback: TLS or not
    try:
        router = LiveRouter.find(_client(args), label)
        for attempt in range(1, args.tries + 1):
            (answer,) = router.fetch([("127.0.0.1", port, args.path)])
            if answer.status == args.expect:
                out.write(f"{label}: {args.listener} {args.path} answered {answer.status}\n")
                return EXIT_OK
            if attempt < args.tries:
                time.sleep(args.interval)
    except BluegreenError as exc:
        err.write(f"smoke {label}: {exc}\n")
        return exc.exit_code
    err.write(
        f"smoke {label}: {args.listener} {args.path}: got {answer.status or answer.detail} after {args.tries} "
        f"tries; expected {args.expect}\n"
    )
    return EXIT_FAILED


def cmd_metrics(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Per-colour requests, errors and latency of the live listener, from the router's log."""
    label = _deployment(args)
    try:
        found = LiveRouter.find(_client(args), label).metrics(args.window)
    except BluegreenError as exc:
        err.write(f"metrics {label}: {exc}\n")
        return exc.exit_code
    if args.prometheus:
        out.write(as_prometheus(found, label, args.window))
    elif args.json:
        json.dump(as_json(found, args.window), out)
        out.write("\n")
    else:
        out.write(f"{label}: live listener, last {args.window:g}s\n")
        heads = ("requests", "5xx", "err%", "p50ms", "p95ms", "p99ms", "rps")
        widths = (9, 6, 6, 7, 7, 7, 8)
        out.write(f"  {'colour':<6} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)) + "\n")
        for color, m in found.items():
            out.write(
                f"  {color:<6} {m.requests:>9} {m.errors:>6} {m.error_rate_pct:>6.2f} {m.p50_ms:>7.1f} "
                f"{m.p95_ms:>7.1f} {m.p99_ms:>7.1f} {m.rps:>8.2f}\n"
            )
    return EXIT_OK


def cmd_maintenance(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The live listener answers 503 + Retry-After (on), or routes again after a health gate (off)."""
    label = _deployment(args)
    page = Maintenance(enabled=args.state == "on", message=args.message, retry_after_seconds=args.retry_after)
    return _report_or_fail(
        f"maintenance {args.state}", label, args, out, err,
        lambda: _on_router(args, label, lambda router, client: set_maintenance(
            router, client, page, lock_wait=args.wait
        )),
    )  # fmt: skip


def _tls_pair(args: argparse.Namespace, stdin: TextIO) -> tuple[str, str]:
    """Certificate and key from --certificate/--key files, or {"certificate", "key"} JSON on stdin (the program)."""
    if args.stdin:
        try:
            pair = json.loads(stdin.read())
            return str(pair["certificate"]), str(pair["key"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise StackFileError('stdin: expected JSON {"certificate": PEM, "key": PEM}') from None
    if not (args.certificate and args.key):
        raise StackFileError("tls install: give --certificate FILE and --key FILE, or --stdin")
    return read_text(Path(args.certificate), "certificate"), read_text(Path(args.key), "private key")


def cmd_tls_install(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check the pair, then serve it: the next TLS handshake uses it; nothing reloads, no request is dropped."""
    label = _deployment(args)
    certificate, key = _tls_pair(args, sys.stdin)
    problems = pair_problems(certificate, key, where="tls")
    if problems:
        for p in problems:
            err.write(f"tls install {label}: {p.line()}\n")
        err.write(f"tls install {label}: certificate refused; the router still serves the one it had\n")
        return EXIT_BAD_INPUT
    info = read_certificate(certificate)
    try:
        router = LiveRouter.find(_client(args), label)
        router.install_tls(certificate, key, f"g{time.time_ns()}")
    except BluegreenError as exc:
        err.write(f"tls install {label}: {exc}\n")
        return exc.exit_code
    warning = info.expiry_warning(datetime.now(UTC))
    if warning:
        err.write(f"tls install {label}: warning: {warning}\n")
    out.write(
        f"{label}: serving the certificate for {info.subject} (fingerprint {info.fingerprint}, until "
        f"{info.summary()['notAfter']})\n"
    )
    return EXIT_OK


def cmd_hook(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run a preSwitch or postPromote hook in a colour's image (the program's hook resources run this)."""
    label = _deployment(args)
    try:
        if args.hook_command == "remove":
            removed = remove_run(_client(args), label, args.run)
            out.write(f"{label}: removed {removed} hook container(s) of run {args.run}\n")
            return EXIT_OK
        raw = os.environ.get(HOOK_DEFINITION_ENV, "")
        try:
            hook = CommandHook.model_validate_json(raw)
        except ValidationError as exc:
            raise StackFileError(
                f"{HOOK_DEFINITION_ENV}: got {raw[:80]!r}; allowed: a hook as JSON ({exc.errors()[0]['msg']})"
            ) from exc
        image = os.environ.get(HOOK_IMAGE_ENV, "")
        if not re.match(IMAGE_ID_PATTERN, image):
            raise StackFileError(f"{HOOK_IMAGE_ENV}: got {image[:80]!r}; allowed: an image id sha256:<64 hex digits>")

        def say(line: str) -> None:
            err.write(f"hook: {line}\n")

        run = run_hook(_client(args), label, args.stage, args.color, hook, image, say)
    except BluegreenError as exc:
        err.write(f"hook {getattr(args, 'stage', args.hook_command)} {label}: {exc}\n")
        return exc.exit_code
    if run.exit_code is not None:
        out.write("\n".join(f"  | {line}" for line in run.tail) + ("\n" if run.tail else ""))
    out.write(f"{label}: {args.stage} hook {hook.name} {'ok' if run.exit_code == 0 else 'skipped'} ({run.container})\n")
    return EXIT_OK


def cmd_pids_limit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Docker's PidsLimit, which pulumi-docker cannot set (bluegreen.hardening); kept across restarts."""
    if not args.containers or not all(args.containers):
        err.write("pids-limit: CONTAINER: got none; allowed: one or more container names or ids\n")
        return EXIT_BAD_INPUT
    client = DockerClient()
    for name in args.containers:
        try:
            client.request("POST", f"/containers/{urllib.parse.quote(name)}/update", {"PidsLimit": args.limit})
        except BluegreenError as exc:
            err.write(f"pids-limit {name}: {exc}\n")
            return exc.exit_code
        out.write(f"{name}: pids limit {args.limit}\n")
    return EXIT_OK


def cmd_seed_routing(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The router's base config, health script and first routing into its volume (the program runs this)."""
    try:
        seed_routing_volume(DockerClient(), args.image, args.volume, args.user, seed_files())
    except BluegreenError as exc:
        err.write(f"seed-routing {args.volume}: {exc}\n")
        return exc.exit_code
    out.write(f"{args.volume}: seeded {', '.join(sorted(router_files()))} for {args.user}\n")
    return EXIT_OK


def cmd_reference(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.write:
        path = Path(args.write)
        path.write_text(with_reference(read_text(path), str(path)), encoding="utf-8")
        out.write(f"{path}: reference updated\n")
    else:
        out.write(reference() + "\n")
    return EXIT_OK


def _image_store(args: argparse.Namespace) -> ImageStore:
    import boto3  # only the image commands need it; switch and rollback start faster without it

    return ImageStore(boto3.client("s3", endpoint_url=args.endpoint_url), args.bucket, args.prefix)


def cmd_image(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        store = _image_store(args)
        if args.image_command == "push":
            result = store.push(args.ref)
            out.write(f"pushed {result.ref}: {result.size / 1e6:.1f} MB gzip, sha256 {result.sha256}\n")
        elif args.image_command == "promote":
            pointer = store.promote(args.ref, args.env)
            before = pointer["history"][0]["tag"] if pointer["history"] else "nothing"
            out.write(f"{args.env} -> {args.ref} (was {before})\n")
        elif args.image_command == "pull":
            out.write(store.pull(args.ref, args.env) + "\n")
        elif args.image_command == "list":
            for meta in store.tags(args.name):
                out.write(f"{meta['tag']:<24} {meta['sha256'][:12]} {meta['size'] / 1e6:8.1f} MB  {meta['pushedAt']}\n")
        elif args.image_command == "history":
            for entry in store.history(args.name, args.env):
                out.write(f"{entry['promotedAt']}  {entry['tag']:<24} {entry['sha256'][:12]}\n")
    except ImageStoreError as exc:
        err.write(f"image {args.image_command}: {exc}\n")
        return exc.exit_code
    except FileNotFoundError as exc:
        err.write(
            f"image {args.image_command}: {exc.filename or 'docker'}: not installed "
            "(the image commands use the docker CLI)\n"
        )
        return EXIT_BAD_INPUT
    except ValueError as exc:  # botocore refuses a malformed endpoint before any request
        err.write(f"image {args.image_command}: --endpoint-url: {exc}\n")
        return EXIT_BAD_INPUT
    except (BotoCoreError, ClientError) as exc:
        err.write(f"image {args.image_command}: s3://{args.bucket}/{args.prefix}: {exc}\n")
        return EXIT_FAILED
    return EXIT_OK


# --- arguments -------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a refused argument is one line (key, value, what is allowed) and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _seconds_from(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number of seconds within [low, high], or the one-line refusal."""

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"got {text!r}; allowed: seconds from {low:g} to {high:g}")
        return value

    return seconds


_seconds = _seconds_from(0, 3600)
_window = _seconds_from(1, 86400)


def _retry_after(text: str) -> int:
    try:
        return int(Maintenance(retry_after_seconds=int(text)).retry_after_seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: whole seconds from 1 to 86400") from None


def _message(text: str) -> str:
    if len(text) > MAINTENANCE_MESSAGE_MAX:
        raise argparse.ArgumentTypeError(f"got {len(text)} characters; allowed: at most {MAINTENANCE_MESSAGE_MAX}")
    return text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an integer >= 1")
    return value


def _weight(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a share from 1 to 100")
    return value


def _url_path(text: str) -> str:
    if not re.fullmatch(r"/[A-Za-z0-9_./~%?=&-]*", text):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an absolute URL path such as /health/ready")
    return text


def _run_key(text: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{16}", text):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: 16 lowercase hex digits (label bluegreen.hook-run)")
    return text


def _docker_host(text: str) -> str:
    problem = host_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _uid_gid(text: str) -> str:
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: numeric uid:gid, e.g. 101:101")
    return text


def _endpoint_url(text: str) -> str:
    url = urllib.parse.urlsplit(text)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an http:// or https:// URL with a host")
    return text


def _add_store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bucket", required=True, help="S3 bucket")
    parser.add_argument("--prefix", default="images", help="key prefix in the bucket (default: images)")
    parser.add_argument("--endpoint-url", type=_endpoint_url, help="S3-compatible endpoint (default: AWS)")


def _add_stack_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="Pulumi stack name, e.g. dev")
    parser.add_argument(
        "--project",
        default=None,
        help="Pulumi project name (default: the name in ./Pulumi.yaml, else bluegreen)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--docker-host",
        type=_docker_host,
        help="the engine (default: the stack file's docker.host, overridden by DOCKER_HOST, then by this)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bluegreen",
        description="Blue/green deployments on a Docker host: validate config, switch, roll back.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    validate = sub.add_parser(
        "validate",
        help="check a stack file offline with the program's own rules",
        description=(
            "Validate Pulumi.<stack>.yaml with the rules the program applies in `pulumi preview`, "
            "including the policy pack's image pinning (with the pack's default config)."
        ),
    )
    validate.add_argument("stack_file", metavar="STACK_FILE", help="e.g. Pulumi.prod.yaml")
    validate.add_argument(
        "--project-file", default="Pulumi.yaml", help="the project's Pulumi.yaml (default: ./Pulumi.yaml)"
    )
    validate.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    validate.set_defaults(func=cmd_validate)

    switch = sub.add_parser(
        "switch",
        help="apply a routing plan to the live router (health-gated, verified)",
        description="Under the router's lock: gate, publish the new routing state (nginx -t and a reload only "
        "when the router's own config changes), verify it is live. Idempotent. Exit 3: locked by another switch; "
        "exit 4: outcome unknown, run `status`.",
    )
    _add_stack_args(switch)
    switch.add_argument("--plan", required=True, metavar="FILE|-", help="plan JSON (docs/routing.md); - for stdin")
    switch.add_argument("--source", default="cli", choices=["cli", "program"], help="who applies it (program = Pulumi)")
    switch.add_argument("--no-drain-wait", action="store_true", help="return once live; do not wait for old workers")
    switch.add_argument(
        "--wait", type=_seconds, default=60.0, help="seconds to wait for another switch's lock (default 60)"
    )
    switch.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    switch.set_defaults(func=cmd_switch)

    rollout = sub.add_parser(
        "rollout",
        help="apply a plan through its analysed steps (rollout.steps), or promote/abort the running rollout",
        description="Each step is a gated switch, judged on the router's log every analysis interval; failure "
        "aborts to the stable colour at 100%%. Events are JSON lines on stdout (and to $BLUEGREEN_WEBHOOK_URL). "
        "`promote` skips the remaining analysis, `abort` stops it; both under the router's lock.",
    )
    rollout.add_argument("action", nargs="?", choices=["promote", "abort"], help="steer a running rollout")
    _add_stack_args(rollout)
    rollout.add_argument("--plan", metavar="FILE|-", help="plan JSON (docs/routing.md); - for stdin")
    rollout.add_argument("--source", default="cli", choices=["cli", "program"], help="who applies it")
    rollout.add_argument("--wait", type=_seconds, default=60.0, help="seconds to wait for another switch's lock")
    rollout.set_defaults(func=cmd_rollout)

    roll = sub.add_parser(
        "rollback",
        help="send 100%% of traffic to the idle colour (health-gated)",
        description="Emergency rollback outside Pulumi; the next `pulumi up` notices and re-applies its plan.",
    )
    _add_stack_args(roll)
    roll.add_argument("--successes", type=_positive_int, default=1, help="probe successes per container (default 1)")
    roll.add_argument(
        "--wait", type=_seconds, default=10.0, help="seconds to wait for another switch's lock (default 10)"
    )
    roll.set_defaults(func=cmd_rollback)

    image = sub.add_parser(
        "image",
        help="images without a registry: push, promote, pull via S3",
        description="Images as gzip'd docker-save tarballs in an S3-compatible bucket (docs/images.md).",
    )
    image_sub = image.add_subparsers(dest="image_command", required=True, metavar="IMAGE_COMMAND")
    push = image_sub.add_parser("push", help="stream docker save NAME:TAG into the bucket (tags are immutable)")
    push.add_argument("ref", metavar="NAME:TAG")
    promote = image_sub.add_parser("promote", help="point an environment at NAME:TAG (atomic, with history)")
    promote.add_argument("ref", metavar="NAME:TAG")
    promote.add_argument("--env", required=True)
    pull = image_sub.add_parser("pull", help="download, verify sha256, docker load; prints NAME:TAG last")
    pull.add_argument("ref", metavar="NAME|NAME:TAG", help="NAME with --env (the pointer), or NAME:TAG")
    pull.add_argument("--env", help="pull what this environment points at")
    listing = image_sub.add_parser("list", help="the tags of an image")
    listing.add_argument("name", metavar="NAME")
    history = image_sub.add_parser("history", help="what an environment pointed at, newest first")
    history.add_argument("name", metavar="NAME")
    history.add_argument("--env", required=True)
    for each in (push, promote, pull, listing, history):
        _add_store_args(each)
    image.set_defaults(func=cmd_image)

    ref = sub.add_parser("reference", help="print the configuration reference (docs/configuration.md)")
    ref.add_argument("--write", metavar="FILE", help="replace the reference between its markers in FILE instead")
    ref.set_defaults(func=cmd_reference)

    rel = sub.add_parser(
        "release",
        help="set the idle colour's version in a stack file (the change a release pull request commits)",
    )
    rel.add_argument("stack_file", metavar="STACK_FILE", help="e.g. Pulumi.prod.yaml")
    rel.add_argument("--version", required=True, help="the image tag to release, e.g. 1.5.0")
    rel.add_argument("--digest", help="sha256:... to pin it by (registry images); unset removes a stale one")
    rel.add_argument("--project-file", default="Pulumi.yaml", help="the project's Pulumi.yaml")
    rel.set_defaults(func=cmd_release)
    prom = sub.add_parser(
        "promote",
        help="move traffic in a stack file: to the idle colour, or a running canary to --weight",
    )
    prom.add_argument("stack_file", metavar="STACK_FILE", help="e.g. Pulumi.prod.yaml")
    prom.add_argument("--weight", type=_weight, default=100, help="the new colour's share, 1-100 (default 100)")
    prom.add_argument("--project-file", default="Pulumi.yaml", help="the project's Pulumi.yaml")
    prom.set_defaults(func=cmd_promote)

    smoke = sub.add_parser(
        "smoke",
        help="GET a path through the preview (or live) listener from inside the router; exit 1 unless it answers",
    )
    _add_stack_args(smoke)
    smoke.add_argument("--listener", choices=["preview", "live"], default="preview", help="default: preview")
    smoke.add_argument("--path", type=_url_path, default="/health/ready", help="default: /health/ready")
    smoke.add_argument("--expect", type=_positive_int, default=200, help="the status it must answer (default 200)")
    smoke.add_argument("--tries", type=_positive_int, default=10, help="attempts (default 10)")
    smoke.add_argument("--interval", type=_seconds, default=2.0, help="seconds between attempts (default 2)")
    smoke.set_defaults(func=cmd_smoke)

    pids = sub.add_parser(
        "pids-limit",
        help="set a running container's process limit (the program runs this; pulumi-docker has no input for it)",
    )
    pids.add_argument("--limit", type=_positive_int, required=True, help="processes and threads, e.g. 256")
    pids.add_argument("containers", nargs="*", metavar="CONTAINER", help="names or ids")
    pids.set_defaults(func=cmd_pids_limit)

    seed = sub.add_parser(
        "seed-routing",
        help="write the router's base files into its routing volume before it starts (the program runs this)",
    )
    seed.add_argument("--volume", required=True, help="the routing volume")
    seed.add_argument("--image", required=True, help="the router's image (name or id)")
    seed.add_argument("--user", type=_uid_gid, required=True, help="uid:gid the router runs as, e.g. 101:101")
    seed.set_defaults(func=cmd_seed_routing)

    metrics = sub.add_parser(
        "metrics",
        help="per-colour requests, 5xx, error rate and latency of the live listener, from the router's log",
        description="Exact samples from the router's access log over the last --window seconds (on the engine's "
        "clock, ending 1.2 s ago: the log is flushed every second). nginx's own 502/504 count for the colour the "
        "request was routed to.",
    )
    _add_stack_args(metrics)
    metrics.add_argument("--window", type=_window, default=60.0, help="seconds (default 60)")
    metrics.add_argument("--prometheus", action="store_true", help="the Prometheus text exposition format")
    metrics.set_defaults(func=cmd_metrics)

    maint = sub.add_parser(
        "maintenance",
        help="the live listener answers 503 with Retry-After (on), or routes again (off); preview keeps serving",
        description="Published like a switch (no reload); in-flight requests finish. `off` is health-gated. The "
        "next `pulumi up` applies the stack's own `maintenance` setting again.",
    )
    maint.add_argument("state", choices=["on", "off"])
    _add_stack_args(maint)
    maint.add_argument("--message", default=Maintenance().message, type=_message, help="text of the page")
    maint.add_argument(
        "--retry-after", type=_retry_after, default=Maintenance().retry_after_seconds,
        help=f"seconds in the Retry-After header (default {Maintenance().retry_after_seconds})",
    )  # fmt: skip
    maint.add_argument("--wait", type=_seconds, default=10.0, help="seconds to wait for another switch's lock")
    maint.set_defaults(func=cmd_maintenance)

    tls = sub.add_parser("tls", help="the router's certificate")
    tls_sub = tls.add_subparsers(dest="tls_command", required=True, metavar="TLS_COMMAND", parser_class=_Parser)
    install = tls_sub.add_parser(
        "install",
        help="check a certificate and key, then serve them from the next handshake (no reload)",
        description="Rotation: the program runs this with `tls` from stack config; run it by hand to rotate "
        "outside Pulumi (the next `pulumi up` installs the stack's own pair again).",
    )
    _add_stack_args(install)
    install.add_argument("--certificate", metavar="FILE", help="PEM chain, leaf first")
    install.add_argument("--key", metavar="FILE", help="PEM private key")
    install.add_argument("--stdin", action="store_true", help='read {"certificate", "key"} JSON from stdin')
    install.set_defaults(func=cmd_tls_install)

    hook = sub.add_parser("hook", help="run a preSwitch or postPromote hook (the program's hook resources do)")
    hook_sub = hook.add_subparsers(dest="hook_command", required=True, metavar="HOOK_COMMAND", parser_class=_Parser)
    hook_run = hook_sub.add_parser(
        "run",
        help=f"run the hook in ${HOOK_DEFINITION_ENV} (JSON) in a colour's image, once per image and definition",
        description="A one-off container of the colour's first running container: image, environment, network "
        "and limits. It stays, exited, until the hook's next run (docs/database.md).",
    )
    _add_stack_args(hook_run)
    hook_run.add_argument("--stage", required=True, choices=["preSwitch", "postPromote"])
    hook_run.add_argument("--color", required=True, choices=list(COLORS))
    hook_run.set_defaults(func=cmd_hook)
    hook_remove = hook_sub.add_parser("remove", help="remove the containers of one hook run (the resource's delete)")
    _add_stack_args(hook_remove)
    hook_remove.add_argument("--run", required=True, type=_run_key, help="the run key (label bluegreen.hook-run)")
    hook_remove.set_defaults(func=cmd_hook)

    status = sub.add_parser("status", help="live routing, container health, drift from the program's plan")
    _add_stack_args(status)
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "project", "") is None:
            args.project = project_name()
        code: int = args.func(args, out, err)
    except BluegreenError as exc:  # anything a command did not answer itself: still one line
        err.write(f"bluegreen {args.command}: {exc}\n")
        return exc.exit_code
    return code
