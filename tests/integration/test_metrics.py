"""`bluegreen metrics` against a real router: its counts are the client's counts, its 5xx include nginx's own.

One deployment for the module (2 blue + 2 green); traffic only to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bluegreen.release.metrics import percentile
from lab.deployment import Stack
from lab.dockercli import Container, docker
from lab.paths import ROOT
from lab.prober import BackgroundProbe, enough, run_probe
from tests.support.dockergate import need

pytestmark = pytest.mark.docker
LAB_NAME = "metrics"  # the deployment the module's `stack` fixture builds (conftest.py)


def metrics(stack: Stack, window: float) -> dict[str, Any]:
    time.sleep(1.5)  # nginx flushes its access log every second
    done = stack.cli("metrics", "--json", "--window", f"{window:g}")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_metrics_count_what_the_client_counted_over_10000_requests(stack: Stack) -> None:
    assert stack.switch(stack.plan("green", 50)).returncode == 0
    time.sleep(2)  # nothing of the switch's own checks in the window
    started = time.monotonic()
    stats = enough(run_probe(stack.url(), 300, 16, max_requests=10_000, retry=False), 10_000, 300)
    took = time.monotonic() - started
    client = Counter(s.color for s in stats.samples if s.status)
    assert stats.failed == 0
    found = metrics(stack, took + 2)
    assert {c: found["colors"][c]["requests"] for c in ("blue", "green")} == dict(client), (found, client)
    client_p99 = percentile([s.latency * 1000 for s in stats.samples if s.color == "green"], 99)
    router_p99 = found["colors"]["green"]["p99Ms"]
    assert router_p99 <= client_p99 * 1.05, (router_p99, client_p99)  # the router's time is inside the client's
    assert found["colors"]["blue"]["errors"] == 0 and found["colors"]["green"]["errors"] == 0


def test_the_routers_own_502s_count_for_the_colour_they_were_routed_to(stack: Stack) -> None:
    assert stack.switch(stack.plan("green", 50)).returncode == 0
    green = stack.containers["green"]
    try:
        docker("stop", "-t", "1", *green)
        time.sleep(3)  # Docker's DNS forgets the stopped containers' alias
        stats = run_probe(stack.url(), 3, 8, retry=False)
        client_5xx = Counter(s.color for s in stats.samples if s.status >= 500)
        assert client_5xx["green"] >= 5 and client_5xx["blue"] == 0, client_5xx
        found = metrics(stack, 6)
        assert found["colors"]["green"]["errors"] == client_5xx["green"], (found, client_5xx)
        assert found["colors"]["green"]["errorRatePct"] == 100.0
    finally:
        docker("start", *green)
        for name in green:
            Container(name).wait_health("healthy", timeout=60)


def test_prometheus_and_text_outputs(stack: Stack) -> None:
    assert stack.switch(stack.plan("blue")).returncode == 0
    run_probe(stack.url(), 1, 4)
    time.sleep(1.5)
    text = stack.cli("metrics", "--prometheus", "--window", "30").stdout
    counted = {s.labels["color"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "bluegreen_requests_total" and s.labels["code"] == "2xx"}  # fmt: skip
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families["bluegreen_requests"] == "counter" and families["bluegreen_request_duration_seconds"] == "histogram"
    assert counted.get("blue", 0) > 0, text
    table = stack.cli("metrics", "--window", "30").stdout
    assert table.startswith("bluegreen-metrics: live listener, last 30s\n") and "  blue " in table
    bad = stack.cli("metrics", "--window", "0")
    assert bad.returncode == 2 and "--window: got '0'; allowed: seconds from 1 to 86400" in bad.stderr


def scrape(url: str) -> dict[tuple[str, str, str], float]:
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    return {(s.labels["color"], s.labels["version"], s.labels["code"]): s.value
            for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "bluegreen_requests_total"}  # fmt: skip


def test_the_scrape_endpoints_counters_rise_under_load(stack: Stack) -> None:
    stack.wait_healthy()  # the 502 test stopped green; its containers may still be starting
    assert stack.switch(stack.plan("green", 50)).returncode == 0
    server = stack.start("metrics", "serve", "--port", "0", stdin="")
    try:
        assert server.stderr is not None
        said = server.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/metrics)", said)
        assert found, said
        url = found.group(1)
        totals = []
        for _ in range(3):
            run_probe(stack.url(), 2, 4, retry=False)
            time.sleep(1.5)  # the log's flush lag: a scrape counts what nginx has written
            counted = scrape(url)
            totals.append(sum(counted.values()))
        assert totals[0] > 0 and totals[0] < totals[1] < totals[2], totals
        colors = {color for color, _, _ in counted}
        assert colors == {"blue", "green"} and all(version for _, version, _ in counted), counted
    finally:
        server.terminate()
        server.wait(timeout=30)


def tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-u", "-L", "bluegreen-test", *args], capture_output=True, text=True, timeout=30,
                          check=check)  # fmt: skip


def colour_rows(screen: str) -> list[str]:
    """The table's colour rows (not the title, which starts with the deployment's name, bluegreen-...)."""
    return [line for line in screen.splitlines() if re.search(r"^\W*(blue|green)\b", line) and "%" in line]


def test_status_watch_under_tmux_shows_figures_that_change_and_leaves_on_q(stack: Stack) -> None:
    need(None if shutil.which("tmux") else "tmux is not installed (apt-get install tmux)")
    stack.wait_healthy()
    assert stack.switch(stack.plan("green", 50)).returncode == 0
    session = f"watch-{os.getpid()}"
    command = shlex.join([sys.executable, "-m", "bluegreen", "status", "--watch", "--stack", stack.name,
                          "--project", stack.project])  # fmt: skip
    tmux("new-session", "-d", "-s", session, "-x", "180", "-y", "40", f"cd {shlex.quote(str(ROOT))} && {command}")
    try:
        with BackgroundProbe(stack.url(), connections=4, round_seconds=1):
            screens: list[str] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(screens) < 2:
                screen = tmux("capture-pane", "-p", "-t", session).stdout
                rows = colour_rows(screen)
                complete = len(rows) == 2 and all(re.search(r"\d+\.\d", row) for row in rows)
                if complete and (not screens or colour_rows(screens[-1]) != rows):
                    screens.append(screen)
                time.sleep(1.5)
        assert len(screens) == 2, f"no two screens with different figures in 60 s; last:\n{screen}"
        first = colour_rows(screens[0])
        assert "50%" in first[0] and "50%" in first[1], screens[0]
        assert "lock: " in screens[1] and "last switch: " in screens[1]
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 15
        while tmux("has-session", "-t", session, check=False).returncode == 0:
            assert time.monotonic() < deadline, "q did not leave the watch"
            time.sleep(0.2)
    finally:
        tmux("kill-session", "-t", session, check=False)
