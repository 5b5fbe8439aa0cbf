"""Several apps behind one router (docs/edge.md): what `make bench` measures of `router.shared` and `router.join`.

An owner stack with a shared router, serving an app of its own (every host no
other app claims), and an app stack joined to it: two apps behind one
router, made by the test engine as `pulumi up` makes them. Never-retrying
clients load both apps (every fifth request a POST) while each is switched
back and forth in turn, the owner's app at the shared router itself and the
joined app at its own; a failure of the app that was *not* being switched is
a cross-app failure. Then the second hop's price: the joined app against the
owner's own (the same image), side by side (wrk, alternating rounds).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from bench.app_image import sh
from lab.engine import destroy, up
from lab.paths import ROOT
from lab.prober import BackgroundProbe

OWNER, PORT = "front", 18680
JOINED = {"shop": ("shop.test", PORT + 2)}
APPS = {OWNER: ("front.test", PORT + 1), **JOINED}  # the owner's app answers any host no app claims
ROUNDS = 2


def _switch(stack: str) -> tuple[float, float]:
    """A switch to the other colour at the app's own router (`rollback`): when it ran."""
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bluegreen", "rollback", "--stack", stack], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"rollback {stack}: {done.stderr.strip()}")
    return began, time.monotonic()


def _rps(url: str, host: str, seconds: int) -> float:
    out = sh("wrk", "-t2", "-c16", f"-d{seconds}s", "-H", f"Host: {host}", url, timeout=seconds + 60)
    found = [line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec:")]
    return float(found[0]) if found else 0.0


def _hop_cost(seconds: int) -> dict[str, float]:
    """A joined app (two routers: the owner's, then its own) against the owner's own app (one router), the
    same image and version on the same host: the price of the extra hop. Alternating rounds, so a burst of
    load from elsewhere falls on both."""
    url = f"http://127.0.0.1:{PORT}/"
    rounds: dict[str, list[float]] = {"joined": [], "one_router": []}
    for _ in range(ROUNDS):
        rounds["joined"].append(_rps(url, APPS["shop"][0], seconds))
        rounds["one_router"].append(_rps(url, APPS[OWNER][0], seconds))
    joined, one = statistics.mean(rounds["joined"]), statistics.mean(rounds["one_router"])
    return {"rps_joined": round(joined), "rps_one_router": round(one), "rps_ratio": round(joined / one, 3)}


def edge_apps(switches: int, seconds: int) -> dict[str, Any]:
    for stack in (*JOINED, OWNER):
        destroy(stack)
    try:
        up(OWNER, {"docker.local": True, "router.shared": True, "router.port": PORT, "router.previewPort": PORT + 1},
           base="dev")  # fmt: skip
        for stack, (host, preview) in JOINED.items():
            up(stack, {"docker.local": True, "router.join": f"organization/bluegreen/{OWNER}", "router.hosts": [host],
                       "router.previewPort": preview}, base="dev")  # fmt: skip
        loads = {s: BackgroundProbe(f"http://127.0.0.1:{PORT}", connections=8, retry=False, post_every=5,
                                    settle_seconds=0.5, vhost=h) for s, (h, _) in APPS.items()}  # fmt: skip
        windows: dict[str, list[tuple[float, float]]] = {s: [] for s in APPS}
        with loads[OWNER], loads["shop"]:
            for _ in range(switches):
                for stack in APPS:
                    windows[stack].append(_switch(stack))
        hop = _hop_cost(seconds)
    finally:
        for stack in (*JOINED, OWNER):
            destroy(stack)
    cross = 0
    for stack, load in loads.items():
        others = [w for s, ws in windows.items() if s != stack for w in ws]
        cross += sum(1 for x in load.stats.samples if x.status != 200 and any(a <= x.at <= b + 0.5 for a, b in others))
    return {
        "apps": len(APPS),
        "switches": switches * len(APPS),
        "requests": sum(load.stats.requests for load in loads.values()),
        "failed": sum(load.stats.failed for load in loads.values()),
        "cross_app_failed": cross,
        **hop,
    }
