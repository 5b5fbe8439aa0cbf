"""Rollout events to a webhook: Slack-compatible (`text`), with the event itself alongside.

A webhook that fails never fails the rollout: the event is on stdout anyway,
and the failure is one line on stderr.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

TIMEOUT_SECONDS = 5.0


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


def post(url: str, event: Mapping[str, Any]) -> str | None:
    """POST the event; the reason when it did not arrive, else None."""
    if not url.startswith(("https://", "http://")):
        return f"not an http(s) URL: {url.split(':', 1)[0]}:..."
    body = json.dumps({"text": text(event), "event": dict(event)}).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))
    return None
