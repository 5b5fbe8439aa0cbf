"""Which Docker engine a command talks to, and what an engine address may be.

One rule for every layer: `bluegreen validate`, the program and the CLI
accept `unix:///PATH`, `tcp://HOST:PORT` and `ssh://[USER@]HOST[:PORT]` with
safe characters only. An ssh address becomes an `ssh` command line (the
docker SDK's, `ssh [-l USER] [-p PORT] -- HOST docker system dial-stdio`), and
a host or user that starts with `-` would be read by ssh as an option
(`ssh://-oProxyCommand=...@x` runs a local command wherever `status` runs,
and the drift check runs it on every preview), so such addresses are refused
before the SDK sees them, and `--` ends ssh's options anyway.

A command given `--stack S` finds its engine in this order, each overriding
the one before: the stack file's `docker.context` or `docker.host` (what
`pulumi up -s S` deploys to), then `DOCKER_HOST`, then `DOCKER_CONTEXT`,
then `--docker-host`. Unset everywhere: the local engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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


@dataclass(frozen=True)
class Resolved:
    """The engine a command uses, and which source named it (for messages)."""

    host: str
    source: str  # "--docker-host", "DOCKER_HOST", "Pulumi.prod.yaml", "DOCKER_CONTEXT" or "default"
    cert_path: str | None = None  # the TLS folder (ca.pem, cert.pem, key.pem) of a tcp:// engine


def stack_file_docker(stack: str, folder: Path = Path()) -> Mapping[str, Any]:
    """The `docker` settings of Pulumi.<stack>.yaml in `folder` ({} when the file or the key is absent).

    A secret host (`secure:`) cannot be read without Pulumi: the caller is told
    to export DOCKER_HOST (Pulumi's own commands set it from the decrypted value).
    """
    from bluegreen.config.stackfile import read_stack_file
    from bluegreen.errors import StackFileError

    path = folder / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    config = read_stack_file(path, folder / "Pulumi.yaml")
    docker: Any = config.raw.get("docker") or {}
    if not isinstance(docker, Mapping):
        return {}
    for key in ("host", "context", "certPath"):
        if f"docker.{key}" in config.secret_paths:
            instead = "export DOCKER_CERT_PATH" if key == "certPath" else "export DOCKER_HOST or pass --docker-host"
            raise StackFileError(f"{path}: docker.{key} is a secret, which only Pulumi can decrypt; {instead}")
    return {key: str(value) for key, value in docker.items() if key in ("host", "context", "certPath") and value}


def docker_config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The docker CLI's config folder: $DOCKER_CONFIG, else ~/.docker."""
    return Path(environ["DOCKER_CONFIG"]) if environ.get("DOCKER_CONFIG") else Path.home() / ".docker"


def context_engine(name: str, source: str, environ: Mapping[str, str] = os.environ) -> Resolved:
    """A Docker context's engine and TLS folder, as `docker context inspect NAME` shows them.

    Read from the docker CLI's store (contexts/meta/<sha256>/meta.json and
    contexts/tls/<sha256>/docker in the config folder), where pulumi-docker
    reads its `context` too. Not with the docker SDK's ContextAPI: it puts that
    store beside the first config.json it finds, so without one in
    $DOCKER_CONFIG it reads ~/.docker's contexts, or ./contexts.
    """
    from bluegreen.errors import InputError

    if name == "default":  # the docker CLI's built-in context: the local engine
        return Resolved(DEFAULT_HOST, f"{source} (context default)")
    store = docker_config_dir(environ) / "contexts"
    key = hashlib.sha256(name.encode()).hexdigest()
    meta = store / "meta" / key / "meta.json"
    if not meta.is_file():
        known = sorted({"default", *(_context_name(path) for path in store.glob("meta/*/meta.json"))})
        raise InputError(
            f"{source}: got Docker context {name!r}; allowed: one of {', '.join(known)} "
            "(`docker context ls`; the docker config folder is $DOCKER_CONFIG, else ~/.docker)"
        )
    try:
        host = str(json.loads(meta.read_text())["Endpoints"]["docker"]["Host"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{source}: Docker context {name!r} cannot be read from {meta}: {exc!r}") from exc
    tls = store / "tls" / key / "docker"
    folder = str(tls) if all((tls / pem).is_file() for pem in ("ca.pem", "cert.pem", "key.pem")) else None
    # The docker CLI stores tcp://; contexts the SDK wrote carry http(s)://, the same engine address.
    return Resolved(re.sub(r"^https?://", "tcp://", host), f"{source} (context {name})", folder)


def _context_name(meta: Path) -> str:
    """A stored context's name, for listing the known ones; its folder's name when the file is unreadable."""
    try:
        return str(json.loads(meta.read_text())["Name"])
    except (OSError, ValueError, KeyError, TypeError):
        return meta.parent.name


def ambient_context_problem(host: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why `pulumi up` would deploy somewhere else than docker.host names; None when it would not.

    pulumi-docker's `context` defaults to DOCKER_CONTEXT and overrides `host`,
    so an operator's exported context would silently win over the stack file.
    """
    ambient = environ.get("DOCKER_CONTEXT")
    if host and ambient and ambient != "default":
        return (
            f"DOCKER_CONTEXT: got {ambient!r}; allowed: unset while docker.host is set (pulumi-docker would deploy "
            f"to that context instead of {host}); or name it in the stack as docker.context"
        )
    return None


# The order `resolve` follows, as `--help` and docs/operations.md say it (a test holds them to it).
RESOLUTION_ORDER = (
    "the stack file's docker.context or docker.host, overridden by DOCKER_HOST, then DOCKER_CONTEXT, then --docker-host"
)


def resolve(stack: str | None, flag: str | None, environ: Mapping[str, str] = os.environ) -> Resolved:
    """The engine for a command, each source overriding the ones after it.

    --docker-host; DOCKER_CONTEXT (a context overrides a host, for the docker
    CLI and for pulumi-docker alike); DOCKER_HOST; the stack file's
    docker.context, else docker.host with docker.certPath; the local engine.
    A tcp:// host named by the flag or the environment takes its TLS folder
    from DOCKER_CERT_PATH (engine/client.py: tls_config).
    """
    if flag:
        return Resolved(flag, "--docker-host")
    if environ.get("DOCKER_CONTEXT") and environ["DOCKER_CONTEXT"] != "default":
        return context_engine(environ["DOCKER_CONTEXT"], "DOCKER_CONTEXT", environ)
    if environ.get("DOCKER_HOST"):
        return Resolved(environ["DOCKER_HOST"], "DOCKER_HOST")
    if stack:
        docker = stack_file_docker(stack)
        if docker.get("context"):
            return context_engine(docker["context"], f"Pulumi.{stack}.yaml: docker.context", environ)
        if docker.get("host"):
            return Resolved(docker["host"], f"Pulumi.{stack}.yaml", docker.get("certPath"))
    return Resolved(DEFAULT_HOST, "default")
