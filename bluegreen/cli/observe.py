"""Commands that look without changing anything: status, metrics, smoke."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, TextIO

from bluegreen.cli.args import (
    Subparsers,
    add_stack_args,
    http_status,
    ip_address,
    port_number,
    positive_int,
    seconds,
    url_path,
    window,
)
from bluegreen.cli.common import client_of, deployment
from bluegreen.colors import COLORS
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, BluegreenError
from bluegreen.release.exposition import Live, LiveCounters, Scraper, render
from bluegreen.release.metrics import FLUSH_LAG_SECONDS, as_json
from bluegreen.release.status import deployment_status
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.layout import LOCAL_PORTS


def _write_data(status: dict[str, Any], out: TextIO) -> None:
    """The database container and the schema each colour runs on (docs/database.md)."""
    if status.get("database"):
        db = status["database"]
        out.write(f"database: {db['container']} {db['state']}, image {db['image']}, data directory of PostgreSQL "
                  f"{db['dataVersion'] or '?'}\n")  # fmt: skip
    declared = (status.get("schema") or {}).get("colors") or {}
    if any(declared.values()):
        found = status["schema"]
        where = (
            f"schema {found['version']}"
            if found["version"] is not None
            else (f"schema not read ({found['unread']})" if found.get("unread") else "no schema recorded yet")
        )
        out.write(f"{where}; " + ", ".join(f"{c} runs on {declared[c] or 'any'}" for c in COLORS) + "\n")


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    label = deployment(args)
    if args.watch:
        return _watch(args, label, out, err)
    try:
        status = deployment_status(client_of(args), label)
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
            if run.get("staleSeconds") is not None:
                out.write(f"ROLLOUT STALE: {run.get('candidate')} at {run.get('weight')}% since {run.get('since')}; no "
                          f"heartbeat for {run['staleSeconds']:.0f} s, its process is gone: `bluegreen rollout abort` "
                          "aborts it\n")  # fmt: skip
            else:
                out.write(f"ROLLOUT running: {run.get('candidate')} at {run.get('weight')}% since {run.get('since')}\n")
        if status["programPlanHash"] is None:
            out.write("program plan: none applied yet\n")
        elif status.get("held"):
            for what in status["held"].values():
                out.write(f"HELD: {what}; `pulumi up` keeps it until the stack config changes it, "
                          "`bluegreen resume` hands it back\n")  # fmt: skip
        elif status["drift"]:
            out.write("DRIFT: live routing differs from the last plan the program applied; `pulumi up` applies it\n")
        else:
            out.write("program plan: live\n")
    if status.get("certificate"):
        out.write(_certificate_line(status["certificate"]))
    if status.get("apps"):
        joined = ", ".join(f"{app} ({' '.join(hosts)})" for app, hosts in sorted(status["apps"].items()))
        out.write(f"shared router: apps joined: {joined}\n")
    _write_data(status, out)
    out.writelines(_container_line(c) for c in status["containers"])
    return EXIT_OK


def _container_line(c: dict[str, Any]) -> str:
    """One app container or task; a task says which node runs it."""
    node = f"  on {c['node']}" if c.get("node") else ""
    return f"  {c['name']:<40} {c['color'] or '?':<6} {c['version'] or '?':<12} {c['state']:<8} {c['health']}{node}\n"


def _certificate_line(cert: dict[str, Any]) -> str:
    return (
        f"tls: {cert['subject']} from {cert.get('issuer') or '?'} until {cert['notAfter']}, renews from "
        f"{cert.get('renewAfter') or '?'} (fingerprint {cert['fingerprint']})\n"
    )


def _watch(args: argparse.Namespace, label: str, out: TextIO, err: TextIO) -> int:
    """`status --watch`: status and the metrics of the last --window seconds, every second, until q."""
    from bluegreen.cli.watch import watch

    try:
        client = client_of(args)
        router = LiveRouter.find(client, label)
    except BluegreenError as exc:
        err.write(f"status {label}: {exc}\n")
        return exc.exit_code

    def read() -> tuple[dict[str, Any], dict[str, Any]]:
        return deployment_status(client, label), as_json(router.metrics(args.window), args.window)

    watch(read, out)
    return EXIT_OK


def _live_routing(router: LiveRouter) -> Live:
    """Each colour's version and weight in the router's live routing: the labels of the exposition."""
    status = router.snapshot().status
    return Live(dict(status.get("versions") or {}), dict(status.get("weights") or {}))


def _scraper(router: LiveRouter, label: str) -> Scraper:
    """The router's log and live routing as a Scraper reads them (bluegreen.release.exposition)."""
    return Scraper(label, router.live_samples, lambda: _live_routing(router), time.monotonic)


