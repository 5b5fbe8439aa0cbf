"""`bluegreen router restart`, the hand-over steps the program runs around a router replacement, and an app's
join to (and leave from) a shared router."""

from __future__ import annotations

import argparse
from typing import TextIO

from bluegreen.cli.args import Parser, Subparsers, add_stack_args
from bluegreen.cli.common import client_of, deployment
from bluegreen.config.router import HOST_NAME
from bluegreen.engine.container_spec import ROUTER_STOP_TIMEOUT
from bluegreen.engine.names import router_net_name
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_OK, BluegreenError
from bluegreen.release import join
from bluegreen.router import handover
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.apps import JoinedApp


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


def cmd_apps(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Join the stack's app to the owner's shared router, or take it out: one checked reload of the owner."""
    label = deployment(args)
    hosts = [h for h in args.hosts.split(",") if h]
    bad = [h for h in hosts if not HOST_NAME.fullmatch(h)]
    if not hosts or bad:
        err.write(f"router {args.router_command} {label}: --hosts: got {args.hosts!r}; allowed: comma-separated "
                  "host names such as shop.example.com\n")  # fmt: skip
        return EXIT_BAD_INPUT
    app = JoinedApp(label, tuple(hosts), join.app_target(router_net_name(label)))
    try:
        owner = LiveRouter.find(client_of(args), args.owner)
        text = (join.join if args.router_command == "join" else join.leave)(owner, app)
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
    for action, text in (("join", "route HOSTS to this stack's router"), ("leave", "stop routing this stack")):
        apps = router_sub.add_parser(
            action,
            help=f"{text} at a shared router (router.join; the program runs it)",
            description="One checked reload of the owner's router, under its lock (docs/edge.md: several apps).",
        )
        add_stack_args(apps)
        apps.add_argument("--owner", required=True, help="the shared router's deployment, e.g. bluegreen-edge")
        apps.add_argument("--hosts", required=True, help="this app's host names, comma-separated")
        apps.set_defaults(func=cmd_apps)
