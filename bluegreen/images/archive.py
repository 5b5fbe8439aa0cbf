"""What a `docker save` archive holds, and moving one out of and into the engine.

The archive's own manifest is read before anything is loaded, so a blob that
would retag other images on this host is refused; the engine is reached
through the same transport as every other command (bluegreen/engine/client.py),
so an unreachable engine says so instead of looking like a missing image.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
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


METADATA = frozenset({"manifest.json", "repositories", "index.json", "oci-layout"})
HASHED_MAX = 1024 * 1024  # image configs are small; layers are not hashed here (docker load checks them)


def _member_name(raw: str) -> str:
    """A member's name as Docker's loader reaches it: extracted, so `./x`, `/x` and `a/../x` are all `x`."""
    name = posixpath.normpath(raw.lstrip("/")) if raw.strip("/") else "."
    if name == ".." or name.startswith("../"):
        raise ImageStoreError(f"the archive's member {raw!r} leaves the archive; refused, nothing was loaded")
    return name


def _check_link(member: tarfile.TarInfo, name: str) -> None:
    """Docker's own archives link a layer to another layer's file, nothing else: any other link could stand in
    for the manifest Docker reads (or a directory it is written through)."""
    base = posixpath.dirname(name) if member.issym() else ""
    target = posixpath.normpath(posixpath.join(base, member.linkname.lstrip("/")))
    if not name.endswith("/layer.tar") or target.startswith("../") or target in METADATA:
        kind = "a symbolic link" if member.issym() else "a hard link"
        raise ImageStoreError(
            f"the archive's member {member.name!r} is {kind} to {member.linkname!r}; Docker's archives link only "
            "layers; refused, nothing was loaded"
        )


def read_archive(blob: Path) -> ArchiveContents:
    """manifest.json, repositories and index.json of a gzip'd `docker save`, read in one streaming pass.

    Names are cleaned as Docker's loader cleans them, and a metadata file that is a link, a directory or
    twice in the archive is refused: the loader would read one this check never saw. The image config's
    content must hash to the id its name claims, so a pinned id holds before anything is loaded."""
    found: dict[str, Any] = {}
    hashes: dict[str, str] = {}
    try:
        with tarfile.open(blob, mode="r|gz") as archive:
            for member in archive:
                name = _member_name(member.name)
                if member.issym() or member.islnk():
                    _check_link(member, name)
                if name in METADATA:
                    if not member.isfile() or name in found or member.size >= HASHED_MAX:
                        raise ImageStoreError(
                            f"the archive's {name} is {'there twice' if name in found else 'not a small file'}; "
                            "refused, nothing was loaded"
                        )
                    handle = archive.extractfile(member)
                    found[name] = json.loads(handle.read()) if handle else None
                elif member.isfile() and member.size < HASHED_MAX:
                    handle = archive.extractfile(member)
                    hashes[name] = hashlib.sha256(handle.read() if handle else b"").hexdigest()
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError, zlib.error) as exc:
        raise ImageStoreError(f"the image archive cannot be read ({one_line(exc)}); nothing was loaded") from None
    tags: list[str] = []
    ids: list[str] = []
    for entry in found.get("manifest.json") or []:
        tags += [str(t) for t in entry.get("RepoTags") or []]
        config = _member_name(str(entry.get("Config", "")))
        hexdigest = config.removeprefix("blobs/sha256/").removesuffix(".json")
        if hashes.get(config) != hexdigest:
            raise ImageStoreError(
                f"the archive's image config {config} does not hash to the id its name claims; refused, nothing "
                "was loaded"
            )
        ids.append(f"sha256:{hexdigest}")
    for repository, versions in (found.get("repositories") or {}).items():
        tags += [f"{repository}:{tag}" for tag in versions]
    for manifest in (found.get("index.json") or {}).get("manifests") or []:
        named = (manifest.get("annotations") or {}).get("io.containerd.image.name")
        if named:
            tags.append(str(named))
    return ArchiveContents(tuple(dict.fromkeys(tags)), tuple(dict.fromkeys(ids)))


def familiar(ref: str) -> str:
    """A reference as Docker shows it: `docker.io/library/shop:1.4.2` is `shop:1.4.2`, nothing else is."""
    library = ref.removeprefix("docker.io/library/")
    if library != ref and "/" not in library:
        return library
    return ref.removeprefix("docker.io/")


def _same_name(found: str, ref: str) -> bool:
    """Exactly `ref` (as Docker spells it): `ghcr.io/victim/shop:1.4.2` is another image than `shop:1.4.2`."""
    return familiar(found) == familiar(ref)


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


class EngineTags:
    """The engine's tag -> image id map around a load: every tag but the one pulled must come out unchanged.

    The archive checks should make this impossible; this is the second line, on what the engine did."""

    def __init__(self, client: DockerClient | None = None) -> None:
        self.client = client or DockerClient()
        self.before: dict[str, str] = {}

    def snapshot(self) -> None:
        self.before = self.client.image_tags()

    def restore(self, pulled: str) -> list[str]:
        """Put back every other tag the load changed or added; what was changed, one phrase each."""
        after = self.client.image_tags()
        changed: list[str] = []
        for tag, image in sorted(after.items()):
            if familiar(tag) == familiar(pulled) or self.before.get(tag) == image:
                continue
            if tag in self.before:
                self.client.tag_image(self.before[tag], tag)
                changed.append(f"{tag} (moved to {image[:19]}, put back on {self.before[tag][:19]})")
            else:
                self.client.untag_image(tag)
                changed.append(f"{tag} (added, removed)")
        return changed


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
