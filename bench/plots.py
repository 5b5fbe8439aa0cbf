"""The benchmark's pictures: what `make bench` measured, drawn into docs/img/ (matplotlib, PNG).

Each function takes the raw series a scenario kept (bench/run.py's SERIES) or its results and writes one
PNG. `draw` writes them all and returns their sha256, which docs/benchmarks.md records beside them so a
test can tell pictures of this run from stale ones (tests/unit/test_bench_report.py).
"""

from __future__ import annotations

import hashlib
import pathlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt

BUCKET_S = 0.1
COLOR_OF = {"blue": "#1f77b4", "green": "#2ca02c"}

# (name, title, what it shows in one line for the docs)
PLOTS = (
    ("timeline.png", "Answers per colour, per 100 ms: a canary, a promotion and a rollback",
     "never-retrying clients; failed requests would be red crosses (there are none)"),
    ("releases.png", "Failed requests per release: a plain replace vs blue/green",
     "the same app, the same load; blue/green's releases are the no-retry run's"),
    ("switch_latency.png", "How long until every request goes to the new colour",
     "from the switch's start to the first moment all answers come from the new colour"),
    ("abort.png", "A bad canary (20% errors) at 100 requests/s: caught and rolled back",
     "the canary's answers and errors per second, its weight, and the abort"),
    ("throughput.png", "Throughput: one app container directly, through a plain nginx proxy, through the router",
     "the same load tool, the same container image and limits, side by side in one run"),
)  # fmt: skip


def _buckets(
    samples: Sequence[tuple[float, str, int]], t0: float, key: Callable[[str, int], str | None]
) -> Counter[tuple[int, str]]:
    counts: Counter[tuple[int, str]] = Counter()
    for at, color, status in samples:
        label = key(color, status)
        if label is not None:
            counts[(int((at - t0) / BUCKET_S), label)] += 1
    return counts


def timeline(series: Mapping[str, Any], path: pathlib.Path) -> None:
    samples, marks, t0 = series["samples"], series["marks"], series["t0"]
    counts = _buckets(samples, t0, lambda color, status: color if 0 < status < 500 else None)
    failed = [(at - t0) for at, _, status in samples if status == 0 or status >= 500]
    last = int(max((at for at, _, _ in samples), default=t0) - t0) + 1
    xs = [i * BUCKET_S for i in range(int(last / BUCKET_S) + 1)]
    fig, ax = plt.subplots(figsize=(10, 4))
    for color in ("blue", "green"):
        ax.plot(xs, [counts[(i, color)] for i in range(len(xs))], color=COLOR_OF[color], label=f"{color} answers")
    if failed:
        ax.scatter(failed, [0] * len(failed), marker="x", color="red", label=f"failed ({len(failed)})", zorder=3)
    for at, label in marks:
        ax.axvline(at - t0, color="grey", linestyle="--", linewidth=1)
        ax.annotate(label, (at - t0, ax.get_ylim()[1] * 0.95), rotation=90, va="top", ha="right", fontsize=8)
    ax.set(xlabel="seconds", ylabel="answers per 100 ms", title=f"{PLOTS[0][1]} ({len(failed)} failed)")
    ax.legend(loc="lower right")
    _save(fig, path)


