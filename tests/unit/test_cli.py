"""The command line as a newcomer meets it: bare `bluegreen`, and help texts printed as written."""

from __future__ import annotations

import io

import pytest

from bluegreen.cli.main import main


def test_bluegreen_alone_helps_and_help_texts_print_their_percent_signs_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    assert main([], out, io.StringIO()) == 0
    assert "COMMAND" in out.getvalue() and "rollback" in out.getvalue() and "router" in out.getvalue()
    with pytest.raises(SystemExit):
        main(["rollout", "--help"])
    shown = capsys.readouterr().out
    assert "100%" in shown and "%%" not in shown
