"""The real program, applied by the test engine to the real daemon, under load.

This is `pulumi up` as users run it, minus the CLI: deploy the dev stack from
nothing, flip, canary 10 then 50, release a new version to the idle colour,
promote, with 32 keep-alive clients counting every response the whole time.
Each step also checks *what* the engine touched: a traffic change must only
update the Switch, a release only the idle colour, its image and the Switch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.engine import destroy, up
from tests.support.dockerutil import docker, get
from tests.support.paths import ROOT
from tests.support.prober import BackgroundProbe

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

PORTS = {"router.port": 18180, "router.previewPort": 18181}
URL = "http://127.0.0.1:18180"
PREVIEW = "http://127.0.0.1:18181"
SWITCH = "command:local:Command::app-switch"
ROUTER = "docker:index/container:Container::app-router"


@pytest.fixture(scope="module")
def clean_dev() -> Iterator[None]:
    destroy("dev")
    yield
    destroy("dev")


def served_by(url: str, n: int = 20) -> Counter[str]:
    return Counter(get(url)[1].get("X-Bluegreen-Color", "?") for _ in range(n))


def version_of(url: str) -> str:
    return str(json.loads(get(url)[2])["version"])


def test_dev_release_cycle_under_load(clean_dev: None) -> None:
    # Deploy from nothing, through the engine's command line as a user would.
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.engine", "up", "dev", *(f"{k}={v}" for k, v in PORTS.items())],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\ndeploy from nothing: {time.monotonic() - started:.1f}s")
    assert outputs["url"] == URL and outputs["activeColor"] == "blue"
    assert served_by(URL) == Counter({"blue": 20}) and served_by(PREVIEW) == Counter({"green": 20})

    config: dict[str, Any] = dict(PORTS)

    def step(changes: dict[str, Any]) -> list[str]:
        config.update(changes)
        t0 = time.monotonic()
        _, operations = up("dev", config)
        print(f"{changes}: {time.monotonic() - t0:.1f}s, {operations}")
        return operations

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
            f"update {SWITCH}",
            "delete docker:index/container:Container::app-blue-1",
        ])  # fmt: skip
        assert served_by(URL) == Counter({"green": 20})
        assert version_of(PREVIEW) == "1.1.0"

        assert step({"activeColor": "blue"}) == [f"update {SWITCH}"]  # promote
        assert served_by(URL) == Counter({"blue": 20}) and version_of(URL) == "1.1.0"

        # Router settings that need no new container do not get one (pulumi-docker's update rules).
        router_id = docker("inspect", "-f", "{{.Id}}", "bluegreen-dev-router").stdout.strip()
        assert step({"router.drainSeconds": 20}) == [f"update {SWITCH}"]  # nginx config, not stop_timeout
        assert step({"router.memoryMb": 192}) == [f"update {ROUTER}"]  # docker update, same container
        memory = docker("inspect", "-f", "{{.Id}} {{.HostConfig.Memory}}", "bluegreen-dev-router").stdout.split()
        assert memory == [router_id, str(192 * 1024 * 1024)]
        time.sleep(1)

    stats = load.stats
    print(f"{stats.requests} requests, {stats.failed} failed, {stats.retried} retried, {dict(stats.colors())}")
    assert stats.requests > 5_000
    assert stats.failed == 0, (stats.errors, Counter(s.status for s in stats.samples if s.status != 200))
    assert set(stats.colors()) == {"blue", "green"}

    # Destroy leaves nothing of the stack on the engine.
    destroy("dev")
    label = "label=bluegreen.deployment=bluegreen-dev"
    assert docker("ps", "-aq", "--filter", label).stdout.strip() == ""
    assert docker("network", "ls", "-q", "--filter", "name=bluegreen-dev").stdout.strip() == ""
    assert docker("volume", "ls", "-q", "--filter", "name=bluegreen-dev").stdout.strip() == ""


def test_bad_override_fails_with_the_key_named(clean_dev: None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.engine", "up", "dev", "activeColor=purple"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "activeColor: got 'purple'; allowed: 'blue' or 'green'" in done.stderr
    assert "Traceback" not in done.stderr
    assert docker("ps", "-aq", "--filter", "label=bluegreen.deployment=bluegreen-dev").stdout.strip() == ""
