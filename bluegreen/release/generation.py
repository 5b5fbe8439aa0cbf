"""One generation of the router's routing directory: what publishing must change, and the files it holds.

A switch decides from the live snapshot (`decide`) and writes one generation
(`generation_files`) that sh/publish.sh (or an express sh/begin.sh,
bluegreen.release.express) makes live with one rename.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bluegreen.colors import utc_now
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
