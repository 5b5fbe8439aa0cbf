"""`make bench`: every claim of the project as a number, next to what users would otherwise get.

One bounded run (a few minutes on 2 cores), traffic only to 127.0.0.1. Writes
bench/results/latest.json and regenerates the table in docs/benchmarks.md.
The machine is shared and noisy, so the claims are counts and ratios measured
side by side in the same run; absolute times are reported for context.

    python -m bench.run [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bench.app_image import build as build_images
from bench.app_image import image_size_mb, sh, start_to_healthy
from bench.edge import edge_apps
from bench.swarm import swarm_nodes
from bluegreen.colors import COLORS, Color, utc_now
from bluegreen.engine.client import DockerClient
from bluegreen.engine.hardening import APP_DEFAULT
from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.release.switch import SwitchReport, apply_plan
from bluegreen.router.adapter import LiveRouter
from lab.images import ROUTER_IMAGE
from lab.paths import ROOT
from lab.prober import BackgroundProbe, ProbeProcess, ProbeStats, probe, run_probe

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
SIZING_DOC = ROOT / "docs" / "rollouts.md"
BASE = "bluegreen-local/python:3.11"
TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"
PLOTS_START = "<!-- bench:plots:start -->"
PLOTS_END = "<!-- bench:plots:end -->"
IMG = ROOT / "docs" / "img"
# Raw series the scenarios keep for the pictures (bench/plots.py): sample times, marks, per-release counts.
SERIES: dict[str, Any] = {}


def points(stats: ProbeStats) -> list[tuple[float, str, int]]:
    """(when it ended, the colour that answered, status; 0 for a connection error) of every request."""
    return [(s.at, s.color or "", s.status) for s in stats.samples]


def failed_in(stats: ProbeStats, windows: Sequence[tuple[float, float]]) -> list[int]:
    """Failed requests (an error, or a 5xx) that ended within each window."""
    return [sum(1 for s in stats.samples if start <= s.at < end and (s.status == 0 or s.status >= 500))
            for start, end in windows]  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@contextmanager
def lab(app_image: str, name: str = "bench") -> Iterator[Any]:
    from lab.deployment import two_colors  # the same deployment the integration tests build

    with two_colors(name, app_image) as stack:
        yield stack


def plan_for(stack: Any, green: int, active: str = "green") -> Any:
    """Green gets `green`%; `active` says which colour is the one promoted to (rollback returns to the other)."""
    raw = stack.plan(active, green if active == "green" else 100 - green)
    raw["drainSeconds"] = 5
    return parse_plan(raw)


def switcher(stack: Any) -> Callable[[RoutingPlan], SwitchReport]:
    """apply_plan on the stack's router, as the CLI and Pulumi's Switch run it."""
    client = DockerClient()
    router = LiveRouter.find(client, stack.deployment)
    return lambda plan: apply_plan(router, client, plan)


# --- scenarios ----------------------------------------------------------------------------


def switch_under_load(stack: Any, flips: int) -> dict[str, Any]:
    """Full flips (and canary steps between them) under 32 keep-alive clients."""
    switch = switcher(stack)
    switches = 0
    switch(plan_for(stack, 0))  # routed before the first client connects
    reloaded = stack.reloads()
    green = 0
    flips_at: list[tuple[float, float, str]] = []  # (switch start, next switch start, new colour)
    with BackgroundProbe(stack.url(), settle_seconds=0.5) as load:
        for i in range(flips):
            target = 100 if green == 0 else 0
            started = time.monotonic()
            switch(plan_for(stack, target))
            switches += 1
            time.sleep(0.6)  # let the clients show where traffic went
            flips_at.append((started, time.monotonic(), "green" if target == 100 else "blue"))
            green = target
            if i % 4 == 3:  # a canary step now and then
                switch(plan_for(stack, 10 if green == 0 else 90))
                switch(plan_for(stack, green))
                switches += 2
    stats = load.stats
    first_ms: list[float] = []
    full_ms: list[float] = []
    for started, until, color in flips_at:
        first, full = stats.first_at(color, started, until), stats.all_from(color, started, until)
        if first is not None and full is not None:
            first_ms.append((first - started) * 1000)
            full_ms.append((full - started) * 1000)
    SERIES["full_ms"] = full_ms
    return {
        "requests": stats.requests,
        "failed": stats.failed,
        "failed_by": failure_breakdown(stats),
        "retried": stats.retried,
        "switches": switches,
        "reloads": stack.reloads() - reloaded,
        "flips_measured": len(full_ms),
        "first_ms_p50": round(statistics.median(first_ms), 1),
        "full_ms_p50": round(statistics.median(full_ms), 1),
        "full_ms_p99": round(pct(full_ms, 99), 1),
    }


def timeline(stack: Any) -> dict[str, Any]:
    """A canary, a promotion and an operator's rollback under never-retrying clients: the timeline picture."""
    switch = switcher(stack)
    switch(plan_for(stack, 0))
    marks: list[tuple[float, str]] = []
    with BackgroundProbe(stack.url(), connections=8, retry=False, settle_seconds=0.5) as load:
        t0 = time.monotonic()
        time.sleep(1.5)
        for label, plan in (("canary: green 10%", plan_for(stack, 10)), ("promote: green 100%", plan_for(stack, 100))):
            marks.append((time.monotonic(), label))
            switch(plan)
            time.sleep(2.5)
        marks.append((time.monotonic(), "rollback (CLI): blue 100%"))
        done = stack.cli("rollback")
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        time.sleep(2.5)
    SERIES["timeline"] = {"samples": points(load.stats), "marks": marks, "t0": t0}
    return {"requests": load.stats.requests, "failed": load.stats.failed}


