"""The real program, applied by the test engine to the real daemon, under load.

This is `pulumi up` as users run it, minus the CLI: deploy the dev stack from
nothing, flip, canary 10 then 50, release a new version to the idle colour,
promote, with 32 keep-alive clients counting every response the whole time.
Each step also checks *what* the engine touched: a traffic change must only
update the Switch, a release only the idle colour, its image and the Switch.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from bluegreen.router.channel import CONTROL_CPU_SHARES
from lab.dockercli import docker, get
from lab.engine import Steps, destroy, up
from lab.paths import ROOT
from lab.prober import BackgroundProbe, run_probe
from lab.tls import client_context, fetch, issue_pem, served_fingerprint
from lab.webhook import misbehaving_webhook, webhook_url

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

PORTS = {"router.port": 18180, "router.previewPort": 18181}
URL = "http://127.0.0.1:18180"
PREVIEW = "http://127.0.0.1:18181"
HTTPS = "https://127.0.0.1:18443"
SWITCH = "command:local:Command::app-switch"
ROUTER = "docker:index/container:Container::app-router"


@pytest.fixture
def clean_dev() -> Iterator[None]:
    """Each test starts on an empty dev stack, also after one that failed before its own destroy."""
    destroy("dev")
    yield
    destroy("dev")


def served_by(url: str, n: int = 20) -> Counter[str]:
    return Counter(get(url)[1].get("X-Bluegreen-Color", "?") for _ in range(n))


def version_of(url: str) -> str:
    return str(json.loads(get(url)[2])["version"])


def app_env(color: str) -> list[str]:
    """The environment the running containers of `color` hold (image variables included)."""
    names = docker("ps", "-q", "--filter", "label=bluegreen.deployment=bluegreen-dev",
                   "--filter", f"label=bluegreen.color={color}").stdout.split()  # fmt: skip
    assert names, f"no {color} containers"
    envs = {json.dumps(json.loads(docker("inspect", "-f", "{{json .Config.Env}}", n).stdout)) for n in names}
    assert len(envs) == 1, envs
    return list(json.loads(envs.pop()))


def assert_hardened() -> None:
    """What `docker inspect` shows of every container of the stack: least privilege, and a router healthcheck."""
    ids = docker("ps", "-q", "--filter", "label=bluegreen.deployment=bluegreen-dev").stdout.split()
    assert len(ids) == 5, ids  # blue, green, the router, its net container and its control container
    for info in json.loads(docker("inspect", *ids).stdout):
        host, name = info["HostConfig"], info["Name"]
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], name
        assert "no-new-privileges:true" in host["SecurityOpt"], name
        assert host["ReadonlyRootfs"] is True and "/tmp" in host["Tmpfs"], name
        assert (host["PidsLimit"] or 0) > 0, name
        if info["Config"]["Labels"]["bluegreen.role"] == "router-control":  # a switch attaches to its stdin
            assert info["Config"]["OpenStdin"] and host["Init"] and host["CpuShares"] == CONTROL_CPU_SHARES, name
            assert info["State"]["Running"] and host["NetworkMode"].startswith("container:"), name
        if info["Config"]["Labels"]["bluegreen.role"] == "router":
            assert info["Config"]["Healthcheck"]["Test"][:2] == ["CMD", "sh"], name
            deadline = time.monotonic() + 30
            while info["State"]["Health"]["Status"] != "healthy" and time.monotonic() < deadline:
                time.sleep(0.5)
                info = json.loads(docker("inspect", info["Id"]).stdout)[0]
            assert info["State"]["Health"]["Status"] == "healthy", info["State"]["Health"]


def test_dev_release_cycle_under_load(clean_dev: None) -> None:
    # Deploy from nothing, through the engine's command line as a user would.
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lab.engine", "up", "dev", *(f"{k}={v}" for k, v in PORTS.items())],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\ndeploy from nothing: {time.monotonic() - started:.1f}s")
    assert outputs["url"] == URL and outputs["activeColor"] == "blue"
    assert served_by(URL) == Counter({"blue": 20}) and served_by(PREVIEW) == Counter({"green": 20})
    assert_hardened()

    step = Steps("dev", PORTS)

    with BackgroundProbe(URL, round_seconds=3) as load:
        time.sleep(1)
        assert step({"activeColor": "green", "trafficWeight": 10}) == [f"update {SWITCH}"]  # canary: green 10%
        assert served_by(PREVIEW) == Counter({"green": 20})  # the preview shows the candidate
        assert step({"trafficWeight": 50}) == [f"update {SWITCH}"]  # canary: green 50%
        assert set(served_by(URL, 60)) == {"blue", "green"}

        assert step({"trafficWeight": 100}) == [f"update {SWITCH}"]  # green promoted
        assert served_by(URL) == Counter({"green": 20}) and served_by(PREVIEW) == Counter({"blue": 20})
        release = step({"blue.version": "1.1.0"})  # release to the idle colour
        assert sorted(release) == sorted([
            "create docker:index/remoteImage:RemoteImage::app-image-1.1.0-build",
            "replace docker:index/container:Container::app-blue-1",
            "update command:local:Command::app-blue-1-pids",
            f"update {SWITCH}",
            "delete docker:index/container:Container::app-blue-1",
        ])  # fmt: skip
        assert served_by(URL) == Counter({"green": 20})
        assert version_of(PREVIEW) == "1.1.0"

        assert step({"activeColor": "blue"}) == [f"update {SWITCH}"]  # promote
        assert served_by(URL) == Counter({"blue": 20}) and version_of(URL) == "1.1.0"

        # A shared env change replaces the idle colour only; the live one keeps what it runs.
        live_blue = app_env("blue")
        assert sorted(step({"app.env": {"FEATURE_X": "on"}})) == sorted([
            "replace docker:index/container:Container::app-green-1",
            "update command:local:Command::app-green-1-pids",
            f"update {SWITCH}",
            "delete docker:index/container:Container::app-green-1",
        ])  # fmt: skip
        assert app_env("blue") == live_blue and "FEATURE_X=on" not in live_blue
        assert "FEATURE_X=on" in app_env("green")
        assert served_by(URL) == Counter({"blue": 20})

        # Router settings that need no new container do not get one (pulumi-docker's update rules).
        router_id = docker("inspect", "-f", "{{.Id}}", "bluegreen-dev-router").stdout.strip()
        assert step({"router.drainSeconds": 20}) == [f"update {SWITCH}"]  # nginx config, not stop_timeout
        assert step({"router.memoryMb": 192}) == [f"update {ROUTER}"]  # docker update, same container
        memory = docker("inspect", "-f", "{{.Id}} {{.HostConfig.Memory}}", "bluegreen-dev-router").stdout.split()
        assert memory == [router_id, str(192 * 1024 * 1024)]

        # One that needs a new router container is a hand-over: clients that never retry lose nothing.
        with BackgroundProbe(URL, connections=16, retry=False, post_every=3, settle_seconds=1) as strict:
            handed = step({"router.cpus": 1})
        assert {f"replace {ROUTER}", "update command:local:Command::app-router-handover-begin",
                "update command:local:Command::app-router-handover-end"} <= set(handed), handed  # fmt: skip
        assert not [op for op in handed if "app-router-net" in op], "the listener stays"
        cpus = docker("inspect", "-f", "{{.HostConfig.NanoCpus}}", "bluegreen-dev-router").stdout.strip()
        assert cpus == "1000000000"
        assert docker("ps", "-aq", "--filter", "label=bluegreen.role=router-bridge").stdout.strip() == ""
        print(f"router hand-over: {strict.stats.requests} never-retried requests, {strict.stats.failed} failed")
        assert strict.stats.requests > 100 and strict.stats.failed == 0, strict.stats.errors.most_common(3)
        time.sleep(1)
        load.keep_until(5_000)

    stats = load.stats
    print(f"{stats.requests} requests, {stats.failed} failed, {stats.retried} retried, {dict(stats.colors())}")
    assert stats.failed == 0, (stats.errors, Counter(s.status for s in stats.samples if s.status != 200))
    assert set(stats.colors()) == {"blue", "green"}

    # Destroy leaves nothing of the stack on the engine.
    destroy("dev")
    label = "label=bluegreen.deployment=bluegreen-dev"
    assert docker("ps", "-aq", "--filter", label).stdout.strip() == ""
    assert docker("network", "ls", "-q", "--filter", "name=bluegreen-dev").stdout.strip() == ""
    assert docker("volume", "ls", "-q", "--filter", "name=bluegreen-dev").stdout.strip() == ""


def test_dev_stack_serves_https_rotates_and_enters_maintenance(clean_dev: None) -> None:
    """`tls` set as a secret: HTTPS verified against the test CA, HTTP redirected, a rotation that is one
    command update, and `bluegreen maintenance on|off` under load with no broken request."""
    ca = trustme.CA()
    context = client_context(ca)
    chain, key, fingerprint = issue_pem(ca)
    tls = {"certificate": chain, "key": key, "port": 18443}
    outputs, _ = up("dev", {**PORTS, "tls": tls}, secret_keys=("tls",))
    assert outputs["url"] == HTTPS and outputs["previewUrl"] == "https://127.0.0.1:18181"
    status, headers, _ = fetch(HTTPS + "/", context)
    assert status == 200 and headers["x-bluegreen-color"] == "blue"
    assert served_fingerprint(HTTPS, context) == fingerprint
    status, headers, _ = fetch(URL + "/notes?page=2")
    assert status == 308 and headers["location"] == HTTPS + "/notes?page=2", (status, headers)

    chain, key, rotated = issue_pem(ca)
    _, operations = up("dev", {**PORTS, "tls": {**tls, "certificate": chain, "key": key}}, secret_keys=("tls",))
    assert operations == ["update command:local:Command::app-router-tls"], "a rotation touches nothing else"
    assert served_fingerprint(HTTPS, context) == rotated != fingerprint

    # An emergency rotation by hand holds across an unrelated update, which does not run the program's install.
    hand_chain, hand_key, by_hand = issue_pem(ca)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "cert.pem").write_text(hand_chain)
        (Path(folder) / "key.pem").write_text(hand_key)
        installed = subprocess.run([sys.executable, "-m", "bluegreen", "tls", "install", "--stack", "dev",
                                    "--certificate", f"{folder}/cert.pem", "--key", f"{folder}/key.pem"],
                                   cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    unrelated = {**PORTS, "tls": {**tls, "certificate": chain, "key": key}, "router.drainSeconds": 20}
    _, operations = up("dev", unrelated, secret_keys=("tls",))
    assert operations == [f"update {SWITCH}"] and served_fingerprint(HTTPS, context) == by_hand != rotated

    def maintenance(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bluegreen", "maintenance", *args, "--stack", "dev"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    with BackgroundProbe(HTTPS, connections=16, tls=context, settle_seconds=1) as load:
        on = maintenance("on", "--retry-after", "30")
        assert on.returncode == 0, on.stderr
        status, headers, _ = fetch(HTTPS + "/", context)
        assert status == 503 and headers["retry-after"] == "30"
        off = maintenance("off")
        assert off.returncode == 0, off.stderr
        assert fetch(HTTPS + "/", context)[0] == 200
    statuses = Counter(s.status for s in load.stats.samples)
    assert set(statuses) == {200, 503} and not load.stats.errors, (statuses, load.stats.errors)
    destroy("dev")


def engine_up(*overrides: str) -> subprocess.CompletedProcess[str]:
    """`python -m lab.engine up dev ...` as a user runs it."""
    args = [*(f"{k}={v}" for k, v in PORTS.items()), *overrides]
    return subprocess.run([sys.executable, "-m", "lab.engine", "up", "dev", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)  # fmt: skip


def test_dev_rollout_aborts_a_failing_canary_and_promotes_a_healthy_one(clean_dev: None) -> None:
    """rollout.steps through the engine: 20% 500s on green at 10% abort to blue, with one line naming the error
    rate, while the rollout's webhook drips its answer a byte at a time; a healthy green walks the step and takes
    100%; the router's metrics then count exactly what a client counted. How fast the abort comes is the bench's
    (analysis.detect_s, with each misbehaving webhook): tests count, benchmarks time."""
    assert engine_up().returncode == 0  # blue 1.0.0 at 100%
    # The analysis' defaults, every rule on: a busy machine's millisecond noise must not abort the healthy run.
    promote = ['rollout.steps=[{"weight":10,"pauseSeconds":20}]', "activeColor=green", "trafficWeight=100",
               "green.version=1.1.0"]  # fmt: skip
    with misbehaving_webhook() as base, BackgroundProbe(URL, connections=16, round_seconds=1) as load:
        hook = [f"notifications.webhookUrl={webhook_url(base, 'drip')}", "notifications.allowHttp=true"]
        failing = engine_up(*promote, *hook, "green.env.APP_FAULT_ERROR_RATE=0.2")
    assert failing.returncode == 1
    aborted = [line for line in failing.stderr.splitlines() if "rollout aborted" in line]
    assert len(aborted) == 1 and re.fullmatch(
        r"(engine: )?rollout bluegreen-dev: rollout aborted at green 10%: error rate \d+\.\d% \(\d+ of \d+\) > 1% "
        r"over \d+ s; blue is back at 100%", aborted[0]), failing.stderr  # fmt: skip
    assert "warning: the webhook did not take the" in failing.stderr, "said, and never in the way"
    green_at = [s.at for s in load.stats.samples if s.color == "green"]
    assert green_at, "green took requests at 10%"
    print(f"\ngreen served {len(green_at)} requests over {green_at[-1] - green_at[0]:.1f}s before the abort")
    assert "secret-path" not in failing.stderr, "the webhook's URL is never printed"
    assert served_by(URL) == Counter({"blue": 20})
    status = subprocess.run([sys.executable, "-m", "bluegreen", "status", "--stack", "dev"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False).stdout  # fmt: skip
    assert "last switch: rollout-abort at" in status and "error rate" in status, status

    with BackgroundProbe(URL, connections=16, round_seconds=1):
        healthy = engine_up(*promote)
    assert healthy.returncode == 0, healthy.stderr[-2000:]
    assert served_by(URL) == Counter({"green": 20}) and version_of(URL) == "1.1.0"

    time.sleep(2)
    started = time.monotonic()
    stats = run_probe(URL, 60, 16, max_requests=10_000, retry=False)
    took = time.monotonic() - started
    time.sleep(1.5)
    command = [sys.executable, "-m", "bluegreen", "metrics", "--stack", "dev", "--json", "--window", f"{took + 2:.1f}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    counted = json.loads(done.stdout)["colors"]
    client = Counter(s.color for s in stats.samples if s.status)
    assert {c: counted[c]["requests"] for c in ("blue", "green")} == {"blue": client["blue"], "green": client["green"]}
    destroy("dev")


def test_bad_override_fails_with_the_key_named(clean_dev: None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab.engine", "up", "dev", "activeColor=purple"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "activeColor: got 'purple'; allowed: 'blue' or 'green'" in done.stderr
    assert "Traceback" not in done.stderr
    assert docker("ps", "-aq", "--filter", "label=bluegreen.deployment=bluegreen-dev").stdout.strip() == ""
