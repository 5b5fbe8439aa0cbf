"""Which stacks are production and which may deploy to the local engine, by name.

No third-party import, so the policy pack can carry this file on its own.
"""

from __future__ import annotations

import re

# Stacks whose names match are production: images must be pinned. The pack's
# `productionStacks` config defaults to the same pattern.
PRODUCTION_STACKS_PATTERN = r"^(prod|production)([-_.].*)?$"
# Stacks that may deploy to whatever engine the machine running pulumi has (the pack's devStacks default).
DEV_STACKS_PATTERN = r"^dev"


def is_production(stack: str, pattern: str = PRODUCTION_STACKS_PATTERN) -> bool:
    return re.search(pattern, stack) is not None
