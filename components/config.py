"""Stack settings as the Pulumi engine hands them to the program."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from bluegreen.problems import SettingsError
from bluegreen.settings import StackSettings, parse_settings
from bluegreen.stackfile import decode_engine_value, project_keys


def _engine_config() -> dict[str, Any]:
    # pulumi.Config reads one key at a time and cannot list keys; to refuse
    # unknown keys (a typo like `activeColour`) the whole map is needed.
    # The engine passes it through PULUMI_CONFIG or set_all_config (mocks).
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def stack_settings() -> StackSettings:
    """Validated settings of the current stack; a bad value stops the program cleanly."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    try:
        raw = {k: decode_engine_value(v) for k, v in project_keys(_engine_config(), project).items()}
        return parse_settings(raw, stack)
    except SettingsError as exc:
        lines = "\n".join(p.line() for p in exc.problems)
        raise pulumi.RunError(
            f"stack '{stack}' has {len(exc.problems)} invalid config value(s); nothing was changed:\n{lines}"
        ) from None
