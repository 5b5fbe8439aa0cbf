"""Which router scripts a switch ran, and how: in an exec, or through the router's control channel."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bluegreen.engine.client import DockerClient, ExecResult
from bluegreen.router.channel import Channel
from bluegreen.router.scripts import script

NAMES = ("begin", "probe", "publish", "release")


class ScriptCountingClient(DockerClient):
    """The real engine, noting each router script a switch ran: `scripts` all of them in order, `execs` those
    that ran in an exec (the rest went through the control channel), `args` each one's arguments."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.execs: list[str] = []
        self.args: list[list[str]] = []
        self.names = {script(name): name for name in NAMES}
        through = Channel.run

        def run(
            channel: Channel, text: str, args: Sequence[str], check: tuple[str, Sequence[str]] | None = None
        ) -> ExecResult | None:
            result = through(channel, text, args, check)
            if result is not None:  # None: nothing ran there, the exec that follows counts
                self._note(text, args)  # (a first call's check is the channel's own)
            return result

        monkeypatch.setattr(Channel, "run", run)

    def exec(self, name: str, cmd: Sequence[str], user: str | None = None, timeout: float | None = None) -> ExecResult:
        self.execs.append(self._note(cmd[2] if len(cmd) > 2 else "", cmd[4:]))
        return super().exec(name, cmd, user, timeout)

    def clear(self) -> None:
        self.scripts.clear()
        self.execs.clear()
        self.args.clear()

    def _note(self, text: str, args: Sequence[str]) -> str:
        name = self.names.get(text, "other")
        self.scripts.append(name)
        self.args.append(list(args))
        return name
