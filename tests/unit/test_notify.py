"""Rollout events to a webhook: Slack's `text`, the event beside it, and a failure that is only a reason."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen.release.notify import Notifier, deliver, post, text
from lab.webhook import misbehaving_webhook


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


# --- webhooks that misbehave: nothing they do reaches the rollout (docs/reliability.md) -----------------


@pytest.fixture(scope="module")
def misbehaving() -> Iterator[str]:
    with misbehaving_webhook() as base:
        yield base


SECRET_PATH = "/T0SECRET/B0SECRET/xyzSECRET"


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [("truncate", "IncompleteRead"), ("redirect", "HTTP 307 (redirects are not followed)"),
     ("badstatus", "BadStatusLine")],
)  # fmt: skip
def test_a_broken_answer_is_a_reason_that_never_names_the_url(misbehaving: str, behaviour: str, reason: str) -> None:
    url = f"{misbehaving}/{behaviour}{SECRET_PATH}"
    said = post(url, {"event": "verdict"})
    assert said is not None and reason in said and "SECRET" not in said, said


def test_a_url_with_a_control_character_is_refused_without_a_traceback() -> None:
    said = post("https://hooks.example.com/T0SECRET\n/x", {"event": "aborted"})
    assert said == "the URL holds a space or a control character"


def test_a_dripping_webhook_is_given_up_on_after_one_overall_deadline(misbehaving: str) -> None:
    said = deliver(f"{misbehaving}/drip{SECRET_PATH}", {"event": "verdict"}, deadline=1.0)
    assert said == "no complete answer within 1 s", "given up at the deadline, not after the server's 20 s"


def test_the_notifier_never_makes_the_rollout_wait_and_warns_in_one_line(misbehaving: str) -> None:
    warned: list[str] = []
    notifier = Notifier(f"{misbehaving}/drip{SECRET_PATH}", warned.append, deadline=0.5)
    for kind in ("verdict", "aborted"):
        notifier.send({"event": kind})  # returns at once: the abort acts before the verdict is told
    assert warned == []
    notifier.close(timeout=30)
    assert warned == [
        "the webhook did not take the verdict event (no complete answer within 0.5 s)",
        "the webhook did not take the aborted event (no complete answer within 0.5 s)",
    ]
