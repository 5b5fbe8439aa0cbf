"""One family of errors, so the CLI can answer every one of them with one line.

Each error knows whether it is the caller's input (exit 2: nothing was
changed) or the operation itself (exit 1). Modules raise their own subclass
with `from exc`, so a traceback under `--debug` still shows the cause, while
the CLI prints only `str(error)`.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class BluegreenError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = EXIT_FAILED


class InputError(BluegreenError):
    """The caller's input (a file, an argument, the engine address) is unusable; nothing was changed."""

    exit_code = EXIT_BAD_INPUT
