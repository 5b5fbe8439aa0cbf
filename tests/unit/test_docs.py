"""The runbook quotes real messages: each must still be printed by the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*ROOT.glob("bluegreen/*.py"), *ROOT.glob("components/*.py"), *ROOT.glob("app/bluegreen_app/*.py"),
           ROOT / "Makefile"]  # fmt: skip


def table_messages() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text[text.index("## Troubleshooting") :]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)


def code_text() -> str:
    """All sources, with adjacent string literals joined ("...s "\n f"(last..." -> "...s (last...")."""
    text = "\n".join(path.read_text() for path in SOURCES)
    return re.sub(r"\"\s*\n\s*f?\"", "", text)


# Messages assembled from parts (a Problem's line, a prefix plus a Problem): the parts that build them.
ASSEMBLED = {
    "activeColor: got 'purple'; allowed: 'blue' or 'green'": ["got {show_value(self.value)}; allowed: "],
    "config error: APP_PORT: got 'eighty'": ["config error: {line}", "got {err.get('input')!r}"],
    "plan: weights: got <weights>; allowed: two shares that add up to 100": [
        'f"plan: {p.line()}',
        "two shares that add up to 100",
    ],
}


def test_the_table_has_the_messages_that_matter() -> None:
    assert len(table_messages()) >= 15


def test_every_quoted_message_is_in_the_code() -> None:
    code = code_text()
    missing = []
    for message in table_messages():
        # `<value>` stands for what the user's case fills in; everything else is literal.
        pieces = ASSEMBLED.get(message) or [p for p in re.split(r"<[^>]+>", message) if len(p.strip()) >= 6]
        for piece in pieces:
            fragment = piece if message in ASSEMBLED else piece.strip(" ();:")
            if fragment not in code:
                missing.append(f"{message!r}: {fragment!r}")
    assert missing == []
