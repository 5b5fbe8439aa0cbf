"""The router's control channel: router scripts run by a long-lived loop, not by an exec.

An exec starts a process in the router through the runtime: about 50 ms on
an idle host and 80-210 ms on a busy one (measured beside the bench's load),
most of a switch's time. The router's control container (sh/control.sh, made
by components/router.py beside the router) shares its network namespace and
routing volume and runs the same scripts as the same user; a switch attaches
to its stdin and stdout and asks it. What a script does, and what its exit
code means, is the same either way, so the adapter (bluegreen.router.adapter)
picks the channel when there is one and an exec otherwise:

- no control container, one not running, one in another namespace or on
  another volume, one that does not answer the first question in
  PING_SECONDS (a stalled loop), or a payload the attach stream cannot carry:
  `open`/`run` return None before anything ran, and the caller uses an exec;
- a request garbled on the way (two switches writing at once can tear a
  line): the loop runs nothing and says so, and `run` returns None too;
- once a call was sent, a lost answer is a lost exec answer (DockerError):
  the caller's outcome rules apply unchanged.

A script that signals nginx (a reload) must run in the router's own process
namespace: the adapter never sends one here.
"""

from __future__ import annotations

import hashlib
import secrets
import shlex
import socket
import struct
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol, overload

from bluegreen.engine.client import DockerClient, ExecResult
from bluegreen.engine.names import DEPLOYMENT_LABEL, router_control_name
from bluegreen.errors import DockerError

PING_SECONDS = 2.0  # the loop answers `have` at once; a loop that does not is stalled (the exec path is used)
START_SECONDS = 2.0  # a call the loop has not begun this long after it was sent never runs there (an exec does)
NO_SCRIPT = 99  # the call's script was gone (the loop restarted): nothing ran
ELSEWHERE = 98  # the first call's check failed: the loop is not where the router's exec would run; nothing ran
_ELSEWHERE_SAID = "@@bluegreen-elsewhere\n"  # with ELSEWHERE, so a script's own exit 98 is not taken for it
PART_BYTES = 1 << 20  # the most a script or a call may carry (sh/control.sh refuses more: an exec runs it)
_HEADER = struct.Struct(">BxxxL")  # an attach stream frame without a TTY: stream, size


def loop_text() -> str:
    """The control container's command: `sh -c` this (sh/control.sh)."""
    return resources.files("bluegreen.router").joinpath("sh", "control.sh").read_text(encoding="utf-8")


def control_command() -> list[str]:
    return ["sh", "-c", loop_text()]


# The control container's resources (components/router.py, lab/deployment.py). Its work is a switch's bursts
# of a few ms of CPU: a high weight lets them run first on a busy host (a rollback is needed most when the app
# is overloaded), and one CPU bounds a loop that went wrong (a quota smaller than a burst would add delay).
CONTROL_CPU_SHARES = 8192  # Docker's default is 1024
CONTROL_CPUS = 1.0
CONTROL_MEMORY_MB = 32


class Stream(Protocol):
    """What the channel needs of an attached socket (a socket, or the SDK's wrapper of one)."""

    def sendall(self, data: bytes) -> None: ...

    def recv(self, size: int) -> bytes: ...

    def settimeout(self, value: float | None) -> None: ...

    def shutdown(self, how: int) -> None: ...

    def close(self) -> None: ...


def carries(text: str) -> bool:
    """The attach stream carries it as sent: no control character but newline and tab (ctrl-p ctrl-q
    would detach, a NUL ends a shell string)."""
    return not any(ord(c) < 32 and c not in "\n\t" for c in text)