def failure_breakdown(stats: ProbeStats) -> dict[str, int]:
    """Why requests failed: HTTP statuses and connection errors, so a non-zero count explains itself."""
    found = {f"http_{s.status}": 0 for s in stats.samples if s.status not in (0, 200)}
    for s in stats.samples:
        if s.status not in (0, 200):
            found[f"http_{s.status}"] += 1
    return {**found, **dict(stats.errors)}


def rollback_time(stack: Any, runs: int) -> dict[str, Any]:
    """`python -m bluegreen rollback` as an operator runs it, to 100% on the idle colour."""
    switch = switcher(stack)
    samples: list[float] = []
    windows: list[tuple[float, float, str]] = []
    with ProbeProcess(stack.url(), connections=8, settle_seconds=0.5) as load:
        for i in range(runs):
            live = "blue" if i % 2 == 0 else "green"
            switch(plan_for(stack, 0 if live == "blue" else 100, active=live))
            idle = "green" if live == "blue" else "blue"
            started = time.monotonic()
            done = stack.cli("rollback")
            if done.returncode != 0:
                raise RuntimeError(done.stderr)
            time.sleep(0.5)
            windows.append((started, time.monotonic(), idle))
    for started, until, idle in windows:
        full = load.stats.all_from(idle, started, until)
        if full is not None:
            samples.append((full - started) * 1000)
    return {"ms": round(statistics.median(samples), 1), "ms_max": round(max(samples), 1), "runs": len(samples),
            "failed": load.stats.failed}  # fmt: skip


