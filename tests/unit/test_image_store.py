"""The image store against a real S3 API (moto server on 127.0.0.1): rules, pointers, checksums.

Docker is replaced by small fakes here (`save`, `load`, the image id);
tests/integration/test_image_store_docker.py does the round trip into the real engine.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import random
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen.errors import ImageStoreError
from bluegreen.images import store as image_store
from bluegreen.images.archive import gzip_chunks
from bluegreen.images.store import ImageStore, split_ref

IMAGE_ID = "sha256:" + "c" * 64


def archive(tags: tuple[str, ...] = ("shop:1.0.0",), image_id: str = IMAGE_ID, payload: bytes = b"") -> bytes:
    """A `docker save` archive as Docker writes it: manifest.json naming the tags and the image's config blob."""
    config = "blobs/sha256/" + image_id.removeprefix("sha256:")
    manifest = [{"Config": config, "RepoTags": list(tags), "Layers": ["blobs/sha256/" + "d" * 64]}]
    files = {"manifest.json": json.dumps(manifest).encode(), config: b"{}", "blobs/sha256/" + "d" * 64: payload}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


IMAGE = archive(payload=b"a layer" * 150_000)  # ~1 MB, compressible like a real one


@pytest.fixture
def store(bucket: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> ImageStore:
    monkeypatch.setattr(image_store, "docker_image_id", lambda ref: IMAGE_ID)
    client, name = bucket
    return ImageStore(client, name, "teams/shop")


def save(data: bytes = IMAGE, chunk: int = 65536) -> Callable[[str], Iterator[bytes]]:
    return lambda ref: (data[i : i + chunk] for i in range(0, len(data), chunk))


class Loads:
    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def __call__(self, blob: Path) -> str:
        self.blobs.append(gzip.decompress(blob.read_bytes()))
        return "Loaded image"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("shop", "expected NAME:TAG"),
        ("shop:latest", "'latest' moves"),
        ("Shop:1.0", "lowercase"),
        ("shop:bad tag", "not a valid image tag"),
    ],
)
def test_refs_must_be_pinned(ref: str, message: str) -> None:
    with pytest.raises(ImageStoreError, match=message):
        split_ref(ref)


def test_gzip_chunks_make_one_valid_file() -> None:
    data = b"".join(gzip_chunks(iter([b"abc" * 1000, b"", b"xyz" * 1000])))
    assert gzip.decompress(data) == b"abc" * 1000 + b"xyz" * 1000


def test_push_promote_pull_round_trip(store: ImageStore) -> None:
    pushed = store.push("shop:1.0.0", save=save())
    assert pushed.key.startswith("teams/shop/shop/blobs/1.0.0-") and pushed.size < len(IMAGE)
    meta = json.loads(store.s3.get_object(Bucket=store.bucket, Key="teams/shop/shop/tags/1.0.0.json")["Body"].read())
    assert meta["sha256"] == pushed.sha256 and meta["imageId"] == "sha256:" + "c" * 64
    store.promote("shop:1.0.0", "prod")
    loads = Loads()
    assert store.pull("shop", env="prod", load=loads) == "shop:1.0.0"
    assert loads.blobs == [IMAGE]
    assert store.pull("shop:1.0.0", load=loads) == "shop:1.0.0"


def test_tags_are_immutable(store: ImageStore) -> None:
    store.push("shop:1.0.0", save=save())
    with pytest.raises(ImageStoreError, match=r"already in s3://.*; tags are immutable"):
        store.push("shop:1.0.0", save=save(b"other"))
    loads = Loads()
    store.pull("shop:1.0.0", load=loads)
    assert loads.blobs == [IMAGE]


