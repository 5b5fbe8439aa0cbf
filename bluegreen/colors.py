"""The two colours and the words for them, shared by every layer.

Plain Python with no third-party import, so the policy pack can load it on its own.

Vocabulary (docs/routing.md says the same):

- *deployment*: one stack of one project on a Docker host, named
  `<project>-<stack>` (`bluegreen-dev`); every Docker object carries it.
- *active* colour: the one `activeColor` names, the colour being promoted to;
  it takes `trafficWeight`% of requests.
- *idle* colour: the other one; it takes the rest. While a canary runs it
  still serves most requests; once the active colour has 100% it serves none,
  keeps running, and is what a rollback returns to and a release replaces.
- *preview*: the second listener; it serves the active colour while its share
  is below 100 and the idle colour once it is 100, so the colour a team wants
  to look at next is always there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


def other(color: Color) -> Color:
    return "green" if color == "blue" else "blue"


def utc_now() -> str:
    """Timestamps in records and reports: UTC, seconds, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")
