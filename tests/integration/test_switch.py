"""The switch on a real engine with a real nginx: every request counted.

One deployment for the module (2 blue + 2 green app containers, the router);
each test starts from blue at 100% and says what it changes. Traffic goes
only to 127.0.0.1 (the router's published ports).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections import Counter
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from bluegreen.engine.client import DockerClient
from bluegreen.plan.model import parse_plan
from bluegreen.release.live import rollback
from bluegreen.release.switch import apply_plan
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.files import BASE_CONFIG_PATH
from bluegreen.router.layout import ARMED_PROBES, LIVE_PLAN, LOCK_DIR, PROGRAM_PLAN, ROUTING_DIR
from lab.deployment import Stack
from lab.dockercli import Container, docker, get
from lab.prober import BackgroundProbe, enough, run_probe
from tests.support.scripts import ScriptCountingClient

pytestmark = pytest.mark.docker
LAB_NAME = "itest"  # the deployment the module's `stack` fixture builds (conftest.py)


def colors_of(url: str, count: int, headers: dict[str, str] | None = None) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(count):
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
            seen[response.headers["X-Bluegreen-Color"]] += 1
    return seen


def status(stack: Stack) -> dict[str, Any]:
    done = stack.cli("status", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


# --- the headline: no request lost ------------------------------------------------

# Green's share at each step: canary steps, full flips, and back.
SEQUENCE = [10, 50, 90, 100, 0, 10, 50, 100, 0, 90, 0]


def share_plan(stack: Stack, green: int, **extra: Any) -> dict[str, Any]:
    """The plan that gives green `green`%: green is the colour promoted to, blue the idle one."""
    return stack.plan("green", green, **extra)


def test_no_failed_request_and_no_reload_across_20_switches_for_clients_that_never_retry(blue_live: Stack) -> None:
    stack = blue_live
    client = DockerClient()
    router = LiveRouter.find(client, stack.deployment)
    switches = 0
    reloaded_before = stack.reloads()
    with BackgroundProbe(stack.url(), round_seconds=5, retry=False, post_every=4) as load:
        started = time.monotonic()
        while (switches < 24 or time.monotonic() - started < 32) and time.monotonic() - started < 150:
            plan = parse_plan(share_plan(stack, SEQUENCE[switches % len(SEQUENCE)]))
            report = apply_plan(router, client, plan)
            assert report.changed and not report.reloaded, (switches, report.weights, report.config_hash)
            switches += 1
        load.keep_until(10_000)
    stats = load.stats
    posts = sum(1 for s in stats.samples if s.method == "POST")
    print(f"\n{stats.requests} requests ({posts} POST), {switches} switches, {stats.failed} failed, never retried")
    assert switches >= 20 and time.monotonic() - started >= 30
    assert posts > 2_000 and stats.retried == 0
    assert stats.failed == 0, (stats.errors, Counter(s.status for s in stats.samples if s.status != 200))
    assert stats.misrouted == 0
    assert set(stats.colors()) == {"blue", "green"}
    assert stack.reloads() == reloaded_before, "a traffic change must not reload nginx"


# --- weights and stickiness -----------------------------------------------------------


@pytest.mark.parametrize("green_share", [10, 50, 90])
def test_observed_share_within_2_points(blue_live: Stack, green_share: int) -> None:
    stack = blue_live
    assert stack.switch(share_plan(stack, green_share)).returncode == 0
    stats = enough(run_probe(stack.url(), 300, connections=16, max_requests=6000), 6000, 300)
    assert stats.failed == 0
    answered = stats.colors()
    share = 100 * answered["green"] / sum(answered.values())
    assert abs(share - green_share) <= 2, f"green got {share:.2f}% for a plan of {green_share}%"


def test_cookie_stickiness_keeps_clients_on_their_colour(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("green", 10, stickiness="cookie")).returncode == 0
    clients: dict[str, str] = {}
    for _ in range(60):
        with urllib.request.urlopen(stack.url(), timeout=10) as response:
            cookie = response.headers["Set-Cookie"].split(";")[0]
            clients[cookie] = response.headers["X-Bluegreen-Color"]
    assert set(clients.values()) == {"blue", "green"}, "60 new clients should see both colours at 10%"
    for cookie, color in list(clients.items())[:20]:
        assert colors_of(stack.url(), 10, {"Cookie": cookie}) == Counter({color: 10})
    # Raising the canary keeps everyone who already saw it.
    assert stack.switch(stack.plan("green", 50, stickiness="cookie")).returncode == 0
    for cookie, color in clients.items():
        if color == "green":
            assert colors_of(stack.url(), 3, {"Cookie": cookie}) == Counter({"green": 3})


# --- refusals leave routing unchanged ------------------------------------------------------


def test_unhealthy_candidate_is_refused(blue_live: Stack) -> None:
    stack = blue_live
    bad = stack.add("green", "2.0.1", env={"APP_DOWNSTREAM_URL": "http://127.0.0.1:9/"})
    try:
        plan = stack.plan("green", 100, healthGate={"timeoutSeconds": 4, "intervalSeconds": 0.2, "successes": 1})
        plan["colors"]["green"]["containers"] = bad
        started = time.monotonic()
        done = stack.switch(plan)
        assert done.returncode == 1
        assert f"container {bad[0]}" in done.stderr and "routing unchanged" in done.stderr
        assert time.monotonic() - started < 15
        assert colors_of(stack.url(), 20) == Counter({"blue": 20})
    finally:
        docker("rm", "-f", *bad)
        stack.containers["green"] = [n for n in stack.containers["green"] if n not in bad]


def test_missing_container_fails_at_once(blue_live: Stack) -> None:
    plan = blue_live.plan("green")
    plan["colors"]["green"]["containers"] = ["bluegreen-itest-green-nope"]
    started = time.monotonic()
    done = blue_live.switch(plan)
    assert done.returncode == 1 and "bluegreen-itest-green-nope: no such container" in done.stderr
    assert time.monotonic() - started < 5


def test_nginx_t_failure_keeps_old_routing(blue_live: Stack) -> None:
    """Only a config change (here: a rate limit) is checked with nginx -t; a refusal publishes nothing."""
    stack = blue_live
    router = LiveRouter(DockerClient(), stack.router.name)
    before = router.snapshot().status["configHash"]
    # A stray file in the routing directory that only conflicts with the new plan.
    # The zone bg_rate only exists when a plan has a rate limit; sizes conflict.
    stray = "limit_req_zone $binary_remote_addr zone=bg_rate:1m rate=1r/s;\n"
    router.client.put_archive(router.container, "/etc/nginx/bluegreen", _tar({"http-stray.conf": stray}))
    try:
        done = stack.switch(stack.plan("green", 50, rateLimit={"requestsPerSecond": 100, "burst": 50}))
        assert done.returncode == 1
        assert "nginx -t refused the new routing" in done.stderr and '"bg_rate"' in done.stderr
        assert router.snapshot().status["configHash"] == before
        assert router.client.exec(router.container, ["nginx", "-t", "-q", "-c", BASE_CONFIG_PATH]).exit_code == 0, (
            "restored files must load"
        )
        assert colors_of(stack.url(), 20) == Counter({"blue": 20})
    finally:
        # As the router's user, who owns the directory: root in the router has no capability to override that.
        removed = router.client.exec(router.container, ["rm", "-f", "/etc/nginx/bluegreen/http-stray.conf"])
        assert removed.exit_code == 0, removed.stderr


def _tar(files: dict[str, str]) -> bytes:
    from bluegreen.engine.client import tar_files

    return tar_files(files)


def test_bad_plan_is_refused_before_anything(blue_live: Stack) -> None:
    plan = blue_live.plan("green", 50)
    plan["weights"] = {"blue": 50, "green": 60}
    done = blue_live.switch(plan)
    assert done.returncode == 2
    assert "plan: weights: got" in done.stderr and "add up to 100" in done.stderr
    other_stack = blue_live.plan("green")
    other_stack["deployment"] = "bluegreen-prod"
    done = blue_live.switch(other_stack)
    assert done.returncode == 2 and "plan: deployment: got 'bluegreen-prod'" in done.stderr


# --- idempotence, in-flight requests, WebSockets ------------------------------------------------


def test_bluegreen_plan_prints_the_live_plan_with_the_traffic_changed_for_switch(blue_live: Stack) -> None:
    stack = blue_live
    printed = stack.cli("plan", "--active", "green", "--weight", "30")
    assert printed.returncode == 0, printed.stderr
    plan = json.loads(printed.stdout)
    assert (plan["active"], plan["weights"]) == ("green", {"blue": 70, "green": 30})
    assert plan["colors"] == stack.plan("blue")["colors"], "the containers that run, as the live plan has them"
    done = stack.cli("switch", "--plan", "-", stdin=printed.stdout)  # the pipe the README shows
    assert done.returncode == 0 and "live blue 70% / green 30%" in done.stdout, done.stdout + done.stderr
    bad = stack.cli("plan", "--weight", "101")
    assert bad.returncode == 2 and "argument --weight: got '101'; allowed: a share from 0 to 100" in bad.stderr
    assert stack.switch(stack.plan("blue")).returncode == 0


def test_same_plan_twice_does_not_reload(blue_live: Stack) -> None:
    first = status(blue_live)["lastSwitch"]["appliedAt"]
    time.sleep(1.1)
    done = blue_live.switch(blue_live.plan("blue"))
    assert done.returncode == 0 and "already live" in done.stdout and "nothing reloaded" in done.stdout
    assert status(blue_live)["lastSwitch"]["appliedAt"] == first


def test_slow_request_in_flight_survives_the_switch(blue_live: Stack) -> None:
    stack = blue_live
    result: dict[str, Any] = {}

    def slow() -> None:
        result["status"], result["headers"], _ = get(stack.url() + "/slow?seconds=2", timeout=15)

    caller = threading.Thread(target=slow)
    caller.start()
    time.sleep(0.5)
    assert stack.switch(stack.plan("green")).returncode == 0
    caller.join(timeout=20)
    assert result["status"] == 200 and result["headers"]["X-Bluegreen-Color"] == "blue"
    assert colors_of(stack.url(), 10) == Counter({"green": 10})


def test_websocket_survives_a_switch_and_new_ones_use_the_new_colour(blue_live: Stack) -> None:
    """No reload, so no worker closes anything: an open WebSocket keeps its colour, new ones get the new one."""
    stack = blue_live
    ws_url = stack.url().replace("http://", "ws://") + "/ws"
    with ws_connect(ws_url, open_timeout=10) as old:
        assert old.response is not None and old.response.headers["x-app-color"] == "blue"
        done = stack.switch(stack.plan("green"))
        assert done.returncode == 0 and "no reload" in done.stdout, done.stdout + done.stderr
        with ws_connect(ws_url, open_timeout=10) as new:
            assert new.response is not None and new.response.headers["x-app-color"] == "green"
        for _ in range(10):
            old.send("ping")
            assert old.recv(timeout=5) == "ping"
            time.sleep(0.2)


def test_websocket_lives_until_drain_bound_when_the_config_changes(blue_live: Stack) -> None:
    stack = blue_live
    ws_url = stack.url().replace("http://", "ws://") + "/ws"
    drain = 3
    # An old worker keeps the drain bound of the config it started with: set it before the switch too.
    assert stack.switch(stack.plan("blue", drainSeconds=drain)).returncode == 0
    with ws_connect(ws_url, open_timeout=10) as old:
        assert old.response is not None and old.response.headers["x-app-color"] == "blue"
        result: dict[str, Any] = {}

        def do_switch() -> None:  # a config change (no security headers): the one kind that reloads
            result["done"] = stack.switch(stack.plan("green", drainSeconds=drain, securityHeaders=False))
            result["at"] = time.monotonic()

        switcher = threading.Thread(target=do_switch)
        switched_at = time.monotonic()
        switcher.start()
        deadline = time.monotonic() + 10
        while colors_of(stack.url(), 1) != Counter({"green": 1}):
            assert time.monotonic() < deadline, "the switch never went live"
            time.sleep(0.05)
        with ws_connect(ws_url, open_timeout=10) as new:
            assert new.response is not None and new.response.headers["x-app-color"] == "green"
            new.send("hi")
            assert new.recv(timeout=5) == "hi"
        alive_for = 0.0
        closed_by_router = False
        try:
            while time.monotonic() - switched_at < drain + 5:
                old.send("ping")
                echoed = old.recv(timeout=5)  # a timeout here is a failure, not a close
                assert echoed == "ping", f"old WebSocket answered {echoed!r}"
                alive_for = time.monotonic() - switched_at
                time.sleep(0.2)
        except ConnectionClosed:
            closed_by_router = True  # the old worker reached the drain bound: what this test waits for
        switcher.join(timeout=30)
    assert closed_by_router, f"old WebSocket still open {drain + 5}s after the switch"
    assert result["done"].returncode == 0, result["done"].stderr
    assert alive_for >= drain - 1, f"old WebSocket died after {alive_for:.1f}s, before the drain bound"
    assert alive_for <= drain + 3, f"old WebSocket outlived the drain bound ({alive_for:.1f}s)"


# --- preview, status, rollback --------------------------------------------------------------


def settled_colors(url: str, expected: str, count: int = 10, within: float = 5.0) -> Counter[str]:
    """`colors_of` once `expected` has answered: right after a *reload* (the drain test before this one
    changes the config) an old nginx worker may still take a new connection."""
    deadline = time.monotonic() + within
    while colors_of(url, 1) != Counter({expected: 1}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return colors_of(url, count)


def test_preview_listener_serves_the_idle_colour_once_active_has_everything(blue_live: Stack) -> None:
    assert settled_colors(blue_live.url(preview=True), "green") == Counter({"green": 10})


def test_security_headers_and_a_request_id_on_every_response(blue_live: Stack) -> None:
    status_code, headers, body = get(blue_live.url())
    assert status_code == 200
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert len(json.loads(body)["request_id"]) == 32  # made by the router, passed to the app


def test_request_id_passes_through(blue_live: Stack) -> None:
    request = urllib.request.Request(blue_live.url(), headers={"X-Request-ID": "trace-77"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["request_id"] == "trace-77"
        assert response.headers["X-Request-ID"] == "trace-77"


def test_preview_listener_serves_the_candidate_during_a_canary(blue_live: Stack) -> None:
    assert blue_live.switch(blue_live.plan("green", 10)).returncode == 0
    assert colors_of(blue_live.url(preview=True), 10) == Counter({"green": 10})


def test_rollback_moves_everything_to_the_idle_colour_and_status_shows_drift(stack: Stack) -> None:
    done = stack.switch(stack.plan("green", 90), "--source", "program")
    assert done.returncode == 0, done.stderr
    assert status(stack)["drift"] is False
    started = time.monotonic()
    done = stack.cli("rollback", "--json")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["weights"] == {"blue": 100, "green": 0} and report["source"] == "rollback"
    print(f"\nrollback: {elapsed:.2f}s as a process, live after {report['live_s']:.2f}s")
    assert colors_of(stack.url(), 20) == Counter({"blue": 20})
    assert colors_of(stack.url(preview=True), 10) == Counter({"green": 10})
    now = status(stack)
    assert now["drift"] is True and now["lastSwitch"]["source"] == "rollback"
    assert {c["name"]: c["health"] for c in now["containers"]} == {
        n: "healthy" for names in stack.containers.values() for n in names
    }


def test_a_rollback_after_a_switch_is_two_calls_probing_what_that_switch_probed(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The switch arms its generation with every address its gate probed; the rollback's first call takes the
    lock, reads the live plan and probes those (the idle colour among them), its second publishes: both
    through the control channel, no exec."""
    stack = blue_live
    client = ScriptCountingClient(monkeypatch)
    router = LiveRouter.find(client, stack.deployment)
    apply_plan(router, client, parse_plan(stack.plan("green", 100)))
    addresses = {
        Container(n).inspect()["NetworkSettings"]["Networks"][stack.network]["IPAddress"]
        for names in stack.containers.values() for n in names
    }  # fmt: skip
    armed = docker("exec", stack.router.name, "cat", f"{ROUTING_DIR}/current/{ARMED_PROBES}").stdout
    assert sorted(line.split(" ")[0] for line in armed.splitlines()) == sorted(addresses)
    client.clear()
    report = rollback(router, client)
    assert report.weights == {"blue": 100, "green": 0} and client.scripts == ["begin", "publish"]
    assert client.execs == []
    assert colors_of(stack.url(), 20) == Counter({"blue": 20})


