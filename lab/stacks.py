"""Stack config for tests and the e2e engine: the shipped stack files, with changes on top."""

from __future__ import annotations

import copy
from typing import Any

from bluegreen.config.stackfile import read_stack_file
from lab.paths import ROOT

DELETE = object()


def stack_raw(stack: str) -> dict[str, Any]:
    """The raw config of a shipped stack, as the program would see it."""
    return read_stack_file(ROOT / f"Pulumi.{stack}.yaml", ROOT / "Pulumi.yaml").raw


def with_changes(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply `{"router.port": 1, "activeColor": DELETE}` to a deep copy of `base`."""
    raw = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return raw
