"""Argument types and argument groups every command family shares: a refusal is one line naming the value."""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
import urllib.parse
from collections.abc import Callable
from typing import NoReturn, TypeAlias

from bluegreen.config.router import MAINTENANCE_MESSAGE_MAX, Maintenance
from bluegreen.engine.host import RESOLUTION_ORDER, host_problem
from bluegreen.errors import EXIT_BAD_INPUT
from bluegreen.images.pinning import IMAGE_ID_PATTERN
from bluegreen.images.store import endpoint_problem

# What each family's `register` adds its commands to.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class Parser(argparse.ArgumentParser):
    """argparse, but a refused argument is one line (key, value, what is allowed) and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def seconds_from(low: float, high: float) -> Callable[[str], float]:
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


seconds = seconds_from(0, 3600)


window = seconds_from(1, 86400)


def retry_after(text: str) -> int:
    try:
        return int(Maintenance(retry_after_seconds=int(text)).retry_after_seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: whole seconds from 1 to 86400") from None


def message(text: str) -> str:
    if len(text) > MAINTENANCE_MESSAGE_MAX:
        raise argparse.ArgumentTypeError(f"got {len(text)} characters; allowed: at most {MAINTENANCE_MESSAGE_MAX}")
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an integer >= 1")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a TCP port 1-65535 (0: any free port)")
    return value


def ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an IPv4 or IPv6 address such as 127.0.0.1") from None


def http_status(text: str) -> int:
    """An argparse type: an HTTP status code a server can answer, 100-599."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 100 <= value <= 599:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an HTTP status, 100-599")
    return value


def _share_from(low: int) -> Callable[[str], int]:
    """An argparse type: a colour's share of the live traffic, `low` to 100."""

    def share(text: str) -> int:
        value = int(text) if text.isdigit() else -1
        if not low <= value <= 100:
            raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a share from {low} to 100")
        return value

    return share


weight = _share_from(1)  # a promotion's: the colour it moves to gets some of the traffic
share = _share_from(0)  # a plan's: 0 is none of it


def url_path(text: str) -> str:
    if not re.fullmatch(r"/[A-Za-z0-9_./~%?=&-]*", text):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an absolute URL path such as /health/ready")
    return text


def hook_run_key(text: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{16}", text):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: 16 lowercase hex digits (label bluegreen.hook-run)")
    return text


def docker_host(text: str) -> str:
    problem = host_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def uid_gid(text: str) -> str:
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: numeric uid:gid, e.g. 101:101")
    return text


def endpoint_url(text: str) -> str:
    url = urllib.parse.urlsplit(text)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an http:// or https:// URL with a host")
    return text


def image_id(text: str) -> str:
    if not re.match(IMAGE_ID_PATTERN, text):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an image id sha256:<64 hex digits>")
    return text


def check_endpoint(args: argparse.Namespace) -> str | None:
    """--endpoint-url against the image store's rule (http only to loopback, or with --allow-http)."""
    if not args.endpoint_url:
        return None
    problem = endpoint_problem(args.endpoint_url, args.allow_http)
    return f"--endpoint-url: got {args.endpoint_url!r}; allowed: {problem}" if problem else None


def add_store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bucket", required=True, help="S3 bucket")
    parser.add_argument("--prefix", default="images", help="key prefix in the bucket (default: images)")
    parser.add_argument("--endpoint-url", type=endpoint_url, help="S3-compatible endpoint (default: AWS)")
    parser.add_argument(
        "--allow-http", action="store_true",
        help="accept a plain http:// endpoint that is not a loopback address (anyone on the path can swap images)",
    )  # fmt: skip


def add_lock_wait(parser: argparse.ArgumentParser, default: float) -> None:
    parser.add_argument(
        "--wait", type=seconds, default=default,
        help=f"seconds to wait for another switch's lock (default {default:g})",
    )  # fmt: skip


def add_break_lock(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--break-lock",
        action="store_true",
        help="remove the router's switch lock whoever holds it (a holder killed mid-switch); the report names it",
    )


def add_stack_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="Pulumi stack name, e.g. dev")
    parser.add_argument(
        "--project",
        default=None,
        help="Pulumi project name (default: the name in ./Pulumi.yaml, else bluegreen)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--docker-host",
        type=docker_host,
        help=f"the engine: {RESOLUTION_ORDER}",
    )
