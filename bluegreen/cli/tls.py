"""`bluegreen tls install`: check a certificate and key, then serve them from the next handshake."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bluegreen.cli.args import Parser, Subparsers, add_stack_args
from bluegreen.cli.common import client_of, deployment
from bluegreen.config.stackfile import read_text
from bluegreen.config.tls import pair_problems, read_certificate
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_OK, BluegreenError, StackFileError
from bluegreen.router.adapter import LiveRouter


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
    label = deployment(args)
    certificate, key = _tls_pair(args, sys.stdin)
    problems = pair_problems(certificate, key, where="tls")
    if problems:
        for p in problems:
            err.write(f"tls install {label}: {p.line()}\n")
        err.write(f"tls install {label}: certificate refused; the router still serves the one it had\n")
        return EXIT_BAD_INPUT
    info = read_certificate(certificate)
    try:
        router = LiveRouter.find(client_of(args), label)
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


def register(sub: Subparsers) -> None:
    tls = sub.add_parser("tls", help="the router's certificate")
    tls_sub = tls.add_subparsers(dest="tls_command", required=True, metavar="TLS_COMMAND", parser_class=Parser)
    install = tls_sub.add_parser(
        "install",
        help="check a certificate and key, then serve them from the next handshake (no reload)",
        description="Rotation: the program runs this with `tls` from stack config; run it by hand to rotate "
        "outside Pulumi: it holds until `tls` in the stack config changes or the router is replaced.",
    )
    add_stack_args(install)
    install.add_argument("--certificate", metavar="FILE", help="PEM chain, leaf first")
    install.add_argument("--key", metavar="FILE", help="PEM private key")
    install.add_argument(
        "--stdin", action="store_true", help=argparse.SUPPRESS
    )  # the program pipes {"certificate", "key"} JSON
    install.set_defaults(func=cmd_tls_install)
