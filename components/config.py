"""Stack settings as the Pulumi engine hands them to the program, and which of them are secret."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from bluegreen.config.secrets import Secrets
from bluegreen.config.settings import StackSettings, parse_settings
from bluegreen.config.stackfile import decode_engine_value, project_keys
from bluegreen.errors import SettingsError


def _engine_config() -> dict[str, Any]:
    # pulumi.Config reads one key at a time and cannot list keys; to refuse
    # unknown keys (a typo like `activeColour`) the whole map is needed.
    # The engine passes it through PULUMI_CONFIG or set_all_config (mocks).
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def _secret_keys(flat: dict[str, Any]) -> set[str]:
    """Keys the engine marks secret (PULUMI_CONFIG_SECRET_KEYS, or set_all_config's list under mocks)."""
    marked = set(runtime_config.get_config_secret_keys_env())
    return {k for k in flat if k in marked or runtime_config.is_config_secret(k)}


def stack_settings() -> tuple[StackSettings, Secrets]:
    """Validated settings of the current stack and its secrets; a bad value stops the program cleanly.

    The message never shows a value under a secret key.
    """
    project, stack = pulumi.get_project(), pulumi.get_stack()
    try:
        flat = _engine_config()
        secret = _secret_keys(flat)
        raw = {k: decode_engine_value(v) for k, v in project_keys(flat, project, secret).items()}
        secret_keys = [k.removeprefix(f"{project}:") for k in secret if k.removeprefix(f"{project}:") in raw]
        settings = parse_settings(raw, stack, secret_keys)
    except SettingsError as exc:
        lines = "\n".join(p.line() for p in exc.problems)
        raise pulumi.RunError(
            f"stack '{stack}' has {len(exc.problems)} invalid config value(s); nothing was changed:\n{lines}"
        ) from None
    return settings, Secrets.from_paths(secret_keys, settings.app.env)