def test_a_concurrent_push_of_the_same_tag_loses_cleanly(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both pass the existence check; the tag's If-None-Match write lets exactly one win."""
    real_get = store._get_json
    monkeypatch.setattr(store, "_get_json", lambda key: None if key.endswith("tags/2.0.0.json") else real_get(key))
    store.push("shop:2.0.0", save=save(b"first" * 1000))
    with pytest.raises(ImageStoreError, match="pushed concurrently"):
        store.push("shop:2.0.0", save=save(b"second" * 1000))
    blobs = store.s3.list_objects_v2(Bucket=store.bucket, Prefix="teams/shop/shop/blobs/")["Contents"]
    assert len(blobs) == 1, "the loser's blob is removed"


def test_promotion_keeps_history_newest_first(store: ImageStore) -> None:
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        store.push(f"shop:{version}", save=save(version.encode() * 10))
        store.promote(f"shop:{version}", "prod")
    assert [h["tag"] for h in store.history("shop", "prod")] == ["1.2.0", "1.1.0", "1.0.0"]
    assert store.pointer("shop", "prod")["tag"] == "1.2.0"


def test_racing_promotions_leave_a_valid_pointer(store: ImageStore) -> None:
    for version in ("1.0.0", "2.0.0"):
        store.push(f"shop:{version}", save=save(version.encode()))
    errors: list[Exception] = []

    def promote(version: str) -> None:
        try:
            for _ in range(5):
                store.promote(f"shop:{version}", "prod")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in ("1.0.0", "2.0.0")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    pointer = store.pointer("shop", "prod")
    assert pointer["tag"] in ("1.0.0", "2.0.0")
    assert pointer["sha256"] == store.tag("shop", pointer["tag"])["sha256"]
    assert len(store.history("shop", "prod")) == 10, "every promotion is in the history: none was lost"


def test_missing_pointer_and_tag(store: ImageStore) -> None:
    with pytest.raises(ImageStoreError, match="environment 'prod' points at nothing yet"):
        store.pull("shop", env="prod", load=Loads())
    with pytest.raises(ImageStoreError, match=r"shop:9.9.9: no such tag"):
        store.pull("shop:9.9.9", load=Loads())
    with pytest.raises(ImageStoreError, match="no such tag"):
        store.promote("shop:9.9.9", "prod")


def test_corrupted_object_is_refused_and_nothing_loads(store: ImageStore) -> None:
    pushed = store.push("shop:1.0.0", save=save())
    store.s3.put_object(Bucket=store.bucket, Key=pushed.key, Body=gzip.compress(b"tampered"))
    loads = Loads()
    with pytest.raises(ImageStoreError, match=r"checksum mismatch .*nothing was loaded"):
        store.pull("shop:1.0.0", load=loads)
    assert loads.blobs == []


def test_list_tags(store: ImageStore) -> None:
    for version in ("1.0.0", "1.1.0"):
        store.push(f"shop:{version}", save=save())
    assert [m["tag"] for m in store.tags("shop")] == ["1.0.0", "1.1.0"]
    assert store.tags("other") == []


def test_parts_stay_bounded(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream larger than a part goes up in several parts; no part exceeds PART_SIZE + one chunk."""
    sizes: list[int] = []
    real_part = store._part

    def spy(key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        sizes.append(len(data))
        return real_part(key, upload_id, number, data)

    monkeypatch.setattr(store, "_part", spy)
    noise = archive(("shop:3.0.0",), payload=random.Random(7).randbytes(20 * 1024 * 1024))  # 3 parts of 8 MiB
    store.push("shop:3.0.0", save=save(noise, chunk=1024 * 1024))
    assert len(sizes) == 3 and max(sizes) <= image_store.PART_SIZE + 1024 * 1024 + 4096
    loads = Loads()
    store.pull("shop:3.0.0", load=loads)
    assert loads.blobs == [noise]


def test_an_archive_naming_another_tag_is_refused_before_loading(store: ImageStore) -> None:
    """docker load applies every tag an archive names: one more could retag the router's image."""
    store.push("shop:1.0.0", save=save(archive(("shop:1.0.0", "nginx:1.27"))))
    loads = Loads()
    with pytest.raises(ImageStoreError) as caught:
        store.pull("shop:1.0.0", load=loads)
    assert str(caught.value) == ("shop:1.0.0: the archive also names nginx:1.27; docker load would retag those on "
                                 "this host. Refused; nothing was loaded")  # fmt: skip
    assert loads.blobs == []


def test_an_archive_whose_image_is_not_the_recorded_one_is_refused(store: ImageStore) -> None:
    store.push("shop:1.0.0", save=save(archive(image_id="sha256:" + "e" * 64)))
    loads = Loads()
    expected = r"the archive's image is sha256:eeeeeeeeeeee, not the sha256:cccccccccccc recorded at push; refused"
    with pytest.raises(ImageStoreError, match=expected):
        store.pull("shop:1.0.0", load=loads)
    assert loads.blobs == []


def test_a_loaded_id_that_differs_from_the_record_is_an_error(store: ImageStore) -> None:
    store.push("shop:1.0.0", save=save())
    with pytest.raises(ImageStoreError, match="docker load produced image sha256:ffffffffffff, not the recorded"):
        store.pull("shop:1.0.0", load=Loads(), inspect=lambda ref: "sha256:" + "f" * 64)
    assert store.tag("shop", "1.0.0")["repoTags"] == ["shop:1.0.0"]


def test_a_full_disk_during_a_pull_is_one_line(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.push("shop:1.0.0", save=save())
    real_open = Path.open

    def full(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "image.tar.gz":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", full)
    with pytest.raises(ImageStoreError) as caught:
        store.pull("shop:1.0.0", load=Loads())
    message = str(caught.value)
    assert "\n" not in message and message.startswith("shop:1.0.0: writing ") and "no space left" in message
    assert "nothing was loaded (set TMPDIR to a larger disk)" in message


def test_a_push_that_fails_mid_upload_aborts_its_multipart_upload(store: ImageStore) -> None:
    """A fault injected into part 2, against the moto server: nothing incomplete stays behind, no tag is recorded."""
    from botocore.exceptions import EndpointConnectionError

    def fail_part_two(params: dict[str, Any], **_: Any) -> None:
        if params.get("PartNumber") == 2:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1/ (injected)")

    store.s3.meta.events.register("before-parameter-build.s3.UploadPart", fail_part_two)
    try:
        noise = archive(("shop:4.0.0",), payload=random.Random(8).randbytes(12 * 1024 * 1024))
        with pytest.raises(ImageStoreError) as caught:
            store.push("shop:4.0.0", save=save(noise, chunk=1024 * 1024))
    finally:
        store.s3.meta.events.unregister("before-parameter-build.s3.UploadPart", fail_part_two)
    message = str(caught.value)
    assert "\n" not in message and "upload failed and was aborted: Could not connect" in message, message
    assert store.s3.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    with pytest.raises(ImageStoreError, match="no such tag"):
        store.tag("shop", "4.0.0")


def test_cli_reports_store_errors_in_one_line(s3_endpoint: str, bucket: tuple[Any, str]) -> None:
    from bluegreen.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["image", "pull", "shop", "--env", "prod", "--bucket", bucket[1], "--endpoint-url", s3_endpoint],
                out, err)  # fmt: skip
    assert code == 1
    assert (
        err.getvalue().strip()
        == "image pull: shop: environment 'prod' points at nothing yet (promote a tag to it first)"
    )
    code = main(["image", "list", "shop", "--bucket", "no-such-bucket-x", "--endpoint-url", s3_endpoint], out, err)
    assert code == 1 and "NoSuchBucket" in err.getvalue()
