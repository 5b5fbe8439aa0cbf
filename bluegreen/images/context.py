"""A content hash of a Docker build context, as the daemon would receive it.

The image's build inputs must not hold an absolute path (a preview from
another checkout would plan a rebuild and a replacement of every container),
yet a code change under an unchanged branch-like version (`main`) must
rebuild. So the program hashes what the build sees: every file .dockerignore
lets through (moby's patternmatcher rules: last match wins, `!` re-includes,
a pattern matching a directory excludes what is under it), by relative path,
mode bit and content. The Dockerfile counts even when ignored, as in Docker.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    exclude: bool


def _translate(pattern: str) -> re.Pattern[str]:
    """Go filepath.Match syntax plus `**`, anchored at the context root."""
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if pattern.startswith("/", i):  # `**/x` also matches `x` at the root
                out = out[:-2] + "(.*/)?"
                i += 1
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.find("]", i)
            if end == -1:
                out += re.escape(c)
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
                i = end
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def _rules(text: str) -> list[_Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        cleaned = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        if cleaned in ("", "."):
            continue
        rules.append(_Rule(_translate(cleaned), exclude))
    return rules


def _excluded(relative: str, rules: list[_Rule]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in rules:
        if any(rule.pattern.match(p) for p in prefixes):
            excluded = rule.exclude
    return excluded


def context_files(context: Path, dockerfile: str = "Dockerfile") -> list[str]:
    """Relative paths (sorted, '/'-separated) of the files the build sends to the daemon."""
    ignore = context / ".dockerignore"
    rules = _rules(ignore.read_text(encoding="utf-8")) if ignore.is_file() else []
    files = []
    for root, dirs, names in os.walk(context):
        dirs.sort()
        for name in names:
            relative = (Path(root) / name).relative_to(context).as_posix()
            if relative == dockerfile or not _excluded(relative, rules):
                files.append(relative)
    return sorted(files)


def context_hash(context: Path, dockerfile: str = "Dockerfile") -> str:
    """sha256 over every file the build sees: path, executable bit, content."""
    digest = hashlib.sha256()
    for relative in context_files(context, dockerfile):
        path = context / relative
        digest.update(relative.encode() + b"\0")
        digest.update(b"x" if os.access(path, os.X_OK) else b"-")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