def test_a_plain_switch_is_one_call_and_carries_the_programs_record(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Express (bluegreen/release/express.py): the call that takes the lock, reads and probes also publishes,
    with the program's record carried over, through the control channel; a switch whose config changes (a
    reload) still publishes in a call of its own, after nginx -t, in an exec (only the router's own namespace
    can signal nginx)."""
    stack = blue_live
    assert stack.switch(stack.plan("blue", 0), "--source", "program").returncode == 0  # a program record to carry
    program = docker("exec", stack.router.name, "cat", f"{ROUTING_DIR}/current/{PROGRAM_PLAN}").stdout
    client = ScriptCountingClient(monkeypatch)
    router = LiveRouter.find(client, stack.deployment)
    report = apply_plan(router, client, parse_plan(stack.plan("green", 100)))
    assert client.scripts == ["begin"] and client.execs == [] and report.changed and not report.reloaded
    assert colors_of(stack.url(), 20) == Counter({"green": 20})
    assert status(stack)["live"]["planHash"] == report.plan_hash
    assert docker("exec", stack.router.name, "cat", f"{ROUTING_DIR}/current/{PROGRAM_PLAN}").stdout == program
    assert docker("exec", stack.router.name, "test", "-e", f"{ROUTING_DIR}/{LOCK_DIR}", check=False).returncode != 0
    client.clear()
    raw = stack.plan("blue", 100)
    raw["drainSeconds"] = raw.get("drainSeconds", 5) + 1  # another worker_shutdown_timeout: a config change
    report = apply_plan(router, client, parse_plan(raw))
    assert client.scripts[:2] == ["begin", "publish"] and report.reloaded  # then the drain's worker count
    assert client.execs[:1] == ["publish"], "the reload is signalled from the router's own namespace"
    assert colors_of(stack.url(), 20) == Counter({"blue": 20})


def test_with_two_passes_the_second_rounds_call_publishes_a_switch_and_a_rollback(
    blue_live: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round that would close the gate carries the generation (sh/probe.sh) and publishes it once every
    answer is 200: no call spent on publishing alone; the rollback's first round is its armed probes (a
    rollback asks for one pass by default: `--successes 2` here)."""
    stack = blue_live
    client = ScriptCountingClient(monkeypatch)
    router = LiveRouter.find(client, stack.deployment)
    raw = stack.plan("green", 100)
    raw["healthGate"] = {**raw["healthGate"], "successes": 2, "intervalSeconds": 0.05}
    report = apply_plan(router, client, parse_plan(raw))
    assert client.scripts == ["begin", "probe"] and report.changed
    assert colors_of(stack.url(), 20) == Counter({"green": 20})
    client.clear()
    report = rollback(router, client, successes=2)
    assert report.weights == {"blue": 100, "green": 0} and client.scripts == ["begin", "probe"]
    assert colors_of(stack.url(), 20) == Counter({"blue": 20})
    assert docker("exec", stack.router.name, "test", "-e", f"{ROUTING_DIR}/{LOCK_DIR}", check=False).returncode != 0


