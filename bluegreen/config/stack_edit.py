"""Releases and promotions as edits of a stack file: the commit is the deploy.

GitOps: what runs in a stack is what its `Pulumi.<stack>.yaml` says on the
main branch. A release sets the idle colour's version (a pull request whose
preview shows only the idle colour changing); a promotion moves activeColor
and trafficWeight (another pull request). Merging deploys. Nothing edits a
stack file on a CI runner without committing it.

Edits go through a round-trip YAML parser (ruamel.yaml), so comments (an
edited line's own included), quoting, key order and layout stay as the team
wrote them, and every result is validated with the program's own rules
before it is written. A file whose layout the parser would rewrite beyond
the edited lines is refused, with the key to set by hand (`pulumi config set`).
"""

from __future__ import annotations

import difflib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from bluegreen.colors import Color, other
from bluegreen.config.settings import StackSettings, parse_settings
from bluegreen.config.stackfile import project_defaults, read_stack_file, read_text
from bluegreen.errors import StackFileError


@dataclass(frozen=True)
class Edit:
    """One value to set (None: remove the key), as `pulumi config set --path KEY` would name it."""

    key: str  # activeColor, trafficWeight, green.version, green.digest
    value: str | int | None


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the team wrote on one
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _like(old: Any, value: str | int) -> Any:
    """`value` quoted the way the value it replaces was (a plain one that would read as another type is quoted
    by the dumper itself)."""
    if isinstance(old, DoubleQuotedScalarString) and isinstance(value, str):
        return DoubleQuotedScalarString(value)
    if isinstance(old, SingleQuotedScalarString) and isinstance(value, str):
        return SingleQuotedScalarString(value)
    return value


def _set(mapping: CommentedMap, key: str, value: str | int | None) -> None:
    if value is None:
        mapping.pop(key, None)
    elif key in mapping:
        mapping[key] = _like(mapping[key], value)
    else:
        mapping[key] = DoubleQuotedScalarString(value) if isinstance(value, str) and key != "activeColor" else value


def edited(text: str, project: str, edits: list[Edit], path: Path) -> str:
    """`text` with `edits` applied; refused when the parser would change any line it was not asked to."""
    yaml = _yaml()
    try:
        document = yaml.load(text)
        untouched = io.StringIO()
        yaml.dump(document, untouched)
    except YAMLError as exc:
        raise StackFileError(f"{path}: not YAML the edit can keep as written ({exc}); use pulumi config set") from None
    if untouched.getvalue() != text:
        line = next(iter(difflib.unified_diff(text.splitlines(), untouched.getvalue().splitlines(), lineterm="", n=0)))
        raise StackFileError(
            f"{path}: its layout would not survive an edit ({line}...); set "
            f"{', '.join(e.key for e in edits)} with pulumi config set"
        )
    config = document.get("config") if isinstance(document, CommentedMap) else None
    if not isinstance(config, CommentedMap):
        raise StackFileError(f"{path}: no 'config:' mapping to set {edits[0].key} in; use pulumi config set")
    for edit in edits:
        top, _, leaf = edit.key.partition(".")
        name = f"{project}:{top}"
        if not leaf:
            _set(config, name, edit.value)
            continue
        block = config.get(name)
        if block is None and edit.value is not None:
            block = config[name] = CommentedMap()
        if block is not None and not isinstance(block, CommentedMap):
            raise StackFileError(f"{path}: '{name}' is not a mapping; use pulumi config set --path {edit.key} ...")
        if block is not None:
            _set(block, leaf, edit.value)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def apply_edits(path: Path, project_file: Path, edits: list[Edit]) -> StackSettings:
    """Edit `path` in place, or change nothing and raise: the result must pass `bluegreen validate`."""
    project = project_defaults(project_file)[0]
    text = edited(read_text(path, "stack file"), project, edits, path)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / path.name
        candidate.write_text(text, encoding="utf-8")
        settings = _current(candidate, project_file)
    path.write_text(text, encoding="utf-8")
    return settings


def _current(path: Path, project_file: Path) -> StackSettings:
    config = read_stack_file(path, project_file)
    return parse_settings(config.raw, config.stack, config.secret_paths)


def release(path: Path, project_file: Path, version: str, digest: str | None = None) -> str:
    """Point the idle colour at `version` (and `digest`, else none); refused while a canary runs."""
    before = _current(path, project_file)
    if before.traffic_weight != 100:
        raise StackFileError(
            f"{path}: a canary is running (activeColor {before.active_color}, trafficWeight "
            f"{before.traffic_weight}): promote or roll back before releasing"
        )
    idle: Color = other(before.active_color)
    apply_edits(path, project_file, [Edit(f"{idle}.version", version), Edit(f"{idle}.digest", digest)])
    was = before.color(idle).version or "-"
    return f"{path}: {idle}.version {was} -> {version} (the idle colour; {before.active_color} stays live)"


def promote(path: Path, project_file: Path, weight: int = 100, to: Color | None = None) -> str:
    """Move traffic to `to` at `weight`%; without `to`, only a running canary's colour climbs.

    Never a toggle: a fully promoted file names no colour to move to, so the
    same command run twice (a repeated job) would otherwise send everything
    back to the old version. `to` makes it idempotent: a file that already
    says so is left as it is.
    """
    before = _current(path, project_file)
    target: Color = to or before.active_color
    if to is None and before.traffic_weight == 100:
        idle = other(before.active_color)
        raise StackFileError(
            f"{path}: activeColor {before.active_color} already has trafficWeight 100; name the colour that "
            f"should take the traffic: --to {idle} (the idle colour, version {before.color(idle).version or '-'})"
        )
    if (before.active_color, before.traffic_weight) == (target, weight):
        return f"{path}: activeColor {target}, trafficWeight {weight} already; nothing was changed"
    apply_edits(path, project_file, [Edit("activeColor", target), Edit("trafficWeight", weight)])
    return f"{path}: activeColor {target}, trafficWeight {weight} (was {before.active_color} {before.traffic_weight})"
