"""The values a switch and the running router hand each other: what was live, the lock, a publication.

Plain data with no Docker in it, so the release code and its tests use them
without the adapter (router/adapter.py), and a fake router can return them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bluegreen.errors import RouterError
from bluegreen.router.layout import ROUTING_DIR

_STATUS_LINE = re.compile(r"HTTP/\d(?:\.\d)? (\d{3})")


Target = tuple[str, int, str]  # host, port, path: one HTTP probe from inside the router


@dataclass(frozen=True)
class Snapshot:
    status: dict[str, Any]
    live_record: dict[str, Any] | None
    program_record: dict[str, Any] | None
    unreadable: list[str] = field(default_factory=list)
    certificate: str | None = None  # the PEM chain the router serves (tls/current), when it has one
    rollout: dict[str, Any] | None = None  # the rollout in progress (ROLLOUT_PROGRESS), when one runs
    lock_holder: str | None = None  # who holds the switch lock right now (an unlocked read), when anyone does
    apps: dict[str, list[str]] = field(default_factory=dict)  # a shared router's joined apps and their host names


@dataclass(frozen=True)
class Lock:
    """One switch's claim on a router: who, and for how long (the router's clock decides)."""

    token: str
    owner: str
    ttl_seconds: int


@dataclass(frozen=True)
class Begun:
    """What the first exec of a switch saw: the lock (taken, or its holder), the live snapshot, first probes."""

    acquired: bool
    holder: str
    snapshot: Snapshot | None  # also when the lock was held, if it could be read: what was live while waiting
    results: list[HttpResult]
    # The live generation's armed targets (ARMED_PROBES) and their answers, when asked for and the lock taken.
    armed: dict[Target, HttpResult] = field(default_factory=dict)
    published: bool = False  # the express generation it carried went live (bluegreen.release.express)


@dataclass(frozen=True)
class Publication:
    """A generation to make live: its files, and what the router must report once it is."""

    generation: str
    files: Mapping[str, str]
    reload: bool
    config_hash: str
    plan_hash: str
    verify_seconds: float = 10.0


@dataclass(frozen=True)
class HttpResult:
    status: int | None  # None: no HTTP answer at all
    body: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == 200


def parse_response(raw: str) -> HttpResult:
    match = _STATUS_LINE.search(raw)
    if match is None:
        detail = raw.strip().splitlines()[-1] if raw.strip() else "no answer"
        return HttpResult(None, "", detail[:200])
    status = int(match.group(1))
    body = raw.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in raw else ""
    if not body.strip():
        # busybox wget prints headers on stderr and the body on stdout: take the JSON line.
        lines = [line for line in raw.splitlines() if line.startswith("{")]
        body = lines[-1] if lines else ""
    return HttpResult(status, body.strip(), f"HTTP {status}")


def holder_text(info: str) -> str:
    """The lock's record, "TOKEN EXPIRES OWNER...", as a person reads it: "OWNER (lock expires at EPOCH)"."""
    parts = info.split(" ", 2)
    if len(parts) < 3:
        return info or "another switch (starting)"
    return f"{parts[2]} (lock expires at {parts[1]})"


def parse_armed(out: str) -> dict[Target, HttpResult]:
    """sh/begin.sh's armed section: "@@bluegreen-target HOST PORT PATH" and the answer, per target."""
    found: dict[Target, HttpResult] = {}
    for section in out.split("\n@@bluegreen-target ")[1:]:
        line, _, raw = section.partition("\n")
        host, port, path = [*line.split(" ", 2), "", ""][:3]
        if port.isdigit() and path:
            found[(host, int(port), path)] = parse_response(raw)
    return found


def armed_lines(targets: Sequence[Target]) -> str:
    """ARMED_PROBES' text: the targets sh/begin.sh reads back (no target has a blank in it)."""
    return "".join(f"{host} {port} {path}\n" for host, port, path in sorted(set(targets)) if " " not in host + path)


def snapshot_of(begun: Begun, container: str) -> Snapshot:
    """The snapshot a begun switch (or an unlocked read) carries."""
    if begun.snapshot is None:
        raise RouterError(f"router {container} returned no snapshot (lock held by {begun.holder})")
    return begun.snapshot


def sections(out: str) -> dict[str, str]:
    """A script's "@@bluegreen:NAME" sections by name."""
    parts: dict[str, str] = {}
    for section in out.split("@@bluegreen:")[1:]:
        name, _, body = section.partition("\n")
        parts[name.strip()] = body
    return parts


def json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:
        raise RouterError(f"{what} is not JSON: {text[:120]!r}") from None
    return data


def record_of(text: str, name: str, unreadable: list[str]) -> dict[str, Any] | None:
    """A record in the routing volume, or None when there is none; one that is not JSON is noted in `unreadable`."""
    text = text.strip()
    if not text:
        return None
    try:
        data: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        unreadable.append(f"{ROUTING_DIR}/{name} is not JSON ({exc.msg} at line {exc.lineno})")
        return None
    return data


class RouterPort(Protocol):
    """What a switch needs from a router (LiveRouter; a fake in the unit tests)."""

    container: str

    def networks(self) -> set[str]: ...

    def subnets(self) -> list[tuple[str, str]]: ...

    def edge_subnets(self) -> list[str]: ...

    def serving(self) -> set[str]: ...

    def begin(
        self,
        lock: Lock | None,
        targets: Sequence[Target] = (),
        armed: Collection[str] = (),
        express: Publication | None = None,
    ) -> Begun: ...

    def fetch(self, targets: Sequence[Target]) -> list[HttpResult]: ...

    def fetch_and_publish(
        self, targets: Sequence[Target], publication: Publication, lock: Lock
    ) -> tuple[list[HttpResult], bool]: ...

    def publish(self, publication: Publication, lock: Lock) -> None: ...

    def release(self, lock: Lock) -> None: ...

    def renew(self, lock: Lock) -> None: ...

    def break_lock(self) -> str | None: ...

    def old_workers(self) -> int: ...
