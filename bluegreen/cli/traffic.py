"""Commands that move traffic on the live router: switch, rollout, rollback, maintenance."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from typing import TextIO

from bluegreen.cli.args import (
    Subparsers,
    add_break_lock,
    add_lock_wait,
    add_stack_args,
    message,
    positive_int,
    retry_after,
    share,
)
from bluegreen.cli.common import checked_plan, client_of, deployment, on_router, report_or_fail, smoke_checks
from bluegreen.cli.rollout_view import RolloutView
from bluegreen.colors import COLORS, other
from bluegreen.config.router import Maintenance
from bluegreen.env import OBSERVED_ENV, WEBHOOK_ENV
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_OK, AbortDecidedError, BluegreenError, SettingsError
from bluegreen.plan.model import parse_plan
from bluegreen.release.live import live_plan, resume, rollback, set_maintenance
from bluegreen.release.notify import Notifier
from bluegreen.release.progress import quiet
from bluegreen.release.rollout import run_rollout, steer
from bluegreen.release.switch import apply_plan
from bluegreen.router.adapter import LiveRouter


def cmd_switch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    label = deployment(args)
    plan = checked_plan(args, err)
    if plan is None:
        return EXIT_BAD_INPUT

    def verbose(line: str) -> None:
        err.write(f"switch: {line}\n")

    progress = verbose if args.verbose else quiet

    return report_or_fail(
        "switch", label, args, out, err,
        lambda: on_router(args, label, lambda router, client: apply_plan(
            router, client, plan, source=args.source, wait_drain=not args.no_drain_wait, progress=progress,
            observed=os.environ.get(OBSERVED_ENV) if args.source == "program" else None, lock_wait=args.wait,
            smoke=smoke_checks(), break_lock=args.break_lock,
        )),
    )  # fmt: skip


def cmd_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The live plan as JSON, with --active and --weight applied: what `switch --plan -` and `rollout --plan -`
    take. Its containers are the ones that run, so a traffic change by hand starts from the truth."""
    label = deployment(args)
    try:
        live = live_plan(LiveRouter.find(client_of(args), label))
    except BluegreenError as exc:
        err.write(f"plan {label}: {exc}\n")
        return exc.exit_code
    if live is None:
        err.write(f"plan {label}: no switch has run yet; the first plan is the program's (`pulumi up`)\n")
        return EXIT_BAD_INPUT
    raw = live.model_dump(mode="json", by_alias=True)
    active = args.active or live.active
    if args.active or args.weight is not None:
        share = args.weight if args.weight is not None else live.weight(active)
        raw.update(active=active, weights={active: share, other(active): 100 - share})
    try:
        plan = parse_plan(raw)
    except SettingsError as exc:
        for problem in exc.problems:
            err.write(f"plan {label}: {problem.line()}\n")
        return EXIT_BAD_INPUT
    out.write(json.dumps(json.loads(plan.canonical()), indent=2, sort_keys=True) + "\n")  # as the router records it
    return EXIT_OK


