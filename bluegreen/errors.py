"""One family of errors, so the CLI can answer every one of them with one line.

Each error knows its exit code: the caller's input (2: nothing was changed),
the operation itself (1), a router locked by another switch (3), or an
outcome nobody can know from here (4). Modules raise their own subclass
with `from exc`, so a traceback under `--debug` still shows the cause, while
the CLI prints only `str(error)`.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3  # another switch holds the router's lock; nothing was changed
EXIT_UNKNOWN = 4  # the outcome is unknown (the engine stopped answering mid-publish): run `status`


class BluegreenError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = EXIT_FAILED


class InputError(BluegreenError):
    """The caller's input (a file, an argument, the engine address) is unusable; nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class OutcomeUnknownError(BluegreenError):
    """The change may or may not be live: the engine stopped answering after it was handed over."""

    exit_code = EXIT_UNKNOWN
