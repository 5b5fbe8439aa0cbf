"""What sh/begin.sh and sh/probe.sh print, read back: the lock, the live snapshot, the probes' answers.

The scripts mark their sections ("@@bluegreen:<name>", "@@bluegreen HOST:PORTPATH" per
probe); bluegreen.router.seam reads one section, this module a whole exec's output.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

from bluegreen.errors import RouterError
from bluegreen.router.apps import parse_names
from bluegreen.router.layout import LIVE_PLAN, PROGRAM_PLAN, ROLLOUT_PROGRESS, ROUTING_DIR
from bluegreen.router.seam import (
    Begun,
    HttpResult,
    Snapshot,
    holder_text,
    json_object,
    parse_armed,
    parse_response,
    record_of,
    sections,
)


def parse_probes(container: str, out: str, expected: int) -> list[HttpResult]:
    """One answer per probed target, in order; RouterError when the exec returned another number."""
    found = out.split("\n@@bluegreen ")[1:]
    results = [parse_response(s.split("\n", 1)[1] if "\n" in s else "") for s in found]
    if len(results) != expected:
        raise RouterError(f"probe in {container} returned {len(results)} answers for {expected} targets")
    return results


def parse_begun(container: str, locking: bool, expected: int, out: str, give_back: Callable[[], None]) -> Begun:
    """sh/begin.sh's output as a Begun. `give_back` releases a lock this exec took when what it read is unusable
    (the switch cannot go on)."""
    head, _, probes = out.partition("\n@@bluegreen-probes\n")
    probes, _, armed_out = probes.partition("\n@@bluegreen-armed\n")
    parts = sections(head)
    holder = parts.get("holder", "").strip()
    taken = parts.get("lock", "").strip()
    if locking and taken.startswith("unwritable"):
        raise RouterError(
            f"router {container}: the lock's record cannot be written in {ROUTING_DIR} "
            f"({taken.removeprefix('unwritable').strip()}); nothing was changed"
        )
    if locking and taken != "acquired":
        seen = None
        with contextlib.suppress(RouterError):
            seen = parse_snapshot(container, parts)
        return Begun(False, holder_text(holder), seen, [])
    try:
        return Begun(True, holder, parse_snapshot(container, parts), parse_probes(container, probes, expected),
                     parse_armed(armed_out))  # fmt: skip
    except RouterError:
        if locking:
            give_back()
        raise


def parse_snapshot(container: str, parts: Mapping[str, str]) -> Snapshot:
    """The status listener's answer and the records; RouterError when the status is not a 200 with JSON."""
    result = parse_response(parts.get("status", ""))
    if not result.ok:
        raise RouterError(f"router {container} status: {result.detail}")
    unreadable: list[str] = []
    live = record_of(parts.get("live", ""), LIVE_PLAN, unreadable)
    program = record_of(parts.get("program", ""), PROGRAM_PLAN, unreadable)
    certificate = parts.get("certificate", "").strip() or None
    rollout = record_of(parts.get("rollout", ""), ROLLOUT_PROGRESS, unreadable)
    status = json_object(result.body, f"router {container} status")
    apps = {app: parse_names(names) for app, _, names in (
        line.partition(" ") for line in parts.get("joined", "").splitlines() if line.strip())}  # fmt: skip
    return Snapshot(status, live, program, unreadable, certificate, rollout, apps=apps)
