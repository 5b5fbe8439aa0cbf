"""The switch lock seen from a switch: a new claim, and a prober that takes it with the first gate round.

The lock itself lives in the router's volume (router/sh/lib.sh); the first call
of a switch takes it, reads what is live and probes the first gate round in one
round trip, so an uncontended switch pays no extra call for locking.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Callable, Sequence

from bluegreen.errors import LockHeldError, SwitchError
from bluegreen.release.express import Express
from bluegreen.release.progress import Progress
from bluegreen.router.seam import Begun, HttpResult, Lock, RouterPort, Snapshot, Target, snapshot_of

LOCK_POLL_SECONDS = 0.2


# A short lease, renewed while its holder works: a holder killed mid-gate blocks
# others for at most this long, however long its gate could have run.
LOCK_LEASE_SECONDS = 30
RENEW_EVERY_SECONDS = LOCK_LEASE_SECONDS / 3


DEFAULT_LOCK_WAIT = 60.0


def new_lock(source: str) -> Lock:
    owner = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()} ({source})"
    return Lock(uuid.uuid4().hex, owner, LOCK_LEASE_SECONDS)


class LockingProber:
    """The gate's prober. Its first round takes the lock and reads the snapshot in the same call.

    `armed`: the first call also probes the targets the live generation's gate probed (ARMED_PROBES), at the
    addresses of what Docker says serves now (RouterPort.serving). A switch whose plan derives from the live
    one (rollback, abort, maintenance, resume) reads that plan in the call that takes the lock, and so cannot
    name its targets in it; the armed answers serve its first gate round when they cover every target, and
    save the call that round would cost. Each answer serves one round, once.
    """

    def __init__(
        self,
        router: RouterPort,
        lock: Lock,
        wait: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        progress: Progress,
        break_lock: bool = False,
        armed: bool = False,
    ) -> None:
        self.router, self.lock, self.wait = router, lock, wait
        self.clock, self.sleep, self.progress = clock, sleep, progress
        self.begun: Begun | None = None
        self.break_lock = break_lock
        self.broke: str | None = None  # the holder `--break-lock` removed
        self.renewed_at = 0.0
        self.armed = armed
        self.armed_left: dict[Target, HttpResult] = {}  # armed answers no gate round has used yet
        self.first_seen: Snapshot | None = None  # what the first attempt read, before any wait for the lock
        self.waited = False
        self.express: Express | None = None  # a generation the call of the round that closes the gate publishes
        self.published_late = False  # a later round's call published it

    def fetch(self, targets: Sequence[Target], closing: Sequence[Target] | None = None) -> list[HttpResult]:
        """A gate round's answers. `closing`: this round closes the gate if every answer is 200 (and these are
        the targets the gate will have probed): its call then publishes the express generation, if there is one."""
        if self.begun is None:
            self.begun = self._begin(targets, closing)
            return self.begun.results
        self.keep()
        armed, self.armed_left = self.armed_left, {}
        if targets and all(t in armed for t in targets):
            return [armed[t] for t in targets]
        staged = self.express.later(closing, self.snapshot()) if self.express and closing is not None else None
        if staged is None:
            return self.router.fetch(targets)
        results, self.published_late = self.router.fetch_and_publish(targets, staged, self.lock)
        return results

    def keep(self) -> None:
        """Renew the lease when a third of it has passed: a long gate keeps its lock, a dead holder loses it.

        LockLostError when another switch took it meanwhile (this one stalled past its lease): then it
        must publish nothing.
        """
        if self.begun is not None and self.clock() - self.renewed_at >= RENEW_EVERY_SECONDS:
            self.router.renew(self.lock)
            self.renewed_at = self.clock()

    def snapshot(self) -> Snapshot:
        if self.begun is None:
            self.begun = self._begin(())
        return snapshot_of(self.begun, self.router.container)

    def seen_first(self) -> Snapshot:
        """What was live when this switch first asked for the lock, read in that call: a plan derived from it
        and compared and swapped against it never undoes unseen what another switch did while this one waited."""
        snapshot = self.snapshot()
        seen = self.first_seen if self.waited else snapshot
        if seen is None:
            raise SwitchError(
                "the live routing could not be read while this waited for the lock; nothing was changed: look at "
                "`status` and run it again"
            )
        return seen

    @property
    def locked(self) -> bool:
        return self.begun is not None

    @property
    def published(self) -> bool:
        """A gate round's call published the express generation, and released the lock (bluegreen.release.express)."""
        return (self.begun is not None and self.begun.published) or self.published_late

    def _begin(self, targets: Sequence[Target], closing: Sequence[Target] | None = None) -> Begun:
        if self.break_lock:
            self.broke = self.router.break_lock()
            self.progress(f"broke the lock held by {self.broke}" if self.broke else "no lock to break")
        deadline = self.clock() + self.wait
        said = False
        while True:
            staged = self.express.first(closing) if self.express and closing is not None else None
            begun = self.router.begin(self.lock, targets, self.router.serving() if self.armed else (), staged)
            if not self.waited:
                self.first_seen = begun.snapshot
            if begun.acquired:
                self.renewed_at = self.clock()
                self.armed_left = dict(begun.armed)
                return begun
            if self.clock() >= deadline:
                raise LockHeldError(
                    f"router {self.router.container} is locked by {begun.holder}; waited {self.wait:g}s "
                    "(--wait to wait longer); nothing was changed"
                )
            if not said:
                self.progress(f"waiting for the lock held by {begun.holder}")
                said = True
            self.waited = True
            self.sleep(LOCK_POLL_SECONDS)
