"""The test engine diffs against what pulumi-docker's Read writes back, so the program must send exactly that.

A stack with whole-number CPU limits and a database container (its healthcheck waits a minute: Go prints
"1m0s") deployed twice changes nothing the second time; memory raised to four times its create-time value
is one in-place `docker update` for the router and the database (Docker keeps the swap at 2 x memory unless
it is sent, and refuses a memory limit above it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lab.dockercli import docker
from lab.engine import Steps, destroy
from lab.prober import BackgroundProbe

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

URL = "http://127.0.0.1:18480"
VOLUME = "bluegreen-dev-db-data"
CONFIG = {
    "router.port": 18480,
    "router.previewPort": 18481,
    "app.resources.cpus": 1.0,
    "router.cpus": 1.0,
    "database.mode": "container",
}
ROUTER = "docker:index/container:Container::app-router"


@pytest.fixture
def dev() -> Iterator[Steps]:
    destroy("dev")
    docker("volume", "rm", "-f", VOLUME, check=False)
    yield Steps("dev", CONFIG)
    destroy("dev")
    docker("volume", "rm", "-f", VOLUME, check=False)


def limits(name: str) -> tuple[int, int, int]:
    host = json.loads(docker("inspect", name).stdout)[0]["HostConfig"]
    return host["Memory"] // 2**20, host["MemorySwap"] // 2**20, host["NanoCpus"]


def test_a_second_up_changes_nothing_and_memory_grows_in_place(dev: Steps) -> None:
    created = dev({})
    assert any("bluegreen-dev-db" in op or "app-db" in op for op in created), created
    assert limits("bluegreen-dev-router") == (128, 128, 1_000_000_000), "swap pinned to memory, sent as such"
    assert dev({}) == [], "nothing the provider reads back differs from what the program sends"

    with BackgroundProbe(URL, connections=4, retry=False) as load:
        # (An app container's name carries its spec, so new app limits are new containers, by design.)
        grown = dev({"router.memoryMb": 512, "database.resources.memoryMb": 2048})
    assert grown and all(op.startswith("update ") for op in grown), grown
    assert f"update {ROUTER}" in grown
    assert limits("bluegreen-dev-router") == (512, 512, 1_000_000_000)
    assert limits("bluegreen-dev-db")[:2] == (2048, 2048)
    assert load.stats.failed == 0 and load.stats.requests > 0, load.stats.errors
    assert dev({}) == []
