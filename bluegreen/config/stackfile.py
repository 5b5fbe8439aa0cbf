"""Read stack config the way Pulumi hands it to the program, from files or from Pulumi.

Two sources produce the same raw mapping (our keys, namespace stripped), so
`parse_settings` sees identical input whether a value comes from
`Pulumi.prod.yaml` on a laptop or from the Pulumi engine during `pulumi up`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bluegreen.config.problems import Problem
from bluegreen.config.secrets import SECRET_PLACEHOLDER
from bluegreen.errors import SettingsError, StackFileError

_STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[^.]+(?:\.[^.]+)*)\.ya?ml$")
# Config namespaces of the providers this program uses or Pulumi itself reads:
# their keys are not ours to validate, and must not be refused.
PROVIDER_NAMESPACES = ("aws", "command", "docker", "pulumi")


@dataclass(frozen=True)
class StackConfig:
    stack: str
    raw: dict[str, Any]
    secret_paths: tuple[str, ...] = ()  # dotted keys of `secure:` values, e.g. app.env.DB_PASSWORD


def project_keys(flat: Mapping[str, Any], project: str, secret: Collection[str] = ()) -> dict[str, Any]:
    """The keys of `project`'s namespace (bare keys belong to it too), without prefix.

    A key in any other namespace must be a provider's: `bluegren:trafficWeight`
    would otherwise be ignored without a word, and an intended canary would
    silently never happen.
    """
    raw: dict[str, Any] = {}
    problems: list[Problem] = []
    allowed = [project, *PROVIDER_NAMESPACES]
    for key, value in flat.items():
        namespace, sep, name = key.partition(":")
        if not sep:
            raw[key] = value
        elif namespace == project:
            raw[name] = value
        elif key in ("docker:host", "docker:context", "docker:certPath"):
            # The provider's own keys: the CLI and the switch would never see them.
            problems.append(
                Problem(
                    key,
                    SECRET_PLACEHOLDER if key in secret else _redact(value),
                    f"{project}:docker.{name} instead (pulumi config set --path docker.{name} ...): the provider "
                    f"alone reads {key}, so status, switch and rollback would talk to another engine",
                )
            )
        elif namespace not in PROVIDER_NAMESPACES:
            guess = difflib.get_close_matches(namespace, allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {guess[0]}:{name}?)" if guess else ""
            problems.append(
                Problem(
                    key,
                    SECRET_PLACEHOLDER if key in secret else _redact(value),
                    f"namespaces {', '.join(allowed)}; '{namespace}' is neither this project's nor a provider's{hint}",
                    unknown_key=True,
                )
            )
    if problems:
        raise SettingsError(problems)
    return raw


def _redact(value: Any) -> Any:
    return SECRET_PLACEHOLDER if isinstance(value, dict) and set(value) == {"secure"} else value


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


def secure_paths(value: Any, prefix: str = "") -> list[str]:
    """Dotted keys of the `secure:` values in a stack file's config (namespace stripped)."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return [prefix]
        return [p for k, v in value.items() for p in secure_paths(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in secure_paths(v, f"{prefix}[{i}]")]
    return []


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; Pulumi refuses the file. So do we. And no aliases."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Aliases are refused: a few hundred bytes of nested aliases expand to millions of values (seconds of
        CPU in `validate`, the program and the policy pack), and a stack file has no need of them."""
        if self.check_event(yaml.events.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "an alias (*name); allowed: no YAML aliases or anchors, write the value out", mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_text(path: Path, what: str = "") -> str:
    """A UTF-8 file's text; StackFileError in one line for anything else."""
    name = f"{what} {path}".strip()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StackFileError(f"{name}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise StackFileError(
            f"{name}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise StackFileError(f"{name}: cannot read ({exc.strerror})") from exc


def _load_yaml(path: Path) -> dict[str, Any]:
    text = read_text(path)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass  # nosec B506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)  # the parser's words: at most a character of the file
        detail = f": {problem}" if problem else ""
        raise StackFileError(f"{path}: not valid YAML{where}{detail}") from exc
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
    ours = project_keys(config, project)
    raw = {**defaults, **_hide_secrets(ours)}
    return StackConfig(stack=stack, raw=raw, secret_paths=tuple(secure_paths(ours)))


def project_name(project_file: Path = Path("Pulumi.yaml"), fallback: str = "bluegreen") -> str:
    """The project's name from its Pulumi.yaml, so the CLI's --project defaults to what Pulumi uses."""
    if not project_file.exists():
        return fallback
    return project_defaults(project_file)[0]
