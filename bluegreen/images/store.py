"""Images without a registry: gzip'd `docker save` tarballs in an S3-compatible bucket.

Layout under `s3://BUCKET/PREFIX/NAME/` (docs/images.md):

    tags/TAG.json            what a tag is: blob key, sha256, size, image id. Written once,
                             with If-None-Match, so a tag can never be overwritten.
    blobs/TAG-UPLOAD.tar.gz  the image, streamed: docker save | gzip | multipart upload.
    envs/ENV.json            the pointer: which tag ENV runs, and the tags it ran before.
                             Replaced atomically (one PUT, If-Match on the last version read).

Memory stays bounded: a push holds one multipart part (8 MiB) at a time, and a
pull streams the object to a temporary file, checks its sha256, and only then
hands it to `docker load`.

A pull trusts nothing in the tarball it did not record at push. `docker load`
applies whatever repository tags the archive names, so an archive that names
any tag but the requested one could retag another image on the host (the
router's, say): write access to the bucket would become code execution on
the deploy host. So before loading, the archive must name exactly the
requested tag and exactly one image whose id (its config digest) is the one
recorded at push; after loading, the tag must point at that id.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen.colors import utc_now
from bluegreen.errors import ImageInputError, ImageStoreError
from bluegreen.images.pinning import IMAGE_TAG_PATTERN

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB
HISTORY_LIMIT = 50
_TAG = re.compile(IMAGE_TAG_PATTERN)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,127}$")
_ENV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def split_ref(ref: str) -> tuple[str, str]:
    """NAME:TAG -> (NAME, TAG), refusing `latest` and tagless references."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag or not name:
        raise ImageInputError(f"image {ref!r}: expected NAME:TAG with an immutable tag, e.g. shop:1.4.2")
    check_name(name)
    if not _TAG.match(tag):
        raise ImageInputError(f"image {ref!r}: tag {tag!r} is not a valid image tag")
    if tag == "latest":
        raise ImageInputError(f"image {ref!r}: 'latest' moves; push an immutable tag (a version or a git sha)")
    return name, tag


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ImageInputError(f"image name {name!r}: lowercase letters, digits, '.', '_', '-', '/'")
    return name


def check_env(env: str) -> str:
    if not _ENV.match(env):
        raise ImageInputError(f"--env {env!r}: letters, digits, '.', '_', '-'")
    return env


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class PushResult:
    ref: str
    key: str
    sha256: str
    size: int
    image_id: str


