"""docs/configuration.md is the generated reference, and covers every key."""

from __future__ import annotations

from bluegreen.config.reference import END, START, reference
from bluegreen.config.settings import StackSettings
from lab.paths import ROOT

DOC = ROOT / "docs" / "configuration.md"


def test_docs_match_the_models() -> None:
    text = DOC.read_text()
    block = text[text.index(START) + len(START) : text.index(END)].strip()
    assert block == reference(), "docs/configuration.md is stale: python -m bluegreen reference"


def test_every_key_is_in_the_reference() -> None:
    table = reference()
    for name, field in StackSettings.model_fields.items():
        assert f"| `{field.alias or name}` |" in table
    for key in ("router.rateLimit.requestsPerSecond", "app.resources.memoryMb", "healthGate.successes",
                "image.repository (registry)"):  # fmt: skip
        assert f"| `{key}` |" in table, key


def test_nested_defaults_follow_the_parent() -> None:
    table = reference()
    assert "| `blue.replicas` | `1` |" in table and "| `green.replicas` | `0` |" in table
