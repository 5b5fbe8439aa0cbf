"""The image store against a real S3 API (moto server on 127.0.0.1): rules, pointers, checksums.

Docker is replaced by small fakes here (`save`, `load`, the image id);
tests/integration/test_image_store_docker.py does the round trip into the real engine.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
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

CONFIG = b'{"architecture":"amd64","os":"linux"}'
IMAGE_ID = "sha256:" + hashlib.sha256(CONFIG).hexdigest()


def archive(tags: tuple[str, ...] = ("shop:1.0.0",), config_blob: bytes = CONFIG, payload: bytes = b"") -> bytes:
    """A `docker save` archive as Docker writes it: manifest.json naming the tags and the image's config blob
    (its name is the sha256 of its content: the image id)."""
    config = "blobs/sha256/" + hashlib.sha256(config_blob).hexdigest()
    manifest = [{"Config": config, "RepoTags": list(tags), "Layers": ["blobs/sha256/" + "d" * 64]}]
    files = {"manifest.json": json.dumps(manifest).encode(), config: config_blob, "blobs/sha256/" + "d" * 64: payload}
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
    assert meta["sha256"] == pushed.sha256 and meta["imageId"] == IMAGE_ID
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
    other = b'{"os":"linux","variant":"another build"}'
    store.push("shop:1.0.0", save=save(archive(config_blob=other)))
    loads = Loads()
    expected = (f"the archive's image is sha256:{hashlib.sha256(other).hexdigest()[:12]}, not the "
                f"{IMAGE_ID[:19]} recorded at push; refused")  # fmt: skip
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


# --- archives that would make `docker load` read another manifest than the one checked ------------------------


def crafted(members: list[tuple[str, bytes | None, str]]) -> bytes:
    """A tar of (name, data, link): data for a regular file; link "sym:TARGET" or "hard:TARGET" for a link."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link:
                kind, _, target = link.partition(":")
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = target
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
    return buffer.getvalue()


EVIL = json.dumps([{"Config": "blobs/sha256/" + IMAGE_ID[7:], "RepoTags": ["nginx:1.27"], "Layers": []}]).encode()
GOOD = json.dumps([{"Config": "blobs/sha256/" + IMAGE_ID[7:], "RepoTags": ["shop:1.0.0"], "Layers": []}]).encode()
BASE = [("blobs/sha256/" + IMAGE_ID[7:], CONFIG, "")]
TWICE = "the archive's manifest.json is there twice"


@pytest.mark.parametrize(
    ("members", "said"),
    [
        ([*BASE, ("manifest.json", GOOD, ""), (".//manifest.json", EVIL, "")], TWICE),
        ([*BASE, ("manifest.json", GOOD, ""), ("x/../manifest.json", EVIL, "")], TWICE),
        ([*BASE, ("evil.json", EVIL, ""), ("manifest.json", None, "sym:evil.json")], "'manifest.json' is a symbolic"),
        ([*BASE, ("evil.json", EVIL, ""), ("manifest.json", None, "hard:evil.json")], "'manifest.json' is a hard link"),
        ([*BASE, ("manifest.json", GOOD, ""), ("d", None, "sym:."), ("d/manifest.json", EVIL, "")], "'d' is a sym"),
        ([*BASE, ("manifest.json", GOOD, ""), ("../manifest.json", EVIL, "")], "'../manifest.json' leaves the archive"),
        ([*BASE, ("manifest.json", GOOD, ""), ("repositories", json.dumps({"nginx": {"1.27": "x"}}).encode(), "")],
         "also names nginx:1.27"),
        ([("blobs/sha256/" + IMAGE_ID[7:], b'{"os":"not what the name says"}', ""), ("manifest.json", GOOD, "")],
         "does not hash to the id its name claims"),
        ([*BASE, ("manifest.json", json.dumps([{"Config": "blobs/sha256/" + IMAGE_ID[7:],
                                                "RepoTags": ["ghcr.io/victim/shop:1.0.0"]}]).encode(), "")],
         "also names ghcr.io/victim/shop:1.0.0"),
    ],
    ids=["dot-slash-twice", "dotdot-twice", "symlink", "hardlink", "directory-link", "escape", "repositories",
         "config-hash", "other-namespace"],
)  # fmt: skip
def test_every_archive_trick_is_refused_before_anything_is_loaded(
    store: ImageStore, members: list[tuple[str, bytes | None, str]], said: str
) -> None:
    store.push("shop:1.0.0", save=save(crafted(members)))
    loads = Loads()
    with pytest.raises(ImageStoreError) as caught:
        store.pull("shop:1.0.0", load=loads)
    message = str(caught.value)
    assert said in message and "nothing was loaded" in message.lower() and "\n" not in message, message
    assert loads.blobs == []


def test_docker_hub_spellings_of_the_same_name_are_the_same_image() -> None:
    from bluegreen.images.archive import familiar

    assert familiar("docker.io/library/shop:1.0.0") == "shop:1.0.0" == familiar("shop:1.0.0")
    assert familiar("docker.io/acme/shop:1.0.0") == "acme/shop:1.0.0"
    assert familiar("ghcr.io/victim/shop:1.0.0") == "ghcr.io/victim/shop:1.0.0"