class ImageStore:
    def __init__(self, s3: Any, bucket: str, prefix: str = "images") -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    # --- keys --------------------------------------------------------------

    def _key(self, name: str, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, name, *parts) if p)

    def tag_key(self, name: str, tag: str) -> str:
        return self._key(name, "tags", f"{tag}.json")

    def env_key(self, name: str, env: str) -> str:
        return self._key(name, "envs", f"{env}.json")

    def _get_json(self, key: str) -> tuple[dict[str, Any], str] | None:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:  # botocore's ClientError; NoSuchKey means absent
            if _error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise ImageStoreError(f"s3://{self.bucket}/{key}: {exc}") from None
        data: dict[str, Any] = json.loads(response["Body"].read())
        return data, str(response["ETag"])

    # --- push --------------------------------------------------------------

    def push(self, ref: str, save: Callable[[str], Iterator[bytes]] | None = None) -> PushResult:
        """Stream `docker save ref` through gzip into the bucket; refuse an existing tag."""
        name, tag = split_ref(ref)
        if self._get_json(self.tag_key(name, tag)) is not None:
            raise ImageStoreError(f"{ref}: already in s3://{self.bucket}/{self.prefix}; tags are immutable")
        image_id = docker_image_id(ref)
        blob = self._key(name, "blobs", f"{tag}-{uuid.uuid4().hex[:12]}.tar.gz")
        digest, size = self._upload_stream(blob, gzip_chunks((save or docker_save)(ref)))
        meta = {"name": name, "tag": tag, "key": blob, "sha256": digest, "size": size, "imageId": image_id,
                "repoTags": [ref], "pushedAt": utc_now()}  # fmt: skip
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=self.tag_key(name, tag), Body=json.dumps(meta, indent=2).encode(),
                ContentType="application/json", IfNoneMatch="*",
            )  # fmt: skip
        except Exception as exc:
            self.s3.delete_object(Bucket=self.bucket, Key=blob)
            if _error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ImageStoreError(f"{ref}: pushed concurrently by someone else; tags are immutable") from None
            raise ImageStoreError(f"{ref}: recording the tag failed: {exc}") from None
        return PushResult(ref, blob, digest, size, image_id)

    def _upload_stream(self, key: str, chunks: Iterator[bytes]) -> tuple[str, int]:
        """Multipart upload of a stream, one part in memory at a time; returns (sha256, size)."""
        digest = hashlib.sha256()
        size = 0
        upload = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType="application/gzip")
        parts: list[dict[str, Any]] = []
        buffer = bytearray()
        try:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                if len(buffer) >= PART_SIZE:
                    parts.append(self._part(key, upload["UploadId"], len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if buffer or not parts:
                parts.append(self._part(key, upload["UploadId"], len(parts) + 1, bytes(buffer)))
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
            )
        except BaseException as failure:
            # An incomplete multipart upload is invisible and billed until aborted.
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
            except Exception as exc:
                raise ImageStoreError(
                    f"s3://{self.bucket}/{key}: upload failed ({_one_line(failure)}) and aborting it failed too "
                    f"({_one_line(exc)}); a lifecycle rule AbortIncompleteMultipartUpload removes what is left"
                ) from None
            if isinstance(failure, Exception) and not isinstance(failure, ImageStoreError):
                raise ImageStoreError(
                    f"s3://{self.bucket}/{key}: upload failed and was aborted: {_one_line(failure)}"
                ) from None
            raise
        return digest.hexdigest(), size

    def _part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        response = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        return {"ETag": response["ETag"], "PartNumber": number}

    # --- promote, pull, list, history --------------------------------------------------

    def tag(self, name: str, tag: str) -> dict[str, Any]:
        found = self._get_json(self.tag_key(name, tag))
        if found is None:
            raise ImageStoreError(f"{name}:{tag}: no such tag in s3://{self.bucket}/{self.prefix}")
        return found[0]

    def promote(self, ref: str, env: str, attempts: int = 8) -> dict[str, Any]:
        """Point `env` at `ref` in one atomic write; the previous pointer goes into the history."""
        name, tag = split_ref(ref)
        check_env(env)
        meta = self.tag(name, tag)
        for _ in range(attempts):
            current = self._get_json(self.env_key(name, env))
            previous, etag = current if current else ({}, None)
            history = [{k: previous[k] for k in ("tag", "sha256", "promotedAt")}] if previous.get("tag") else []
            pointer = {
                "name": name, "env": env, "tag": tag, "key": meta["key"], "sha256": meta["sha256"],
                "promotedAt": utc_now(), "history": (history + previous.get("history", []))[:HISTORY_LIMIT],
            }  # fmt: skip
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.s3.put_object(Bucket=self.bucket, Key=self.env_key(name, env),
                                   Body=json.dumps(pointer, indent=2).encode(), ContentType="application/json",
                                   **condition)  # fmt: skip
                return pointer
            except Exception as exc:
                if _error_code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise ImageStoreError(f"promote {ref} to {env}: {exc}") from None
                # Someone promoted at the same moment: read their pointer and go again.
        raise ImageStoreError(f"promote {ref} to {env}: the pointer kept changing; try again")

    def pointer(self, name: str, env: str) -> dict[str, Any]:
        found = self._get_json(self.env_key(check_name(name), check_env(env)))
        if found is None:
            raise ImageStoreError(f"{name}: environment {env!r} points at nothing yet (promote a tag to it first)")
        return found[0]

    def download(self, meta: dict[str, Any], target: Path) -> None:
        """Stream the blob to `target` and check its sha256; ImageStoreError (and no file) on a mismatch."""
        response = self.s3.get_object(Bucket=self.bucket, Key=meta["key"])
        digest = hashlib.sha256()
        try:
            with target.open("wb") as out:
                for chunk in response["Body"].iter_chunks(1024 * 1024):
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as exc:
            target.unlink(missing_ok=True)
            need = f" (the image needs {int(meta.get('size') or 0) / 1e6:.0f} MB there)" if meta.get("size") else ""
            what = "no space left" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
            raise ImageStoreError(
                f"{meta.get('name')}:{meta.get('tag')}: writing {target.parent}: {what}{need}; nothing was loaded "
                "(set TMPDIR to a larger disk)"
            ) from None
        if digest.hexdigest() != meta["sha256"]:
            target.unlink()
            raise ImageStoreError(
                f"{meta.get('name')}:{meta.get('tag')}: checksum mismatch (expected {meta['sha256'][:12]}..., "
                f"got {digest.hexdigest()[:12]}...); nothing was loaded"
            )

    def pull(
        self,
        ref_or_name: str,
        env: str | None = None,
        load: Callable[[Path], str] | None = None,
        inspect: Callable[[str], str] | None = None,
    ) -> str:
        """Download, verify (sha256, tags, image id), `docker load`, check the id; returns NAME:TAG.

        By tag (NAME:TAG) or by pointer (NAME --env). Nothing is loaded unless
        every check before the load passes.
        """
        meta = self.pointer(ref_or_name, env) if env is not None else self.tag(*split_ref(ref_or_name))
        if env is not None:  # the pointer names the tag; the tag's own record holds the image id
            meta = {**self.tag(meta["name"], meta["tag"]), **{k: meta[k] for k in ("key", "sha256")}}
        ref = f"{meta['name']}:{meta['tag']}"
        with tempfile.TemporaryDirectory(prefix="bluegreen-pull-") as tmp:
            blob = Path(tmp) / "image.tar.gz"
            self.download(meta, blob)
            check_archive(ref, read_archive(blob), meta.get("imageId"))
            (load or docker_load)(blob)
        if meta.get("imageId"):
            loaded = (inspect or docker_image_id)(ref)
            if loaded != meta["imageId"]:
                raise ImageStoreError(
                    f"{ref}: docker load produced image {loaded[:19]}, not the recorded {meta['imageId'][:19]}; "
                    "do not use it (docker rmi it)"
                )
        return ref

    def tags(self, name: str) -> list[dict[str, Any]]:
        prefix = self._key(check_name(name), "tags") + "/"
        found: list[dict[str, Any]] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                meta = self._get_json(item["Key"])
                if meta is not None:
                    found.append(meta[0])
        return sorted(found, key=lambda m: str(m.get("pushedAt")))

    def history(self, name: str, env: str) -> list[dict[str, Any]]:
        pointer = self.pointer(name, env)
        current = {k: pointer[k] for k in ("tag", "sha256", "promotedAt")}
        return [current, *pointer.get("history", [])]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- what a `docker save` archive says it holds ------------------------------------------------


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
        raise ImageStoreError(f"the image archive cannot be read ({_one_line(exc)}); nothing was loaded") from None
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


# --- Docker, through its CLI (it streams, and honours DOCKER_HOST and contexts) ------------------


def docker_image_id(ref: str) -> str:
    # An argument list, and every ref passed split_ref (it cannot start with '-'): no shell, no option.
    done = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", ref], capture_output=True,  # nosec B603
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise ImageStoreError(f"{ref}: no such image in the local Docker engine")
    return done.stdout.strip()


def docker_save(ref: str) -> Iterator[bytes]:
    process = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # nosec B603
    if process.stdout is None:  # cannot happen with PIPE; keeps the type checker and bandit honest
        raise ImageStoreError("docker save: no output stream")
    while chunk := process.stdout.read(1024 * 1024):
        yield chunk
    if process.wait() != 0:
        error = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
        raise ImageStoreError(f"docker save {ref} failed: {error}")


def gzip_chunks(chunks: Iterator[bytes], level: int = 6) -> Iterator[bytes]:
    """gzip a stream without holding it: the output is a valid .gz file, chunk by chunk."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def docker_load(blob: Path) -> str:
    with gzip.open(blob, "rb") as source:
        process = subprocess.Popen(["docker", "load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # nosec B603
                                   stderr=subprocess.PIPE)  # fmt: skip
        if process.stdin is None:
            raise ImageStoreError("docker load: no input stream")
        shutil.copyfileobj(source, process.stdin, 1024 * 1024)
        process.stdin.close()
        out = process.stdout.read().decode() if process.stdout else ""
        err = process.stderr.read().decode() if process.stderr else ""
        if process.wait() != 0:
            raise ImageStoreError(f"docker load failed: {err.strip()}")
    return out.strip()
