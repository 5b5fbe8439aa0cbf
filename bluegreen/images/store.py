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
import hashlib
import ipaddress
import json
import re
import tempfile
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen.colors import utc_now
from bluegreen.errors import ImageInputError, ImageStoreError
from bluegreen.images.archive import (
    EngineTags,
    check_archive,
    docker_image_id,
    docker_load,
    docker_save,
    gzip_chunks,
    one_line,
    read_archive,
)
from bluegreen.images.pinning import IMAGE_TAG_PATTERN

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB
HISTORY_LIMIT = 50
_TAG = re.compile(IMAGE_TAG_PATTERN)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,127}$")
_ENV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def endpoint_problem(url: str, allow_http: bool = False) -> str | None:
    """Why an S3 endpoint is not safe to pull images from, or None: one rule for the CLI and the stack file.

    Over plain http anyone on the path can answer for the bucket, and so choose what the host runs; only
    a loopback address (a local proxy or a test server) is exempt, and an explicit allowance."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an https:// URL with a host"
    if parts.scheme == "https" or allow_http:
        return None
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return ("an https:// URL (or http:// to a loopback address); over plain http anyone on the path can swap "
            "the images: allow it explicitly to accept that")  # fmt: skip


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
                    f"s3://{self.bucket}/{key}: upload failed ({one_line(failure)}) and aborting it failed too "
                    f"({one_line(exc)}); a lifecycle rule AbortIncompleteMultipartUpload removes what is left"
                ) from None
            if isinstance(failure, Exception) and not isinstance(failure, ImageStoreError):
                raise ImageStoreError(
                    f"s3://{self.bucket}/{key}: upload failed and was aborted: {one_line(failure)}"
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
        pinned_id: str | None = None,
        engine_tags: EngineTags | None = None,
    ) -> str:
        """Download, verify (sha256, tags, image id), `docker load`, check the id; returns NAME:TAG.

        By tag (NAME:TAG) or by pointer (NAME --env). Nothing is loaded unless
        every check before the load passes. `pinned_id`: the image id the stack file pins (reviewed outside
        the bucket); the bucket's record must agree and the archive must hold exactly that image.
        """
        meta = self.pointer(ref_or_name, env) if env is not None else self.tag(*split_ref(ref_or_name))
        if env is not None:  # the pointer names the tag; the tag's own record holds the image id
            meta = {**self.tag(meta["name"], meta["tag"]), **{k: meta[k] for k in ("key", "sha256")}}
        ref = f"{meta['name']}:{meta['tag']}"
        if pinned_id and meta.get("imageId") != pinned_id:
            raise ImageStoreError(
                f"{ref}: the bucket's record names image {str(meta.get('imageId'))[:19]}, the stack file pins "
                f"{pinned_id[:19]}; refused, nothing was loaded (someone who can write the bucket changed it)"
            )
        expected = pinned_id or meta.get("imageId")
        tags = engine_tags if engine_tags is not None else (EngineTags() if load is None else None)
        with tempfile.TemporaryDirectory(prefix="bluegreen-pull-") as tmp:
            blob = Path(tmp) / "image.tar.gz"
            self.download(meta, blob)
            check_archive(ref, read_archive(blob), expected)
            if tags is not None:
                tags.snapshot()
            (load or docker_load)(blob)
        changed = tags.restore(ref) if tags is not None else []
        if changed:
            raise ImageStoreError(f"{ref}: docker load changed other tags on this host: {'; '.join(changed)}; "
                                  f"do not use {ref} (docker rmi it)")  # fmt: skip
        if expected:
            loaded = (inspect or docker_image_id)(ref)
            if loaded != expected:
                raise ImageStoreError(
                    f"{ref}: docker load produced image {loaded[:19]}, not the recorded {expected[:19]}; "
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
