"""Which settings are secrets, and how to name things after them without revealing them.

Pulumi tells a program only which *top-level* keys hold a secret: after
`pulumi config set --secret --path app.env.DB_PASSWORD ...` the whole
`bluegreen:app` object is marked secret (PULUMI_CONFIG_SECRET_KEYS), not the
one leaf. So the program treats every value of a secret-capable part as
secret once its key is secret, and refuses a secret anywhere else, where it
would end up in a name, a label or a log line.

Container names must change whenever a secret changes (pulumi-docker
replaces the container, and create-before-delete needs a new name), yet a
short plain hash of a 4-digit secret is reversed in a second. Names therefore
carry an HMAC under a random per-deployment key that lives only in Pulumi's
state as a secret (components/name_key.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from bluegreen.config.problems import Problem

# A plain value that must not be echoed either (a private key, a password written in clear): it is not a
# secret yet, so it is not called one.
NOT_SHOWN = "[not shown]"
SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 - a marker shown instead of a value, not a password  # nosec B105

# Top-level keys whose secret values the program carries as secret Outputs, and where.
SECRET_CAPABLE: dict[str, str] = {
    "app": "app.env.<NAME>",
    "docker": "docker.host",
    "registryAuth": "registryAuth.password",
    "tls": "tls.{certificate,key}",
    "notifications": "notifications.webhookUrl",
    "database": "database.{password,url}",
}


@dataclass(frozen=True)
class Secrets:
    """The settings that came from `pulumi config set --secret` (as far as the engine says)."""

    env: frozenset[str] = frozenset()  # app.env names whose values are secret
    docker_host: bool = False
    registry_password: bool = False
    tls: bool = False
    webhook: bool = False
    database: bool = False

    @classmethod
    def from_paths(cls, secret_paths: Collection[str], env_names: Iterable[str]) -> Secrets:
        """From the secret keys (`app` from the engine, or leaves from a file) and the names in app.env."""
        tops = {top_level(p) for p in secret_paths}
        return cls(
            env=frozenset(env_names) if "app" in tops else frozenset(),
            docker_host="docker" in tops,
            registry_password="registryAuth" in tops,
            tls="tls" in tops,
            webhook="notifications" in tops,
            database="database" in tops,
        )


_CAPABLE_LEAF = re.compile(
    r"^(app\.env\.[^.\[]+|docker\.host|registryAuth\.password|tls\.(certificate|key)|notifications\.webhookUrl|database\.(password|url))$"
)


def redact_value(text: str, secret: str | None, name: str) -> str:
    """`text` with a secret value (and, for an address, its host and user@host) replaced by `[secret NAME]`:
    an engine's error names the host it could not reach, and a warning lands in PR comments and CI logs."""
    if not secret:
        return text
    parts = urllib.parse.urlsplit(secret)
    shown = f"[secret {name}]"
    for value in sorted({secret, parts.netloc, parts.hostname or ""}, key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, shown)
    return text


def top_level(path: str) -> str:
    """app.env.DB_PASSWORD -> app."""
    return path.split(".", 1)[0].split("[", 1)[0]


def misplaced_secrets(secret_paths: Collection[str]) -> list[Problem]:
    """Secrets the program cannot keep secret: refused with their key, never silently leaked.

    The engine names top-level keys only (`app`), a stack file names leaves
    (`app.env.DB_PASSWORD`); both are checked as far as they say.
    """
    *rest, last = SECRET_CAPABLE.values()
    where = f"{', '.join(rest)} and {last}"
    return [
        Problem(path, SECRET_PLACEHOLDER, f"a plain value; secrets are kept secret only in {where}")
        for path in sorted(secret_paths)
        if top_level(path) not in SECRET_CAPABLE or ("." in path and not _CAPABLE_LEAF.match(path))
    ]


# Leaves of a secret-capable key that can never hold a secret (a port, a switch): shown as they are.
NEVER_SECRET = frozenset(
    {"tls.port", "tls.redirectHttp", "tls.hsts", "tls.minVersion", "database.mode", "database.image",
     "database.name", "database.user", "database.runAs"}
)  # fmt: skip


def redact(problems: Iterable[Problem], secret_keys: Collection[str]) -> list[Problem]:
    """Problems whose key lies under a secret top-level key show `[secret]`, never the value."""
    return [
        Problem(p.key, SECRET_PLACEHOLDER, p.allowed, p.unknown_key)
        if top_level(p.key) in secret_keys and p.key not in NEVER_SECRET
        else p
        for p in problems
    ]


def keyed_digest(key: str, values: Mapping[str, str]) -> str:
    """HMAC-SHA256 of secret values: changes when they change, reveals nothing without the key."""
    message = json.dumps(dict(sorted(values.items())), sort_keys=True).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
