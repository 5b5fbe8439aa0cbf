"""The README's console examples are what the code prints."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen.release.switch import SwitchReport
from lab.paths import ROOT


def console_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```console\n(.*?)```", text, flags=re.S)
    return [line for block in blocks for line in block.splitlines()]


def example(command: str) -> tuple[str, list[str]]:
    """The command line as written (after `$ `) and the lines printed below it."""
    lines = console_lines()
    start = next(i for i, line in enumerate(lines) if line.startswith("$ ") and command in line)  # piped: anywhere
    output = []
    for line in lines[start + 1 :]:
        if line.startswith("$ "):
            break
        output.append(line)
    return lines[start][2:], output


@pytest.mark.parametrize("stack_file", ["Pulumi.prod.yaml", "Pulumi.broken.yaml"])
def test_validate_examples_are_real_output(stack_file: str, tmp_path: Path) -> None:
    command, printed = example(f"bluegreen validate {stack_file}")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    if stack_file == "Pulumi.broken.yaml":
        (tmp_path / stack_file).write_text("config:\n  bluegreen:activeColor: purple\n")
    else:
        shutil.copy(ROOT / stack_file, tmp_path)
    args = command.split("#")[0].split()[1:]
    done = subprocess.run(
        [sys.executable, "-m", "bluegreen", *args], capture_output=True, text=True, cwd=tmp_path, timeout=60,
        check=False,
    )  # fmt: skip
    assert (done.stdout + done.stderr).splitlines() == printed
    assert done.returncode == (2 if "exit 2" in command else 0)


@pytest.mark.parametrize("verb", ["switch", "rollback"])
def test_switch_report_examples_have_the_format_the_code_prints(verb: str) -> None:
    _, (line,) = example(f"bluegreen {verb}")
    match = re.fullmatch(
        r"(?P<d>\S+): live blue (?P<b>\d+)% / green (?P<g>\d+)% \(config (?P<c>\w+), plan (?P<p>\w+)\); "
        r"gate (?P<gate>[\d.]+)s, live (?P<live>[\d.]+)s, (?P<how>no reload|reloaded, drained (?P<drained>[\d.]+)s)",
        line,
    )
    assert match, line
    report = SwitchReport(
        deployment=match["d"], router="r", source=verb, changed=True, reloaded=match["how"] != "no reload",
        weights={"blue": int(match["b"]), "green": int(match["g"])}, plan_hash=match["p"], config_hash=match["c"],
        previous_config_hash=None, gate_s=float(match["gate"]), live_s=float(match["live"]),
        drained_s=float(match["drained"] or 0), old_workers_left=0, total_s=0.0,
    )  # fmt: skip
    assert report.line() == line
