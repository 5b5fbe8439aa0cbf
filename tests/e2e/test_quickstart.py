"""docs/quickstart.md, walked command by command on the real daemon, so the page cannot rot.

The Pulumi commands go through the test engine (the machines this is built
on cannot install the Pulumi CLI): `pulumi config set` collects the change,
`pulumi up` applies everything collected, `make up` and `make down` deploy
and destroy. `bluegreen` runs for real. `curl` is a GET whose body must
match the page's line (`...` matches anything). The dev stack's ports move
to free ones, and the page's URLs with them.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from lab.dockercli import get
from lab.engine import Steps, destroy, up
from lab.paths import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("stand_in_images")]

PORTS = {8080: 18280, 8081: 18281}
CONFIG = {"router.port": PORTS[8080], "router.previewPort": PORTS[8081]}


def console_commands() -> list[tuple[str, list[str]]]:
    """Each `$ command` of the page's console blocks, with the lines printed below it."""
    text = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
    return found


def matches(pattern: str, line: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("...")), line) is not None


def config_change(argv: list[str]) -> dict[str, Any]:
    """`pulumi config set -s dev [--path] KEY VALUE` as an engine override."""
    words = [w for w in argv[3:] if w not in ("-s", "dev", "--path")]
    assert len(words) == 2 and argv[3:5] == ["-s", "dev"], f"the page names the stack: {argv}"
    key, value = words
    return {key: int(value) if value.isdigit() else value}


@pytest.fixture
def clean_dev() -> Iterator[None]:
    destroy("dev")
    yield
    destroy("dev")


def test_the_quickstart_does_what_it_says(clean_dev: None) -> None:
    steps = Steps("dev", CONFIG)
    pending: dict[str, Any] = {}
    walked = []
    for command, printed in console_commands():
        argv = shlex.split(command)
        walked.append(argv[0] if argv[0] != "pulumi" else " ".join(argv[:3]))
        said: list[str] = []
        if argv[:2] == ["make", "up"]:
            up("dev", CONFIG)
        elif argv[:2] == ["make", "down"]:
            destroy("dev")
        elif argv[0] == "source":
            assert argv[1] == "scripts/env.sh" and (ROOT / argv[1]).exists()
        elif argv[:3] == ["pulumi", "config", "set"]:
            pending.update(config_change(argv))
        elif argv[:2] == ["pulumi", "up"]:
            assert "-s" in argv and "dev" in argv, command
            steps(pending)
            pending = {}
        elif argv[0] == "curl":
            url = re.sub(r":(\d+)/", lambda m: f":{PORTS[int(m[1])]}/", argv[-1])
            status, _, body = get(url)
            assert status == 200, (command, status, body)
            said = [body.decode().strip()]
        elif argv[0] == "bluegreen":
            done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True,
                                  timeout=300, check=False)  # fmt: skip
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            said = done.stdout.splitlines()
        else:
            raise AssertionError(f"the quickstart runs a command this test does not know: {command}")
        shown = [line for line in printed if line != "..."]
        assert len(said) >= len(shown), (command, printed, said)
        for pattern, line in zip(shown, said, strict=False):
            assert matches(pattern, line), (command, pattern, line)
    assert walked.count("curl") >= 5 and "bluegreen" in walked and walked[-1] == "make", walked
