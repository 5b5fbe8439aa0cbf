"""The control channel (bluegreen/router/channel.py) against its loop (sh/control.sh) under the machine's sh.

The loop's stdout is framed as Docker's attach stream frames it, so both ends run as in a router: what a
script prints, its exit code and stderr must come back as an exec would return them.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen.errors import DockerError
from bluegreen.router import channel as channel_module
from bluegreen.router.channel import Channel, carries, loop_text

SCRIPT = 'printf "%s|" "$@"; printf "\\n"; echo "to stderr" >&2; exit "${EXIT:-0}"\n'


class LocalLoop:
    """sh/control.sh in a process of its own: its stdin written to, its stdout read as attach frames."""

    def __init__(self, tmp: Path) -> None:
        self.proc = subprocess.Popen(
            ["sh", "-c", loop_text()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={"PATH": os.environ["PATH"], "TMPDIR": str(tmp)},
            start_new_session=True,  # its calls with it: killed together, as a container's processes are
        )
        self.timeout: float | None = None
        self.sent = 0

    def sendall(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.sent += len(data)
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv(self, size: int) -> bytes:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not ready:
            raise TimeoutError
        data = os.read(self.proc.stdout.fileno(), size)
        return struct.pack(">BxxxL", 1, len(data)) + data if data else b""

    def settimeout(self, value: float | None) -> None:
        self.timeout = value

    def shutdown(self, how: int) -> None:
        pass  # closing is killing here

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[LocalLoop]:
    running = LocalLoop(tmp_path)
    yield running
    running.close()


def direct(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(["sh", "-c", SCRIPT, "sh", *args], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], **(env or {})}, check=False)  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def test_a_call_returns_what_an_exec_of_the_same_script_would(loop: LocalLoop) -> None:
    args = ["plain", "two words", "it's", 'a "quote"', "$(touch /tmp/nope) `x` \\n", "", "line one\nline two\n"]
    result = Channel(loop, "control", timeout=5).run(SCRIPT, args)
    assert result is not None
    assert (result.exit_code, result.stdout, result.stderr) == direct(args)
    assert result.stdout.count("|") == len(args), "every argument, empty ones too, arrives as one"


def test_a_long_line_comes_back_whole(loop: LocalLoop) -> None:
    """Lines over 3,000 bytes travel in pieces (a pipe takes up to 4 KiB whole): a big status or plan."""
    line = "".join(f"{i:05d}," for i in range(2000))  # 12,000 bytes
    result = Channel(loop, "control", timeout=5).run('printf "%s\\nafter\\n" "$1"\n', [line])
    assert result is not None and result.stdout == f"{line}\nafter\n"


def test_an_exit_code_and_stderr_come_back(loop: LocalLoop) -> None:
    result = Channel(loop, "control", timeout=5).run("echo partial; echo why >&2; exit 7\n", [])
    assert result is not None and (result.exit_code, result.stdout, result.stderr) == (7, "partial\n", "why\n")


def test_the_script_travels_once_then_only_its_arguments(loop: LocalLoop) -> None:
    channel = Channel(loop, "control", timeout=5)
    text = SCRIPT + "# " + "x" * 4000 + "\n"
    assert channel.run(text, ["a"]) is not None
    first = loop.sent
    assert channel.run(text, ["b"]) is not None
    assert loop.sent - first < 400 < first, (first, loop.sent - first)
    again = Channel(loop, "control", timeout=5)  # another switch, the same loop: it asks, and sends nothing more
    assert again.run(text, ["c"]) is not None and again.scripts == channel.scripts


def test_a_garbled_call_runs_nothing_and_says_so(loop: LocalLoop, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Two writers at once can tear a line: the sum no longer matches and the loop runs none of it."""
    channel = Channel(loop, "control", timeout=5)
    marker = tmp_path / "ran"
    assert channel.run(SCRIPT, ["warm"]) is not None  # the script is there; the call itself is garbled
    real = channel_module._sum
    monkeypatch.setattr(channel_module, "_sum", lambda body: "0" * 64 if b"set --" in body else real(body))
    assert channel.run(f'touch "{marker}"\n', []) is None
    assert channel.run(SCRIPT, ["x"]) is None
    time.sleep(0.2)
    assert not marker.exists()