def cmd_rollout(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Walk the plan's analysed steps (what the program's Switch runs when rollout.steps is set), or steer one."""
    label = deployment(args)
    if args.action in ("promote", "abort"):
        try:
            router = LiveRouter.find(client_of(args), label)
            progress = steer(router, args.action, lock_wait=args.wait, inspector=client_of(args))
        except BluegreenError as exc:
            err.write(f"rollout {args.action} {label}: {exc}\n")
            return exc.exit_code
        if "abortedHere" in progress:
            out.write(f"{label}: the rollout of {progress.get('candidate')} at {progress.get('weight')}% had no "
                      f"heartbeat for {progress['staleSeconds']:g} s (its process is gone): aborted it here\n"
                      f"{progress['abortedHere']}\n")  # fmt: skip
            return EXIT_OK
        out.write(f"{label}: {args.action} left for the rollout of {progress.get('candidate')} at "
                  f"{progress.get('weight')}%; it acts within one analysis interval\n")  # fmt: skip
        return EXIT_OK
    if args.plan is None:
        err.write("rollout: --plan: got none; allowed: a plan file or - (stdin), or the action promote|abort\n")
        return EXIT_BAD_INPUT
    plan = checked_plan(args, err)
    if plan is None:
        return EXIT_BAD_INPUT
    webhook = os.environ.get(WEBHOOK_ENV)
    notifier = Notifier(webhook, lambda line: err.write(f"rollout {label}: warning: {line}\n")) if webhook else None

    view = RolloutView(out, as_json=args.json)

    def emit(event: dict[str, object]) -> None:
        view(event)
        if notifier is not None:
            notifier.send(event)  # from a background thread: the rollout acts first, tells after

    observed = os.environ.get(OBSERVED_ENV) if args.source == "program" else None

    try:
        with _abort_on_signals():
            return report_or_fail(
                "rollout", label, args, err, err,
                lambda: on_router(args, label, lambda router, client: run_rollout(
                    router, client, plan, source=args.source, observed=observed, lock_wait=args.wait, emit=emit,
                    smoke=smoke_checks(),
                )),
            )  # fmt: skip
    finally:
        view.close()
        if notifier is not None:
            notifier.close()


@contextlib.contextmanager
def _abort_on_signals() -> Iterator[None]:
    """SIGTERM or SIGINT (a CI job cancelled, a ctrl-C) during a rollout aborts it to the stable colour.

    The first signal raises where the rollout is (its abort path takes over); any further one is ignored
    so the abort itself finishes.
    """

    def abort(signum: int, _frame: object) -> None:
        for each in (signal.SIGTERM, signal.SIGINT):
            signal.signal(each, signal.SIG_IGN)
        raise AbortDecidedError(f"stopped by {signal.Signals(signum).name}")

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread (a test calling main() from another)
        return
    before = {each: signal.signal(each, abort) for each in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for each, handler in before.items():
            signal.signal(each, handler)


def cmd_rollback(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    label = deployment(args)
    return report_or_fail(
        "rollback", label, args, out, err,
        lambda: on_router(args, label, lambda router, client: rollback(
            router, client, successes=args.successes, lock_wait=args.wait, break_lock=args.break_lock
        )),
    )  # fmt: skip


def cmd_resume(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Hand the routing back to the program: its last applied plan, live again (gated); every hold ends."""
    label = deployment(args)
    return report_or_fail(
        "resume", label, args, out, err,
        lambda: on_router(args, label, lambda router, client: resume(router, client, lock_wait=args.wait)),
    )  # fmt: skip


