"""Run the app under uvicorn with a drain that a zero-downtime switch can rely on.

On SIGTERM: report not ready at once, keep serving for APP_DRAIN_DELAY_SECONDS
(so a health-checking balancer can notice), then stop accepting, finish
in-flight requests within APP_SHUTDOWN_TIMEOUT_SECONDS, and exit 0. A second
signal forces the exit.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from types import FrameType

import asyncpg
import uvicorn

from bluegreen_app import db
from bluegreen_app.config import AppConfig, ConfigError, load_config
from bluegreen_app.lifecycle import Lifecycle
from bluegreen_app.logs import setup_logging
from bluegreen_app.web import create_app

log = logging.getLogger("bluegreen_app")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_delay: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_delay = drain_delay
        self.exit_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not calling super(): uvicorn would re-raise the signal after shutdown
        # and the process would die by SIGTERM (143) instead of exiting 0.
        if not self.lifecycle.start_draining():
            self.force_exit = True
            self.should_exit = True
            return
        log.info("draining", extra={"event": "sigterm"})
        self.exit_at = time.monotonic() + self.drain_delay

    async def on_tick(self, counter: int) -> bool:
        if self.exit_at is not None and time.monotonic() >= self.exit_at:
            return True
        return await super().on_tick(counter)


def serve(config: AppConfig) -> int:
    lifecycle = Lifecycle()
    uv_config = uvicorn.Config(
        create_app(config, lifecycle),
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(config.shutdown_timeout_seconds),
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips="*",
    )
    server = DrainingServer(uv_config, lifecycle, config.drain_delay_seconds)
    server.run()
    return 0 if server.started else 1


def migrate(config: AppConfig) -> int:
    """`python -m bluegreen_app migrate`: what a preSwitch hook runs (docs/database.md)."""
    if config.database_url is None:
        sys.stderr.write("migrate: APP_DATABASE_URL is not set; allowed: a postgresql:// URL\n")
        return 2
    try:
        asyncio.run(db.migrate(config.database_url, config.schema_version, lambda line: print(line, flush=True)))
    except (ConnectionError, asyncpg.PostgresError) as exc:
        sys.stderr.write(f"migrate: {type(exc).__name__}: {exc}\n")
        return 1
    return 0


COMMANDS = ("serve", "migrate")


def main(argv: list[str] | None = None) -> int:
    command = (argv or ["serve"])[0]
    if command not in COMMANDS or len(argv or []) > 1:
        sys.stderr.write(f"usage: python -m bluegreen_app [{'|'.join(COMMANDS)}]; got {' '.join(argv or [])!r}\n")
        return 2
    try:
        config = load_config()
    except ConfigError as exc:
        for line in exc.lines:
            sys.stderr.write(f"config error: {line}\n")
        return 2
    if command == "migrate":
        return migrate(config)
    setup_logging(config.log_level, config.color, config.version)
    log.info("starting", extra={"event": "start"})
    return serve(config)
