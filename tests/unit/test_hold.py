"""Emergency state holds (bluegreen.release.hold): which groups the program keeps, and what it says.

The switch-level behaviour (a kept rollback, a release under a hold, the
maintenance recipe, resume) is in tests/unit/test_switch.py; the preview's
lines through the Pulumi program in tests/unit/test_program.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.release.hold import Traffic, hold, kept_groups, live_changes, preview_lines


def plan(**changes: Any) -> RoutingPlan:
    raw: dict[str, Any] = {
        "deployment": "bluegreen-dev", "active": "green", "weights": {"blue": 0, "green": 100},
        "colors": {"blue": {"version": "1.0.0", "containers": ["b1"]},
                   "green": {"version": "1.1.0", "containers": ["g1"]}},
    }  # fmt: skip
    raw.update(changes)
    return parse_plan(raw)


def record(p: RoutingPlan, source: str, **extra: Any) -> dict[str, Any]:
    return {"plan": json.loads(p.canonical()), "source": source, "by": "ops@host pid 7 (cli)", "appliedAt": "T",
            "planHash": p.plan_hash(), **extra}  # fmt: skip


ROLLED_BACK = plan(active="blue", weights={"blue": 100, "green": 0})
MAINTENANCE = {"enabled": True, "message": "db", "retryAfterSeconds": 60}


@pytest.mark.parametrize(
    ("desired", "program", "live", "kept"),
    [
        (plan(), plan(), plan(), []),  # in sync
        (plan(), plan(), ROLLED_BACK, ["routing"]),  # rolled back, config unchanged
        (plan(weights={"blue": 90, "green": 10}), plan(), ROLLED_BACK, []),  # config changed: applies
        (plan(), plan(), plan(maintenance=MAINTENANCE), ["maintenance"]),
        (plan(maintenance=MAINTENANCE), plan(), plan(), []),  # maintenance from config: a new desired state
        (
            plan(),
            plan(),
            plan(active="blue", weights={"blue": 100, "green": 0}, maintenance=MAINTENANCE),
            ["routing", "maintenance"],
        ),
    ],
)
def test_a_group_is_kept_when_changed_live_and_not_in_the_config(
    desired: RoutingPlan, program: RoutingPlan, live: RoutingPlan, kept: list[str]
) -> None:
    assert kept_groups(Traffic.of(desired), Traffic.of(program), Traffic.of(live)) == kept


def test_nothing_is_kept_before_the_program_has_a_record() -> None:
    assert hold(plan(), record(ROLLED_BACK, "rollback"), None).plan == plan()


def test_a_new_page_text_alone_neither_holds_nor_releases_maintenance() -> None:
    off_with_text = plan(maintenance={"enabled": False, "message": "other"})
    assert Traffic.of(off_with_text) == Traffic.of(plan())


def test_a_held_routing_the_plan_cannot_carry_is_applied_over_and_says_why() -> None:
    no_blue = plan(colors={"blue": {"containers": []}, "green": {"version": "1.1.0", "containers": ["g1"]}})
    result = hold(no_blue, record(ROLLED_BACK, "rollback"), record(no_blue, "program"))
    assert result.plan == no_blue and not result.kept
    assert result.lines and result.lines[0].startswith("the live routing cannot be kept (")


def test_status_and_preview_name_who_set_what_and_whether_this_update_keeps_it() -> None:
    changes = live_changes(record(ROLLED_BACK, "rollback"), record(plan(), "program"))
    assert changes == {
        "routing": "routing blue 100% / green 0% (active blue), set by rollback by ops@host pid 7 (cli) at T"
    }
    kept = preview_lines(Traffic.of(plan()), Traffic.of(plan()), changes)
    assert kept[0].startswith("held: routing blue 100%") and "this update keeps it" in kept[0]
    changed = preview_lines(Traffic.of(plan(weights={"blue": 90, "green": 10})), Traffic.of(plan()), changes)
    assert changed[0].startswith("drift: routing blue 100%") and "changed activeColor/trafficWeight since" in changed[0]


def test_traffic_travels_through_status_json_unchanged() -> None:
    for p in (plan(), ROLLED_BACK, plan(maintenance=MAINTENANCE)):
        assert Traffic.of_json(json.loads(json.dumps(Traffic.of(p).as_json()))) == Traffic.of(p)
    assert Traffic.of_json({"active": "blue"}) is None
