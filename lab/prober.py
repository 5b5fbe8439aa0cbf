"""An async HTTP/1.1 prober: N keep-alive connections, every response accounted for.

Each request is counted by status and by the colour the router says served it
(X-Bluegreen-Color), with its latency and the time it completed, so a test can
say "0 failed out of 94,000" and a benchmark can say when the first answer
from the new colour came. No dependencies: raw asyncio streams.

Like every mainstream HTTP client (RFC 9112 section 9.3.1), a GET that finds
its reused keep-alive connection closed before any byte of a response is sent
again once on a new connection; these retries are counted in `retried`, not
hidden. With `retry=False` nothing is ever resent (a client that cannot know
whether a POST was processed): such a close is a failure too. Anything else
(an error status, a reset mid-response, a timeout) is a failure.

An https:// URL speaks TLS with the given context (a client that trusts only
the test CA); `reconnect_every=N` closes each connection after N requests, so
new handshakes keep happening (what a certificate rotation must survive).

`post_every=N` makes every Nth request of a connection a `POST /echo` with a
body. Each sample also keeps the colour the app itself reports (X-App-Color):
a response whose app colour differs from the router's is `misrouted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any


@dataclass
class Sample:
    at: float  # completion, time.monotonic()
    status: int  # 0: no response
    color: str
    latency: float
    app_color: str = ""
    method: str = "GET"


@dataclass
class ProbeStats:
    samples: list[Sample] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    retried: int = 0

    def merge(self, other: ProbeStats) -> None:
        self.samples += other.samples
        self.errors.update(other.errors)
        self.retried += other.retried

    @property
    def requests(self) -> int:
        return len(self.samples)

    @property
    def failed(self) -> int:
        return sum(1 for s in self.samples if s.status != 200)

    def failed_within(self, since: float, until: float = float("inf")) -> int:
        """Requests that failed (not a 200) and ended in [since, until): one window's share of `failed`."""
        return sum(1 for s in self.samples if since <= s.at < until and s.status != 200)

    @property
    def misrouted(self) -> int:
        """Answers the router labelled with one colour that the other colour's app gave."""
        return sum(1 for s in self.samples if s.status == 200 and s.app_color and s.app_color != s.color)

    def colors(self, since: float = 0.0) -> Counter[str]:
        return Counter(s.color for s in self.samples if s.at >= since and s.status == 200)

    def first_at(self, color: str, since: float, until: float = float("inf")) -> float | None:
        return next(
            (s.at for s in self.samples if since <= s.at < until and s.color == color and s.status == 200), None
        )

    def all_from(self, color: str, since: float, until: float = float("inf")) -> float | None:
        """Completion time after which every answer in [since, until) came from `color` (None: never)."""
        last_other = since
        seen = False
        for s in sorted(self.samples, key=lambda x: x.at):
            if not since <= s.at < until:
                continue
            if s.color == color and s.status == 200:
                seen = True
            else:
                last_other = s.at
        return last_other if seen else None

    def latencies(self) -> list[float]:
        return sorted(s.latency for s in self.samples if s.status == 200)


class _ClosedBeforeResponseError(Exception):
    """The server closed a reused connection before answering (safe to resend)."""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str, str, bool]:
    """(status, router colour, app colour, server closes the connection after this response)."""
    status_line = await reader.readline()
    if not status_line:
        raise _ClosedBeforeResponseError
    status = int(status_line.split()[1])
    length = 0
    color = app_color = ""
    chunked = False
    close = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "x-bluegreen-color":
            color = value
        elif name == "x-app-color":
            app_color = value
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection" and value.lower() == "close":
            close = True
    if chunked:
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, color, app_color, close


