"""Registry-less images, for real: docker save -> gzip -> S3 (moto server) -> verify -> docker load.

Peak memory of `image push` is measured for a small and a large image in the
same run: streaming means the large one costs about the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.dockercli import docker
from lab.paths import ROOT

pytestmark = pytest.mark.docker

# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across execve, so a child
# started from a big parent (this test process, holding the S3 server's objects) would
# report the parent's size. VmHWM belongs to the new address space only.
MEASURED = (
    "import re, sys\n"
    "from bluegreen.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)\n"
    "print('peak_rss_kb', hwm, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def cli(endpoint: str, bucket_name: str, *args: str) -> subprocess.CompletedProcess[str]:
    store = ["--bucket", bucket_name, "--prefix", "it", "--endpoint-url", endpoint]
    return subprocess.run([sys.executable, "-c", MEASURED, "image", *args, *store], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=os.environ.copy(), check=False)  # fmt: skip


def peak_mb(done: subprocess.CompletedProcess[str]) -> float:
    line = next(x for x in done.stderr.splitlines() if x.startswith("peak_rss_kb"))
    return int(line.split()[1]) / 1024


def image_id(ref: str) -> str:
    return docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()


def noise_image(folder: Path, ref: str, megabytes: int) -> None:
    """An image of incompressible noise: its size is what the store moves."""
    noise = folder / "noise"
    noise.write_bytes(os.urandom(megabytes * 1024 * 1024))
    subprocess.run(f"tar -C {folder} -c noise | docker import - {ref}", shell=True, check=True,
                   capture_output=True)  # fmt: skip
    noise.unlink()


@pytest.fixture
def images(docker_engine: None, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A large image (160 MB of noise, larger than the process) and a small one (16 MB), under store names."""
    noise_image(tmp_path, "shop-it:1.0.0", 160)
    noise_image(tmp_path, "small-it:1.0.0", 16)
    yield {"large": "shop-it:1.0.0", "small": "small-it:1.0.0"}
    docker("rmi", "-f", "shop-it:1.0.0", "small-it:1.0.0", check=False)


def test_push_promote_pull_round_trip_with_bounded_memory(
    s3_endpoint: str,
    bucket: tuple[Any, str],
    images: dict[str, str],
) -> None:
    _, name = bucket
    peaks = {}
    for size, ref in images.items():
        done = cli(s3_endpoint, name, "push", ref)
        assert done.returncode == 0, done.stderr
        assert f"pushed {ref}:" in done.stdout
        peaks[size] = peak_mb(done)
    large_bytes = int(docker("image", "inspect", "-f", "{{.Size}}", images["large"]).stdout) / 1e6
    print(f"\npeak RSS of image push: {peaks['small']:.0f} MB for 16 MB, {peaks['large']:.0f} MB for "
          f"{large_bytes:.0f} MB")  # fmt: skip
    assert peaks["large"] - peaks["small"] < 32, peaks
    assert peaks["large"] < large_bytes, "the image must never be held in memory"

    again = cli(s3_endpoint, name, "push", images["large"])
    assert again.returncode == 1 and "tags are immutable" in again.stderr

    assert cli(s3_endpoint, name, "promote", images["large"], "--env", "prod").returncode == 0
    original = image_id(images["large"])
    docker("rmi", images["large"])
    pulled = cli(s3_endpoint, name, "pull", "shop-it", "--env", "prod")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip().splitlines()[-1] == "shop-it:1.0.0"
    assert image_id("shop-it:1.0.0") == original

    listed = cli(s3_endpoint, name, "list", "shop-it")
    assert listed.stdout.split()[0] == "1.0.0"
    history = cli(s3_endpoint, name, "history", "shop-it", "--env", "prod")
    assert "1.0.0" in history.stdout


def test_corrupted_blob_loads_nothing(
    s3_endpoint: str,
    bucket: tuple[Any, str],
    images: dict[str, str],
) -> None:
    client, name = bucket
    assert cli(s3_endpoint, name, "push", images["small"]).returncode == 0
    meta = json.loads(client.get_object(Bucket=name, Key="it/small-it/tags/1.0.0.json")["Body"].read())
    client.put_object(Bucket=name, Key=meta["key"], Body=b"\x1f\x8b not the image")
    docker("rmi", images["small"])
    done = cli(s3_endpoint, name, "pull", images["small"])
    assert done.returncode == 1 and "checksum mismatch" in done.stderr and "nothing was loaded" in done.stderr
    assert docker("image", "inspect", images["small"], check=False).returncode != 0


def test_an_archive_that_would_retag_another_image_is_refused_and_the_host_is_unchanged(
    s3_endpoint: str,
    bucket: tuple[Any, str],
    images: dict[str, str],
    tmp_path: Path,
) -> None:
    """Someone with write access to the bucket swaps the blob for one that also tags victim-it:1.0.0."""
    import gzip
    import hashlib

    client, name = bucket
    assert cli(s3_endpoint, name, "push", images["small"]).returncode == 0
    docker("tag", images["large"], "victim-it:1.0.0")  # what the host runs under that name (the router, say)
    victim = image_id("victim-it:1.0.0")
    try:
        docker("tag", images["small"], "victim-it:1.0.0")  # build the evil archive: one image, two tags
        evil = subprocess.run(["docker", "save", images["small"], "victim-it:1.0.0"], capture_output=True,
                              check=True, timeout=300).stdout  # fmt: skip
        docker("tag", images["large"], "victim-it:1.0.0")
        blob = gzip.compress(evil, compresslevel=1)
        meta_key = "it/small-it/tags/1.0.0.json"
        meta = json.loads(client.get_object(Bucket=name, Key=meta_key)["Body"].read())
        client.put_object(Bucket=name, Key=meta["key"], Body=blob)
        meta.update(sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))  # the record is in the bucket too
        client.put_object(Bucket=name, Key=meta_key, Body=json.dumps(meta).encode())
        docker("rmi", images["small"])

        done = cli(s3_endpoint, name, "pull", images["small"])
        assert done.returncode == 1, done.stdout
        assert done.stderr.strip().splitlines()[0] == (
            "image pull: small-it:1.0.0: the archive also names victim-it:1.0.0; docker load would retag those "
            "on this host. Refused; nothing was loaded"
        )
        assert image_id("victim-it:1.0.0") == victim, "the host's images are unchanged"
        assert docker("image", "inspect", images["small"], check=False).returncode != 0
    finally:
        docker("rmi", "-f", "victim-it:1.0.0", check=False)
