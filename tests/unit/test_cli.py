"""The command line as a newcomer meets it: bare `bluegreen`, and help texts printed as written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bluegreen.cli.main import main
from lab.paths import ROOT


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


def test_validate_finds_the_pulumi_yaml_beside_the_stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no Pulumi.yaml here
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(ROOT / "Pulumi.dev.yaml")], out, err) == 0, err.getvalue()
    assert "stack dev: valid" in out.getvalue()


def test_smoke_refuses_a_status_no_server_can_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["smoke", "--stack", "dev", "--expect", "999"])
    assert done.value.code == 2
    assert "argument --expect: got '999'; allowed: an HTTP status, 100-599" in capsys.readouterr().err


def test_the_shell_set_up_puts_the_cli_the_backend_and_only_devs_passphrase_in_place(tmp_path: Path) -> None:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    show = 'source scripts/env.sh STACK; printf "%s|%s|%s" "$PATH" "$PULUMI_BACKEND_URL" "${PULUMI_CONFIG_PASSPHRASE-}"'
    for stack, passphrase in (("", "bluegreen-dev-not-secret"), ("prod", "")):
        done = subprocess.run(["bash", "-c", show.replace("STACK", stack)], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=True)  # fmt: skip
        path, backend, given = done.stdout.split("|")
        assert path.split(":")[:2] == [f"{ROOT}/.pulumi-cli/bin", f"{ROOT}/.venv/bin"]
        assert backend == f"file://{ROOT}/.pulumi-state" and given == passphrase, (stack, given)


def test_a_json_command_that_fails_prints_a_json_error_and_keeps_its_line_on_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")  # nothing listens there
    out, err = io.StringIO(), io.StringIO()
    code = main(["status", "--stack", "dev", "--json"], out, err)
    shown = json.loads(out.getvalue())
    assert code == 2 and shown["exitCode"] == 2 and "no Docker engine answers at tcp://127.0.0.1:1" in shown["error"]
    assert shown["error"] == err.getvalue().strip()
    plain = io.StringIO()
    assert main(["status", "--stack", "dev"], plain, io.StringIO()) == 2 and plain.getvalue() == "", "only --json"


def test_stdout_stays_a_terminal_for_the_commands_that_draw() -> None:
    """main wraps stdout to notice whether a command wrote to it; a live view must still see a terminal."""
    import os

    from bluegreen.cli.main import _Watched

    master, replica = os.openpty()
    try:
        with os.fdopen(replica, "w") as terminal:
            wrapped = _Watched(terminal)
            assert wrapped.isatty() and wrapped.fileno() == terminal.fileno()
            assert wrapped.encoding == terminal.encoding
    finally:
        os.close(master)
    assert not _Watched(io.StringIO()).isatty()


def test_tls_renew_says_so_when_the_stack_file_has_no_acme(tmp_path: Path) -> None:
    """Read before any engine is reached: the dev stack brings its own certificate (or none), nothing to renew."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["tls", "renew", "--stack", "dev", "--stack-file", str(ROOT / "Pulumi.dev.yaml")], out, err)
    assert code == 2 and "Pulumi.dev.yaml: tls.acme is not set; nothing to renew" in err.getvalue(), err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1 and out.getvalue() == ""