class _Connection:
    """One keep-alive connection; reopened on demand."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.reused = False

    async def send(self, request: bytes) -> tuple[int, str, str]:
        if self.streams is None:
            opened = asyncio.open_connection(
                self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
            )
            self.streams = await asyncio.wait_for(opened, 5)
            self.reused = False
        reader, writer = self.streams
        writer.write(request)
        await writer.drain()
        status, color, app_color, close = await asyncio.wait_for(_read_response(reader), 15)
        self.reused = True
        if close:
            self.close()
        return status, color, app_color

    def close(self) -> None:
        if self.streams is not None:
            with contextlib.suppress(Exception):
                self.streams[1].close()
        self.streams = None


async def _worker(
    host: str,
    port: int,
    path: str,
    stop_at: float,
    stats: ProbeStats,
    max_requests: int | None,
    retry: bool = True,
    post_every: int = 0,
    tls: ssl.SSLContext | None = None,
    reconnect_every: int = 0,
    pace: float = 0.0,
    vhost: str = "",
) -> None:
    vhost = vhost or f"{host}:{port}"
    get = f"GET {path} HTTP/1.1\r\nHost: {vhost}\r\n\r\n".encode()
    body = b'{"order": 42}'
    post = (
        f"POST /echo HTTP/1.1\r\nHost: {vhost}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    conn = _Connection(host, port, tls)
    sent = 0
    next_at = time.monotonic()
    while time.monotonic() < stop_at and (max_requests is None or stats.requests < max_requests):
        if pace:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += pace
        started = time.monotonic()
        sent += 1
        is_post = post_every > 0 and sent % post_every == 0
        request = post if is_post else get
        status, color, app_color = 0, "", ""
        for attempt in (1, 2):
            resendable = retry and not is_post and conn.reused and attempt == 1
            try:
                status, color, app_color = await conn.send(request)
                break
            except (_ClosedBeforeResponseError, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if resendable:
                    stats.retried += 1
                    continue
                stats.errors[type(exc).__name__] += 1
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                conn.close()
                stats.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.01)
            break
        if reconnect_every and sent % reconnect_every == 0:
            conn.close()
        method = "POST" if is_post else "GET"
        stats.samples.append(Sample(time.monotonic(), status, color, time.monotonic() - started, app_color, method))
    conn.close()


async def probe(
    url: str,
    seconds: float,
    connections: int = 32,
    path: str = "/",
    max_requests: int | None = None,
    retry: bool = True,
    post_every: int = 0,
    tls: ssl.SSLContext | None = None,
    reconnect_every: int = 0,
    rate: float = 0.0,
    vhost: str = "",
) -> ProbeStats:
    """Run `connections` keep-alive clients against url (http(s)://127.0.0.1:PORT) for `seconds`.

    `rate`: requests per second over all connections (0: as fast as they go). `vhost`: the Host header
    (one app behind a shared router), else the URL's host and port."""
    secure = url.startswith("https://")
    if secure and tls is None:
        raise ValueError(f"{url}: an https URL needs the TLS context that trusts its CA")
    hostport = url.removeprefix("https://" if secure else "http://").rstrip("/")
    host, _, port = hostport.partition(":")
    stats = ProbeStats()
    stop_at = time.monotonic() + seconds
    await asyncio.gather(
        *(
            _worker(host, int(port or (443 if secure else 80)), path, stop_at, stats, max_requests, retry, post_every,
                    tls if secure else None, reconnect_every, connections / rate if rate else 0.0, vhost)
            for _ in range(connections)
        )
    )  # fmt: skip
    return stats


def run_probe(
    url: str,
    seconds: float,
    connections: int = 32,
    max_requests: int | None = None,
    retry: bool = True,
    post_every: int = 0,
    tls: ssl.SSLContext | None = None,
    reconnect_every: int = 0,
    rate: float = 0.0,
    vhost: str = "",
) -> ProbeStats:
    return asyncio.run(
        probe(url, seconds, connections, max_requests=max_requests, retry=retry, post_every=post_every, tls=tls,
              reconnect_every=reconnect_every, rate=rate, vhost=vhost)
    )  # fmt: skip


class TooSlowToMeasureError(AssertionError):
    """The machine was too busy to make the requests a test counts on: not a wrong result."""


def enough(stats: ProbeStats, requests: int, cap_seconds: float) -> ProbeStats:
    """`stats` of a probe that ran until `requests` (or its cap): the count a test relies on, or a loud failure."""
    if stats.requests < requests:
        raise TooSlowToMeasureError(f"{stats.requests} of {requests} requests in the {cap_seconds:g} s cap")
    return stats


class BackgroundProbe:
    """Keep-alive clients in a thread for as long as the `with` block runs.

    The prober runs in rounds of `round_seconds` until the block ends, so the
    stats cover the whole block; `settle_seconds` of traffic before and after
    show the state the block started from and ended in.
    """

    def __init__(
        self,
        url: str,
        connections: int = 32,
        round_seconds: float = 2.0,
        settle_seconds: float = 0.0,
        retry: bool = True,
        post_every: int = 0,
        tls: ssl.SSLContext | None = None,
        reconnect_every: int = 0,
        rate: float = 0.0,
        vhost: str = "",
    ) -> None:
        self.url, self.connections, self.vhost = url, connections, vhost
        self.retry, self.post_every = retry, post_every
        self.tls, self.reconnect_every, self.rate = tls, reconnect_every, rate
        self.round_seconds, self.settle_seconds = round_seconds, settle_seconds
        self.stats = ProbeStats()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.stats.merge(
                run_probe(
                    self.url,
                    self.round_seconds,
                    self.connections,
                    retry=self.retry,
                    post_every=self.post_every,
                    tls=self.tls,
                    reconnect_every=self.reconnect_every,
                    rate=self.rate,
                    vhost=self.vhost,
                )
            )

    def keep_until(self, requests: int, cap_seconds: float = 300.0) -> None:
        """Keep the load on until it has made `requests` requests: tests count, they never time.

        The cap only stops a stuck run; reaching it fails loudly as too slow to
        measure, never as a wrong result.
        """
        deadline = time.monotonic() + cap_seconds
        while self.stats.requests < requests and time.monotonic() < deadline:
            time.sleep(0.2)
        enough(self.stats, requests, cap_seconds)

    def __enter__(self) -> BackgroundProbe:
        self.thread.start()
        time.sleep(self.settle_seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(self.settle_seconds)
        self.stop.set()
        self.thread.join(timeout=60)


class ProbeProcess:
    """BackgroundProbe in a process of its own, for a block that times what runs in this one (a switch).

    In production no client shares the switch's interpreter; in one process
    the clients' thread would hold the GIL while the switch waits to read
    its Docker answers, and the switch's time would be partly theirs. The
    stats arrive when the block ends; `at` is CLOCK_MONOTONIC in both
    processes, so its times compare with this one's `time.monotonic()`.
    """

    def __init__(self, url: str, **options: Any) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
        self.parent, child = context.Pipe()
        self.process = context.Process(target=_probe_child, args=(child, url, options), daemon=True)
        self.stats = ProbeStats()

    def __enter__(self) -> ProbeProcess:
        self.process.start()
        self.parent.recv()  # the load runs, its settle time passed
        return self

    def __exit__(self, *exc: object) -> None:
        self.parent.send("stop")
        self.stats = self.parent.recv()
        self.process.join(timeout=60)


def _probe_child(conn: Connection, url: str, options: dict[str, Any]) -> None:
    with BackgroundProbe(url, **options) as load:
        conn.send("running")
        conn.recv()
    conn.send(load.stats)
