"""The Docker engine as the switch and the CLI use it: a thin layer over the `docker` SDK.

The SDK owns the transport: unix sockets, `tcp://` with TLS, `ssh://` through
the user's own ssh client (`use_ssh_client`, so ~/.ssh/config, agents and
known_hosts apply, and ssh prints its own errors), and API version
negotiation (`version="auto"`: calls are made in the engine's API version).
This module adds what the switch needs on top of it:

- the address check (bluegreen.engine.host) before anything runs, so no ssh
  option can hide in an address;
- TLS as the docker CLI and pulumi-docker set it up for a `tcp://` engine:
  DOCKER_TLS_VERIFY or DOCKER_CERT_PATH (or a stack's `docker.certPath`),
  always verified against ca.pem in that folder;
- two error types, so a caller can tell "fix DOCKER_HOST" from "the engine
  refused this call";
- exec with a bound: the SDK's exec_start waits in poll() without a timeout,
  and a router that never answers must not hang a rollback.

The SDK is imported on the first call, not with this module: `bluegreen
validate`, `reference` and the program's pure parts never pay for it.
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import os
import re
import struct
import tarfile
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from bluegreen.engine.host import host_problem, resolve
from bluegreen.engine.sdk import sdk
from bluegreen.errors import DockerError, EngineUnreachableError

if TYPE_CHECKING:
    import docker
    import docker.tls


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _demux(raw: bytes) -> tuple[bytes, bytes]:
    """Split Docker's multiplexed stream (8-byte frame headers) into stdout and stderr."""
    out, err = io.BytesIO(), io.BytesIO()
    pos = 0
    while pos + 8 <= len(raw):
        kind, size = raw[pos], struct.unpack(">I", raw[pos + 4 : pos + 8])[0]
        chunk = raw[pos + 8 : pos + 8 + size]
        (err if kind == 2 else out).write(chunk)
        pos += 8 + size
    return out.getvalue(), err.getvalue()


def tar_files(
    files: Mapping[str, str], uid: int = 0, gid: int = 0, mode: int = 0o644, directory: str | None = None
) -> bytes:
    """A tar archive of text files, for PUT /containers/{id}/archive.

    With `directory`, the files sit in a directory entry of that name (its last
    path part) owned by uid:gid; extracting it into the parent also gives the
    existing directory that owner.
    """
    buffer = io.BytesIO()
    prefix = ""
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if directory is not None:
            prefix = directory.rstrip("/").rsplit("/", 1)[-1] + "/"
            entry = tarfile.TarInfo(prefix.rstrip("/"))
            entry.type, entry.uid, entry.gid, entry.mode = tarfile.DIRTYPE, uid, gid, 0o755
            entry.mtime = int(time.time())
            tar.addfile(entry)
        made: set[str] = set()
        for name in files:  # parents of nested files, owned like the files
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = prefix + "/".join(parts[:depth])
                if folder not in made:
                    made.add(folder)
                    entry = tarfile.TarInfo(folder)
                    entry.type, entry.uid, entry.gid, entry.mode = tarfile.DIRTYPE, uid, gid, 0o755
                    entry.mtime = int(time.time())
                    tar.addfile(entry)
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(prefix + name)
            info.size, info.uid, info.gid, info.mode = len(data), uid, gid, mode
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tls_config(host: str, environ: Mapping[str, str], cert_path: str | None = None) -> docker.tls.TLSConfig | None:
    """TLS for a `tcp://` engine; None for other addresses or when nothing asks for TLS.

    DOCKER_TLS_VERIFY (the docker CLI's switch), DOCKER_CERT_PATH (what
    pulumi-docker reads) or `cert_path` (a stack's docker.certPath or a
    context's TLS folder) turn it on. The folder is `cert_path`, else
    DOCKER_CERT_PATH, else ~/.docker. The engine's certificate must chain to
    its ca.pem and name the host; the client shows cert.pem/key.pem. Never
    unverified: a Docker API is root on the host.
    """
    if not host.startswith("tcp://") or not (
        cert_path or environ.get("DOCKER_TLS_VERIFY") or environ.get("DOCKER_CERT_PATH")
    ):
        return None
    key = "docker.certPath" if cert_path else "DOCKER_CERT_PATH"
    folder = Path(cert_path or environ.get("DOCKER_CERT_PATH") or Path.home() / ".docker").expanduser()
    missing = [str(folder / f) for f in ("ca.pem", "cert.pem", "key.pem") if not (folder / f).is_file()]
    if missing:
        raise EngineUnreachableError(
            f"{key}: {', '.join(missing)} missing; TLS to {host} needs ca.pem, cert.pem and key.pem"
        )
    from docker.tls import TLSConfig

    ca = str(folder / "ca.pem")
    return TLSConfig(client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")), ca_cert=ca, verify=ca)


def _innermost(exc: BaseException) -> BaseException:
    """The cause under requests' and urllib3's wrapping (`[SSL: CERTIFICATE_VERIFY_FAILED] ...`).

    "HTTPConnectionPool(...): Max retries exceeded ... (Caused by ...)" says
    nothing an operator can act on; the innermost error does.
    """
    seen = exc
    while True:
        inner = getattr(seen, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in seen.args if isinstance(a, BaseException)), seen.__cause__)
        if inner is None or inner is seen:
            return seen
        seen = inner


