"""Releases and promotions as edits of a stack file: the commit is the deploy.

GitOps: what runs in a stack is what its `Pulumi.<stack>.yaml` says on the
main branch. A release sets the idle colour's version (a pull request whose
preview shows only the idle colour changing); a promotion moves activeColor
and trafficWeight (another pull request). Merging deploys. Nothing edits a
stack file on a CI runner without committing it.

Edits are line edits, so comments (an edited line's own included) and layout
stay as the team wrote them,
and every result is validated with the program's own rules before it is
written; a stack file in a layout this does not understand is refused with
the key to set by hand (`pulumi config set`).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bluegreen.colors import Color, other
from bluegreen.config.settings import StackSettings, parse_settings
from bluegreen.config.stackfile import project_defaults, read_stack_file, read_text
from bluegreen.errors import StackFileError


@dataclass(frozen=True)
class Edit:
    """One value to set (None: remove the line), as `pulumi config set --path KEY` would name it."""

    key: str  # activeColor, trafficWeight, green.version, green.digest
    value: str | None


# What follows `key:` on a line: a value (quoted, or plain up to a comment), then an optional comment.
_VALUE_AND_COMMENT = re.compile(r"""^\s*(?:"(?:[^"\\]|\\.)*"|'[^']*'|[^#]*?)(?P<comment>\s+#.*)?$""")


def _replaced(line: str, prefix: str, value: str) -> str:
    """`prefix value`, keeping the comment the old line carried after its value."""
    found = _VALUE_AND_COMMENT.match(line[len(prefix) :].rstrip("\n")) if line.startswith(prefix) else None
    comment = found.group("comment") if found and found.group("comment") else ""
    return f"{prefix} {value}{comment}\n"


def _set(text: str, project: str, edit: Edit, path: Path) -> str:
    top, _, leaf = edit.key.partition(".")
    lines = text.splitlines(keepends=True)
    if not leaf:
        pattern = re.compile(rf"^(\s+){re.escape(project)}:{re.escape(top)}:\s*(\S.*)?$")
        for i, line in enumerate(lines):
            match = pattern.match(line.rstrip("\n"))
            if match:
                if edit.value is None:
                    return "".join(lines[:i] + lines[i + 1 :])
                lines[i] = _replaced(lines[i], f"{match.group(1)}{project}:{top}:", edit.value)
                return "".join(lines)
        if edit.value is None:
            return text
        for i, line in enumerate(lines):
            if line.rstrip() == "config:":
                lines.insert(i + 1, f"  {project}:{top}: {edit.value}\n")
                return "".join(lines)
        raise StackFileError(f"{path}: no 'config:' mapping to set {edit.key} in; use pulumi config set")
    header = re.compile(rf"^(\s+){re.escape(project)}:{re.escape(top)}:\s*$")
    for i, line in enumerate(lines):
        match = header.match(line.rstrip("\n"))
        if not match:
            continue
        indent = match.group(1)
        end = i + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > len(indent)):
            end += 1
        child_indent = next(
            (lines[j][: len(lines[j]) - len(lines[j].lstrip())] for j in range(i + 1, end) if lines[j].strip()),
            indent + "  ",
        )
        leaf_line = re.compile(rf"^{re.escape(child_indent)}{re.escape(leaf)}:")
        for j in range(i + 1, end):
            if leaf_line.match(lines[j]):
                if edit.value is None:
                    del lines[j]
                else:
                    lines[j] = _replaced(lines[j], f"{child_indent}{leaf}:", edit.value)
                return "".join(lines)
        if edit.value is not None:
            lines.insert(i + 1, f"{child_indent}{leaf}: {edit.value}\n")
        return "".join(lines)
    raise StackFileError(
        f"{path}: no '{project}:{top}:' block to set {edit.key} in; use pulumi config set --path {edit.key} ..."
    )


def apply_edits(path: Path, project_file: Path, edits: list[Edit]) -> StackSettings:
    """Edit `path` in place, or change nothing and raise: the result must pass `bluegreen validate`."""
    project = project_defaults(project_file)[0]
    text = read_text(path, "stack file")
    for edit in edits:
        text = _set(text, project, edit, path)
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
    apply_edits(path, project_file, [Edit(f"{idle}.version", f'"{version}"'),
                                     Edit(f"{idle}.digest", f'"{digest}"' if digest else None)])  # fmt: skip
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
    apply_edits(path, project_file, [Edit("activeColor", target), Edit("trafficWeight", str(weight))])
    return f"{path}: activeColor {target}, trafficWeight {weight} (was {before.active_color} {before.traffic_weight})"
