"""Entry point of the policy pack: `pulumi preview --policy-pack policies`.

Only this file builds the PolicyPack: its constructor starts the analyzer
server and blocks, so it must never run on import.
"""

import sys
from pathlib import Path

# rules.py sits beside this file; it reads the bluegreen modules it imports from the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES

PolicyPack(
    name="bluegreen-docker-baseline",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
)