@functools.cache
def _engine_client_class() -> type[docker.APIClient]:
    import docker

    class EngineAPIClient(docker.APIClient):  # type: ignore[misc]
        """docker.APIClient that takes nothing from requests' environment.

        requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's CA
        on every call that passes no `verify` (psf/requests#3829), and the SDK
        passes none: where they are set (many CI images set them), TLS to the
        engine fails verification. Reading the proxy variables and ~/.netrc
        also cost 0.5 ms a call (measured). The engine is reached directly.
        """

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)  # negotiates the API version: one call, through the override below
            self.trust_env = False

        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
            return super().merge_environment_settings(
                url, proxies, stream, self.verify if verify is None else verify, cert
            )

    return EngineAPIClient


class DockerClient:
    """One engine, one SDK client (and its keep-alive connection pool), made on the first call."""

    def __init__(self, host: str | None = None, timeout: float = 30.0, cert_path: str | None = None) -> None:
        if host is None:  # the environment's engine: DOCKER_CONTEXT, DOCKER_HOST, else the local one
            found = resolve(None, None)
            host, cert_path = found.host, cert_path or found.cert_path
        self.host = host
        self.timeout = timeout
        self.cert_path = cert_path
        self._api: docker.APIClient | None = None

    @property
    def api(self) -> docker.APIClient:
        """The SDK's low-level client; made (address checked, version negotiated) on first use."""
        if self._api is None:
            problem = host_problem(self.host)
            if problem:
                raise EngineUnreachableError(f"DOCKER_HOST: {problem}")
            tls = tls_config(self.host, os.environ, self.cert_path)
            with self._errors("GET /version"):
                self._api = _engine_client_class()(
                    base_url=self.host, version="auto", timeout=self.timeout, tls=tls or False, use_ssh_client=True
                )
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """SDK, requests and socket errors as DockerError (refused) or EngineUnreachableError (no answer)."""
        docker = sdk(ssh=self.host.startswith("ssh://"))
        import requests.exceptions

        try:
            yield
        except docker.errors.APIError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise DockerError(f"{what}: {status} {exc.explanation or exc}") from exc
        except (requests.exceptions.RequestException, docker.errors.DockerException, OSError) as exc:
            cause = _innermost(exc)
            reason = str(cause)
            if self.host.startswith("ssh://") and isinstance(cause, ConnectionError):
                # ssh writes its own reason (`Could not resolve hostname`, `Permission denied`) to stderr, next
                # to this line; the pipe it leaves behind ("Broken pipe") would only mislead.
                reason = "ssh ended the connection; what ssh printed says why"
            raise EngineUnreachableError(
                f"no Docker engine answers at {self.host} ({reason}); start one or set DOCKER_HOST"
            ) from exc

    def _url(self, path: str) -> str:
        return f"{self.api.base_url}/v{self.api.api_version}{path}"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        content_type: str = "application/json",
        ok: Sequence[int] = (200, 201, 204),
        allow: Sequence[int] = (),
        timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Any Engine API call by path, through the SDK's session; `allow` lists statuses that are not errors."""
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"Content-Type": content_type} if payload is not None else {}
        what = f"{method} {path.split('?')[0]}"
        with self._errors(what):
            response = self.api.request(
                method, self._url(path), data=payload, headers=headers, timeout=timeout or self.timeout
            )
            data = response.content
        if response.status_code not in ok and response.status_code not in allow:
            message = data.decode(errors="replace").strip()
            with suppress(json.JSONDecodeError, AttributeError):
                message = json.loads(message).get("message", message)
            raise DockerError(f"{what}: {response.status_code} {message}")
        return response.status_code, data

    def get_json(self, path: str, allow: Sequence[int] = ()) -> Any:
        status, data = self.request("GET", path, allow=allow)
        return json.loads(data) if status in (200, 201) else None

    # --- images --------------------------------------------------------------

    def image_id(self, ref: str) -> str | None:
        """The id of the image `ref` names on this engine, or None when it has none by that name."""
        found = self.get_json(f"/images/{urllib.parse.quote(ref, safe='')}/json", allow=(404,))
        return str(found["Id"]) if found else None

    def image_tags(self) -> dict[str, str]:
        """Every tag on this engine and the image id it names: what a load must leave as it was."""
        images = self.get_json("/images/json") or []
        return {
            str(tag): str(image["Id"])
            for image in images
            for tag in image.get("RepoTags") or []
            if tag != "<none>:<none>"
        }

    def tag_image(self, image_id: str, ref: str) -> None:
        """Point `ref` at `image_id` again (a tag a load moved)."""
        repo, _, tag = ref.rpartition(":")
        query = urllib.parse.urlencode({"repo": repo, "tag": tag})
        self.request("POST", f"/images/{urllib.parse.quote(image_id, safe='')}/tag?{query}")

    def untag_image(self, ref: str) -> None:
        """Remove a tag a load added, never the image under another name (noprune)."""
        self.request("DELETE", f"/images/{urllib.parse.quote(ref, safe='')}?noprune=1", allow=(404, 409))

    def save_image(self, ref: str, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        """`docker save ref` as a stream of chunks: an image never sits whole in memory."""
        with self._errors(f"GET /images/{ref}/get"):
            yield from self.api.get_image(ref, chunk_size=chunk)

    def load_image(self, archive: BinaryIO | Iterable[bytes]) -> str:
        """`docker load` of an archive (plain or gzip'd: the engine unpacks either), streamed; its last message.

        A file, or chunks as they come (another engine's `save_image`): sent chunked, never held whole."""
        said: list[str] = []
        with self._errors("POST /images/load"):
            for message in self.api.load_image(archive):
                if message.get("error") or message.get("errorDetail"):
                    raise DockerError(f"POST /images/load: {message.get('error') or message['errorDetail']}")
                said += [line for line in str(message.get("stream", "")).splitlines() if line.strip()]
        return said[-1] if said else ""

    # --- containers ----------------------------------------------------------

    def containers(self, labels: Mapping[str, str], all_states: bool = True) -> list[dict[str, Any]]:
        with self._errors("GET /containers/json"):
            found: list[dict[str, Any]] = self.api.containers(
                all=all_states, filters={"label": [f"{k}={v}" for k, v in labels.items()]}
            )
        return found

    def services(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Swarm services with `labels`; none on an engine that is not a swarm manager (503)."""
        filters = json.dumps({"label": [f"{k}={v}" for k, v in labels.items()]})
        result = self.get_json(f"/services?{urllib.parse.urlencode({'filters': filters})}", allow=(503,))
        return list(result or [])

    def inspect(self, name: str) -> dict[str, Any] | None:
        """The container's full state, or None when there is no such container."""
        result: dict[str, Any] | None = self.get_json(f"/containers/{urllib.parse.quote(name)}/json", allow=(404,))
        return result

    def logs(self, name: str, since: float) -> str:
        """The container's stdout from `since` (UNIX seconds) on."""
        query = urllib.parse.urlencode({"stdout": "1", "stderr": "0", "since": str(int(since))})
        _, raw = self.request("GET", f"/containers/{urllib.parse.quote(name)}/logs?{query}")
        return _demux(raw)[0].decode(errors="replace")

    def tail(self, name: str, lines: int, kind: str = "containers") -> list[str]:
        """The last `lines` lines of stdout and stderr, in the order they were written; of a container, or of a
        Swarm service's tasks (`kind="services"`: the manager gathers them from whichever node ran them)."""
        query = urllib.parse.urlencode({"stdout": "1", "stderr": "1", "tail": str(lines), "timestamps": "1"})
        _, raw = self.request("GET", f"/{kind}/{urllib.parse.quote(name)}/logs?{query}")
        stamped = [line for stream in _demux(raw) for line in stream.decode(errors="replace").splitlines() if line]
        return [line.partition(" ")[2] for line in sorted(stamped)][-lines:]

    def system_time(self) -> float:
        """The engine's clock (UNIX seconds): windows over a remote host's logs are measured on its time."""
        with self._errors("GET /info"):
            text = str(self.api.info()["SystemTime"])
        found = _RFC3339.match(text)
        if found is None:
            raise DockerError(f"GET /info: SystemTime {text!r} is not an RFC 3339 time")
        stamp, fraction, zone = found.groups()
        base = datetime.datetime.fromisoformat(stamp + ("+00:00" if zone == "Z" else zone))
        return base.timestamp() + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)

    def put_archive(self, name: str, path: str, archive: bytes) -> None:
        with self._errors(f"PUT /containers/{name}/archive"):
            self.api.put_archive(name, path, archive)

    def exec_to(self, name: str, cmd: Sequence[str], sink: BinaryIO) -> tuple[int, str]:
        """Run `cmd` in a running container, its stdout streamed into `sink` as it comes (a dump larger than
        memory is fine); the exit code and stderr."""
        errors = io.BytesIO()
        with self._errors(f"exec in {name}"):
            exec_id = self.api.exec_create(name, list(cmd), stdout=True, stderr=True)["Id"]
            for out, err in self.api.exec_start(exec_id, stream=True, demux=True):
                if out:
                    sink.write(out)
                if err:
                    errors.write(err)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        return int(code) if code is not None else -1, errors.getvalue().decode(errors="replace")

    def put_file(self, name: str, directory: str, filename: str, source: BinaryIO, uid: int, gid: int) -> None:
        """Copy `source` into a container as `directory/filename` (mode 0600, owned by uid:gid), streamed
        through a temporary tar file: nothing the size of the file is held in memory."""
        with tempfile.TemporaryFile() as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                source.seek(0, io.SEEK_END)
                entry = tarfile.TarInfo(filename)
                entry.size, entry.uid, entry.gid, entry.mode = source.tell(), uid, gid, 0o600
                entry.mtime = int(time.time())
                source.seek(0)
                tar.addfile(entry, source)
            archive.seek(0)
            with self._errors(f"PUT /containers/{name}/archive"):
                self.api.put_archive(name, directory, archive)

    def exec(self, name: str, cmd: Sequence[str], user: str | None = None, timeout: float | None = None) -> ExecResult:
        """Run `cmd` in a running container and wait for it (no TTY, no stdin), at most `timeout` per read."""
        with self._errors(f"exec in {name}"):
            exec_id = self.api.exec_create(name, list(cmd), stdout=True, stderr=True, user=user or "")["Id"]
        # Not the SDK's exec_start (no timeout): a plain POST whose body is the output stream, read to its end.
        _, raw = self.request("POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False}, timeout=timeout)
        out, err = _demux(raw)
        with self._errors(f"exec in {name}"):
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        return ExecResult(
            int(code) if code is not None else -1, out.decode(errors="replace"), err.decode(errors="replace")
        )
