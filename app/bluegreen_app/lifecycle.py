"""Where the process is in its life: starting, ready, draining.

A load balancer must only send traffic to `ready`. `draining` starts with
SIGTERM and never ends: the process is on its way out.
"""

from __future__ import annotations

import enum
import time


class Phase(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"


class Lifecycle:
    def __init__(self) -> None:
        self.phase = Phase.STARTING
        self.started_at = time.monotonic()

    def mark_ready(self) -> None:
        if self.phase is Phase.STARTING:
            self.phase = Phase.READY

    def start_draining(self) -> bool:
        """Enter draining; False when it already was (a second signal)."""
        if self.phase is Phase.DRAINING:
            return False
        self.phase = Phase.DRAINING
        return True

    @property
    def serving(self) -> bool:
        return self.phase is Phase.READY
