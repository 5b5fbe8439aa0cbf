"""The building blocks of every settings section: the base model, constrained types and their `Allowed` notes.

Each `Allowed` note is what an error message and the configuration reference say
is allowed, next to the constraint it explains.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from bluegreen.config.secrets import SECRET_PLACEHOLDER
from bluegreen.engine.host import ALLOWED as DOCKER_HOST_ALLOWED
from bluegreen.engine.host import PATTERN as DOCKER_HOST_PATTERN
from bluegreen.images.pinning import IMAGE_ID_PATTERN, IMAGE_TAG_PATTERN

Stickiness = Literal["none", "cookie", "ip"]


Profile = Literal["development", "staging", "production"]


@dataclass(frozen=True)
class Allowed:
    """Human description of what a constrained field accepts (for messages and docs)."""

    text: str


def opaque_or(pattern: str) -> AfterValidator:
    """The pattern, or a stack file's `secure:` value as `validate` reads it (`[secret]`): that one cannot be
    checked offline, and the program checks the decrypted value against the same pattern."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if value != SECRET_PLACEHOLDER and not compiled.match(value):
            raise PydanticCustomError("string_pattern_mismatch", "String should match pattern")
        return value

    return AfterValidator(check)


def _check_ip(value: str) -> str:
    ipaddress.ip_address(value)  # raises ValueError with a clear message
    return value


def _check_cpus(value: float) -> float:
    from bluegreen.engine.readback import cpus_round_trip

    if not cpus_round_trip(value):
        raise PydanticCustomError("cpus_read_back", "Docker reads it back as another value")
    return value


def _typed_path_value(value: Any) -> Any:
    """`pulumi config set --path green.version 2` stores the number 2, `... true` a boolean.

    Where a string is meant, the text the user typed is what they meant.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


TypedText = BeforeValidator(_typed_path_value)


EnvValue = Annotated[str, TypedText, Allowed("a string (numbers and booleans are taken as typed)")]


ImageTag = Annotated[
    str,
    TypedText,
    StringConstraints(pattern=IMAGE_TAG_PATTERN),
    Allowed("an image tag: 1-128 of letters, digits, '_', '.', '-', not starting with '.' or '-'"),
]


Digest = Annotated[
    str,
    StringConstraints(pattern=IMAGE_ID_PATTERN),
    Allowed("a digest 'sha256:' followed by 64 lowercase hex digits"),
]


EnvName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
    Allowed("an environment variable name: letters, digits and '_', not starting with a digit"),
]


UrlPath = Annotated[
    str,
    StringConstraints(pattern=r"^/[A-Za-z0-9_./~%-]*$", max_length=256),
    Allowed("an absolute URL path such as /health/ready"),
]


ImageRef = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/:@-]{0,254}$"),
    Allowed("an image reference such as acme/shop or python:3.11-slim (lowercase)"),
]


Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$"),
    Allowed("a lowercase name: letters, digits, '.', '_', '-', up to 63 characters"),
]


IpAddress = Annotated[
    str,
    AfterValidator(_check_ip),
    Allowed("an IPv4 or IPv6 address such as 127.0.0.1 or 0.0.0.0"),
]


DockerHost = Annotated[
    str,
    opaque_or(DOCKER_HOST_PATTERN.pattern),
    Allowed(f"a Docker host: {DOCKER_HOST_ALLOWED}"),
]


DockerContext = Annotated[
    str,
    StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,127}$"),
    Allowed("a Docker context name as `docker context ls` shows it (letters, digits, '_', '.', '+', '-')"),
]


HostPort = Annotated[int, Field(ge=1, le=65535)]


def _check_schema_range(value: str) -> str:
    low, _, high = value.partition("-")
    if high and int(high) < int(low):
        raise PydanticCustomError("schema_range", "the first version is above the last")
    return value


# The database schema versions a release runs on (bluegreen.release.schema): "3", or "2-3" from oldest to newest.
SchemaVersions = Annotated[
    str,
    TypedText,
    StringConstraints(pattern=r"^[0-9]{1,9}(-[0-9]{1,9})?$"),
    AfterValidator(_check_schema_range),
    Allowed("a schema version such as 3, or a range from oldest to newest such as 2-3"),
]


# A CPU limit the docker provider reads back as itself: it prints 0.05 cores as "0.1", which would replace the
# container on every `pulumi up` (bluegreen.engine.readback); 10.05 is another.
Cpus = Annotated[
    float,
    AfterValidator(_check_cpus),
    Allowed("a number {range} that Docker reads back unchanged (10.05 reads back as 10.1; 0.25, 1.5 or 10 do)"),
]


class Model(BaseModel):
    """Base of every settings model: camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        defer_build=True,
    )
