"""Read stack config the way Pulumi hands it to the program, from files or from Pulumi.

Two sources produce the same raw mapping (our keys, namespace stripped), so
`parse_settings` sees identical input whether a value comes from
`Pulumi.prod.yaml` on a laptop or from the Pulumi engine during `pulumi up`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 - a marker shown instead of ciphertext, not a password  # nosec B105
_STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[^.]+(?:\.[^.]+)*)\.ya?ml$")


class StackFileError(ValueError):
    """A project or stack file that cannot be read; the message names the file."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    raw: dict[str, Any]


def project_keys(flat: Mapping[str, Any], project: str) -> dict[str, Any]:
    """Keep the keys of `project`'s namespace (bare keys belong to it too), without prefix."""
    raw: dict[str, Any] = {}
    for key, value in flat.items():
        namespace, sep, name = key.partition(":")
        if not sep:
            raw[key] = value
        elif namespace == project:
            raw[name] = value
    return raw


def decode_engine_value(value: Any) -> Any:
    """The engine passes every value as a string, objects and arrays as JSON."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _hide_secrets(value: Any) -> Any:
    """`secure:` values cannot be decrypted offline; validate them as opaque strings."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _hide_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(v) for v in value]
    return value


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise StackFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise StackFileError(f"{path}: not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path}: expected a YAML mapping at the top, got {type(data).__name__}")
    return data


def project_defaults(project_file: Path) -> tuple[str, dict[str, Any]]:
    """Project name and the `config:` defaults Pulumi applies when a stack sets nothing."""
    data = _load_yaml(project_file)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise StackFileError(f"{project_file}: 'name' must be the project name")
    declared = data.get("config") or {}
    if not isinstance(declared, dict):
        raise StackFileError(f"{project_file}: 'config' must be a mapping of keys to declarations")
    defaults = {key: decl["default"] for key, decl in declared.items() if isinstance(decl, dict) and "default" in decl}
    return name, project_keys(defaults, name)


def stack_name(stack_file: Path) -> str:
    match = _STACK_FILE.match(stack_file.name)
    if not match:
        raise StackFileError(f"{stack_file}: a stack file is named Pulumi.<stack>.yaml")
    return match.group("stack")


def read_stack_file(stack_file: Path, project_file: Path) -> StackConfig:
    """Config of one stack as the program will see it: project defaults, then the stack's values."""
    stack = stack_name(stack_file)
    project, defaults = project_defaults(project_file)
    data = _load_yaml(stack_file)
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{stack_file}: 'config' must be a mapping")
    raw = {**defaults, **project_keys(_hide_secrets(config), project)}
    return StackConfig(project=project, stack=stack, raw=raw)