def cmd_maintenance(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The live listener answers 503 + Retry-After (on), or routes again after a health gate (off)."""
    label = deployment(args)
    page = Maintenance(enabled=args.state == "on", message=args.message, retry_after_seconds=args.retry_after)
    return report_or_fail(
        f"maintenance {args.state}", label, args, out, err,
        lambda: on_router(args, label, lambda router, client: set_maintenance(
            router, client, page, lock_wait=args.wait
        )),
    )  # fmt: skip


def register(sub: Subparsers) -> None:
    _register_plan(sub)
    _register_switch(sub)
    _register_rollout(sub)
    _register_rollback(sub)
    _register_resume(sub)
    _register_maintenance(sub)


def _register_plan(sub: Subparsers) -> None:
    plan = sub.add_parser(
        "plan",
        help="print the live routing plan, with --active/--weight applied: a plan for `switch --plan -`",
        description="Reads the plan the router serves (its containers, edge and rollout settings) and changes "
        "only the traffic, e.g. `bluegreen plan --stack dev --active green --weight 10 | bluegreen switch "
        "--stack dev --plan -`.",
    )
    add_stack_args(plan)
    plan.add_argument("--active", choices=list(COLORS), help="the colour that takes --weight (default: the live one)")
    plan.add_argument("--weight", type=share, help="its share, 0-100 (default: what it has)")
    plan.set_defaults(func=cmd_plan)


def _register_switch(sub: Subparsers) -> None:
    switch = sub.add_parser(
        "switch",
        help="apply a routing plan to the live router (health-gated, verified)",
        description="Under the router's lock: gate, publish the new routing state (nginx -t and a reload only "
        "when the router's own config changes), verify it is live. Idempotent. Exit 3: locked by another switch; "
        "exit 4: outcome unknown, run `status`.",
    )
    add_stack_args(switch)
    switch.add_argument("--plan", required=True, metavar="FILE|-", help="plan JSON (docs/routing.md); - for stdin")
    switch.add_argument(
        "--source", default="cli", choices=["cli", "program"], help=argparse.SUPPRESS
    )  # the program passes `program`
    switch.add_argument("--no-drain-wait", action="store_true", help="return once live; do not wait for old workers")
    add_lock_wait(switch, 60.0)
    switch.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    add_break_lock(switch)
    switch.set_defaults(func=cmd_switch)


def _register_rollout(sub: Subparsers) -> None:
    rollout = sub.add_parser(
        "rollout",
        help="apply a plan through its analysed steps (rollout.steps), or promote/abort the running rollout",
        description="Each step is a gated switch, judged on the router's log every analysis interval; failure "
        "aborts to the stable colour at 100%. Events are one sentence per line on stdout (in a terminal, above a bar "
        "of the step, the weight and the last verdict); --json prints them as JSON lines. Each also goes to "
        "$BLUEGREEN_WEBHOOK_URL. "
        "`promote` skips the remaining analysis, `abort` stops it; both under the router's lock.",
    )
    rollout.add_argument("action", nargs="?", choices=["promote", "abort"], help="steer a running rollout")
    add_stack_args(rollout)
    rollout.add_argument("--plan", metavar="FILE|-", help="plan JSON (docs/routing.md); - for stdin")
    rollout.add_argument("--source", default="cli", choices=["cli", "program"], help=argparse.SUPPRESS)
    add_lock_wait(rollout, 60.0)
    rollout.set_defaults(func=cmd_rollout)


def _register_rollback(sub: Subparsers) -> None:
    roll = sub.add_parser(
        "rollback",
        help="send 100%% of traffic to the idle colour (health-gated)",
        description="Emergency rollback outside Pulumi. `pulumi up` keeps it while activeColor and trafficWeight "
        "stay as they are (a change to them applies over it); `bluegreen resume` hands traffic back.",
    )
    add_stack_args(roll)
    roll.add_argument("--successes", type=positive_int, default=1, help="probe successes per container (default 1)")
    add_lock_wait(roll, 10.0)
    add_break_lock(roll)
    roll.set_defaults(func=cmd_rollback)


def _register_resume(sub: Subparsers) -> None:
    back = sub.add_parser(
        "resume",
        help="hand traffic back to the program: make the plan `pulumi up` last applied live again (health-gated)",
        description="Ends what `pulumi up` keeps of a rollback, a CLI switch or maintenance (docs/reliability.md, "
        "'Emergency state holds'), without running Pulumi.",
    )
    add_stack_args(back)
    add_lock_wait(back, 10.0)
    back.set_defaults(func=cmd_resume)


def _register_maintenance(sub: Subparsers) -> None:
    maint = sub.add_parser(
        "maintenance",
        help="the live listener answers 503 with Retry-After (on), or routes again (off); preview keeps serving",
        description="Published like a switch (no reload); in-flight requests finish. `off` is health-gated. "
        "`pulumi up` keeps it while the stack's `maintenance` setting stays as it is.",
    )
    maint.add_argument("state", choices=["on", "off"])
    add_stack_args(maint)
    maint.add_argument("--message", default=Maintenance().message, type=message, help="text of the page")
    maint.add_argument(
        "--retry-after", type=retry_after, default=Maintenance().retry_after_seconds,
        help=f"seconds in the Retry-After header (default {Maintenance().retry_after_seconds})",
    )  # fmt: skip
    add_lock_wait(maint, 10.0)
    maint.set_defaults(func=cmd_maintenance)
