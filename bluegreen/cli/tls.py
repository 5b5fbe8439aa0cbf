"""`bluegreen tls install` and `tls renew`: check or order a certificate, then serve it from the next handshake."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from bluegreen.cli.args import Parser, Subparsers, add_stack_args
from bluegreen.cli.common import client_of, deployment
from bluegreen.config.problems import problems_from_validation_error
from bluegreen.config.settings import parse_settings
from bluegreen.config.stackfile import read_stack_file, read_text
from bluegreen.config.tls import RENEW_DAYS_BEFORE, Acme, pair_problems, read_certificate
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_OK, AcmeError, BluegreenError, SettingsError, StackFileError
from bluegreen.release.acme import issue, renewal_reason
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


def _acme_settings(args: argparse.Namespace, stdin: TextIO) -> Acme:
    """tls.acme from the stack file (Pulumi.<stack>.yaml beside --stack-file), or as JSON on stdin (the program)."""
    if args.stdin:
        try:
            return Acme.model_validate_json(stdin.read())
        except ValidationError as exc:
            raise SettingsError(problems_from_validation_error(exc, Acme)) from None
    path = Path(args.stack_file or f"Pulumi.{args.stack}.yaml")
    config = read_stack_file(path, path.parent / "Pulumi.yaml")
    settings = parse_settings(config.raw, config.stack, config.secret_paths)
    if settings.tls is None or settings.tls.acme is None:
        raise StackFileError(
            f"{path}: tls.acme is not set; nothing to renew (tls install serves a certificate you have)"
        )
    return settings.tls.acme


def cmd_tls_renew(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Order a certificate when the served one is due (or --force), then serve it: no reload, nothing dropped."""
    label = deployment(args)
    try:
        acme = _acme_settings(args, sys.stdin)
        router = LiveRouter.find(client_of(args), label)
        pem = router.snapshot().certificate
        served = read_certificate(pem) if pem else None
        reason = renewal_reason(served, acme, datetime.now(UTC)) or ("--force" if args.force else None)
        if reason is None and served is not None:
            out.write(f"{label}: {served.subject} is good until {served.summary()['notAfter']}; renews from "
                      f"{served.summary()['renewAfter']}\n")  # fmt: skip
            return EXIT_OK
        err.write(f"tls renew {label}: ordering a certificate for {', '.join(acme.hosts)} ({reason})\n")
        issued = issue(acme, router)
        problems = pair_problems(issued.certificate, issued.key, where="tls.acme")
        if problems:
            raise AcmeError(f"the issued certificate is not usable ({problems[0].line()}); the served one is kept")
        router.install_tls(issued.certificate, issued.key, f"g{time.time_ns()}")
    except BluegreenError as exc:
        err.write(f"tls renew {label}: {exc}\n")
        return exc.exit_code
    info = read_certificate(issued.certificate)
    out.write(
        f"{label}: serving the certificate for {info.subject} from {info.issuer} (fingerprint {info.fingerprint}, "
        f"until {info.summary()['notAfter']}, issued in {issued.seconds:.1f}s)\n"
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
    renew = tls_sub.add_parser(
        "renew",
        help="with tls.acme: order a certificate when the served one is due, and serve it (no reload)",
        description=f"Due: no certificate served, a host of tls.acme.hosts missing from it, or fewer than "
        f"{RENEW_DAYS_BEFORE} days left. Run it daily (docs/edge.md shows a systemd timer); a failed order "
        "keeps the served certificate and exits non-zero.",
    )
    add_stack_args(renew)
    renew.add_argument("--stack-file", metavar="FILE", help="the stack file with tls.acme (default Pulumi.STACK.yaml)")
    renew.add_argument("--force", action="store_true", help="order a new certificate even when none is due")
    renew.add_argument("--stdin", action="store_true", help=argparse.SUPPRESS)  # the program pipes tls.acme as JSON
    renew.set_defaults(func=cmd_tls_renew)
