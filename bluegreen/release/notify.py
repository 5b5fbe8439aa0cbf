"""Rollout events to a webhook: Slack-compatible (`text`), with the event itself alongside.

A webhook that fails never fails the rollout, nor delays it: events go out
from a background thread (Notifier), each bounded by one overall deadline,
every exception caught, redirects refused, and the URL (its own credential)
never printed. The event is on stdout anyway; a failure is one line on stderr.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

DEADLINE_SECONDS = 5.0  # per event, whatever the server does: refuse, truncate, drip one byte at a time
DRAIN_SECONDS = 10.0  # at the end of a rollout, for the events still queued (the abort's among them)
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def text(event: Mapping[str, Any]) -> str:
    """One human line per event, as a chat message."""
    who = f"{event.get('deployment', '?')}: {event.get('candidate', '?')}"
    kind = event.get("event")
    if kind == "started":
        return f"{who} rollout started, steps {event.get('steps')} then {event.get('target')}%"
    if kind == "step":
        return f"{who} at {event.get('weight')}%, analysing for {event.get('pauseSeconds')} s"
    if kind == "verdict":
        return f"{who} at {event.get('weight')}%: {event.get('verdict')} ({event.get('reason')})"
    if kind == "aborted":
        back = f"{event.get('stable')} is back at 100%"
        return f"{who} rollout ABORTED at {event.get('weight')}%: {event.get('reason')}; {back}"
    if kind == "promoted":
        return f"{who} promoted to {event.get('weight')}%"
    return f"{who} {kind} at {event.get('weight')}% by {event.get('by') or 'an operator'}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is refused: the event (and the URL's secret path) goes nowhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _scrubbed(reason: str, url: str) -> str:
    """A reason with no part of the URL in it: the URL is the webhook's credential."""
    parts = urllib.parse.urlsplit(url)
    for secret in (url, parts.path, parts.query, parts.netloc):
        if len(secret) > 1:
            reason = reason.replace(secret, "[webhook]")
    return reason.strip().splitlines()[0][:200] if reason.strip() else "no reason given"


def post(url: str, event: Mapping[str, Any], timeout: float = DEADLINE_SECONDS) -> str | None:
    """POST the event; the reason when it did not arrive, else None. Never raises, never names the URL."""
    if not url.startswith(("https://", "http://")):
        return f"not an http(s) URL: {url.split(':', 1)[0][:10]}:..."
    if _CONTROL.search(url):
        return "the URL holds a space or a control character"
    body = json.dumps({"text": text(event), "event": dict(event)}).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}" + (" (redirects are not followed)" if 300 <= exc.code < 400 else "")
    except Exception as exc:
        return _scrubbed(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}", url)
    return None


def deliver(url: str, event: Mapping[str, Any], deadline: float = DEADLINE_SECONDS) -> str | None:
    """`post` bounded by one overall deadline: a server that drips a byte every few seconds stalls nothing."""
    result: list[str | None] = []
    worker = threading.Thread(target=lambda: result.append(post(url, event, deadline)), daemon=True)
    worker.start()
    worker.join(deadline)
    if not result:
        return f"no complete answer within {deadline:g} s"
    return result[0]


class Notifier:
    """Events to a webhook from a background thread: the rollout acts first, tells after, and never waits.

    `warn` gets one line per event that did not arrive (never the URL).
    """

    def __init__(self, url: str, warn: Callable[[str], object], deadline: float = DEADLINE_SECONDS) -> None:
        self.url, self.warn, self.deadline = url, warn, deadline
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="bluegreen-webhook", daemon=True)
        self.thread.start()

    def send(self, event: Mapping[str, Any]) -> None:
        self.queue.put(dict(event))

    def _run(self) -> None:
        while (event := self.queue.get()) is not None:
            reason = deliver(self.url, event, self.deadline)
            if reason:
                self.warn(f"the webhook did not take the {event.get('event')} event ({reason})")

    def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Give the queued events up to `timeout` to go out; then the process may end without them."""
        self.queue.put(None)
        self.thread.join(timeout)