def test_a_record_rewritten_in_the_bucket_is_refused_against_the_stack_files_pin(store: ImageStore) -> None:
    """A bucket writer uploads another image and rewrites tags/TAG.json to match it: sha256, imageId, all."""
    store.push("shop:1.0.0", save=save())
    other_config = b'{"os":"linux","comment":"swapped"}'
    swapped = archive(config_blob=other_config)
    key = "teams/shop/shop/blobs/swapped.tar.gz"
    body = gzip.compress(swapped)
    store.s3.put_object(Bucket=store.bucket, Key=key, Body=body)
    record = {**store.tag("shop", "1.0.0"), "key": key, "sha256": hashlib.sha256(body).hexdigest(),
              "size": len(body), "imageId": "sha256:" + hashlib.sha256(other_config).hexdigest()}  # fmt: skip
    store.s3.put_object(Bucket=store.bucket, Key=store.tag_key("shop", "1.0.0"), Body=json.dumps(record).encode())
    loads = Loads()
    assert store.pull("shop:1.0.0", load=loads, inspect=lambda ref: record["imageId"]) == "shop:1.0.0", (
        "without a pin the rewritten record vouches for itself: why production needs COLOR.imageId"
    )
    loads = Loads()
    with pytest.raises(ImageStoreError) as caught:
        store.pull("shop:1.0.0", load=loads, pinned_id=IMAGE_ID)
    assert str(caught.value) == (
        f"shop:1.0.0: the bucket's record names image {record['imageId'][:19]}, the stack file pins {IMAGE_ID[:19]}; "
        "refused, nothing was loaded (someone who can write the bucket changed it)"
    )
    assert loads.blobs == []


def test_the_pinned_image_pulls_when_record_and_archive_agree(store: ImageStore) -> None:
    store.push("shop:1.0.0", save=save())
    loads = Loads()
    assert store.pull("shop:1.0.0", load=loads, pinned_id=IMAGE_ID, inspect=lambda ref: IMAGE_ID) == "shop:1.0.0"
    assert loads.blobs == [IMAGE]


class Tags:
    """The engine's tags in memory; `load` moves one, as a loader that slipped past every check would."""

    def __init__(self) -> None:
        self.tags = {"nginx:1.27": "sha256:" + "1" * 64, "shop:0.9.0": "sha256:" + "2" * 64}
        self.calls: list[str] = []

    def image_tags(self) -> dict[str, str]:
        return dict(self.tags)

    def tag_image(self, image_id: str, ref: str) -> None:
        self.calls.append(f"tag {ref} {image_id[:13]}")
        self.tags[ref] = image_id

    def untag_image(self, ref: str) -> None:
        self.calls.append(f"untag {ref}")
        self.tags.pop(ref)


def test_a_load_that_moves_another_tag_is_undone_and_reported(store: ImageStore) -> None:
    from bluegreen.images.archive import EngineTags

    store.push("shop:1.0.0", save=save())
    engine = Tags()

    def load(blob: Path) -> str:
        engine.tags.update({"shop:1.0.0": IMAGE_ID, "nginx:1.27": IMAGE_ID, "evil:1": IMAGE_ID})
        return "Loaded image"

    with pytest.raises(ImageStoreError) as caught:
        store.pull("shop:1.0.0", load=load, engine_tags=EngineTags(engine), inspect=lambda ref: IMAGE_ID)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "docker load changed other tags on this host: evil:1 (added, removed); nginx:1.27 (moved to " in message
    assert engine.tags == {"nginx:1.27": "sha256:" + "1" * 64, "shop:0.9.0": "sha256:" + "2" * 64,
                           "shop:1.0.0": IMAGE_ID}, "every other tag as it was"  # fmt: skip


@pytest.mark.parametrize(
    ("url", "allowed"),
    [("https://s3.example.com", True), ("http://127.0.0.1:9000", True), ("http://localhost:9000", True),
     ("http://[::1]:9000", True), ("http://minio.internal:9000", False), ("http://10.0.0.5:9000", False)],
)  # fmt: skip
def test_plain_http_endpoints_only_to_loopback_unless_allowed(url: str, allowed: bool) -> None:
    from bluegreen.images.store import endpoint_problem

    assert (endpoint_problem(url) is None) is allowed
    assert endpoint_problem(url, allow_http=True) is None


def test_the_cli_refuses_a_plain_http_endpoint_before_any_request() -> None:
    from bluegreen.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["image", "pull", "shop:1.0.0", "--bucket", "acme", "--endpoint-url", "http://minio.internal:9000"],
                out, err)  # fmt: skip
    assert code == 2
    assert err.getvalue().startswith("image pull: --endpoint-url: got 'http://minio.internal:9000'; allowed: an "
                                     "https:// URL (or http:// to a loopback address)")  # fmt: skip