def test_a_call_whose_answer_lost_lines_is_a_lost_answer(loop: LocalLoop) -> None:
    channel = Channel(loop, "control", timeout=5)
    received = loop.recv

    def drop_a_line(size: int) -> bytes:
        frame = received(size)
        payload = b"\n".join(line for line in frame[8:].split(b"\n") if not line.endswith(b" out two"))
        return struct.pack(">BxxxL", 1, len(payload)) + payload if frame else frame

    loop.recv = drop_a_line  # type: ignore[method-assign]
    with pytest.raises(DockerError, match="torn"):
        channel.run("echo one; echo two\n", [])


def test_other_switches_answers_on_the_stream_are_skipped(loop: LocalLoop) -> None:
    channel = Channel(loop, "control", timeout=5)
    channel._lines = ["0123456789abcdef out not ours", "0123456789abcdef exit 3 1 12"]
    result = channel.run("echo mine\n", [])
    assert result is not None and (result.exit_code, result.stdout) == (0, "mine\n")


def test_a_stalled_loop_fails_its_question_before_anything_is_sent(
    loop: LocalLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop that answers nothing (stopped) is found out by the question every attach asks first."""
    assert Channel(loop, "control", timeout=5)._ping()
    monkeypatch.setattr(channel_module, "PING_SECONDS", 0.3)
    os.kill(loop.proc.pid, signal.SIGSTOP)
    try:
        sent = loop.sent
        assert not Channel(loop, "control", timeout=5)._ping()
        assert loop.sent - sent < 40, "the question alone"
    finally:
        os.kill(loop.proc.pid, signal.SIGCONT)


def test_a_loop_that_went_away_mid_call_is_a_lost_answer(loop: LocalLoop) -> None:
    """Once the loop said it started the call, nothing tells whether it ran: a lost exec answer."""
    channel = Channel(loop, "control", timeout=5)
    assert channel._ping()
    received = loop.recv

    def die_once_started(size: int) -> bytes:
        frame = received(size)
        if b" started\n" in frame:
            loop.close()
        return frame

    loop.recv = die_once_started  # type: ignore[method-assign]
    with pytest.raises(DockerError, match="went away"):
        channel.run("sleep 5\n", [])


def test_nothing_is_sent_to_a_loop_that_is_gone(loop: LocalLoop) -> None:
    channel = Channel(loop, "control", timeout=5)
    loop.close()
    assert channel.run("echo hi\n", []) is None, "an exec instead"


def test_a_call_the_loop_reads_too_late_never_runs(loop: LocalLoop, tmp_path: Path) -> None:
    """Lost on the way or read after the switch gave up (2 s): the loop refuses it, so the exec the switch
    runs instead is the only run."""
    channel = Channel(loop, "control", timeout=5)
    marker = tmp_path / "ran"
    assert channel._ping()
    channel.clock = (channel.clock[0] - 1000, channel.clock[1])  # the loop reads the call 10 s past its time
    assert channel.run(f'touch "{marker}"\n', []) is None
    time.sleep(0.2)
    assert not marker.exists()


def test_what_the_stream_cannot_carry_goes_to_an_exec() -> None:
    assert carries("text\twith tab\nand newline") and not carries("ctrl-p \x10 detaches") and not carries("\x00")
    stream = LocalLoop.__new__(LocalLoop)  # never touched: nothing is sent
    assert Channel(stream, "control").run(SCRIPT, ["\x10\x11"]) is None


def test_a_link_uses_a_loop_only_once_it_answers_as_the_router_would(
    loop: LocalLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop left in a namespace the router has left (its net container restarted) fails the check the first
    call runs before its script: the switch runs its scripts in execs, and nothing it asked for ran there."""
    marker = tmp_path / "ran"
    attached: list[LocalLoop] = []

    def attach(client: object, name: str, scripts: set[str]) -> Channel:
        attached.append(LocalLoop(tmp_path))  # a connection per call, closed after it (the stream is the loop)
        return Channel(attached[-1], name, 5, scripts)

    monkeypatch.setattr(channel_module, "_beside_router", lambda client, router: "control")
    monkeypatch.setattr(Channel, "attach", staticmethod(attach))
    failing = channel_module.ControlLink(None, dict, ("exit 1\n", []))  # type: ignore[arg-type]
    assert failing.run(f'touch "{marker}"\n', []) is None and failing.name is None
    assert failing.run(f'touch "{marker}"\n', []) is None and len(attached) == 1, "given up: no second attach"
    time.sleep(0.2)
    assert not marker.exists()
    passing = channel_module.ControlLink(None, dict, ('[ "$1" = port ] && [ "$#" = 2 ]\n', ["port", "/status"]))  # type: ignore[arg-type]
    result = passing.run(f'touch "{marker}"; echo "done $#"\n', ["one"])
    assert result is not None and result.stdout == "done 1\n" and marker.exists(), "the check, then the call"
    assert passing.run("echo again\n", []) is not None and len(attached) == 3, "one connection per call"
    assert all(a.proc.poll() is not None for a in attached[:-1]), "each closed after its call"


def test_a_scripts_own_exit_98_is_its_answer_not_a_failed_check(loop: LocalLoop, tmp_path: Path) -> None:
    """The check's failure is told by its exit code and a line only it prints."""
    channel = Channel(loop, "control", timeout=5)
    result = channel.run("echo mine; exit 98\n", [], ("exit 0\n", []))
    assert result is not None and (result.exit_code, result.stdout) == (98, "mine\n")
    marker = tmp_path / "ran"
    said = channel.run(f'touch "{marker}"; echo mine\n', [], ("echo checked; exit 3\n", []))
    assert said is None, "a failed check: its own output is not the answer"
    time.sleep(0.2)
    assert not marker.exists(), "and nothing else ran"


def test_a_connection_lost_before_the_call_started_is_a_lost_answer(loop: LocalLoop) -> None:
    """Only silence until the call's time proves it will never run; a connection that breaks meanwhile may
    be the engine's, not the loop's: the switch says the outcome is unknown rather than run it again."""
    channel = Channel(loop, "control", timeout=5)
    assert channel._ping()
    sent = loop.sendall

    def break_after_the_call(data: bytes) -> None:
        sent(data)
        if b" call " in data:
            loop.close()

    loop.sendall = break_after_the_call  # type: ignore[method-assign]
    with pytest.raises(DockerError, match="went away"):
        channel.run("echo hi\n", [])


def test_a_part_the_loop_would_refuse_goes_to_an_exec(loop: LocalLoop, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts are read by their size, up to PART_BYTES: over it, nothing is sent or nothing runs."""
    channel = Channel(loop, "control", timeout=5)
    big = "x" * 3000
    assert channel.run('echo "${#1}"\n', [big]) is not None
    monkeypatch.setattr(channel_module, "PART_BYTES", 2000)
    sent = loop.sent
    assert channel.run('echo "${#1}"\n', [big]) is None and loop.sent == sent, "refused here: nothing sent"
    monkeypatch.setattr(channel_module, "PART_BYTES", 1 << 30)  # a client that would send more than the loop takes
    result = channel.run('echo "${#1}"\n', ["y" * (1 << 20)])
    assert result is None and loop.sent > sent + (1 << 20), "sent, and refused there: garbled, nothing ran"
    assert channel.run('echo "${#1}"\n', ["z"]) is not None, "and the loop reads the next request"


def test_a_size_torn_bigger_holds_the_loop_at_most_two_seconds(loop: LocalLoop) -> None:
    """Another writer's bytes inside a request line can make its size ask for more than will come: the loop
    waits for it no longer than `timeout 2`, runs none of it, and reads requests again."""
    loop.sendall(b"0123456789abcdef call 99999999 " + b"0" * 64 + b" 900000\necho torn\n")
    channel = Channel(loop, "control", timeout=5)
    started = time.monotonic()
    while (result := channel.run("echo after\n", [])) is None:  # an exec would serve these meanwhile
        assert time.monotonic() - started < 30, "the loop never read requests again"  # a hang, not a speed
    assert result.stdout == "after\n"