def test_the_program_switch_records_what_its_drift_check_saw(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a rollback the program's switch records its BLUEGREEN_OBSERVED and keeps the rollback (its config did
    not change); status hands the value back, so the next update has nothing to do: no ping-pong."""
    stack.cli("resume")  # what earlier tests left: the program's own plan live again (fails without one: fine)
    plan = stack.plan("green", 90)
    assert stack.switch(plan, "--source", "program").returncode == 0
    assert status(stack)["live"]["weights"] == {"blue": 10, "green": 90}
    assert stack.cli("rollback").returncode == 0
    drifted = status(stack)
    observed = f"drift:{drifted['live']['planHash']}@{drifted['lastSwitch']['appliedAt']}"
    monkeypatch.setenv("BLUEGREEN_OBSERVED", observed)
    done = stack.switch(plan, "--source", "program")  # what `pulumi up` runs after the drift warning
    assert done.returncode == 0, done.stderr
    assert "kept routing blue 100% / green 0% (active blue), set by rollback by " in done.stdout, done.stdout
    held = status(stack)
    assert held["programObserved"] == observed and held["lastSwitch"]["source"] == "rollback"
    assert list(held["held"]) == ["routing"] and colors_of(stack.url(), 40) == Counter({"blue": 40})
    again = stack.switch(plan, "--source", "program")  # an unchanged input: nothing to write
    assert again.returncode == 0 and "nothing reloaded" in again.stdout
    assert status(stack)["lastSwitch"] == held["lastSwitch"]
    monkeypatch.setenv("BLUEGREEN_OBSERVED", observed)
    canary = stack.switch(stack.plan("green", 50), "--source", "program")  # the stack config changed: applies
    assert canary.returncode == 0, canary.stderr
    assert status(stack)["drift"] is False and colors_of(stack.url(), 40)["green"] > 5


def test_rollback_refuses_a_stopped_idle_colour(blue_live: Stack) -> None:
    stack = blue_live
    idle = stack.containers["green"]
    docker("stop", "-t", "1", *idle)
    try:
        done = stack.cli("rollback")
        assert done.returncode == 1
        assert f"container {idle[0]}: not running" in done.stderr and "routing unchanged" in done.stderr
        assert colors_of(stack.url(), 10) == Counter({"blue": 10})
    finally:
        docker("start", *idle)
        stack.wait_healthy()


def test_status_finds_the_engine_the_stack_file_names(blue_live: Stack, tmp_path: Any) -> None:
    """DOCKER_HOST unset: the stack file's docker.host (here a second path to this engine's socket) is used."""
    import os
    import subprocess
    import sys

    from lab.paths import ROOT

    engine = DockerClient().host
    if not engine.startswith("unix://"):
        pytest.skip(f"the engine is not on a local socket ({engine})")
    second = tmp_path / "engine.sock"
    second.symlink_to(engine.removeprefix("unix://"))
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.itest.yaml").write_text(f"config:\n  bluegreen:docker:\n    host: unix://{second}\n")
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    done = subprocess.run([sys.executable, "-m", "bluegreen", "status", "--stack", "itest", "--json"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["router"] == blue_live.router.name
    second.unlink()  # the file's engine is gone: the command says so, it does not fall back to another
    gone = subprocess.run([sys.executable, "-m", "bluegreen", "status", "--stack", "itest"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert gone.returncode == 2 and f"no Docker engine answers at unix://{second}" in gone.stderr, gone.stderr


def test_smoke_asks_the_preview_from_inside_the_router(blue_live: Stack) -> None:
    """The release workflow's smoke test: no open port, no curl on the host, the same Docker connection."""
    done = blue_live.cli("smoke", "--path", "/health/ready")
    assert done.returncode == 0 and done.stdout == "bluegreen-itest: preview /health/ready answered 200\n", done
    missing = blue_live.cli("smoke", "--listener", "live", "--path", "/no-such-page", "--tries", "2", "--interval", "0")
    assert missing.returncode == 1 and missing.stderr == (
        "smoke bluegreen-itest: live /no-such-page: got 404 after 2 tries; expected 200\n"
    )


