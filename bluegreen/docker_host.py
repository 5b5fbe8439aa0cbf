"""Which Docker engine a command talks to, and what an engine address may be.

One rule for every layer: `bluegreen validate`, the program and the CLI
accept `unix:///PATH`, `tcp://HOST:PORT` and `ssh://[USER@]HOST[:PORT]` with
safe characters only. An ssh address becomes an `ssh` command line, and a
host or user that starts with `-` would be read by ssh as an option
(`ssh://-oProxyCommand=...@x` runs a local command wherever `status` runs,
and the drift check runs it on every preview), so such addresses are refused
and `--` ends ssh's options before the destination anyway.

A command given `--stack S` finds its engine in this order, each overriding
the one before: the stack file's `docker.host` (what `pulumi up -s S`
deploys to), then `DOCKER_HOST`, then `--docker-host`. Unset everywhere: the
local engine.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_HOST = "unix:///var/run/docker.sock"
ALLOWED = "unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT] (letters, digits, '.', '_', '-'; no leading '-')"

_NAME = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}"
_HOST = r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}"
_PORT = r"(?::[0-9]{1,5})"
PATTERN = re.compile(rf"^(?:unix:///[A-Za-z0-9._/-]+|tcp://{_HOST}{_PORT}?|ssh://(?:{_NAME}@)?{_HOST}{_PORT}?)$")


def host_problem(url: str) -> str | None:
    """What is wrong with a Docker host address; None when it may be used."""
    if not PATTERN.match(url):
        return f"got {url!r}; allowed: {ALLOWED}"
    return None


def ssh_command(url: str, remote: tuple[str, ...] = ("docker", "system", "dial-stdio")) -> list[str]:
    """The ssh command line that reaches the engine at an `ssh://` address (checked again here)."""
    problem = host_problem(url)
    if problem or not url.startswith("ssh://"):
        raise ValueError(problem or f"got {url!r}; allowed: an ssh:// address")
    parts = urllib.parse.urlsplit(url)
    target = f"{parts.username}@{parts.hostname}" if parts.username else str(parts.hostname)
    port = ["-p", str(parts.port)] if parts.port else []
    return ["ssh", "-o", "BatchMode=yes", *port, "--", target, *remote]


@dataclass(frozen=True)
class Resolved:
    """The engine a command uses, and which source named it (for messages)."""

    host: str
    source: str  # "--docker-host", "DOCKER_HOST", "Pulumi.prod.yaml" or "default"


def stack_file_host(stack: str, folder: Path = Path()) -> str | None:
    """`docker.host` from Pulumi.<stack>.yaml in `folder`; None when the file or the key is absent.

    A secret host (`secure:`) cannot be read without Pulumi: the caller is told
    to export DOCKER_HOST (Pulumi's own commands set it from the decrypted value).
    """
    from bluegreen.stackfile import StackFileError, read_stack_file

    path = folder / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return None
    config = read_stack_file(path, folder / "Pulumi.yaml")
    docker: Any = config.raw.get("docker") or {}
    host = docker.get("host") if isinstance(docker, Mapping) else None
    if host is None:
        return None
    if "docker.host" in config.secret_paths:
        raise StackFileError(
            f"{path}: docker.host is a secret, which only Pulumi can decrypt; export DOCKER_HOST or pass --docker-host"
        )
    return str(host)


def resolve(stack: str | None, flag: str | None, environ: Mapping[str, str] = os.environ) -> Resolved:
    """The engine for a command: the stack file's host, overridden by DOCKER_HOST, overridden by the flag."""
    if flag:
        return Resolved(flag, "--docker-host")
    if environ.get("DOCKER_HOST"):
        return Resolved(environ["DOCKER_HOST"], "DOCKER_HOST")
    if stack:
        host = stack_file_host(stack)
        if host:
            return Resolved(host, f"Pulumi.{stack}.yaml")
    return Resolved(DEFAULT_HOST, "default")
