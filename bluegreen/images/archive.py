"""What a `docker save` archive holds, and moving one out of and into the engine.

The archive's own manifest is read before anything is loaded, so a blob that
would retag other images on this host is refused; the engine is reached
through the same transport as every other command (bluegreen/engine/client.py),
so an unreachable engine says so instead of looking like a missing image.
"""

from __future__ import annotations

import json
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen.engine.client import DockerClient
from bluegreen.errors import DockerError, ImageStoreError, InputError


@dataclass(frozen=True)
class ArchiveContents:
    """The names and image ids a `docker save` archive would give `docker load`."""

    repo_tags: tuple[str, ...]
    image_ids: tuple[str, ...]


def read_archive(blob: Path) -> ArchiveContents:
    """manifest.json, repositories and index.json of a gzip'd `docker save`, read in one streaming pass."""
    wanted = {"manifest.json", "repositories", "index.json"}
    found: dict[str, Any] = {}
    try:
        with tarfile.open(blob, mode="r|gz") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if name in wanted and member.isfile() and member.size < 1024 * 1024:
                    handle = archive.extractfile(member)
                    found[name] = json.loads(handle.read()) if handle else None
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError, zlib.error) as exc:
        raise ImageStoreError(f"the image archive cannot be read ({one_line(exc)}); nothing was loaded") from None
    tags: list[str] = []
    ids: list[str] = []
    for entry in found.get("manifest.json") or []:
        tags += [str(t) for t in entry.get("RepoTags") or []]
        config = str(entry.get("Config", ""))
        hexdigest = config.removeprefix("blobs/sha256/").removesuffix(".json")
        ids.append(f"sha256:{hexdigest}")
    for repository, versions in (found.get("repositories") or {}).items():
        tags += [f"{repository}:{tag}" for tag in versions]
    for manifest in (found.get("index.json") or {}).get("manifests") or []:
        named = (manifest.get("annotations") or {}).get("io.containerd.image.name")
        if named:
            tags.append(str(named))
    return ArchiveContents(tuple(dict.fromkeys(tags)), tuple(dict.fromkeys(ids)))


def _same_name(found: str, ref: str) -> bool:
    """`shop:1.4.2` as Docker spells it in an archive: as given, or fully qualified (HOST/NAMESPACE/shop:1.4.2)."""
    qualified = found.endswith(("/" + ref, "/library/" + ref)) and found.count("/") <= 2 + ref.count("/")
    return found == ref or qualified


def check_archive(ref: str, contents: ArchiveContents, image_id: str | None) -> None:
    """Refuse an archive that would load anything but `ref` as the recorded image."""
    others = [t for t in contents.repo_tags if not _same_name(t, ref)]
    if others:
        raise ImageStoreError(
            f"{ref}: the archive also names {', '.join(others[:3])}; docker load would retag those on this host. "
            "Refused; nothing was loaded"
        )
    if not contents.repo_tags:
        raise ImageStoreError(f"{ref}: the archive names no tag; refused, nothing was loaded")
    if len(contents.image_ids) != 1:
        raise ImageStoreError(
            f"{ref}: the archive holds {len(contents.image_ids)} images, not one; refused, nothing was loaded"
        )
    if image_id and contents.image_ids[0] != image_id:
        raise ImageStoreError(
            f"{ref}: the archive's image is {contents.image_ids[0][:19]}, not the {image_id[:19]} recorded at push; "
            "refused, nothing was loaded"
        )


def docker_image_id(ref: str) -> str:
    found = DockerClient().image_id(ref)
    if found is None:
        raise ImageStoreError(f"{ref}: no such image in the Docker engine")
    return found


def docker_save(ref: str) -> Iterator[bytes]:
    try:
        yield from DockerClient().save_image(ref)
    except DockerError as exc:
        if isinstance(exc, InputError):
            raise  # no engine answers: the address is what to fix, and it says so
        raise ImageStoreError(f"docker save {ref} failed: {exc}") from exc


def gzip_chunks(chunks: Iterator[bytes], level: int = 6) -> Iterator[bytes]:
    """gzip a stream without holding it: the output is a valid .gz file, chunk by chunk."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def docker_load(blob: Path) -> str:
    try:
        with blob.open("rb") as archive:
            return DockerClient().load_image(archive)
    except DockerError as exc:
        if isinstance(exc, InputError):
            raise
        raise ImageStoreError(f"docker load failed: {exc}") from exc


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
