"""The consistency rules of weights, replicas, the preview and contract steps: one copy for every layer.

Settings, the routing plan and the policy pack ask the same functions. No
third-party import, so the policy pack can carry this file on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from bluegreen.colors import COLORS, Color, other


@dataclass(frozen=True)
class TrafficProblem:
    """A routing that cannot mean anything. `color` is the colour at fault (None: the weights)."""

    kind: Literal["weights", "active-empty", "idle-empty"]
    color: Color | None
    text: str


def traffic_problems(
    active: Color, weights: Mapping[Color, int], replicas: Mapping[Color, int]
) -> list[TrafficProblem]:
    """The one consistency rule of weights and replicas, for settings, plans and the pack.

    The active colour always needs replicas: it is what traffic moves to and
    what the preview shows. The idle colour needs them while it has a share.
    """
    problems: list[TrafficProblem] = []
    total = sum(int(weights.get(c, 0)) for c in COLORS)
    if total != 100:
        problems.append(TrafficProblem("weights", None, f"the two shares add up to {total}, not 100"))
    share = int(weights.get(active, 0))
    if int(replicas.get(active, 0)) < 1:
        problems.append(
            TrafficProblem(
                "active-empty", active, f"the active colour {active} (share {share}%) has no replicas to promote"
            )
        )
    idle = other(active)
    idle_share = int(weights.get(idle, 0))
    if idle_share > 0 and int(replicas.get(idle, 0)) < 1:
        problems.append(
            TrafficProblem("idle-empty", idle, f"the idle colour {idle} takes {idle_share}% but has no replicas")
        )
    return problems


def preview_color(active: Color, active_share: int, idle_has_replicas: bool) -> Color | None:
    """What the preview listener serves: the active colour until it has 100%, then the idle one."""
    if active_share < 100:
        return active
    return other(active) if idle_has_replicas else None


CONTRACT_PREFIX = "contract"  # a preSwitch hook named contract* removes what the previous release still uses


def contract_problem(hook_names: Iterable[str], live_active: str | None, active: str) -> str | None:
    """Why a contract step and a change of activeColor may not share one update, or None.

    A contract migration drops what the previous release reads; switching
    colours in the same update would leave no release to roll back to. The
    program refuses it, and so does the policy pack (same function).
    """
    contracts = sorted(n for n in hook_names if n.startswith(CONTRACT_PREFIX))
    if not contracts or live_active is None or live_active == active:
        return None
    return (
        f"hooks.preSwitch {', '.join(contracts)}: a contract step, and activeColor changes from {live_active} to "
        f"{active} in the same update; allowed: switch first, then contract in an update that keeps activeColor "
        "(docs/database.md)"
    )