def releases(baseline: Sequence[int], bluegreen: Sequence[int], path: pathlib.Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.4
    xs = range(max(len(baseline), len(bluegreen)))
    ax.bar([x - width / 2 for x in xs[: len(baseline)]], baseline, width, color="#d62728", label="replace in place")
    ax.bar([x + width / 2 for x in xs[: len(bluegreen)]], bluegreen, width, color=COLOR_OF["green"],
           label="blue/green")  # fmt: skip
    for x, value in zip(xs, bluegreen, strict=False):
        ax.annotate(str(value), (x + width / 2, value), ha="center", va="bottom", fontsize=8)
    ax.set(xticks=list(xs), xticklabels=[str(x + 1) for x in xs], xlabel="release", ylabel="failed requests",
           title=PLOTS[1][1])  # fmt: skip
    ax.legend()
    _save(fig, path)


def switch_latency(live_ms: Sequence[float], full_ms: Sequence[float], path: pathlib.Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    top = max([*live_ms, *full_ms, 1.0])
    bins = [top * i / 30 for i in range(31)]
    ax.hist(full_ms, bins=bins, alpha=0.6, label=f"flips, 32 keep-alive clients ({len(full_ms)})")
    ax.hist(live_ms, bins=bins, alpha=0.6, label=f"flips, never-retrying clients ({len(live_ms)})")
    ax.set(xlabel="ms until every answer is the new colour's", ylabel="switches", title=PLOTS[2][1])
    ax.legend()
    _save(fig, path)


def abort(series: Mapping[str, Any], path: pathlib.Path) -> None:
    samples, events, t0 = series["samples"], series["events"], series["t0"]
    seconds: Counter[int] = Counter()
    errors: Counter[int] = Counter()
    for at, color, status in samples:
        if color == "green":
            seconds[int(at - t0)] += 1
            errors[int(at - t0)] += status >= 500
    last = max([*seconds, 0]) + 2
    fig, ax = plt.subplots(figsize=(10, 4))
    xs = list(range(last))
    ax.bar(xs, [seconds[x] for x in xs], color=COLOR_OF["green"], alpha=0.5, label="canary answers per second")
    ax.bar(xs, [errors[x] for x in xs], color="#d62728", label="of them 5xx")
    weight = ax.twinx()
    steps = [(at - t0, w) for at, w in series["weights"]]
    weight.step([x for x, _ in steps], [w for _, w in steps], where="post", color="black", label="canary weight %")
    weight.set(ylabel="canary weight %", ylim=(0, 100))
    for at, kind, text in events:
        if kind in ("verdict", "aborted"):
            ax.axvline(at - t0, color="#d62728" if kind == "aborted" else "grey", linestyle="--", linewidth=1)
            ax.annotate(text, (at - t0, ax.get_ylim()[1] * 0.9), rotation=90, va="top", ha="right", fontsize=7)
    ax.set(xlabel="seconds from the rollout's start", ylabel="requests per second", title=PLOTS[3][1])
    ax.legend(loc="upper left")
    _save(fig, path)


def throughput(router: Mapping[str, Any], path: pathlib.Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    bars = [("direct", router["direct_rps"], "#7f7f7f")]
    if router.get("plain_proxy_rps"):
        bars.append(("plain nginx proxy", router["plain_proxy_rps"], "#bcbd22"))
    bars.append(("bluegreen router", router["router_rps"], "#1f77b4"))
    ax.bar([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
    for i, (_, value, _) in enumerate(bars):
        ax.annotate(f"{value:,}", (i, value), ha="center", va="bottom")
    plain = f", {router['rps_vs_plain_proxy']} of a plain proxy" if router.get("rps_vs_plain_proxy") else ""
    ax.set(ylabel=f"requests per second ({router['tool']})",
           title=f"{PLOTS[4][1]}\n{router['rps_ratio']} of direct{plain}")  # fmt: skip
    _save(fig, path)


def _save(fig: Any, path: pathlib.Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})  # no version string: the bytes are the picture's
    plt.close(fig)


def draw(series: Mapping[str, Any], results: Mapping[str, Any], out: pathlib.Path) -> dict[str, str]:
    """Every plot into `out`; each file's sha256."""
    out.mkdir(parents=True, exist_ok=True)
    timeline(series["timeline"], out / "timeline.png")
    releases(series["baseline_failed"], series["bluegreen_failed"], out / "releases.png")
    switch_latency(series["live_ms"], series["full_ms"], out / "switch_latency.png")
    abort(series["abort"], out / "abort.png")
    throughput(results["router"], out / "throughput.png")
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name, _, _ in PLOTS}


def markdown(hashes: Mapping[str, str], date: str) -> str:
    """The pictures for docs/benchmarks.md, with the run and each file's sha256 (what the freshness test reads)."""
    lines = [f"Drawn by `make bench` from the run of {date}.", ""]
    for name, title, what in PLOTS:
        lines += [f"**{title}** ({what}).", "", f"![{title}](img/{name})", ""]
    lines += [f"<!-- bench:plot {name} sha256:{digest} -->" for name, digest in sorted(hashes.items())]
    return "\n".join(lines)
