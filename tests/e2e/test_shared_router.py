"""Several apps behind one router, on the real engine (router.shared, router.join; docs/edge.md).

One stack owns the router and its port; two app stacks join it by name with
their own host names. Under never-retrying load on both apps (every fifth
request a POST), each app is flipped by `pulumi up` and rolled back by the
CLI: neither app loses a request, and a switch of one never moves the
other. A third stack asking for a host another app has is refused, naming
that app. The last app to leave is taken out with one reload while the
other keeps its load: 0 failed again, as it does through its own new host name.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from lab.dockercli import docker, get
from lab.engine import destroy, up
from lab.paths import ROOT
from lab.prober import BackgroundProbe, ProbeStats

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

OWNER = "front"
APPS = {"shop": ("shop.test", 18482, "2.0"), "blog": ("blog.test", 18483, "3.0")}
URL = "http://127.0.0.1:18480"
LOCAL = {"docker.local": True}


def app_config(stack: str, **extra: object) -> dict[str, object]:
    host, preview, minor = APPS[stack]
    versions = {"blue.version": f"{minor}.0", "green.version": f"{minor}.1"}
    return {**LOCAL, "router.join": f"organization/bluegreen/{OWNER}", "router.hosts": [host],
            "router.previewPort": preview, **versions, **extra}  # fmt: skip


@pytest.fixture
def stacks() -> Iterator[None]:
    def clean() -> None:
        for stack in (*APPS, OWNER):
            destroy(stack)

    clean()
    yield
    clean()


def served(host: str, n: int = 10) -> Counter[str]:
    """Which colour and version answered `n` requests for `host` at the owner's port."""
    found: Counter[str] = Counter()
    for _ in range(n):
        _, headers, _ = get(URL, headers={"Host": host})
        found[f"{headers.get('X-Bluegreen-Color')} {headers.get('x-app-version')}"] += 1
    return found


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bluegreen", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def failed(stats: ProbeStats) -> tuple[int, object]:
    return stats.failed, stats.errors.most_common(3) or Counter(s.status for s in stats.samples if s.status != 200)


def test_two_apps_behind_one_router_flip_and_roll_back_without_a_failed_request(stacks: None) -> None:
    up(OWNER, {**LOCAL, "router.shared": True, "router.port": 18480, "router.previewPort": 18481}, base="dev")
    outputs = {stack: up(stack, app_config(stack), base="dev")[0] for stack in APPS}
    assert outputs["shop"]["url"] == "http://shop.test:18480"
    assert served("shop.test") == Counter({"blue 2.0.0": 10}) and served("blog.test") == Counter({"blue 3.0.0": 10})
    assert served("other.test") == Counter({"blue 1.0.0": 10}), "any other host: the owner's own app"

    loads = {stack: BackgroundProbe(URL, connections=8, retry=False, post_every=5, vhost=APPS[stack][0])
             for stack in APPS}  # fmt: skip
    with loads["shop"], loads["blog"]:
        time.sleep(1)
        for stack, other in (("shop", "blog"), ("blog", "shop")):
            host, _, minor = APPS[stack]
            other_before = served(APPS[other][0])
            up(stack, app_config(stack, activeColor="green"), base="dev")  # flip by the program
            assert served(host) == Counter({f"green {minor}.1": 10})
            assert served(APPS[other][0]) == other_before, "a switch of one app moves no other"
            rolled = cli("rollback", "--stack", stack)  # back by the CLI, at the app's own router
            assert rolled.returncode == 0, rolled.stderr
            assert served(host) == Counter({f"blue {minor}.0": 10})
        for load in loads.values():
            load.keep_until(3_000)
    for stack, load in loads.items():
        print(f"{stack}: {load.stats.requests} never-retried requests, {dict(load.stats.colors())}")
        assert failed(load.stats)[0] == 0, failed(load.stats)
        assert {"blue", "green"} <= set(load.stats.colors())

    # A host another app serves is refused, naming that app; nothing changes for either.
    taken = cli("router", "join", "--stack", "other", "--owner", f"bluegreen-{OWNER}", "--hosts", "x.test,blog.test")
    assert taken.returncode == 2 and "blog.test is already served by bluegreen-blog" in taken.stderr, taken.stderr
    assert served("blog.test") == Counter({"blue 3.0.0": 10}) and served("x.test") == Counter({"blue 1.0.0": 10})

    # A file in apps/ broken by hand: the next join is refused with nginx's own line; every app keeps serving.
    router, broken = f"bluegreen-{OWNER}-router", "/etc/nginx/bluegreen/apps/bluegreen-hand.upstream"
    docker("exec", router, "sh", "-c", f"echo 'upstream broken {{' > {broken}")
    refused = cli("router", "join", "--stack", "other", "--owner", f"bluegreen-{OWNER}", "--hosts", "x.test")
    assert refused.returncode == 1 and "[emerg]" in refused.stderr and "previous entry is kept" in refused.stderr
    assert served("shop.test") == Counter({"blue 2.0.0": 10}) and served("x.test") == Counter({"blue 1.0.0": 10})
    docker("exec", router, "rm", broken)

    # New host names are an update of the app's entry (never out), and an app that leaves is taken out with
    # one reload: the other app keeps every request through both.
    with BackgroundProbe(URL, connections=8, retry=False, post_every=5, vhost="shop.test", settle_seconds=1) as shop:
        operations = up("shop", app_config("shop", **{"router.hosts": ["shop.test", "www.shop.test"]}), base="dev")[1]
        # (the Switch too: the config says blue, which the last rollback already made live)
        assert "update command:local:Command::app-join" in operations, operations
        assert all(op.startswith("update command:local:Command::") for op in operations), operations
        assert served("www.shop.test") == Counter({"blue 2.0.0": 10})
        destroy("blog")
    assert failed(shop.stats)[0] == 0, failed(shop.stats)
    assert served("blog.test") == Counter({"blue 1.0.0": 10}), "its host falls back to the owner's app"
    assert docker("exec", f"bluegreen-{OWNER}-router", "ls", "/etc/nginx/bluegreen/apps").stdout.split() == [
        "bluegreen-shop.map", "bluegreen-shop.names", "bluegreen-shop.targets", "bluegreen-shop.upstream"]  # fmt: skip
