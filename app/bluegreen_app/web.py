"""HTTP and WebSocket routes, and the middleware every request passes through."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from bluegreen_app.config import AppConfig
from bluegreen_app.db import Notes, NotMigratedError, open_pool
from bluegreen_app.lifecycle import Lifecycle
from bluegreen_app.logs import request_id

log = logging.getLogger("bluegreen_app")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ECHO_MAX_BYTES = 64 * 1024
NOTE_MAX_CHARS = 1000
NO_DATABASE = "no database: APP_DATABASE_URL is not set"
# What a query can raise when the database is down, slow or refuses it.
DATABASE_ERRORS = (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    latency_ms: float
    detail: str


def _probe_downstream(url: str, timeout: float) -> Check:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - URL validated as http(s)  # nosec B310
            status = response.status
        ok, detail = status < 400, f"HTTP {status}"
    except urllib.error.HTTPError as exc:
        ok, detail = False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        ok, detail = False, str(getattr(exc, "reason", exc))
    return Check("downstream", ok, round((time.perf_counter() - started) * 1000, 1), detail)


class RequestContext:
    """Request id in, colour/version/id headers out, one access log line per request."""

    def __init__(self, app: ASGIApp, config: AppConfig) -> None:
        self.app = app
        self.static_headers = [
            (b"x-app-color", config.color.encode()),
            (b"x-app-version", config.version.encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), *self.static_headers, (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope.get("method", "WS"),
                    "path": scope["path"],
                    "status": status if scope["type"] == "http" else 101,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "event": "access",
                },
            )
            request_id.reset(token)


class Faults:
    """APP_FAULT_ERROR_RATE and APP_FAULT_LATENCY_MS on every request but the health endpoints."""

    def __init__(self, app: ASGIApp, config: AppConfig) -> None:
        self.app, self.rate, self.latency = app, config.fault_error_rate, config.fault_latency_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/health"):
            await self.app(scope, receive, send)
            return
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.rate and random.random() < self.rate:  # noqa: S311 - a fault, not a secret  # nosec B311
            await JSONResponse({"error": "injected fault (APP_FAULT_ERROR_RATE)"}, status_code=500)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def create_app(config: AppConfig, lifecycle: Lifecycle | None = None) -> ASGIApp:
    life = lifecycle or Lifecycle()

    notes: Notes | None = None

    async def database_check() -> Check:
        started = time.perf_counter()
        if notes is None:
            return Check("database", False, 0.0, "starting: no connection pool yet")
        try:
            await notes.ping(config.database_timeout_seconds)
            ok, detail = True, "SELECT 1"
        except DATABASE_ERRORS as exc:
            # The driver's words (a host, a role, a query) stay in the log; the public answer says where to look.
            log.warning("database check failed", extra={"event": "database_error", "error": _said(exc)})
            ok, detail = False, f"unavailable ({type(exc).__name__}; details in the app's log)"
        return Check("database", ok, round((time.perf_counter() - started) * 1000, 1), detail)

    async def readiness() -> tuple[bool, list[Check]]:
        checks: list[Check] = []
        if config.database_url is not None:
            checks.append(await database_check())
        if config.downstream_url is not None:
            checks.append(
                await asyncio.to_thread(
                    _probe_downstream, str(config.downstream_url), config.downstream_timeout_seconds
                )
            )
        return life.serving and all(c.ok for c in checks), checks

    async def index(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "color": config.color,
                "version": config.version,
                "request_id": request_id.get(),
            }
        )

    async def live(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive", "phase": life.phase.value})

    async def ready(request: Request) -> JSONResponse:
        ok, checks = await readiness()
        body = {"status": "ready" if ok else "not ready", "phase": life.phase.value}
        body["checks"] = [asdict(c) for c in checks]  # type: ignore[assignment]
        return JSONResponse(body, status_code=200 if ok else 503)

    async def summary(request: Request) -> JSONResponse:
        ok, checks = await readiness()
        body: dict[str, Any] = {
            "live": True,
            "ready": ok,
            "phase": life.phase.value,
            "color": config.color,
            "version": config.version,
            "uptime_s": round(time.monotonic() - life.started_at, 3),
            "checks": [asdict(c) for c in checks],
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    async def slow(request: Request) -> JSONResponse:
        raw = request.query_params.get("seconds", "1")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= config.slow_max_seconds:
            return JSONResponse(
                {"error": f"seconds: got {raw!r}; allowed: 0 to {config.slow_max_seconds:g}"}, status_code=400
            )
        await asyncio.sleep(seconds)
        return JSONResponse({"slept": seconds, "color": config.color, "version": config.version})

    async def post_echo(request: Request) -> JSONResponse:
        """A request that must not be sent twice: what the no-retry benchmark posts through switches."""
        body = await request.body()
        if len(body) > ECHO_MAX_BYTES:
            return JSONResponse({"error": f"body: got {len(body)} bytes; allowed: at most {ECHO_MAX_BYTES}"}, 413)
        digest = hashlib.sha256(body).hexdigest()
        return JSONResponse({"received": len(body), "sha256": digest, "color": config.color, "version": config.version})

    def no_notes(reason: str) -> JSONResponse:
        return JSONResponse({"error": reason}, status_code=503)

    async def answer(query: Awaitable[Any], status: int = 200) -> JSONResponse:
        """The query's result, or 503 saying why the database could not answer it."""
        try:
            return JSONResponse(await query, status_code=status)
        except NotMigratedError as exc:
            log.warning("schema not migrated", extra={"event": "database_error", "error": _said(exc)})
            return no_notes("schema not migrated: run python -m bluegreen_app migrate")
        except DATABASE_ERRORS as exc:
            log.warning("database query failed", extra={"event": "database_error", "error": _said(exc)})
            return no_notes(f"database unavailable ({type(exc).__name__}; details in the app's log)")

    async def list_notes(request: Request) -> JSONResponse:
        if notes is None:
            return no_notes(NO_DATABASE)
        return await answer(notes.all())

    async def add_note(request: Request) -> JSONResponse:
        if notes is None:
            return no_notes(NO_DATABASE)
        try:
            body = await request.json()
        except ValueError:
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        author = body.get("author") if isinstance(body, dict) else None
        if not isinstance(text, str) or not 1 <= len(text) <= NOTE_MAX_CHARS:
            return JSONResponse(
                {"error": f"text: got {text!r:.60}; allowed: a string of 1 to {NOTE_MAX_CHARS} characters"}, 400
            )
        if author is not None and (not isinstance(author, str) or len(author) > 100):
            return JSONResponse({"error": f"author: got {author!r:.60}; allowed: a string of at most 100"}, 400)
        return await answer(notes.add(text, author), status=201)

    async def echo(ws: WebSocket) -> None:
        await ws.accept(headers=[(b"x-app-color", config.color.encode())])
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    await ws.send_text(message["text"])
                elif message.get("bytes") is not None:
                    await ws.send_bytes(message["bytes"])
        except WebSocketDisconnect:
            return

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def warm_up() -> None:
            # Live at once, ready after the (simulated) warm-up: lets tests and
            # the health gate observe a colour that is up but not yet ready.
            await asyncio.sleep(config.startup_delay_seconds)
            life.mark_ready()
            log.info("ready", extra={"event": "ready"})

        nonlocal notes
        pool = await open_pool(config.database_url) if config.database_url else None
        notes = Notes(pool, config.schema_version) if pool is not None else None
        task = asyncio.create_task(warm_up())
        yield
        task.cancel()
        if pool is not None:
            await pool.close()

    routes: list[BaseRoute] = [
        Route("/", index),
        Route("/health", summary),
        Route("/health/live", live),
        Route("/health/ready", ready),
        Route("/notes", list_notes, methods=["GET"]),
        Route("/notes", add_note, methods=["POST"]),
    ]
    if config.debug_endpoints:
        routes += [Route("/slow", slow), Route("/echo", post_echo, methods=["POST"]), WebSocketRoute("/ws", echo)]
    app = Starlette(routes=routes, lifespan=lifespan)
    faulty: ASGIApp = Faults(app, config) if config.fault_error_rate or config.fault_latency_ms else app
    return RequestContext(faulty, config)
