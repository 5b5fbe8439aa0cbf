"""When an image reference is pinned enough: one rule for `validate`, the program and the policy pack.

No third-party import, so the policy pack can carry this file on its own.
"""

from __future__ import annotations

import re

IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# What production accepts as a tag that never moves (besides a digest).
IMMUTABLE_TAG_PATTERN = r"^v?\d+\.\d+\.\d+([.-][0-9A-Za-z.-]+)?$"
# An image id as the engine reports it (`docker inspect -f {{.Image}}`); a registry digest has the same form.
IMAGE_ID_PATTERN = r"^sha256:[0-9a-f]{64}$"
_IMAGE_ID = re.compile(IMAGE_ID_PATTERN)


def is_immutable_tag(tag: str, immutable: str = IMMUTABLE_TAG_PATTERN) -> bool:
    """A release tag names one build forever; a branch-like tag (`main`) follows the source."""
    return re.match(immutable, tag) is not None


def image_problem(ref: str, production: bool, immutable: str = IMMUTABLE_TAG_PATTERN) -> str | None:
    """Why an image reference is not pinned enough, or None. `validate` and the pack both ask this."""
    if _IMAGE_ID.match(ref) or "@sha256:" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {ref} has no tag (it means :latest)"
    tag = last.rsplit(":", 1)[1]
    if tag == "latest":
        return f"image {ref} uses the moving tag 'latest'"
    if production and not is_immutable_tag(tag, immutable):
        return f"image {ref}: production needs a digest or an immutable version tag (matching {immutable})"
    return None
