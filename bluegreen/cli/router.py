"""`bluegreen router restart`, and the hand-over steps the program runs around a router replacement."""

from __future__ import annotations

import argparse
from typing import TextIO

from bluegreen.cli.args import Parser, Subparsers, add_stack_args
from bluegreen.cli.common import client_of, deployment
from bluegreen.engine.container_spec import ROUTER_STOP_TIMEOUT
from bluegreen.errors import EXIT_OK, BluegreenError
from bluegreen.router import handover


def cmd_router(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    label = deployment(args)
    client = client_of(args)
    try:
        if args.router_command == "restart":
            text = handover.restart(client, label, ROUTER_STOP_TIMEOUT)
        elif args.step == "prepare":
            text = handover.prepare(client, label, ROUTER_STOP_TIMEOUT)
        elif args.step == "begin":
            text = handover.begin(client, label)
        else:
            text = handover.end(client, label, ROUTER_STOP_TIMEOUT)
    except BluegreenError as exc:
        err.write(f"router {args.router_command} {label}: {exc}\n")
        return exc.exit_code
    out.write(text + "\n")
    return EXIT_OK


def register(sub: Subparsers) -> None:
    router = sub.add_parser("router", help="the router container: restart it without dropping a request")
    router_sub = router.add_subparsers(dest="router_command", required=True, metavar="ROUTER_COMMAND",
                                       parser_class=Parser)  # fmt: skip
    restart = router_sub.add_parser(
        "restart",
        help="restart the router while a bridge router serves its ports (docs/routing.md: router hand-over)",
        description="A bridge router starts beside the router in its network namespace, the router restarts "
        "gracefully, and once it is healthy the bridge drains and goes: no request is lost.",
    )
    add_stack_args(restart)
    restart.set_defaults(func=cmd_router)
    step = router_sub.add_parser(
        "handover", description="begin or end a router hand-over (the program runs these around a replacement)"
    )
    add_stack_args(step)
    step.add_argument("step", choices=["prepare", "begin", "end"])
    step.set_defaults(func=cmd_router)
