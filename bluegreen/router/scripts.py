"""The shell scripts one exec runs inside the router, and the exit codes Python reads from them."""

from __future__ import annotations

import enum
import functools
from importlib import resources

from bluegreen.router.layout import shell_preamble


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


@functools.cache
def script(name: str) -> str:
    """The volume's names, sh/lib.sh, then sh/<name>.sh: the text one exec runs."""
    folder = resources.files("bluegreen.router").joinpath("sh")
    lib = folder.joinpath("lib.sh").read_text(encoding="utf-8")
    return shell_preamble() + lib + folder.joinpath(f"{name}.sh").read_text(encoding="utf-8")
