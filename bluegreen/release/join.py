"""An app joins a shared router, or leaves it (router.join; docs/edge.md): one reload of the owner's router.

Both take the owner's lock, so a join never lands between the owner's own
switch's check and its publish; both wait for a switch that holds it, as a
switch waits for another. The owner's router checks the new files with
`nginx -t` before its reload and puts the app's old files back when they are
refused, and a join returns only once the owner serves the app's new entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bluegreen.errors import ConfigRefusedError, HostTakenError, LockHeldError, NotLiveError, RouterError
from bluegreen.release.lock import DEFAULT_LOCK_WAIT, LOCK_POLL_SECONDS, new_lock
from bluegreen.router.adapter import LiveRouter
from bluegreen.router.apps import JoinedApp
from bluegreen.router.layout import LIVE_PORT, LOCAL_PORTS, ROUTING_DIR
from bluegreen.router.scripts import ScriptExit

VERIFY_SECONDS = 10.0


def check_host(hosts: Sequence[str]) -> str:
    """A name to ask the owner's router for: a wildcard's own stands for it."""
    return hosts[0].replace("*.", "bluegreen-check.", 1)


def join(owner: LiveRouter, app: JoinedApp, clock: Callable[[], float] = time.monotonic) -> str:
    files = [part for path, text in app.files().items() for part in (path, text)]
    _apps_script(owner, "join", app, files, clock)
    return f"{app.deployment}: {', '.join(app.hosts)} served by the shared router {owner.container}"


def leave(owner: LiveRouter, app: JoinedApp, clock: Callable[[], float] = time.monotonic) -> str:
    _apps_script(owner, "leave", app, [], clock)
    return f"{app.deployment}: left the shared router {owner.container}; {', '.join(app.hosts)} no longer routed"


def app_target(net_container: str) -> str:
    """Where the owner reaches an app: its router's namespace (the net container) by name, on the live port."""
    return f"{net_container}:{LIVE_PORT}"


def _apps_script(owner: LiveRouter, action: str, app: JoinedApp, files: list[str], clock: Callable[[], float]) -> None:
    lock = new_lock(f"router {action} {app.deployment}")
    tries = str(round(VERIFY_SECONDS / 0.05))
    args = [
        ROUTING_DIR,
        lock.token,
        str(lock.ttl_seconds),
        lock.owner,
        action,
        app.deployment,
        " ".join(h.lower() for h in app.hosts),
        check_host(app.hosts),
        app.upstream,
        tries,
        str(LOCAL_PORTS["live"]),
        *files,
    ]
    deadline = clock() + DEFAULT_LOCK_WAIT
    while True:
        code, out = owner.run("apps", args)
        if code != ScriptExit.LOCK_LOST or clock() >= deadline:
            break
        time.sleep(LOCK_POLL_SECONDS)
    lines = out.strip().splitlines()
    last = next((line for line in lines if "emerg" in line), lines[-1] if lines else "")
    if code == ScriptExit.OK:
        return
    if code == ScriptExit.HOST_TAKEN:
        _, host, other = [*last.split(), "", "", ""][:3]
        raise HostTakenError(
            f"router.hosts: {host} is already served by {other} behind {owner.container}; host names are unique "
            "across the apps of one shared router: choose another, or take it out of that app first"
        )
    if code == ScriptExit.LOCK_LOST:
        raise LockHeldError(f"{owner.container}: {last or 'the lock is held'}; waited {DEFAULT_LOCK_WAIT:g}s")
    if code == ScriptExit.NOT_SHARED:
        raise RouterError(
            f"{owner.container} is not a shared router: set router.shared: true on its stack and run pulumi up "
            "there first; nothing was changed"
        )
    if code == ScriptExit.CONFIG_REFUSED:
        raise ConfigRefusedError(f"{owner.container} refused the app's entry ({last}); its previous entry is kept")
    if code == ScriptExit.NOT_LIVE:
        raise NotLiveError(f"{owner.container} did not serve {app.deployment}'s entry within {VERIFY_SECONDS:g}s")
    raise RouterError(f"{action} on {owner.container} failed (exit {code}): {last}")
