"""App settings from the environment, per profile, refused at start when wrong.

Profiles are classes, as teams know them from Flask's config classes: each
sets different defaults; any variable still overrides. A bad value or an
unknown APP_* variable stops the process before it binds a port, with one
line per problem, so a broken release never reports healthy.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bluegreen_app.db import LATEST

Profile = Literal["development", "staging", "production"]
LogLevel = Literal["debug", "info", "warning", "error"]
Label = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]

ENV_PREFIX = "APP_"
# Never echoed in an error: the URL holds the database password.
SECRET_VARIABLES = frozenset({"APP_DATABASE_URL"})


class ConfigError(ValueError):
    """The environment cannot run the app; `lines` name each variable."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


class AppConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    profile: Profile = "production"
    color: Label = "none"
    version: Label = "dev"
    host: str = "0.0.0.0"  # noqa: S104 - a container must listen on its own interface  # nosec B104
    port: int = Field(8000, ge=1, le=65535)
    health_path: str = Field("/health/ready", pattern=r"^/\S*$")
    log_level: LogLevel = "info"
    downstream_url: AnyHttpUrl | None = None
    downstream_timeout_seconds: float = Field(1.0, gt=0, le=10)
    startup_delay_seconds: float = Field(0.0, ge=0, le=120)
    # A second: under Swarm a stopping task is signalled 2 s after it leaves DNS, and the
    # router re-resolves every 2 s, so it may still send to the task at SIGTERM (docs/apps.md).
    drain_delay_seconds: float = Field(1.0, ge=0, le=60)
    shutdown_timeout_seconds: float = Field(25.0, gt=0, le=600)
    slow_max_seconds: float = Field(30.0, gt=0, le=600)
    # /slow, /echo and /ws exist for tests, demos and game days: they hold
    # connections open or take bodies, so only a development profile or an
    # explicit APP_DEBUG_ENDPOINTS=1 serves them.
    debug_endpoints: bool = False
    # Injected faults for canary analysis tests, demos and game days: a share of
    # requests answered 500, and latency added to each. Health endpoints are
    # exempt (a faulty canary still passes its gate; analysis must catch it).
    # A production profile refuses them unless APP_FAULT_ALLOW=1 says so.
    fault_error_rate: float = Field(0.0, ge=0, le=1)
    fault_latency_ms: int = Field(0, ge=0, le=60000)
    fault_allow: bool = False
    # The notes feature's database (docs/database.md); unset, /notes answers 503 and readiness checks none.
    database_url: Annotated[str, StringConstraints(pattern=r"^postgres(ql)?://\S+$")] | None = None
    database_timeout_seconds: float = Field(1.0, gt=0, le=10)
    # The schema this release runs and `migrate` brings the database to: the sample app's release history
    # (1: notes, 2: notes.author, 3: author required) in one image, so tests can run release 1 and 2 side by side.
    schema_version: int = Field(LATEST, ge=1, le=LATEST)


class DevelopmentConfig(AppConfig):
    profile: Profile = "development"
    debug_endpoints: bool = True
    log_level: LogLevel = "debug"
    shutdown_timeout_seconds: float = Field(5.0, gt=0, le=600)


class StagingConfig(AppConfig):
    profile: Profile = "staging"


class ProductionConfig(AppConfig):
    profile: Profile = "production"
    log_level: LogLevel = "info"


PROFILES: dict[str, type[AppConfig]] = {
    "development": DevelopmentConfig,
    "staging": StagingConfig,
    "production": ProductionConfig,
}


def _known_variables() -> set[str]:
    return {ENV_PREFIX + name.upper() for name in AppConfig.model_fields}


def load_config() -> AppConfig:
    """Settings for the profile APP_PROFILE names; ConfigError lists every problem."""
    problems: list[str] = []
    profile = os.environ.get("APP_PROFILE", "production")
    cls = PROFILES.get(profile)
    if cls is None:
        problems.append(f"APP_PROFILE: got {profile!r}; allowed: {', '.join(PROFILES)}")
        cls = ProductionConfig
    known = _known_variables()
    problems += [
        f"{name}: unknown setting; known: {', '.join(sorted(known))}"
        for name in sorted(os.environ)
        if name.startswith(ENV_PREFIX) and name not in known
    ]
    try:
        config = cls()
        if config.profile == "production" and not config.fault_allow:
            for name, value in (
                ("FAULT_ERROR_RATE", config.fault_error_rate),
                ("FAULT_LATENCY_MS", config.fault_latency_ms),
            ):
                if value:
                    problems.append(
                        f"{ENV_PREFIX}{name}: got {value!r}; allowed: 0 in the production profile "
                        f"(set {ENV_PREFIX}FAULT_ALLOW=1 to inject faults there on purpose)"
                    )
    except ValidationError as exc:
        for err in exc.errors():
            name = ENV_PREFIX + str(err["loc"][0]).upper() if err["loc"] else "?"
            shown = "[redacted]" if name in SECRET_VARIABLES else repr(err.get("input"))
            problems.append(f"{name}: got {shown}; {err['msg']}")
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return config