def cmd_metrics(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Per-colour requests, errors and latency of the live listener, from the router's log."""
    label = deployment(args)
    if args.action == "serve":
        return _serve(args, label, err)
    try:
        router = LiveRouter.find(client_of(args), label)
        if args.prometheus:  # the window's requests as totals: what one scrape of `metrics serve` would add
            samples, now = router.live_samples(args.window)
            end = now - FLUSH_LAG_SECONDS
            counters = LiveCounters()
            live = _live_routing(router)
            counters.add((s for s in samples if end - args.window < s.t <= end), live.versions)
            out.write(render(counters, label, live.weights))
            return EXIT_OK
        found = router.metrics(args.window)
    except BluegreenError as exc:
        err.write(f"metrics {label}: {exc}\n")
        return exc.exit_code
    if args.json:
        json.dump(as_json(found, args.window), out)
        out.write("\n")
    else:
        out.write(f"{label}: live listener, last {args.window:g}s\n")
        heads = ("requests", "5xx", "err%", "p50ms", "p95ms", "p99ms", "rps", "matched")
        widths = (9, 6, 6, 7, 7, 7, 8, 8)
        out.write(f"  {'colour':<6} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)) + "\n")
        for color, m in found.items():
            out.write(
                f"  {color:<6} {m.requests:>9} {m.errors:>6} {m.error_rate_pct:>6.2f} {m.p50_ms:>7.1f} "
                f"{m.p95_ms:>7.1f} {m.p99_ms:>7.1f} {m.rps:>8.2f} {m.matched:>8}\n"
            )
    return EXIT_OK


def _serve(args: argparse.Namespace, label: str, err: TextIO) -> int:
    """`metrics serve`: /metrics for Prometheus until Ctrl-C; each scrape reads what the log gained since."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    try:
        scraper = _scraper(LiveRouter.find(client_of(args), label), label)
        scraper.update()  # counting starts now; a router that cannot be found is refused before listening
    except BluegreenError as exc:
        err.write(f"metrics serve {label}: {exc}\n")
        return exc.exit_code

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics")
                return
            body = scraper.scrape().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per scrape would drown the terminal

    try:
        server = ThreadingHTTPServer((args.bind, args.port), Handler)
    except OSError as exc:
        err.write(f"metrics serve {label}: --port {args.port}: cannot listen on {args.bind}:{args.port} "
                  f"({exc.strerror})\n")  # fmt: skip
        return EXIT_BAD_INPUT
    err.write(f"metrics serve {label}: http://{args.bind}:{server.server_port}/metrics (Ctrl-C stops)\n")
    err.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


def cmd_smoke(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """GET a path through a listener from inside the router: needs no open port, no curl on the host."""
    label = deployment(args)
    port = LOCAL_PORTS[args.listener]  # the listener's plain twin on the router's loopback: TLS or not
    try:
        router = LiveRouter.find(client_of(args), label)
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


def register(sub: Subparsers) -> None:
    status = sub.add_parser("status", help="live routing, container health, drift from the program's plan")
    add_stack_args(status)
    status.add_argument(
        "--watch", action="store_true",
        help="a live view refreshed every second: weights, requests/s, errors, p50/p99 with a sparkline, the "
        "rollout, the lock, the last switch (q or Ctrl-C leaves)",
    )  # fmt: skip
    status.add_argument("--window", type=window, default=10.0, help="--watch: seconds of log per figure (default 10)")
    status.set_defaults(func=cmd_status)
    metrics = sub.add_parser(
        "metrics",
        help="per-colour requests, 5xx, error rate and latency of the live listener, from the router's log",
        description="Exact samples from the router's access log over the last --window seconds (on the engine's "
        "clock, ending 1.2 s ago: the log is flushed every second). nginx's own 502/504 count for the colour the "
        "request was routed to.",
    )
    metrics.add_argument(
        "action", nargs="?", choices=["serve"], default=None,
        help="serve: answer Prometheus scrapes on /metrics (counters from when it started) until Ctrl-C",
    )  # fmt: skip
    add_stack_args(metrics)
    metrics.add_argument("--window", type=window, default=60.0, help="seconds (default 60)")
    metrics.add_argument(
        "--prometheus", action="store_true",
        help="the window's requests in the Prometheus text format, once (to scrape, use `metrics serve`)",
    )  # fmt: skip
    metrics.add_argument("--port", type=port_number, default=9108, help="serve: the port (default 9108)")
    metrics.add_argument("--bind", type=ip_address, default="127.0.0.1", help="serve: the address (default 127.0.0.1)")
    metrics.set_defaults(func=cmd_metrics)

    smoke = sub.add_parser(
        "smoke",
        help="GET a path through the preview (or live) listener from inside the router; exit 1 unless it answers",
    )
    add_stack_args(smoke)
    smoke.add_argument("--listener", choices=["preview", "live"], default="preview", help="default: preview")
    smoke.add_argument("--path", type=url_path, default="/health/ready", help="default: /health/ready")
    smoke.add_argument("--expect", type=http_status, default=200, help="the status it must answer (default 200)")
    smoke.add_argument("--tries", type=positive_int, default=10, help="attempts (default 10)")
    smoke.add_argument("--interval", type=seconds, default=2.0, help="seconds between attempts (default 2)")
    smoke.set_defaults(func=cmd_smoke)
