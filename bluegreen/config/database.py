"""database: PostgreSQL for both colours (none, container or external), credentials only as secrets."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from bluegreen.config.app import UserSpec
from bluegreen.config.problems import MISSING, Problem
from bluegreen.config.secrets import NOT_SHOWN, SECRET_PLACEHOLDER
from bluegreen.config.stacks import is_production
from bluegreen.config.types import Allowed, Cpus, ImageRef, Model, Name
from bluegreen.engine.container_spec import DATABASE_URL_ENV
from bluegreen.engine.hardening import is_root_user
from bluegreen.images.pinning import image_problem

if TYPE_CHECKING:
    from bluegreen.config.settings import StackSettings

DATABASE_PASSWORD_MIN = 16


DatabaseMode = Literal["none", "container", "external"]


def _check_postgres_url(value: str) -> str:
    # A stack file's `secure:` value cannot be decrypted offline: it stays opaque.
    if value != SECRET_PLACEHOLDER and not re.match(r"^postgres(ql)?://\S+$", value):
        raise ValueError("not a postgresql:// URL")
    return value


PostgresUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_check_postgres_url),
    Allowed("a postgresql:// URL such as postgresql://app:PASSWORD@db.internal:5432/app; set it with --secret"),
]


class DatabaseResources(Model):
    memory_mb: int = Field(512, ge=64, le=65536, description="Memory limit of the database container, MiB.")
    cpus: Cpus = Field(1.0, ge=0.1, le=64, description="CPU limit of the database container, in cores.")


class Database(Model):
    """PostgreSQL both colours share (docs/database.md). A top-level key: `--secret --path database.password`."""

    mode: DatabaseMode = Field(
        "none",
        description="none; container: PostgreSQL in the stack, data on a named volume; external: database.url.",
    )
    image: ImageRef = Field("postgres:17.2-bookworm", description="PostgreSQL image (mode container).")
    name: Name = Field("app", description="Database the app uses (mode container).")
    user: Name = Field("app", description="Role the app connects as (mode container).")
    password: str | None = Field(
        None,
        min_length=1,
        description="Role password, a secret (mode container); unset: generated once, kept in state as a secret.",
    )
    url: PostgresUrl | None = Field(None, description="The database's URL, a secret (mode external).")
    run_as: UserSpec = Field("999:999", description="User the database container runs as (the image's postgres).")
    resources: DatabaseResources = Field(default_factory=DatabaseResources, description="Database container limits.")


def problems(s: StackSettings, stack: str, secret_tops: Collection[str]) -> list[Problem]:
    """Each mode's own keys, and its credentials only as secrets."""
    db = s.database
    problems = []
    if db.mode == "external" and not db.url:
        problems.append(
            Problem("database.url", MISSING, "the database's postgresql:// URL when database.mode is external")
        )
    if db.url and db.mode != "external":
        problems.append(
            Problem("database.url", SECRET_PLACEHOLDER, f"unset; database.mode is '{db.mode}', not external")
        )
    if db.password and db.mode != "container":
        problems.append(
            Problem("database.password", SECRET_PLACEHOLDER, f"unset; database.mode is '{db.mode}', not container")
        )
    for leaf in ("url", "password"):
        if getattr(db, leaf) and "database" not in secret_tops:
            how = f"pulumi config set --secret --path database.{leaf} ..."
            problems.append(Problem(f"database.{leaf}", NOT_SHOWN, f"a secret, never a plain value: {how}"))
    if db.mode == "container":
        pinned = image_problem(db.image, is_production(stack))
        if pinned:
            problems.append(Problem("database.image", db.image, f"a pinned image ({pinned})"))
        if is_root_user(db.run_as):
            problems.append(Problem("database.runAs", db.run_as, "a non-root user, e.g. 999:999"))
    if db.mode != "none":
        for where, env in (("app.env", s.app.env), ("blue.env", s.blue.env), ("green.env", s.green.env)):
            if DATABASE_URL_ENV in env:
                problems.append(
                    Problem(
                        f"{where}.{DATABASE_URL_ENV}", SECRET_PLACEHOLDER, f"unset; database.mode {db.mode} sets it"
                    )
                )
    if db.password and db.password != SECRET_PLACEHOLDER and len(db.password) < DATABASE_PASSWORD_MIN:
        problems.append(
            Problem("database.password", SECRET_PLACEHOLDER, f"at least {DATABASE_PASSWORD_MIN} characters")
        )
    return problems
