"""The whole error family, and the exit code each member means: one module, one base.

Every error this package raises on purpose derives from BluegreenError and
carries its exit code; `bluegreen` answers each with one line (cli/main.py),
so no command prints a traceback for a failure it expected. Modules raise
with `from exc`, so a traceback under `--debug` still shows the cause.

Exit codes: 0 done; 1 the operation failed (the previous routing is live);
2 the caller's input is unusable (nothing was changed); 3 another switch holds
the router's lock (nothing was changed); 4 the outcome is unknown (run `status`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.config.problems import Problem

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3
EXIT_UNKNOWN = 4

# What each exit code means, as `bluegreen --help` and docs/operations.md say it.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_FAILED: "the operation failed; the previous routing is live",
    EXIT_BAD_INPUT: "bad input (a file, an argument, the engine address); nothing was changed",
    EXIT_LOCKED: "another switch holds the router's lock; nothing was changed",
    EXIT_UNKNOWN: "the outcome is unknown (the engine stopped answering mid-publish): run `status`",
}


class BluegreenError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = EXIT_FAILED


class InputError(BluegreenError):
    """The caller's input (a file, an argument, the engine address) is unusable; nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class OutcomeUnknownError(BluegreenError):
    """The change may or may not be live: the engine stopped answering after it was handed over."""

    exit_code = EXIT_UNKNOWN


# --- input ---------------------------------------------------------------------


class SettingsError(InputError, ValueError):
    """Stack config (or a plan) refused; `problems` holds one entry per bad value."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(p.line() for p in self.problems))


class StackFileError(InputError):
    """A project or stack file that cannot be read; the message names the file."""


# --- the engine ----------------------------------------------------------------


class DockerError(BluegreenError):
    """The engine refused a call; the message says which."""


class EngineUnreachableError(DockerError, InputError):
    """No engine answers at the given address: the address (DOCKER_HOST) is the thing to fix."""


# --- the router ----------------------------------------------------------------


class RouterError(BluegreenError):
    """The router cannot be found or did not do what was asked; the message says what."""


class AcmeError(RouterError):
    """An ACME order that did not end in a certificate (bluegreen.release.acme); the served one is kept."""


class ConfigRefusedError(RouterError):
    """`nginx -t` refused the new routing; the previous files are back in place."""


class NotLiveError(RouterError):
    """nginx took the reload signal but never served the new config; files are still the new ones."""


class LockHeldError(RouterError):
    """Another switch held the router's lock for longer than we would wait; nothing was changed."""

    exit_code = EXIT_LOCKED


class HostTakenError(RouterError):
    """A host name another app joined to the same shared router already has; nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class LockLostError(RouterError):
    """The lock expired mid-switch and another switch took it; nothing was published."""


# --- releases --------------------------------------------------------------------


class GateError(BluegreenError):
    """A container did not pass; the message names it and the last result."""


class SmokeFailedError(BluegreenError):
    """A check answered what it must not; the message names the path, the status and the body."""


class SwitchError(BluegreenError):
    """The switch did not happen; the previous routing is still (or again) live."""


class HookFailedError(BluegreenError):
    """The hook exited non-zero or ran out of time; traffic was not touched."""


class RolloutAbortedError(BluegreenError):
    """The candidate failed its analysis (or was aborted by hand); the stable colour is back at 100%."""


class AbortDecidedError(BluegreenError):
    """Inside a rollout: a window failed or an operator said abort. Caught there, never leaves it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# --- images ----------------------------------------------------------------------


class ImageStoreError(BluegreenError):
    """A failed store operation; the message says which and why."""


class ImageInputError(ImageStoreError, InputError):
    """A reference, name or environment that cannot be used; nothing was read or written."""
