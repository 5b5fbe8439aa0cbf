"""The shell scripts one exec runs inside the router, and the exit codes Python reads from them."""

from __future__ import annotations

import enum
import functools
from importlib import resources

from bluegreen.errors import ConfigRefusedError, LockLostError, NotLiveError, OutcomeUnknownError, RouterError
from bluegreen.router.layout import ROUTING_DIR, shell_preamble
from bluegreen.router.seam import Publication

# A file larger than this goes in with the archive API, not as an exec argument (Linux takes up to 128 KiB each).
MAX_INLINE_FILE = 96 * 1024


class ScriptExit(enum.IntEnum):
    """Exit codes of the scripts in bluegreen/router/sh/, the one place Python reads them."""

    OK = 0
    CONFIG_REFUSED = 3
    HOST_TAKEN = 4
    NOT_LIVE = 5
    LOCK_LOST = 6
    NOT_WRITABLE = 7
    NOT_SHARED = 8
    UNUSABLE = 10


# Scripts the control channel may run (bluegreen.router.channel): they read and write the routing volume and
# reach the router's listeners, nothing else. A publish or probe that reloads nginx signals its master, which
# only the router's own process namespace can: those, and every other script, run in an exec.
CHANNEL_SCRIPTS = frozenset({"begin", "probe", "publish", "release", "renew", "break_lock"})

# Scripts another one runs as a function, sh_<name> (a subshell: its `exit` and `cd` stay its own).
CALLS = {"begin": ("publish",), "probe": ("publish",)}


@functools.cache
def script(name: str) -> str:
    """The volume's names, sh/lib.sh, the scripts it CALLS, then sh/<name>.sh: the text one exec runs."""
    folder = resources.files("bluegreen.router").joinpath("sh")

    def text(of: str) -> str:
        return folder.joinpath(f"{of}.sh").read_text(encoding="utf-8")

    called = "".join(f"sh_{of}() (\n{text(of)}\n)\n" for of in CALLS.get(name, ()))
    return shell_preamble() + text("lib") + called + text(name)


def unwritable(container: str, why: str) -> RouterError:
    """A generation that could not be written (a full volume): the lock and the part written are gone."""
    head, _, usage = why.strip().partition("; ")  # "sh: 1: cannot create g1/x: I/O error; the volume is 100% used"
    reason = head.rsplit(": ", 1)[-1]
    reason = (reason[:1].lower() + reason[1:] if reason[1:2].islower() else reason) + (f"; {usage}" if usage else "")
    return RouterError(
        f"writing the new routing into {ROUTING_DIR} of {container} failed ({reason}); nothing was changed"
    )


def publish_error(code: int, out: str, container: str, publication: Publication) -> RouterError:
    """What sh/publish.sh's exit code means, as the error a switch reports."""
    lines = [line for line in out.splitlines() if line.strip()]
    detail = next((line for line in lines if "emerg" in line or "error" in line), lines[0] if lines else "")
    if code == ScriptExit.NOT_WRITABLE:
        return unwritable(container, lines[-1] if lines else "the volume refused the files")
    if code == ScriptExit.CONFIG_REFUSED:
        return ConfigRefusedError(detail or "nginx -t failed")
    if code == ScriptExit.NOT_LIVE:
        return NotLiveError(
            f"router {container} did not serve plan {publication.plan_hash} within {publication.verify_seconds:g}s"
        )
    if code == ScriptExit.LOCK_LOST:
        return LockLostError(f"the lock on {container} expired and was taken by another switch")
    return RouterError(f"publishing routing in {container} failed (exit {code}): {detail}")


def inline(publication: Publication) -> bool:
    """Every file fits in an exec argument (else it goes in with the archive API first)."""
    return all(len(text.encode()) <= MAX_INLINE_FILE for text in publication.files.values())


def expect_args(publication: Publication) -> list[str]:
    """CONFIG PLAN TRIES: what the status listener must report once the generation is live, and how often to ask."""
    return [publication.config_hash, publication.plan_hash, str(max(1, round(publication.verify_seconds / 0.05)))]


def file_args(publication: Publication) -> list[str]:
    """NAME TEXT pairs: the generation's files as exec arguments."""
    return [part for name, text in publication.files.items() for part in (name, text)]


def outcome_unknown(exc: Exception, publication: Publication) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"lost the Docker engine while publishing plan {publication.plan_hash} ({exc}); it may or may not "
        "be live: run `bluegreen status` to see which"
    )
