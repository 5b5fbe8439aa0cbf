"""Commands only the Pulumi program runs (its command resources): kept out of `bluegreen --help`.

Each still answers bad input with one line, since an operator may run one to repair a stack.
"""

from __future__ import annotations

import argparse
import os
import re
import urllib.parse
from typing import TextIO

from pydantic import ValidationError

from bluegreen.cli.args import Parser, Subparsers, add_stack_args, hook_run_key, positive_int, uid_gid
from bluegreen.cli.common import client_of, deployment
from bluegreen.colors import COLORS
from bluegreen.config.hooks import CommandHook
from bluegreen.engine.client import DockerClient
from bluegreen.env import HOOK_DEFINITION_ENV, HOOK_IMAGE_ENV
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_OK, BluegreenError, StackFileError
from bluegreen.images.pinning import IMAGE_ID_PATTERN
from bluegreen.release.hook_jobs import run_hook_for_color
from bluegreen.release.hooks import remove_run
from bluegreen.router.files import router_files, seed_files
from bluegreen.router.seed import seed_routing_volume


def cmd_pids_limit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Docker's PidsLimit, which pulumi-docker cannot set (bluegreen.engine.hardening); kept across restarts."""
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


def cmd_hook(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run a preSwitch or postPromote hook in a colour's image (the program's hook resources run this)."""
    label = deployment(args)
    try:
        if args.hook_command == "remove":
            removed = remove_run(client_of(args), label, args.run)
            out.write(f"{label}: removed {removed} hook container(s) or job(s) of run {args.run}\n")
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

        def progress(line: str) -> None:
            err.write(f"hook: {line}\n")

        run = run_hook_for_color(client_of(args), label, args.stage, args.color, hook, image, progress)
    except BluegreenError as exc:
        err.write(f"hook {getattr(args, 'stage', args.hook_command)} {label}: {exc}\n")
        return exc.exit_code
    if run.exit_code is not None:
        out.write("\n".join(f"  | {line}" for line in run.tail) + ("\n" if run.tail else ""))
    out.write(f"{label}: {args.stage} hook {hook.name} {'ok' if run.exit_code == 0 else 'skipped'} ({run.container})\n")
    return EXIT_OK


def register(sub: Subparsers) -> None:
    pids = sub.add_parser(
        "pids-limit",
        description="set a running container's process limit (the program runs this: pulumi-docker has no input)",
    )
    pids.add_argument("--limit", type=positive_int, required=True, help="processes and threads, e.g. 256")
    pids.add_argument("containers", nargs="*", metavar="CONTAINER", help="names or ids")
    pids.set_defaults(func=cmd_pids_limit)

    seed = sub.add_parser(
        "seed-routing",
        description="write the router's base files into its routing volume before it starts (the program runs this)",
    )
    seed.add_argument("--volume", required=True, help="the routing volume")
    seed.add_argument("--image", required=True, help="the router's image (name or id)")
    seed.add_argument("--user", type=uid_gid, required=True, help="uid:gid the router runs as, e.g. 101:101")
    seed.set_defaults(func=cmd_seed_routing)

    hook = sub.add_parser("hook", description="run a preSwitch or postPromote hook (the program's hook resources do)")
    hook_sub = hook.add_subparsers(dest="hook_command", required=True, metavar="HOOK_COMMAND", parser_class=Parser)
    hook_run = hook_sub.add_parser(
        "run",
        help=f"run the hook in ${HOOK_DEFINITION_ENV} (JSON) in a colour's image, once per image and definition",
        description="A one-off container of the colour's first running container: image, environment, network "
        "and limits. It stays, exited, until the hook's next run (docs/database.md).",
    )
    add_stack_args(hook_run)
    hook_run.add_argument("--stage", required=True, choices=["preSwitch", "postPromote"])
    hook_run.add_argument("--color", required=True, choices=list(COLORS))
    hook_run.set_defaults(func=cmd_hook)
    hook_remove = hook_sub.add_parser("remove", help="remove the containers of one hook run (the resource's delete)")
    add_stack_args(hook_remove)
    hook_remove.add_argument("--run", required=True, type=hook_run_key, help="the run key (label bluegreen.hook-run)")
    hook_remove.set_defaults(func=cmd_hook)