def test_status_without_router_is_one_clear_line(stack: Stack) -> None:
    ghost = Stack("ghost", stack.app_image)
    done = ghost.cli("status")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"status bluegreen-ghost: no running router for bluegreen-ghost at {DockerClient().host}: "
        "expected a container labelled bluegreen.deployment=bluegreen-ghost, bluegreen.role=router"
    ]


def test_rate_limit_answers_429(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("blue", rateLimit={"requestsPerSecond": 1, "burst": 2})).returncode == 0
    try:
        codes = Counter(get(stack.url(), timeout=5)[0] for _ in range(12))
        assert codes[429] >= 5 and codes[200] >= 1, codes
    finally:
        assert stack.switch(stack.plan("blue")).returncode == 0


def _router_log_clients(stack: Stack, since: str) -> list[str]:
    lines = docker("logs", "--since", since, stack.router.name).stdout.splitlines()
    return [json.loads(line)["client"] for line in lines if line.startswith("{") and '"client"' in line]


def test_the_edge_bounds_bodies_and_believes_forwarded_for_only_from_trusted_proxies(blue_live: Stack) -> None:
    """A body over router.edge.maxBodyMb is a 413; a client's own X-Forwarded-For is logged as its real address."""
    import urllib.error

    stack = blue_live
    assert stack.switch(stack.plan("blue", edge={"maxBodyMb": 1})).returncode == 0
    try:
        big = urllib.request.Request(stack.url() + "/echo", data=b"x" * (2 * 1024 * 1024), method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(big, timeout=10)
        assert refused.value.code == 413
        since = docker("exec", stack.router.name, "date", "-u", "+%Y-%m-%dT%H:%M:%SZ").stdout.strip()
        lie = urllib.request.Request(stack.url() + "/", headers={"X-Forwarded-For": "1.2.3.4"})
        assert urllib.request.urlopen(lie, timeout=10).status == 200
        time.sleep(1.5)  # the access log is buffered for up to 1 s
        clients = _router_log_clients(stack, since)
        assert clients and "1.2.3.4" not in clients, clients
        # Behind a trusted load balancer (here: the address this client reaches the router from), the same
        # header names the client. (0.0.0.0/0 is refused: it would trust every client.)
        trusted = sorted(set(clients))
        assert stack.switch(stack.plan("blue", edge={"trustedProxies": trusted})).returncode == 0
        since = docker("exec", stack.router.name, "date", "-u", "+%Y-%m-%dT%H:%M:%SZ").stdout.strip()
        assert urllib.request.urlopen(lie, timeout=10).status == 200
        time.sleep(1.5)
        assert "1.2.3.4" in _router_log_clients(stack, since)
    finally:
        assert stack.switch(stack.plan("blue")).returncode == 0


# --- the lock, restarts, a torn state ---------------------------------------------------------


def test_two_operators_switching_at_once_never_both_win_with_different_plans(blue_live: Stack) -> None:
    """20 rounds of two concurrent switches: both succeed, one after the other in the lock's order, and the
    later one is live. The order is read from the router, not from when the two processes exit: a switch that
    takes the lock as the other releases it publishes in the same exec, within milliseconds, sooner than the
    other process can exit. So every switch that changed something published a generation of this round, the
    current generation serves one plan and the previous one the other (neither lost), and the router's plan
    record matches what it serves."""
    stack = blue_live
    plans = [stack.plan("green", 30), stack.plan("green", 70)]
    hashes = [parse_plan(p).plan_hash() for p in plans]
    for round_ in range(20):
        results: dict[int, tuple[int, str]] = {}
        started = time.time_ns()

        def run(i: int, results: dict[int, tuple[int, str]] = results) -> None:
            done = stack.cli("switch", "--plan", "-", "--json", stdin=json.dumps(plans[i]))
            results[i] = (done.returncode, done.stdout if done.returncode == 0 else done.stderr)

        threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert all(code == 0 for code, _ in results.values()), (round_, results)
        changed = sum(json.loads(out)["changed"] for _, out in results.values())
        names = docker("exec", stack.router.name, "readlink", f"{ROUTING_DIR}/current", f"{ROUTING_DIR}/previous")
        fresh = [name for name in names.stdout.split() if int(name[1:].split("@")[0]) >= started]
        assert len(fresh) == changed >= 1, (round_, results, names.stdout)  # one generation per switch that changed
        now = status(stack)
        previous = json.loads(docker("exec", stack.router.name, "cat", f"{ROUTING_DIR}/previous/{LIVE_PLAN}").stdout)
        assert {now["live"]["planHash"], previous["planHash"]} == set(hashes), (round_, results, previous)
        assert now["lastSwitch"]["planHash"] == now["live"]["planHash"], "the record is what is served"


def test_a_held_lock_is_exit_3_naming_the_holder(blue_live: Stack) -> None:
    stack = blue_live
    router = LiveRouter.find(DockerClient(), stack.deployment)
    from bluegreen.router.seam import Lock

    holder = Lock("test-token", "ops@laptop pid 1 (cli)", 60)
    assert router.begin(holder).acquired
    try:
        started = time.monotonic()
        done = stack.cli("switch", "--plan", "-", "--wait", "1", stdin=json.dumps(stack.plan("green")))
        assert done.returncode == 3 and "locked by ops@laptop pid 1 (cli)" in done.stderr, done.stderr
        assert time.monotonic() - started >= 1, "--wait 1 waits"
        assert colors_of(stack.url(), 10) == Counter({"blue": 10})
    finally:
        router.release(holder)
    assert stack.switch(stack.plan("blue")).returncode == 0, "released: the next switch goes ahead"


def test_a_restarted_router_serves_the_last_published_routing(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("green", 50)).returncode == 0
    docker("restart", "-t", "2", stack.router.name)
    deadline = time.monotonic() + 20
    while True:
        try:
            seen = colors_of(stack.url(), 60)
            break
        except OSError:
            assert time.monotonic() < deadline, "the router did not come back"
            time.sleep(0.2)
    assert set(seen) == {"blue", "green"}
    assert status(stack)["live"]["weights"] == {"blue": 50, "green": 50}


def test_a_torn_state_file_falls_back_to_the_last_good_state(blue_live: Stack) -> None:
    """router.js falls back to previous/state.json; a steady generation's name still routes, and status says so."""
    stack = blue_live
    assert stack.switch(stack.plan("blue", 100)).returncode == 0
    assert stack.switch(stack.plan("green", 50)).returncode == 0  # previous: blue 100%, current: a canary
    router = LiveRouter.find(DockerClient(), stack.deployment)
    script = 'printf "%s" "$1" > /etc/nginx/bluegreen/current/state.json'
    for torn in ('{"weights": {"blue"', ""):
        assert router.client.exec(router.container, ["sh", "-c", script, "sh", torn]).exit_code == 0
        assert colors_of(stack.url(), 20) == Counter({"blue": 20}), "the last good state, never a guess"
        assert status(stack)["live"]["stateSource"] == "previous"
    # Two publishes leave a readable `previous` (blue 100%) behind a steady green 100%, named in the generation.
    for plan in (stack.plan("green"), stack.plan("blue"), stack.plan("green")):
        assert stack.switch(plan).returncode == 0
    assert router.client.exec(router.container, ["sh", "-c", script, "sh", "{"]).exit_code == 0
    assert colors_of(stack.url(), 20) == Counter({"green": 20}), "the published route: the name cannot be torn"
    report = status(stack)
    assert report["live"]["stateSource"] == "previous" and report["live"]["steadyRoute"].startswith("green ")
    assert any("every live request goes to green" in w for w in report["warnings"]), report["warnings"]
    assert stack.switch(stack.plan("blue")).returncode == 0


def test_a_restarted_app_container_keeps_its_colour(blue_live: Stack) -> None:
    """Requests go to names through Docker's DNS: a restart (even on a new address) never misroutes."""
    stack = blue_live
    assert stack.switch(stack.plan("green", 50)).returncode == 0
    with BackgroundProbe(stack.url(), round_seconds=3) as load:
        time.sleep(0.5)
        docker("restart", "-t", "2", stack.containers["blue"][0])
        docker("restart", "-t", "2", stack.containers["green"][0])
        time.sleep(3)
        load.keep_until(1000)
    stats = load.stats
    print(f"\n{stats.requests} requests across two app restarts, {stats.failed} failed, {stats.misrouted} misrouted")
    assert stats.misrouted == 0
    assert set(stats.colors()) == {"blue", "green"}
    blue_live.wait_healthy()


def test_a_steady_state_is_routed_by_nginx_from_the_generation_name_and_a_canary_by_router_js(
    blue_live: Stack,
) -> None:
    """One colour, one target: nginx reads the route from the name `current` resolves to, no njs per request."""
    stack = blue_live

    def current() -> str:
        return docker("exec", stack.router.name, "readlink", f"{ROUTING_DIR}/current").stdout.strip()

    assert stack.switch(share_plan(stack, 100)).returncode == 0
    green = current()
    assert re.fullmatch(r"g\d+@green@[^@/]+:8000", green), green
    assert stack.switch(share_plan(stack, 10)).returncode == 0
    assert re.fullmatch(r"g\d+", current()), "a canary is router.js's to decide"
    assert stack.switch(stack.plan("blue")).returncode == 0
    blue = current()
    assert re.fullmatch(r"g\d+@blue@[^@/]+:8000", blue), blue
    assert set(colors_of(stack.url(), 20)) == {"blue"}
    # The proof that nginx reads the name: blue's state under a name that says green is routed to green.
    forged = "g1" + green[green.index("@") :]
    swap = f"cd {ROUTING_DIR} && cp -r {blue} {forged} && ln -sfn {forged} .t && mv -Tf .t current"
    docker("exec", stack.router.name, "sh", "-c", swap)
    try:
        assert set(colors_of(stack.url(), 20)) == {"green"}
    finally:
        restore = f"cd {ROUTING_DIR} && ln -sfn {blue} .t && mv -Tf .t current && rm -rf {forged}"
        docker("exec", stack.router.name, "sh", "-c", restore)
    assert set(colors_of(stack.url(), 20)) == {"blue"}


def test_a_header_route_reaches_the_candidate_at_0_percent_and_is_counted_apart(blue_live: Stack) -> None:
    """rollout.match on the real router: testers reach green at 0%, everyone else stays on blue."""
    stack = blue_live
    routes = {"match": [{"header": "X-Canary", "value": "1"}, {"cookie": "canary", "value": "yes"}]}
    assert stack.switch(stack.plan("green", 0, rollout=routes)).returncode == 0

    def metrics() -> dict[str, Any]:
        time.sleep(2.5)  # the access log is flushed every second
        done = stack.cli("metrics", "--json", "--window", "120")
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout)["colors"])

    before = metrics()
    assert colors_of(stack.url(), 30, {"X-Canary": "1"}) == Counter({"green": 30})
    assert colors_of(stack.url(), 30, {"Cookie": "other=1; canary=yes"}) == Counter({"green": 30})
    assert colors_of(stack.url(), 60, {"X-Canary": "0"}) == Counter({"blue": 60})
    assert colors_of(stack.url(), 60) == Counter({"blue": 60})
    after = metrics()
    assert after["green"]["matched"] - before["green"]["matched"] == 60, (before, after)
    assert after["green"]["requests"] <= before["green"]["requests"], "testers are not in green's figures"
    assert after["blue"]["matched"] == 0 and after["blue"]["requests"] >= 120


def test_the_groups_backup_resolves_the_target_it_is_named_per_request(blue_live: Stack) -> None:
    """What a kept-alive group's backup does for a worker that has no address for the group yet (a fresh
    nginx: a bridge, a restarted router; a group new in a reload): the loopback listener resolves the target
    the first hop named and passes the request on, instead of a 502 "no live upstreams"."""
    conf = docker("exec", blue_live.router.name, "cat", f"{ROUTING_DIR}/current/http.conf").stdout
    target = conf.split(" resolve;")[0].rsplit("server ", 1)[1]
    assert "    server 127.0.0.1:8085 backup;" in conf
    request = (f"GET / HTTP/1.0\r\nHost: shop.test\r\nX-Bluegreen-Target: {target}\r\n\r\n").replace("\r\n", "\\r\\n")
    answer = docker("exec", blue_live.router.name, "bash", "-c",
                    f'exec 3<>/dev/tcp/127.0.0.1/8085 && printf "{request}" >&3 && cat <&3').stdout  # fmt: skip
    assert answer.startswith("HTTP/1.1 200") and "x-app-color: blue" in answer.lower(), answer[:300]
