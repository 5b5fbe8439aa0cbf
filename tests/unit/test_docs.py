"""The runbook quotes real messages: each must still be printed by the code."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from lab.paths import ROOT

SOURCES = [*ROOT.glob("bluegreen/**/*.py"), *ROOT.glob("components/*.py"), *ROOT.glob("app/bluegreen_app/*.py"),
           ROOT / "Makefile", *ROOT.glob("scripts/*.sh")]  # fmt: skip


def table_messages() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text[text.index("## Troubleshooting") :]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)


def code_text() -> str:
    """All sources, with adjacent string literals joined ("...s "\n f"(last..." -> "...s (last...")."""
    text = "\n".join(path.read_text() for path in SOURCES)
    return re.sub(r"\"\s*\n\s*f?\"", "", text)


def _settings_message() -> str:
    from bluegreen.config.settings import parse_settings
    from bluegreen.errors import SettingsError
    from lab.stacks import stack_raw

    try:
        parse_settings({**stack_raw("dev"), "activeColor": "purple"}, "dev")
    except SettingsError as exc:
        return str(exc)
    raise AssertionError("activeColor purple was accepted")


def _app_message(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    from bluegreen_app.server import main as app_main

    monkeypatch.setenv("APP_PORT", "eighty")
    assert app_main() == 2
    return capsys.readouterr().err


def _plan_message(tmp_path: Path) -> str:
    from bluegreen.cli.main import main

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"deployment": "bluegreen-dev", "active": "blue", "weights": {"blue": 70, "green": 20},
                                "colors": {"blue": {"containers": ["b1"]}}}))  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    assert main(["switch", "--stack", "dev", "--plan", str(plan)], out, err) == 2
    return err.getvalue()


def test_the_table_has_the_messages_that_matter() -> None:
    assert len(table_messages()) >= 15


def as_pattern(message: str) -> re.Pattern[str]:
    """`<value>` stands for what the user's case fills in; everything else is literal."""
    return re.compile(".+?".join(re.escape(part) for part in re.split(r"<[^>]+>", message)))


def test_messages_made_of_parts_are_what_the_code_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The messages no literal holds whole: produce them for real and match the runbook's line."""
    printed = {
        "activeColor: got 'purple'; allowed: 'blue' or 'green'": _settings_message(),
        "config error: APP_PORT: got 'eighty'": _app_message(monkeypatch, capsys),
        "plan: weights: got <weights>; allowed: two shares that add up to 100": _plan_message(tmp_path),
    }
    for message, output in printed.items():
        assert message in table_messages(), message
        assert as_pattern(message).search(output), (message, output)


def test_every_other_quoted_message_is_in_the_code() -> None:
    code = code_text()
    assembled = {
        "activeColor: got 'purple'; allowed: 'blue' or 'green'",
        "config error: APP_PORT: got 'eighty'",
        "plan: weights: got <weights>; allowed: two shares that add up to 100",
    }
    missing = []
    for message in table_messages():
        if message in assembled:
            continue
        for piece in [p for p in re.split(r"<[^>]+>", message) if len(p.strip()) >= 6]:
            fragment = piece.strip(" ();:")
            if fragment not in code:
                missing.append(f"{message!r}: {fragment!r}")
    assert missing == []


def test_architecture_lists_every_module() -> None:
    """docs/architecture.md has one line per module: a new module is a new line there."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    modules = [
        p for d in ("bluegreen", "components", "lab") for p in (ROOT / d).rglob("*.py") if p.name != "__init__.py"
    ]
    modules += [ROOT / "policies" / "rules.py", ROOT / "bluegreen" / "router" / "router.js"]
    missing = [str(p.relative_to(ROOT)) for p in modules if f"`{p.relative_to(ROOT)}`" not in text]
    missing = [m for m in missing if not m.endswith("__main__.py")]
    assert len(modules) > 70 and missing == [], missing


def test_every_reliability_row_names_tests_that_exist() -> None:
    """docs/reliability.md: each fault row cites its tests; a cited test that is gone fails here."""
    text = (ROOT / "docs" / "reliability.md").read_text()
    lines = text[: text.index("## Not covered yet")].splitlines()
    rows = [line for line in lines if line.startswith("| ") and not line.startswith(("| fault |", "| --- |"))]
    assert len(rows) >= 20
    for row in rows:
        cited = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", row.rsplit("|", 2)[-2])
        assert cited, row
        for path, name in cited:
            source = (ROOT / path).read_text()
            assert not name or f"def {name}(" in source, f"{path}::{name}"


def test_the_docs_index_lists_every_doc_and_the_readme_links_it() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    docs = sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md")
    assert [d for d in docs if f"]({d})" not in index] == [], "docs/README.md misses these"
    assert "](docs/README.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_engine_resolution_order_is_said_one_way_everywhere() -> None:
    from bluegreen.cli.main import build_parser
    from bluegreen.engine.host import RESOLUTION_ORDER

    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert operations.count(RESOLUTION_ORDER) == 2, "the paragraph and the troubleshooting table"
    import contextlib
    import io

    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):
        build_parser().parse_args(["status", "--help"])
    assert RESOLUTION_ORDER in " ".join(shown.getvalue().split())
