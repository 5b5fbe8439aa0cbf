"""One generation of the router's routing directory: whether it may be published, what publishing must change,
and the files it holds.

A switch compares and swaps against the live snapshot (`check_unchanged`),
decides from it (`decide`) and writes one generation (`generation_files`)
that sh/publish.sh makes live with one rename (or the exec of the gate's last
round: bluegreen.release.express).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bluegreen.colors import utc_now
from bluegreen.env import DRIFT_PREFIX
from bluegreen.errors import SwitchError
from bluegreen.plan.model import RoutingPlan
from bluegreen.release.hold import Hold
from bluegreen.router.layout import ARMED_PROBES, LIVE_PLAN, PROGRAM_PLAN, STATE_FILE
from bluegreen.router.render import Rendered
from bluegreen.router.seam import Publication, Snapshot, Target, armed_lines

VERIFY_SECONDS = 10.0


@dataclass(frozen=True)
class Decision:
    """What publishing must change: the routing (state, config) and/or the program's record."""

    routing: bool
    reload: bool
    record: bool

    @property
    def nothing(self) -> bool:
        return not (self.routing or self.record)


def decide(
    snapshot: Snapshot, rendered: Rendered, source: str, observed: str | None, program_hash: str | None = None
) -> Decision:
    """`program_hash`: the plan the program's record holds when it is not the one published (a hold)."""
    reload = snapshot.status.get("configHash") != rendered.config_hash
    # The preview route comes and goes with the preview's health, under one plan.
    preview_moved = "preview" in snapshot.status and snapshot.status.get("preview") != rendered.preview
    routing = reload or snapshot.status.get("planHash") != rendered.plan_hash or preview_moved
    program = snapshot.program_record or {}
    record = source == "program" and (program.get("planHash"), program.get("observed")) != (
        program_hash or rendered.plan_hash,
        observed,
    )
    return Decision(routing=routing, reload=reload, record=record)


def generation_files(
    plan: RoutingPlan,
    rendered: Rendered,
    snapshot: Snapshot,
    decision: Decision,
    source: str,
    observed: str | None,
    note: str | None = None,
    by: str | None = None,
    hold: Hold | None = None,
    probed: Sequence[Target] = (),
) -> dict[str, str]:
    """Everything one generation holds: config, state, both records (carried over where unchanged), and the
    targets its gate probed, armed for the next derived switch (ARMED_PROBES).

    Under a hold the program's record keeps the program's own plan, and the live record names who set what
    the program kept (bluegreen.release.hold)."""
    base = {"source": source, "by": by, "appliedAt": utc_now()}
    base.update({"observed": observed} if observed is not None else {})
    record = json.dumps(
        {
            "plan": json.loads(plan.canonical()), **base, "configHash": rendered.config_hash,
            "planHash": rendered.plan_hash, **({"note": note} if note else {}),
            **({"held": hold.record} if hold and hold.record else {}),
        },
        indent=2,
    )  # fmt: skip
    files = {**rendered.config_files(), STATE_FILE: rendered.state_json, ARMED_PROBES: armed_lines(probed)}
    live = record if decision.routing or snapshot.live_record is None else json.dumps(snapshot.live_record, indent=2)
    files[LIVE_PLAN] = live
    if decision.record and hold is not None and hold.desired is not plan:
        desired = hold.desired
        files[PROGRAM_PLAN] = json.dumps(
            {"plan": json.loads(desired.canonical()), **base, "planHash": desired.plan_hash()}, indent=2
        )
    elif decision.record:
        files[PROGRAM_PLAN] = record
    elif snapshot.program_record is not None:
        files[PROGRAM_PLAN] = json.dumps(snapshot.program_record, indent=2)
    return files


def publication(files: dict[str, str], decision: Decision, rendered: Rendered) -> Publication:
    return Publication(
        rendered.generation(time.time_ns()),
        files,
        decision.reload,
        rendered.config_hash,
        rendered.plan_hash,
        VERIFY_SECONDS,
    )


def check_unchanged(
    snapshot: Snapshot, expect_live_plan: str | None, program_observed: str | None, own_observed: str | None
) -> None:
    """Compare and swap: act only on the live routing that was seen.

    A rollback acts on the plan it read before waiting for the lock. The
    program acts on what its drift check read when `pulumi up` began, minutes
    earlier: a rollback made since then must not be silently undone. Its own
    Switch's reading (`own_observed`) serves when it was handed no other.
    """
    if expect_live_plan is None and program_observed is None:
        program_observed = own_observed
    if expect_live_plan is not None and snapshot.status.get("planHash") != expect_live_plan:
        raise SwitchError(
            f"the live routing changed (plan {snapshot.status.get('planHash')}) while this waited for the "
            "lock; nothing was changed: look at `status` and run it again"
        )
    expected = program_expects(snapshot, program_observed)
    if expected and snapshot.status.get("planHash") not in expected:
        last = snapshot.live_record or {}
        raise SwitchError(
            f"live routing changed during this update: {last.get('source', 'a switch')} by "
            f"{last.get('by') or 'someone'} at {last.get('appliedAt', '?')}; nothing was changed "
            "(look at `bluegreen status`; run `pulumi up` again to apply this plan over it)"
        )


def program_expects(snapshot: Snapshot, observed: str | None) -> set[str]:
    """The live plans the program's drift check may have read, from what it handed the Switch (OBSERVED_ENV).

    In sync, the drift check hands back the value the program's last record holds (or IN_SYNC): the live plan
    was then that record's plan. After drift it hands "drift:PLAN@T": the live plan was PLAN. The same
    "drift:PLAN@T" as the record's is either: in sync since the program corrected PLAN, or PLAN still live
    and kept (bluegreen.release.hold). Empty: nothing to compare (a first deploy, an older record).
    """
    program = snapshot.program_record or {}
    if observed is None or not program.get("planHash"):
        return set()
    seen = {observed.removeprefix(DRIFT_PREFIX).split("@", 1)[0]} if observed.startswith(DRIFT_PREFIX) else set()
    if observed != program.get("observed"):
        return seen or {str(program["planHash"])}
    return {str(program["planHash"]), *seen}