def crash_loop_rollback(stack: Any) -> dict[str, Any]:
    """A promoted release whose containers crash-loop, rolled back: the CLI's wall time, then never-retrying load
    from the moment it returned (every request must be the idle colour's). Breaks green: run it last.

    The load starts after the rollback: requests routed to the crash loop meanwhile may hang up to nginx's
    connect timeout, which would hold a background prober's round past any bound worth waiting for."""
    switch = switcher(stack)
    switch(plan_for(stack, 100, active="green"))
    stack.crash_loop("green")  # the release dies at start, again and again
    started = time.monotonic()
    done = stack.cli("rollback")
    cli_ms = (time.monotonic() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    after = run_probe(stack.url(), 3, 8, retry=False)
    return {"cli_ms": round(cli_ms, 1), "requests_after": after.requests, "failed_after": after.failed,
            "colors_after": dict(after.colors())}  # fmt: skip


def no_retry(stack: Any, switches: int, releases: int) -> dict[str, Any]:
    """Clients that never resend anything (GETs and POST /echo) through flips, canary steps and releases.

    A release is what `pulumi up` does to the idle colour: new containers of a
    new version come up healthy, the switch points at them, the old ones stop.
    """
    switch = switcher(stack)
    switch(plan_for(stack, 0))
    reloaded = stack.reloads()
    canaries = released = release_reloads = 0
    live_ms: list[float] = []
    green = 0
    every = max(1, switches // max(1, releases))
    release_windows: list[tuple[float, float]] = []
    flips: list[tuple[float, float, str]] = []
    with ProbeProcess(stack.url(), retry=False, post_every=4, settle_seconds=0.5) as load:
        for i in range(switches):
            idle = "green" if green == 0 else "blue"
            if i % every == 0 and released < releases:
                release_started = time.monotonic()
                old = list(stack.containers[idle])
                stack.containers[idle] = []
                stack.add(idle, f"3.{released}.0", 2)
                stack.wait_healthy()
                before = stack.reloads()
                switch(plan_for(stack, green))  # new targets: their keep-alive groups come with one reload
                release_reloads += stack.reloads() - before
                for name in old:
                    sh("docker", "stop", "-t", "5", name)
                    sh("docker", "rm", "-f", name)
                released += 1
                release_windows.append((release_started, time.monotonic()))
            elif i % 5 == 4:
                switch(plan_for(stack, 10 if green == 0 else 90))
                canaries += 1
            else:
                target = 100 if green == 0 else 0
                started = time.monotonic()
                switch(plan_for(stack, target))
                time.sleep(0.4)
                flips.append((started, time.monotonic(), "green" if target == 100 else "blue"))
                green = target
    stats = load.stats
    for started, until, color in flips:
        full = stats.all_from(color, started, until)
        if full is not None:
            live_ms.append((full - started) * 1000)
    SERIES["live_ms"] = live_ms
    SERIES["bluegreen_failed"] = failed_in(stats, release_windows)
    return {
        "requests": stats.requests,
        "posts": sum(1 for s in stats.samples if s.method == "POST"),
        "failed": stats.failed,
        "failed_by": failure_breakdown(stats),
        "misrouted": stats.misrouted,
        "switches": switches,
        "canary_steps": canaries,
        "releases": released,
        "release_reloads": release_reloads,
        "traffic_reloads": stack.reloads() - reloaded - release_reloads,
        "live_ms_p50": round(statistics.median(live_ms), 1),
        "live_ms_p99": round(pct(live_ms, 99), 1),
    }


def switch_results(stack: Any, quick: bool) -> dict[str, Any]:
    """`switch.*`: the retrying clients' run, then `switch.no_retry.*`; live times from the latter."""
    results = switch_under_load(stack, flips=8 if quick else 16)
    strict = no_retry(stack, switches=20 if quick else 40, releases=2 if quick else 5)
    live = {key: strict.pop(key) for key in ("live_ms_p50", "live_ms_p99")}
    return {**results, **live, "no_retry": strict}


def restarts(stack: Any) -> dict[str, Any]:
    """Responses whose app colour differs from the router's while an app container and the router restart."""
    switcher(stack)(plan_for(stack, 50))
    with BackgroundProbe(stack.url(), retry=False, settle_seconds=1.0) as load:
        for color in ("blue", "green"):
            sh("docker", "restart", "-t", "2", stack.containers[color][0])
        stack.wait_healthy()
        sh("docker", "restart", "-t", "2", stack.router.name)
        wait_http(stack.url() + "/health/ready")
        time.sleep(1.0)
    stats = load.stats
    return {"requests": stats.requests, "misrouted": stats.misrouted, "failed": stats.failed,
            "restarted": "2 app containers, the router"}  # fmt: skip


def router_handover(stack: Any, restarts: int, replacements: int) -> dict[str, Any]:
    """Never-retrying GETs and POSTs while the router is restarted (`bluegreen router restart`) and replaced
    through the program (router.cpus, applied by the test engine); beside a plain `docker restart` under the
    same load, the gap every other tool in this field has."""
    from bluegreen.router import handover
    from lab.engine import destroy, up

    client = DockerClient()
    switcher(stack)(plan_for(stack, 0))
    with BackgroundProbe(stack.url(), retry=False, post_every=2, settle_seconds=0.5) as plain:
        sh("docker", "restart", "-t", "30", stack.router.name)
        wait_http(stack.url() + "/health/ready")
        time.sleep(0.5)
    marks: list[tuple[float, str]] = []  # when each hand-over began: a failed request names the one it fell in
    with BackgroundProbe(stack.url(), retry=False, post_every=2, settle_seconds=0.5) as restarted:
        for i in range(restarts):
            marks.append((time.monotonic(), f"restart {i + 1}"))
            handover.restart(client, stack.deployment, 30)
        restarted.keep_until(10_000)
    ports = {"router.port": 18482, "router.previewPort": 18483}
    url = f"http://127.0.0.1:{ports['router.port']}"
    destroy("dev")
    try:
        started = time.monotonic()
        up("dev", ports)  # the dev stack from nothing, and a flip: what `e2e.*` reports
        deploy = time.monotonic() - started
        started = time.monotonic()
        up("dev", {**ports, "activeColor": "green"})
        flip = time.monotonic() - started
        with BackgroundProbe(url, retry=False, post_every=2, settle_seconds=0.5) as replaced:
            for i in range(replacements):
                marks.append((time.monotonic(), f"replacement {i + 1}"))
                up("dev", {**ports, "activeColor": "green", "router.cpus": 1 if i % 2 == 0 else 0.5})
            replaced.keep_until(10_000)
    finally:
        destroy("dev")

    total = ProbeStats()
    total.merge(restarted.stats)
    total.merge(replaced.stats)
    return {
        "requests": total.requests,
        "posts": sum(1 for x in total.samples if x.method == "POST"),
        "failed": total.failed,
        "failed_by": failure_breakdown(total),
        "failed_at": failed_at(total, marks),
        "restarts": restarts,
        "program_replacements": replacements,
        "plain_restart_requests": plain.stats.requests,
        "plain_restart_failed": plain.stats.failed,
        "e2e": {"deploy_s": round(deploy, 2), "flip_s": round(flip, 2)},  # main() reports these as `e2e.*`
    }


def failed_at(stats: ProbeStats, marks: Sequence[tuple[float, str]]) -> list[str]:
    """Each failed request as "<the hand-over it fell in> +<seconds after it began>: <status> <method>"."""
    found = []
    for s in stats.samples:
        if s.status == 0 or s.status >= 500:
            began = [(at, what) for at, what in marks if at <= s.at]
            where = f"{began[-1][1]} +{s.at - began[-1][0]:.2f}s" if began else "before the first"
            found.append(f"{where}: {s.status or 'no answer'} {s.method}")
    return found[:10]


def baseline_release(app_image: str, releases: int) -> dict[str, Any]:
    """A release the way a plain pulumi-docker program does it: one container, fixed name and port, replaced."""
    name, port = "bluegreen-bench-baseline", 18390

    def run_container(version: str) -> None:
        sh("docker", "run", "-d", "--name", name, "--label", "bluegreen.test=1", "-p", f"127.0.0.1:{port}:8000",
           "-e", f"APP_VERSION={version}", "-e", "APP_COLOR=blue", app_image)  # fmt: skip

    sh("docker", "rm", "-f", name, check=False)
    run_container("1.0.0")
    wait_http(f"http://127.0.0.1:{port}/health/ready")
    unavailable: list[float] = []
    windows: list[tuple[float, float]] = []
    with BackgroundProbe(f"http://127.0.0.1:{port}", settle_seconds=0.5) as load:
        for i in range(releases):
            started = time.monotonic()
            # Fixed name and host port: the old container must go before the new one can exist.
            sh("docker", "rm", "-f", name)
            run_container(f"1.0.{i + 1}")
            wait_http(f"http://127.0.0.1:{port}/health/ready")
            time.sleep(1.0)
            down = [s.at for s in load.stats.samples if s.at >= started and s.status != 200]
            unavailable.append((max(down) - min(down)) if down else 0.0)
            windows.append((started, time.monotonic()))
    sh("docker", "rm", "-f", name, check=False)
    SERIES["baseline_failed"] = failed_in(load.stats, windows)
    return {
        "requests": load.stats.requests,
        "failed": load.stats.failed,
        "failed_by": failure_breakdown(load.stats),
        "releases": releases,
        "unavailable_s": round(statistics.median(unavailable), 2),
    }


def wait_http(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready within {timeout}s")


def wrk(url: str, seconds: int) -> dict[str, float]:
    out = sh("wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url, timeout=seconds + 60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def latency(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        assert match is not None, out
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    return {"rps": rps, "p50_ms": latency("50"), "p99_ms": latency("99")}


def router_overhead(stack: Any, seconds: int) -> dict[str, Any]:
    """The same load against one app container directly, through a plain proxy and through the router.

    The router sends a colour's requests to its alias, which names every container of the colour: the
    others are stopped (a paused one would still be named) so that all three paths end at one app process."""
    target, others = stack.containers["blue"][0], stack.containers["blue"][1:]
    raw = stack.plan("blue")
    raw["colors"]["blue"]["containers"] = [target]
    raw["colors"]["green"]["containers"] = []  # nothing on the preview: only the live path is measured
    switcher(stack)(parse_plan(raw))
    if others:
        sh("docker", "stop", "-t", "2", *others)
        time.sleep(3)  # the router re-resolves (every 2 s: valid=1s and nginx's second) and forgets them
    try:
        return _three_paths(stack, target, seconds)
    finally:
        if others:
            sh("docker", "start", *others)
            stack.wait_healthy()


def _three_paths(stack: Any, target: str, seconds: int) -> dict[str, Any]:
    direct_name = "bluegreen-bench-direct"
    sh("docker", "rm", "-f", direct_name, check=False)
    # A twin of the routed container, published directly: same image, limits and env.
    image = sh("docker", "inspect", "-f", "{{.Config.Image}}", target)
    sh("docker", "run", "-d", "--name", direct_name, "--label", "bluegreen.test=1", "--memory", "256m",
       *APP_DEFAULT.docker_run_args(), "-e", "APP_COLOR=blue", "-p", "127.0.0.1:18391:8000", image)  # fmt: skip
    wait_http("http://127.0.0.1:18391/health/ready")
    tool = "wrk" if shutil.which("wrk") else "prober"
    plain = plain_proxy(stack, target)
    paths = {"router": (stack.url(), [direct_name, plain]), "plain": ("http://127.0.0.1:18392", [direct_name]),
             "direct": ("http://127.0.0.1:18391", [target, plain])}  # fmt: skip
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    try:
        # One path at a time, the others paused (none steals CPU from the one measured), in alternating
        # rounds: a burst of load from elsewhere on this shared machine falls on all three, not on one.
        for _ in range(ROUNDS):
            for name, (url, paused) in paths.items():
                sh("docker", "pause", *paused)
                rounds[name].append(measure(tool, url, max(1, seconds // ROUNDS)))
                sh("docker", "unpause", *paused)
    finally:
        sh("docker", "rm", "-f", direct_name, plain, check=False)
    routed, plain_rps, direct = (
        {key: statistics.mean(r[key] for r in rounds[name]) for key in ("rps", "p50_ms", "p99_ms")} for name in paths
    )
    return {
        "tool": tool,
        "direct_rps": round(direct["rps"]),
        "router_rps": round(routed["rps"]),
        "plain_proxy_rps": round(plain_rps["rps"]),
        "rps_ratio": round(routed["rps"] / direct["rps"], 3),
        "rps_vs_plain_proxy": round(routed["rps"] / plain_rps["rps"], 3),
        "p50_added_ms": round(routed["p50_ms"] - direct["p50_ms"], 2),
        "p99_added_ms": round(routed["p99_ms"] - direct["p99_ms"], 2),
    }


ROUNDS = 3  # router_overhead: each path measured in this many alternating rounds

PLAIN_PROXY_CONF = """\
worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr notice;
events { worker_connections 4096; }
http {
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    access_log /dev/stdout combined buffer=32k flush=1s;
    upstream app { server TARGET:8000; keepalive 32; }
    server {
        listen 8080;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
"""


def plain_proxy(stack: Any, target: str) -> str:
    """The least any reverse proxy costs: the router's own image, CPU and memory, on its network, with one
    static upstream (kept alive) and an access log, and no routing decision at all."""
    name = "bluegreen-bench-plain-proxy"
    sh("docker", "rm", "-f", name, check=False)
    limits = json.loads(sh("docker", "inspect", "-f", "{{json .HostConfig}}", stack.router.name))
    conf = RESULTS / "plain-proxy.conf"
    RESULTS.mkdir(parents=True, exist_ok=True)
    conf.write_text(PLAIN_PROXY_CONF.replace("TARGET", target))
    conf.chmod(0o644)
    sh("docker", "run", "-d", "--name", name, "--label", "bluegreen.test=1", "--network", stack.network,
       "--user", "101:101", "--read-only", "--tmpfs", "/tmp", "--cpus", f"{(limits.get('NanoCpus') or 0) / 1e9 or 2:g}",
       "--memory", str(limits.get("Memory") or 256 * 1024 * 1024), "-p", "127.0.0.1:18392:8080",
       "-v", f"{conf}:/bench/nginx.conf:ro", "--entrypoint", "nginx", ROUTER_IMAGE, "-c", "/bench/nginx.conf",
       "-g", "daemon off;")  # fmt: skip
    wait_http("http://127.0.0.1:18392/health/ready")
    return name


def measure(tool: str, url: str, seconds: int) -> dict[str, float]:
    if tool == "wrk":
        return wrk(url + "/", seconds)
    stats = asyncio.run(probe(url, seconds, 32))
    lat = stats.latencies()
    return {"rps": stats.requests / seconds, "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000}


def tls_at_the_router(stack: Any, seconds: int, rotations: int) -> dict[str, Any]:
    """HTTPS against HTTP through the same router, same client and load; then rotations under HTTPS load.

    Both listeners route to the same single colour. `rps_ratio` uses keep-alive
    connections (how browsers and load balancers talk); `new_connection_rps_ratio`
    opens a connection per request, so every request pays a full handshake and the
    certificate read that makes rotation reload-free.
    """
    import trustme

    from bluegreen.router.layout import TLS_PORT
    from lab.dockercli import Container
    from lab.tls import client_context, issue_pem

    ca = trustme.CA()
    context = client_context(ca)
    router = LiveRouter.find(DockerClient(), stack.deployment)

    def install() -> None:
        chain, key, _ = issue_pem(ca)
        router.install_tls(chain, key, f"g{time.time_ns()}")

    install()
    raw = stack.plan("blue")
    raw["tls"] = {"port": Container(stack.net).host_port(TLS_PORT), "redirectHttp": False}
    switcher(stack)(parse_plan(raw))
    https = stack.https_url()

    def rps(url: str, reconnect: int) -> float:
        stats = run_probe(url, seconds, 32, tls=context, reconnect_every=reconnect)
        return stats.requests / seconds if stats.failed == 0 else 0.0

    plain_keepalive, secure_keepalive = rps(stack.url(), 0), rps(https, 0)
    plain_new, secure_new = rps(stack.url(), 1), rps(https, 1)
    before = stack.reloads()
    with BackgroundProbe(https, connections=16, tls=context, reconnect_every=5, settle_seconds=1) as load:
        for _ in range(rotations):
            install()
            time.sleep(0.3)
    stats, after = load.stats, stack.reloads()
    switcher(stack)(plan_for(stack, 0, active="blue"))
    return {
        "http_rps": round(plain_keepalive),
        "https_rps": round(secure_keepalive),
        "rps_ratio": round(secure_keepalive / plain_keepalive, 3) if plain_keepalive else 0.0,
        "new_connection_rps_ratio": round(secure_new / plain_new, 3) if plain_new else 0.0,
        "rotations": rotations,
        "rotation_requests": stats.requests,
        "rotation_failed": stats.failed,  # errors are samples with no status: counted here too
        "rotation_reloads": after - before,
    }


FAULTS = {"APP_FAULT_ALLOW": "1"}  # the lab runs the production profile; faults are refused there otherwise


def acme_at_the_router(stack: Any, renewals: int) -> dict[str, Any]:
    """A certificate issued by pebble, then renewed, under never-retrying HTTPS load (tls.acme, docs/edge.md)."""
    import ssl
    import tempfile

    import trustme

    from bluegreen.router.layout import LIVE_PORT, TLS_PORT
    from lab.dockercli import Container
    from lab.pebble import missing, pebble
    from lab.tls import issue_pem

    reason = missing()
    if reason:
        return {"skipped": reason}
    router = LiveRouter.find(DockerClient(), stack.deployment)
    chain, key, _ = issue_pem(trustme.CA())
    router.install_tls(chain, key, f"g{time.time_ns()}")  # something to serve before the first order
    raw = stack.plan("blue")
    raw["tls"] = {"port": Container(stack.net).host_port(TLS_PORT), "redirectHttp": False}
    switcher(stack)(parse_plan(raw))
    anyone = ssl.create_default_context()
    anyone.check_hostname, anyone.verify_mode = False, ssl.CERT_NONE  # pebble's root changes every run
    issue_s: list[float] = []
    renew_failed = 0
    with (
        tempfile.TemporaryDirectory() as folder,
        pebble(Container(stack.net).host_port(LIVE_PORT), pathlib.Path(folder)) as ca,
    ):
        acme = json.dumps(ca.acme(["shop.bluegreen.test"]))
        with BackgroundProbe(stack.https_url(), connections=16, retry=False, tls=anyone, reconnect_every=5) as load:
            for i in range(1 + renewals):
                started = time.monotonic()
                done = stack.cli("tls", "renew", "--stdin", *(["--force"] if i else []), stdin=acme, timeout=180)
                issue_s.append(time.monotonic() - started)
                renew_failed += done.returncode != 0
            load.keep_until(2000)
    switcher(stack)(plan_for(stack, 0, active="blue"))
    return {"issue_s": round(issue_s[0], 2), "renew_s_max": round(max(issue_s[1:] or [0]), 2),
            "renewals": renewals, "renew_failed": renew_failed, "requests": load.stats.requests,
            "failed": load.stats.failed}  # fmt: skip


def canary_analysis(app_image: str, quiet_runs: int, sizing_runs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Automated canary analysis on a real router, with the stack defaults (docs/rollouts.md), no rule overridden.

    A lab of its own: blue 1.0.0 (stable), green 2.0.0 answering 20% 500s, green 2.1.0 healthy; one step of
    10% for 30 s, the docs' example. At 100 requests/s: how fast a bad canary is caught while its webhook
    misbehaves three ways. At 5 requests/s (0.5 a second for the canary): a real bad canary and a real healthy
    one, whose request times then drive `sizing_runs` simulated steps per traffic level through the product's
    own step judgement (bench/canary_sizing.py): docs/rollouts.md's sizing table.
    """
    from bench.canary_sizing import sizing
    from bluegreen.errors import RolloutAbortedError
    from bluegreen.release.metrics import percentile
    from bluegreen.release.notify import Notifier
    from bluegreen.release.rollout import Emit, run_rollout
    from lab.deployment import Stack
    from lab.webhook import KINDS as WEBHOOK_KINDS
    from lab.webhook import misbehaving_webhook, webhook_url

    stack = Stack("bench-canary", app_image)
    stack.up()
    try:
        blue = stack.add("blue", "1.0.0")
        bad = stack.add("green", "2.0.0", env={**FAULTS, "APP_FAULT_ERROR_RATE": "0.2"})
        good = stack.add("green", "2.1.0")
        stack.wait_healthy()
        client = DockerClient()
        router = LiveRouter.find(client, stack.deployment)
        rollout = {"steps": [{"weight": 10, "pauseSeconds": 30}]}

        def target(green: list[str], deadline: float | None = None) -> RoutingPlan:
            deadline_of = {"progressDeadlineSeconds": deadline} if deadline else {}
            raw = stack.plan("green", 100, rollout={**rollout, **deadline_of})
            raw["colors"]["blue"] = {"version": "1.0.0", "containers": blue}
            raw["colors"]["green"] = {"version": "2.1.0" if green == good else "2.0.0", "containers": green}
            return parse_plan(raw)

        aborts: list[str] = []

        def reset(green: list[str]) -> None:
            raw = target(green).model_dump(mode="json", by_alias=True)
            apply_plan(router, client, parse_plan({**raw, "active": "blue", "weights": {"blue": 100, "green": 0}}))

        def attempt(green: list[str], deadline: float | None = None, emit: Emit | None = None) -> tuple[bool, float]:
            """One rollout: whether it promoted (the reason of an abort is kept), and its step's seconds to that."""
            reset(green)
            began: list[float] = []

            def events(event: dict[str, Any]) -> None:
                if event["event"] == "step":
                    began.append(time.monotonic())
                if emit is not None:
                    emit(event)

            try:
                run_rollout(router, client, target(green, deadline), emit=events)
            except RolloutAbortedError as exc:
                aborts.append(str(exc))
                return False, time.monotonic() - began[0]
            return True, time.monotonic() - began[0]

        # A bad canary at 100 requests/s, its webhook misbehaving three ways: from green's first request to its last.
        detect_by: dict[str, float | None] = {}
        caught, bad_served = True, 0
        with misbehaving_webhook() as base:
            for kind in WEBHOOK_KINDS:
                reset(bad)
                notifier = Notifier(webhook_url(base, kind), lambda _line: None)
                seen: list[tuple[float, str, str]] = []
                weights: list[tuple[float, int]] = []

                def told(
                    event: dict[str, Any],
                    notify: Any = notifier.send,
                    seen: list[tuple[float, str, str]] = seen,
                    weights: list[tuple[float, int]] = weights,
                ) -> None:
                    now, kind_of = time.monotonic(), str(event["event"])
                    if kind_of in ("step", "aborted", "promoted"):
                        weights.append((now, 0 if kind_of == "aborted" else int(event.get("weight") or 0)))
                    said = str(event.get("verdict") or kind_of)
                    seen.append((now, kind_of, said if kind_of != "aborted" else "abort: back to 0%"))
                    notify(event)

                with BackgroundProbe(stack.url(), connections=4, rate=100, settle_seconds=1) as load:
                    t0 = time.monotonic()
                    caught = not attempt(bad, emit=told)[0] and caught
                notifier.close(timeout=1)
                if "abort" not in SERIES:
                    SERIES["abort"] = {"samples": points(load.stats), "events": seen, "t0": t0,
                                       "weights": [(t0, 0), *weights]}  # fmt: skip
                green = [s for s in load.stats.samples if s.color == "green"]
                bad_served += sum(1 for s in green if s.status >= 500)
                detect_by[kind] = round(green[-1].at - green[0].at, 2) if green else None
        found = [v for v in detect_by.values() if v is not None]
        detect = max(found) if len(found) == len(detect_by) else None
        # No traffic: every judgement is inconclusive, and a deadline of one interval ends the step.
        quiet = sum(attempt(good, deadline=6)[0] for _ in range(quiet_runs))

        # 5 requests/s, the canary at 10%: half a request a second for it.
        aborts.clear()
        with BackgroundProbe(stack.url(), connections=2, rate=5):
            low_bad_promoted, low_bad_s = attempt(bad)
            low_bad_reason = aborts[-1] if aborts else None
            low_good_promoted, low_good_s = attempt(good)
            samples, _ = router.live_samples(low_good_s + 5)
        latencies: dict[Color, Sequence[float]] = {
            c: [s.seconds for s in samples if s.color == c and s.path != target(good).health_path] for c in COLORS
        }
        table = sizing([1, 2, 5, 20, 100], sizing_runs, latencies)
        five = next(row for row in table if row["rps"] == 5)
        analysis = {
            "bad_caught": caught,
            "detect_s": detect,
            "detect_s_by_webhook": detect_by,
            "bad_served": bad_served,
            "no_traffic_runs": quiet_runs,
            "no_traffic_promotions": quiet,
            "low_traffic": {
                "bad_aborted": not low_bad_promoted,
                "bad_abort_s": None if low_bad_promoted else round(low_bad_s, 1),
                "bad_reason": low_bad_reason,
                "healthy_promoted": low_good_promoted,
                "healthy_pass_s": round(low_good_s, 1),
                "latency_samples": {c: len(v) for c, v in latencies.items()},
                "simulated_runs": sizing_runs,
                "simulated_false_aborts": five["false_aborts"],
                "simulated_bad_within_60s": five["bad_aborted_within_60s"],
            },
            "sizing": table,
        }
        # The router's counts against a client's, over 10,000 requests split between the two colours.
        apply_plan(router, client, target(good).model_copy(update={"weights": with_weights(50)}))
        time.sleep(2)
        stats = run_probe(stack.url(), 120, 8, max_requests=10_000, retry=False)
        time.sleep(1.5)
        counted = router.metrics(stats.samples[-1].at - stats.samples[0].at + 3)
        by_client = {c: [s for s in stats.samples if s.color == c] for c in ("blue", "green")}
        count_error = max(abs(counted[c].requests - len(by_client[c])) for c in ("blue", "green"))
        client_p99 = percentile([s.latency * 1000 for s in by_client["blue"]], 99)
        metrics = {
            "requests": stats.requests,
            "count_error": count_error,
            "p99_router_ms": round(counted["blue"].p99_ms, 1),
            "p99_client_ms": round(client_p99, 1),
            # The router's figure is the app's time ($upstream_response_time): the client's adds the router's hop
            # and its own socket, so the gap is small and never negative.
            "p99_gap_ms": round(client_p99 - counted["blue"].p99_ms, 1),
        }
        return analysis, metrics
    finally:
        stack.down()


def hook_runs(stack: Any, runs: int) -> dict[str, Any]:
    """What a preSwitch hook adds to a release: a one-off container of a colour's image, run to its exit.

    Each run has a new definition (its timeout), so each is a real run; then the same definition again,
    which the runner skips. The command is a bare interpreter start, so the figure is the runner's cost.
    """
    from bluegreen.config.hooks import CommandHook
    from bluegreen.release.hooks import run_hook

    client = DockerClient()
    image = sh("docker", "inspect", "-f", "{{.Image}}", stack.containers["green"][0])
    ran: list[float] = []
    for i in range(runs):
        hook = CommandHook(name="bench", command=["python", "-c", "pass"], timeout_seconds=60 + i)
        started = time.monotonic()
        run_hook(client, stack.deployment, "preSwitch", "green", hook, image)
        ran.append(time.monotonic() - started)
    skipped: list[float] = []
    for _ in range(runs):
        started = time.monotonic()
        again = run_hook(client, stack.deployment, "preSwitch", "green", hook, image)
        skipped.append(time.monotonic() - started)
        if again.exit_code is not None:
            raise RuntimeError("the same hook ran again for the same image and definition")
    sh("docker", "rm", "-f", f"{stack.deployment}-hook-preswitch-bench", check=False)
    return {"run_s": round(statistics.median(ran), 2), "run_s_max": round(max(ran), 2),
            "skip_ms": round(statistics.median(skipped) * 1000, 1), "runs": runs}  # fmt: skip


def with_weights(green: int) -> Any:
    from bluegreen.plan.model import Weights

    return Weights(blue=100 - green, green=green)


def weight_accuracy(stack: Any, per_weight: int) -> dict[str, Any]:
    switch = switcher(stack)
    errors: dict[str, float] = {}
    for green in (1, 10, 50, 90, 99):
        switch(plan_for(stack, green))
        stats = run_probe(stack.url(), 60, connections=16, max_requests=per_weight)
        observed = 100 * stats.colors()["green"] / max(stats.requests, 1)
        errors[str(green)] = round(abs(observed - green), 2)
    return {"max_abs_error_pct": max(errors.values()), "by_weight": errors, "requests_per_weight": per_weight}


def machine() -> dict[str, Any]:
    info = json.loads(sh("docker", "info", "--format", "{{json .}}"))
    nginx = subprocess.run(  # nginx -v prints to stderr
        ["docker", "run", "--rm", "bluegreen-local/nginx:1.30", "nginx", "-v"], capture_output=True, text=True,
        check=False,
    ).stderr.strip()  # fmt: skip
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "docker": info.get("ServerVersion"),
        "storage_driver": info.get("Driver"),
        "nginx": nginx.split("/")[-1] if nginx else "?",
        "date": utc_now(),
    }


# --- the report ---------------------------------------------------------------------------

GOALS: list[tuple[str, str, Callable[[Any], bool]]] = [
    ("switch.failed", "0 failed requests", lambda v: v == 0),
    ("switch.reloads", "no nginx reload", lambda v: v == 0),
    ("switch.full_ms_p99", "switch p99 < 500 ms", lambda v: v < 500),
    ("switch.no_retry.failed", "0 failed, clients never retry", lambda v: v == 0),
    ("switch.no_retry.traffic_reloads", "no nginx reload for a traffic change", lambda v: v == 0),
    ("switch.no_retry.misrouted", "0 misrouted", lambda v: v == 0),
    ("switch.live_ms_p99", "live p99 < 300 ms", lambda v: v < 300),
    ("restarts.misrouted", "0 misrouted", lambda v: v == 0),
    ("rollback.ms", "rollback < 600 ms", lambda v: v < 600),
    ("rollback.crash_loop.cli_ms", "rollback from a crash loop < 1 s of CLI time", lambda v: v < 1000),
    ("rollback.crash_loop.failed_after", "0 failed once the idle colour serves", lambda v: v == 0),
    ("edge.apps", "at least 2 apps behind one router", lambda v: v >= 2),
    ("edge.failed", "0 failed, never-retrying, both apps, each switched", lambda v: v == 0),
    ("edge.cross_app_failed", "0 failed on one app while the other switches", lambda v: v == 0),
    ("swarm.failed", "0 failed, swarm mode, never-retrying: releases and a drain", lambda v: v == 0),
    ("swarm.rollback_ms", "swarm rollback < 1.5 s", lambda v: v < 1500),
    ("swarm.replacement_s", "killed task's replacement serves <= 10 s", lambda v: v <= 10),
    ("swarm.multinode.nodes", "at least 3 nodes", lambda v: v >= 3),
    ("swarm.multinode.task_nodes", "each colour's tasks on >= 2 nodes", lambda v: v >= 2),
    ("swarm.multinode.failed", "0 failed, never-retrying, over flips and rollbacks", lambda v: v == 0),
    ("swarm.multinode.drain_failed", "0 failed while a worker is drained", lambda v: v == 0),
    ("swarm.multinode.node_loss_live_tasks", "the worker that loses power runs a live task", lambda v: v >= 1),
    ("swarm.multinode.node_loss_failed", "<= 16 (one per client) when a worker loses power", lambda v: v <= 16),
    ("router.rps_vs_plain_proxy", "router throughput >= 0.9 of a plain nginx proxy", lambda v: v >= 0.9),
    ("router.handover.requests", ">= 20,000 never-retried GETs and POSTs", lambda v: v >= 20_000),
    ("router.handover.failed", "0 failed across 5 router replacements and restarts", lambda v: v == 0),
    ("weights.max_abs_error_pct", "weight error <= 1 point", lambda v: v <= 1),
    ("tls.rotation_failed", "0 failed across certificate rotations", lambda v: v == 0),
    ("acme.renew_failed", "0 failed orders (pebble)", lambda v: v == 0),
    ("acme.failed", "0 failed requests while issued and renewed", lambda v: v == 0),
    ("analysis.detect_s", "bad canary back to 0% <= 15 s, webhook misbehaving", lambda v: v is not None and v <= 15),
    ("analysis.low_traffic.bad_abort_s", "bad canary at 5 req/s aborted <= 60 s", lambda v: v is not None and v <= 60),
    ("analysis.low_traffic.healthy_promoted", "healthy canary at 5 req/s promoted", lambda v: v is True),
    ("analysis.low_traffic.simulated_false_aborts", "0 of 100 healthy 5 req/s steps aborted", lambda v: v == 0),
    ("analysis.no_traffic_promotions", "0 promotions without evidence", lambda v: v == 0),
    ("metrics.count_error", "router counts = client counts", lambda v: v == 0),
    ("metrics.p99_gap_ms", "client p99 - router p99 (the app's time) within 0-5 ms", lambda v: 0 <= v <= 5),
    ("tls.rotation_reloads", "no nginx reload", lambda v: v == 0),
    ("image.reduction", "image >= 50% smaller than naive", lambda v: v >= 0.5),
    ("app.start_to_healthy_s", "start to healthy <= 2 s (hardened)", lambda v: v <= 2),
]


def flat(results: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key not in ("by_weight", "failed_by"):
            out.update(flat(value, name + "."))
        else:
            out[name] = value
    return out


def render_table(results: dict[str, Any]) -> str:
    values = flat(results)
    lines = ["| key | value | goal | met |", "| --- | --- | --- | --- |"]
    goals = {key: (text, ok) for key, text, ok in GOALS}
    for key, value in values.items():
        if key.startswith("machine.") or key == "analysis.sizing":  # the sizing table is docs/rollouts.md's
            continue
        goal, met = "", ""
        if key in goals:
            goal = goals[key][0]
            met = "yes" if goals[key][1](value) else "**no**"
        shown = json.dumps(value) if isinstance(value, dict) else value
        lines.append(f"| `{key}` | {shown} | {goal} | {met} |")
    m = results["machine"]
    lines.append("")
    lines.append(f"Machine: {m['cores']} cores, Docker {m['docker']} ({m['storage_driver']}), "
                 f"nginx {m['nginx']}, Python {m['python']}; run {m['date']}.")  # fmt: skip
    return "\n".join(lines)


def write_doc(results: dict[str, Any], plots: dict[str, str]) -> None:
    from bench.canary_sizing import render
    from bench.plots import markdown

    _write_between(DOC, render_table(results))
    _write_between(DOC, markdown(plots, results["machine"]["date"]), PLOTS_START, PLOTS_END)
    low = results["analysis"]["low_traffic"]
    _write_between(SIZING_DOC, render(results["analysis"]["sizing"], (
        f"Measured by `make bench` ({results['machine']['date'][:10]}): each row is {low['simulated_runs']} "
        f"simulated steps per kind through the product's own judgement, with the request times of a real 5 "
        f"requests/s canary ({low['latency_samples']['blue']} stable and {low['latency_samples']['green']} "
        "candidate requests through the router); the real runs are in [benchmarks.md](benchmarks.md) "
        "(`analysis.low_traffic.*`)."
    )))  # fmt: skip


def _write_between(doc: pathlib.Path, table: str, begin: str = TABLE_START, finish: str = TABLE_END) -> None:
    text = doc.read_text()
    start, end = text.index(begin) + len(begin), text.index(finish)
    doc.write_text(text[:start] + "\n" + table + "\n" + text[end:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, not for the docs)")
    args = parser.parse_args()
    quick = args.quick
    started = time.monotonic()

    def step(name: str) -> None:
        print(f"bench: {name} ({time.monotonic() - started:.0f}s)", file=sys.stderr, flush=True)

    results: dict[str, Any] = {"machine": machine()}
    step("images")
    app_image, naive = build_images(BASE)
    size, naive_size = image_size_mb(app_image), image_size_mb(naive)
    results["image"] = {"size_mb": round(size, 1), "naive_size_mb": round(naive_size, 1),
                        "reduction": round(1 - size / naive_size, 3)}  # fmt: skip
    step("start to healthy")
    samples = [start_to_healthy(app_image) for _ in range(2 if quick else 5)]
    results["app"] = {"start_to_ready_s": round(statistics.median(s[0] for s in samples), 2),
                      "start_to_healthy_s": round(statistics.median(s[1] for s in samples), 2)}  # fmt: skip
    with lab(app_image) as stack:
        step("switch under load, then clients that never retry")
        results["switch"] = switch_results(stack, quick)
        step("rollback")
        results["rollback"] = rollback_time(stack, runs=3 if quick else 5)
        step("timeline: a canary, a promotion and a rollback")
        results["timeline"] = timeline(stack)
        step("weights")
        results["weights"] = weight_accuracy(stack, per_weight=3000 if quick else 8000)
        step("restarts")
        results["restarts"] = restarts(stack)
        step("router hand-over")
        handover = router_handover(stack, restarts=2 if quick else 3, replacements=1 if quick else 2)
        results["e2e"] = handover.pop("e2e")  # the dev stack deployed from nothing and flipped, on the way
        results["router"] = {"handover": handover}
        step("router overhead")
        results["router"].update(router_overhead(stack, seconds=6 if quick else 12))
        step("tls")
        results["tls"] = tls_at_the_router(stack, seconds=3 if quick else 5, rotations=10)
        step("acme")
        results["acme"] = acme_at_the_router(stack, renewals=1 if quick else 2)
        step("hooks")
        results["hooks"] = hook_runs(stack, runs=3 if quick else 5)
        step("rollback from a crash-looping release")
        results["rollback"]["crash_loop"] = crash_loop_rollback(stack)
    step("canary analysis")
    results["analysis"], results["metrics"] = canary_analysis(app_image, quiet_runs=2, sizing_runs=20 if quick else 100)
    step("baseline")
    results["baseline"] = baseline_release(app_image, releases=2 if quick else 3)
    step("several apps behind one router")
    results["edge"] = edge_apps(switches=2 if quick else 3, seconds=2 if quick else 3)
    step("swarm, three nodes")
    results["swarm"] = swarm_nodes(flips=2, rollbacks=2)
    results["bench_s"] = round(time.monotonic() - started, 1)

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    if not quick:
        from bench.plots import draw

        step("plots")
        write_doc(results, draw(SERIES, results, IMG))
    print(render_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
