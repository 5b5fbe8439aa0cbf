"""The one progress callback every long operation takes: a line for a human on stderr, never parsed.

Structured events (a rollout's JSON lines) are something else: `rollout.Emit`.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The default: say nothing."""
