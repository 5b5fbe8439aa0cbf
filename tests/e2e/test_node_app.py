"""The contract is the contract: a Node.js app that shares no code with app/ deploys, releases and switches.

samples/node-app (docs/apps.md) is built by the program from its own context
with its own base image and healthcheck, hardened like the Python app (read-
only root, no capabilities, a numeric non-root user), then released to the
idle colour and switched to and back under clients that never retry.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

from lab.dockercli import docker, get
from lab.engine import Steps, destroy
from lab.images import NODE_IMAGE
from lab.prober import BackgroundProbe
from tests.support.dockergate import need_image

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

URL = "http://127.0.0.1:18380"
NODE_APP = {
    "router.port": 18380,
    "router.previewPort": 18381,
    "image.context": "samples/node-app",
    "image.baseImage": NODE_IMAGE,
    "app.healthCommand": ["node", "/app/healthcheck.js"],
    "app.stopGraceSeconds": 5,
}


@pytest.fixture
def node_dev() -> Iterator[Steps]:
    need_image(NODE_IMAGE)
    destroy("dev")
    yield Steps("dev", NODE_APP)
    destroy("dev")


def answer(url: str = URL) -> dict[str, str]:
    status, headers, body = get(url)
    assert status == 200, (status, body)
    return {**json.loads(body), "routed": headers.get("X-Bluegreen-Color", "?")}


def test_the_node_sample_app_deploys_releases_and_switches_with_no_failed_request(node_dev: Steps) -> None:
    up = node_dev
    up({})  # blue 1.0.0 and green 1.0.0, blue live
    first = answer()
    assert first["version"] == "1.0.0" and first["color"] == "blue" and first["runtime"].startswith("node ")

    names = docker("ps", "-q", "--filter", "label=bluegreen.deployment=bluegreen-dev",
                   "--filter", "label=bluegreen.color=blue").stdout.split()  # fmt: skip
    seen = json.loads(docker("inspect", *names).stdout)[0]
    assert seen["Config"]["User"] == "10001:10001" and seen["HostConfig"]["ReadonlyRootfs"] is True
    assert seen["HostConfig"]["CapDrop"] == ["ALL"] and seen["State"]["Health"]["Status"] == "healthy"
    assert seen["Config"]["Healthcheck"]["Test"] == ["CMD", "node", "/app/healthcheck.js"]

    with BackgroundProbe(URL, connections=8, retry=False, post_every=4) as load:
        up({"green.version": "1.1.0"})  # a release to the idle colour: green's containers replaced, drained
        up({"activeColor": "green"})  # the switch
        up({"activeColor": "blue"})  # and the rollback
        up({"activeColor": "green"})
    assert load.stats.failed == 0, load.stats.errors
    assert load.stats.requests > 500 and sum(1 for s in load.stats.samples if s.method == "POST") > 100
    served = Counter(answer()["routed"] for _ in range(20))
    assert served == Counter({"green": 20}) and answer()["version"] == "1.1.0"
    by_app = {s.app_color for s in load.stats.samples if s.status == 200}
    assert by_app == {"blue", "green"}, "the Node app's own header names its colour, as the contract asks"