@dataclass
class Channel:
    """One attached connection to the loop, for one call.

    Docker writes the loop's output to every attached connection in turn, and one that is not read blocks
    the loop for everyone: so a connection lives only while its call is read, and is closed right after.
    """

    stream: Stream
    container: str
    timeout: float = 30.0
    scripts: set[str] = field(default_factory=set)  # the hashes the loop has (kept by the caller across calls)
    clock: tuple[int, float] = (0, 0.0)  # the loop's uptime (centiseconds) when it answered, and ours then
    _buffer: bytes = b""
    _partial: bytes = b""
    _lines: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, client: DockerClient, name: str, scripts: set[str]) -> Channel | None:
        """Attach to the control container `name` and ask it one question; None: it did not answer (use an
        exec)."""
        try:
            raw = client.api.attach_socket(name, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        except Exception:
            return None
        channel = cls(getattr(raw, "_sock", raw), name, client.timeout, scripts)
        if not channel._ping():
            channel.close()
            return None
        return channel

    def close(self) -> None:
        """Ends the connection now. Closing the socket alone does not while the SDK's response still holds
        it (a reference cycle, freed whenever the collector runs), and Docker would go on writing the loop's
        output to it until its buffer fills and the loop blocks: so shut it down first."""
        with suppress(OSError):
            self.stream.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            self.stream.close()

    def run(self, text: str, args: Sequence[str], check: tuple[str, Sequence[str]] | None = None) -> ExecResult | None:
        """Run `text` with `args` as `sh -c text sh args...` would: None when nothing ran (use an exec).

        `check`: a script and its arguments run first, in the same call (a connection and a question less
        than a call of its own); when it fails, nothing else runs and the answer is None."""
        calls = [(text, args), *([check] if check else [])]
        if not all(carries(script) and all(carries(a) for a in arguments) for script, arguments in calls):
            return None
        digests = [hashlib.sha256(script.encode()).hexdigest()[:32] for script, _ in calls]
        files = [f'"$BLUEGREEN_CONTROL/script.{d}"' for d in digests]
        call = "".join(f"[ -f {file} ] || exit {NO_SCRIPT}\n" for file in files)
        if check:
            call += f"(set -- {_quoted(check[1])}; . {files[1]}) >/dev/null 2>&1 </dev/null || "
            call += f"{{ printf '{_ELSEWHERE_SAID.strip()}\\n'; exit {ELSEWHERE}; }}\n"
        call += f"set -- {_quoted(args)}\n. {files[0]}\n"
        if len(call.encode()) > PART_BYTES:
            return None
        if not all(d in self.scripts or self._upload(d, script) for d, (script, _) in zip(digests, calls, strict=True)):
            return None
        ident = secrets.token_hex(8)
        self._send(ident, call, f"call {self._loop_time(START_SECONDS)}")
        if not self._started(ident):
            return None
        result = self._answer(ident)
        if result is None or (result.exit_code == NO_SCRIPT and not result.stdout):
            self.scripts.difference_update(digests)
            return None
        if check and result.exit_code == ELSEWHERE and result.stdout == _ELSEWHERE_SAID:
            return None
        return result

    def _ping(self) -> bool:
        """`have` for nothing: the loop answers at once, with its clock, unless it is stalled."""
        ident = secrets.token_hex(8)
        try:
            self._write(f"{ident} have 0\n".encode())
            said = self._reply(ident, time.monotonic() + PING_SECONDS).split()
        except (OSError, DockerError):
            return False
        if len(said) != 3 or said[:2] != ["have", "no"] or not said[2].isdigit():
            return False
        self.clock = (int(said[2]), time.monotonic())
        return True

    def _loop_time(self, ahead: float) -> int:
        """The loop's clock `ahead` seconds from now (centiseconds of its host's uptime, as it reads them)."""
        uptime, at = self.clock
        return uptime + round((time.monotonic() - at + ahead) * 100)

    def _started(self, ident: str) -> bool:
        """The loop began the call. It refuses one it reads after the time the call carries, so once that has
        passed here too without a word, the call can only have been lost on the way (torn by another writer)
        or refused: it will never run there. A connection lost meanwhile proves nothing (the engine may have
        gone, not the loop): a lost answer, DockerError."""
        said = self._reply(ident, time.monotonic() + START_SECONDS + 0.5, quiet=True)
        return said == "started"  # None: no word by then, nothing ran and nothing will

    def _upload(self, digest: str, text: str) -> bool:
        """The script is there (uploaded when not): quick answers, or an exec runs the call instead."""
        ident = secrets.token_hex(8)
        try:
            self._write(f"{ident} have {digest}\n".encode())
            if not self._reply(ident, time.monotonic() + START_SECONDS).startswith("have yes"):
                self._send(ident, text, f"script {digest}")
                if self._reply(ident, time.monotonic() + START_SECONDS) != "script ok":
                    return False
        except DockerError:
            return False
        self.scripts.add(digest)
        return True

    def _send(self, ident: str, text: str, request: str) -> None:
        """The request line, ending in its part's sum and size, then the part: the loop reads exactly that
        size and runs nothing whose sum differs (sh/control.sh)."""
        body = (text if text.endswith("\n") else text + "\n").encode()
        self._write(f"{ident} {request} {_sum(body)} {len(body)}\n".encode() + body)

    def _answer(self, ident: str) -> ExecResult | None:
        """The call's tagged lines up to its exit line; None when it was garbled on the way (nothing ran)."""
        out: list[str] = []
        err: list[str] = []
        pieces = ""  # of a long line, until its last piece
        deadline = time.monotonic() + self.timeout
        while True:
            said = self._reply(ident, deadline)
            kind, _, rest = said.partition(" ")
            if kind == "more":
                pieces += rest
            elif kind == "out":
                out.append(pieces + rest)
                pieces = ""
            elif kind == "err":
                err.append(rest)
            elif kind == "garbled":
                return None
            elif kind == "exit":
                counts = rest.split()
                sizes = [str(len(out)), str(sum(len(line.encode()) for line in out))]
                if len(counts) != 3 or counts[1:] != sizes or not counts[0].isdigit():
                    raise DockerError(f"exec in {self.container}: the answer was torn on the way")
                return ExecResult(int(counts[0]), _text(out), _text(err))

    @overload
    def _reply(self, ident: str, deadline: float) -> str: ...

    @overload
    def _reply(self, ident: str, deadline: float, quiet: bool) -> str | None: ...

    def _reply(self, ident: str, deadline: float, quiet: bool = False) -> str | None:
        """The next line the loop tagged with `ident` (others' lines are theirs). No line by `deadline`:
        None when `quiet`, else DockerError."""
        prefix = f"{ident} "
        while True:
            while self._lines:
                line = self._lines.pop(0)
                if line.startswith(prefix):
                    return line[len(prefix) :]
            lines = self._read_lines(deadline)
            if lines is None:
                if quiet:
                    return None
                raise DockerError(f"exec in {self.container}: no answer within {self.timeout:g}s")
            self._lines = lines

    def _read_lines(self, deadline: float) -> list[str] | None:
        """The complete lines that arrived; None when nothing did by `deadline`."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        self.stream.settimeout(left)
        try:
            chunk = self.stream.recv(65536)
        except TimeoutError:
            return None
        except OSError as exc:
            raise DockerError(f"exec in {self.container}: {exc}") from exc
        if not chunk:
            raise DockerError(f"exec in {self.container}: the control loop went away")
        self._buffer += chunk
        payload = b""
        while len(self._buffer) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + size:
                break
            if kind == 1:  # stdout; the loop's own stderr is nobody's answer
                payload += self._buffer[_HEADER.size : _HEADER.size + size]
            self._buffer = self._buffer[_HEADER.size + size :]
        self._partial += payload
        *complete, self._partial = self._partial.split(b"\n")
        return [line.decode(errors="replace") for line in complete]

    def _write(self, data: bytes) -> None:
        try:
            self.stream.settimeout(self.timeout)
            self.stream.sendall(data)
        except OSError as exc:
            raise DockerError(f"exec in {self.container}: {exc}") from exc


class ControlLink:
    """The control channel of one router for one process: the control container found once and checked by the
    first call, then one attach per call. Given up for the process when it is not there, not beside the router
    or fails the check, or after a call that failed (the exec path serves from there)."""

    def __init__(
        self, client: DockerClient, router: Callable[[], dict[str, Any]], check: tuple[str, Sequence[str]]
    ) -> None:
        """`check`: a script and its arguments that exit 0 only where the router's own exec would run (its
        status listener answers): a loop left in a namespace the router has left is not used."""
        self.client, self.router, self.check = client, router, check
        self.name: str | None = None  # the control container, once found beside the router
        self.tried = False
        self.scripts: set[str] = set()

    def run(self, text: str, args: Sequence[str]) -> ExecResult | None:
        """What the script printed through the channel; None: nothing ran, use an exec."""
        check = None
        if not self.tried:
            self.tried = True
            self.name = _beside_router(self.client, self.router())
            check = self.check  # the first call runs it before its script: a call of its own cost a CLI 15-20 ms
        if self.name is None:
            return None
        channel = Channel.attach(self.client, self.name, self.scripts)
        if channel is None:  # stopped, restarting or stalled: this call and the rest go to execs
            self.name = None
            return None
        try:
            result = channel.run(text, args, check)
        except DockerError:
            self.name = None  # what it owed is a lost exec answer; execs from here
            raise
        finally:
            channel.close()
        if result is None and check is not None:  # not checked (or not beside the router): execs from here
            self.name = None
        return result


def _beside_router(client: DockerClient, router: dict[str, Any]) -> str | None:
    """The router's control container when it runs in the router's network namespace and on its routing
    volume: where the router's own exec would run."""
    deployment = ((router.get("Config") or {}).get("Labels") or {}).get(DEPLOYMENT_LABEL)
    found = client.inspect(router_control_name(deployment)) if deployment else None
    if not found or not (found.get("State") or {}).get("Running") or not _beside(found, router):
        return None
    return str(found.get("Name") or "").lstrip("/") or None


def _sum(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _quoted(args: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def _text(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _beside(control: dict[str, Any], router: dict[str, Any]) -> bool:
    """In the router's network namespace and on its routing volume: where the router's own exec would be."""
    mode = (control.get("HostConfig") or {}).get("NetworkMode")
    volumes = {(m.get("Name"), m.get("Destination")) for m in control.get("Mounts") or []}
    routing = {(m.get("Name"), m.get("Destination")) for m in router.get("Mounts") or [] if m.get("Name")}
    return bool(mode) and mode == (router.get("HostConfig") or {}).get("NetworkMode") and routing <= volumes
