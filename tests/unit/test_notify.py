"""Rollout events to a webhook: Slack's `text`, the event beside it, and a failure that is only a reason."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen.release.notify import post, text


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", got
    server.shutdown()


def test_an_event_arrives_with_a_chat_line(receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, got = receiver
    event = {"event": "aborted", "deployment": "bluegreen-prod", "candidate": "green", "stable": "blue",
             "weight": 10, "reason": "error rate 21.3% > 1% over 5 s (312 requests)"}  # fmt: skip
    assert post(url, event) is None
    assert got == [{"text": "bluegreen-prod: green rollout ABORTED at 10%: error rate 21.3% > 1% over 5 s "
                            "(312 requests); blue is back at 100%", "event": event}]  # fmt: skip


def test_a_webhook_that_fails_is_a_reason_not_an_exception() -> None:
    assert post("http://127.0.0.1:9/nothing-listens", {"event": "started"}) is not None
    assert post("file:///etc/passwd", {"event": "started"}) == "not an http(s) URL: file:..."
    assert text({"event": "promote", "deployment": "d", "candidate": "green", "weight": 10, "by": "alice"}) == (
        "d: green promote at 10% by alice"
    )
