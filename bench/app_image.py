"""Image size and start-to-healthy of the app image, next to the naive baseline.

Both images are built in this run from the same base and the same wheelhouse,
so the ratio holds on a noisy machine. Writes bench/results/app_image.json.

    python -m bench.app_image [--runs 5] [--base-image bluegreen-local/python:3.11]
                              [--runtime-image bluegreen-local/python-runtime:3.11]

The app image is the production Dockerfile (a builder stage on the base, the
runtime stage on RUNTIME_IMAGE); the naive image is one stage on the base, as
a first Dockerfile would be written. Start-to-healthy runs the app hardened as
deployed (bluegreen.engine.hardening: read-only root, no capabilities, pids limit).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import urllib.request
from typing import Any

from bluegreen.engine.hardening import APP_DEFAULT
from lab.paths import ROOT

RUNTIME = "bluegreen-local/python-runtime:3.11"

RESULTS = ROOT / "bench" / "results"


def sh(*args: str, check: bool = True, timeout: float = 900, stderr_too: bool = False) -> str:
    """Run a command in the project; its stdout (and stderr), or RuntimeError with the end of its stderr."""
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed: {done.stderr.strip()[-800:]}")
    return done.stdout + done.stderr if stderr_too else done.stdout.strip()


def image_size_mb(image: str) -> float:
    return int(sh("docker", "image", "inspect", "-f", "{{.Size}}", image)) / 1e6


def build(base_image: str, runtime_image: str = RUNTIME) -> tuple[str, str]:
    sh("make", "--no-print-directory", "app-image", "VERSION=bench", f"BASE_IMAGE={base_image}",
       f"RUNTIME_IMAGE={runtime_image}")  # fmt: skip
    naive = "bluegreen-app-naive:bench"
    sh(
        "docker",
        "build",
        "-q",
        "-f",
        "bench/naive.Dockerfile",
        "--build-arg",
        f"BASE_IMAGE={base_image}",
        "-t",
        naive,
        "app",
    )
    return "bluegreen-app:bench", naive


def start_to_healthy(image: str) -> tuple[float, float]:
    """Seconds from `docker run` to the first 200 on /health/ready, and to Docker's `healthy`."""
    name = "bluegreen-bench-start"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    started = time.monotonic()
    sh("docker", "run", "-d", "--name", name, *APP_DEFAULT.docker_run_args(), "-p", "127.0.0.1::8000", image)
    port = sh("docker", "port", name, "8000/tcp").splitlines()[0].rsplit(":", 1)[1]
    ready = healthy = None
    try:
        while healthy is None and time.monotonic() - started < 60:
            if ready is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as r:
                        if r.status == 200:
                            ready = time.monotonic() - started
                except OSError:
                    pass
            if sh("docker", "inspect", "-f", "{{.State.Health.Status}}", name) == "healthy":
                healthy = time.monotonic() - started
            time.sleep(0.02)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    if ready is None or healthy is None:
        raise RuntimeError(f"{image} did not become healthy within 60 s")
    return ready, healthy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base-image", default="bluegreen-local/python:3.11")
    parser.add_argument("--runtime-image", default=RUNTIME)
    args = parser.parse_args()
    image, naive = build(args.base_image, args.runtime_image)
    size, naive_size = image_size_mb(image), image_size_mb(naive)
    base_size, runtime_size = image_size_mb(args.base_image), image_size_mb(args.runtime_image)
    samples = [start_to_healthy(image) for _ in range(args.runs)]
    result: dict[str, Any] = {
        "image": {
            "size_mb": round(size, 1),
            "naive_size_mb": round(naive_size, 1),
            "reduction": round(1 - size / naive_size, 3),
            "base_size_mb": round(base_size, 1),
            "runtime_base_size_mb": round(runtime_size, 1),
            # What each build adds to its own final base: the venv and the app vs. everything copied in.
            "added_mb": round(size - runtime_size, 1),
            "naive_added_mb": round(naive_size - base_size, 1),
            "added_reduction": round(1 - (size - runtime_size) / (naive_size - base_size), 3),
        },
        "app": {
            "start_to_ready_s": round(statistics.median(s[0] for s in samples), 2),
            "start_to_healthy_s": round(statistics.median(s[1] for s in samples), 2),
            "start_to_healthy_max_s": round(max(s[1] for s in samples), 2),
            "runs": args.runs,
        },
        "base_image": args.base_image,
        "runtime_image": args.runtime_image,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "app_image.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
