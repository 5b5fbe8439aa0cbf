"""An express switch: the call of the gate's last round also publishes.

A switch's time is its calls' time (a router script run: bluegreen.router.channel,
or an exec). A switch used to take a call per gate round, then one to publish.
When a round would close the gate (every target still pending needs one more
200, and no preview is down), its call carries the generation the switch would then
publish, stages it while the probes run, and publishes it, as sh/publish.sh
does, once every answer is 200. Otherwise it removes what it staged, and the
switch goes on as before (bluegreen.release.switch). Either way Python's own
gate, compare and swap and `decide` then run on what the calls read and reach
what the script found, so the report is the same.

The first round runs in the call that takes the lock and reads the snapshot,
so Python cannot decide from the snapshot there: sh/begin.sh checks the three
things that switch needs from it itself (the router's config is the one this
plan renders, so no reload and nothing for `nginx -t`; its live plan is
another; the program's record, which it carries over). Only a switch that
needs nothing else from the snapshot goes express in its first round: not the
program's (its record and hold), nothing to compare and swap (a rollback, a
drift reading), no lock to break. A later round (sh/probe.sh) carries a
generation made from the snapshot as any publish's, a reload's included.
Smoke checks run between the gate and publishing: a switch with them never
goes express.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bluegreen.config.hooks import SmokeCheck
from bluegreen.errors import SwitchError
from bluegreen.plan.model import RoutingPlan
from bluegreen.release.generation import Decision, check_unchanged, decide, generation_files, publication
from bluegreen.release.hold import Hold
from bluegreen.router.render import Rendered
from bluegreen.router.seam import Publication, Snapshot, Target

# What a first round's publication assumes the snapshot decides: new routing, no reload, the program's record
# untouched (sh/begin.sh checks the first two and carries the record over).
FIRST_ROUND = Decision(routing=True, reload=False, record=False)
NO_SNAPSHOT = Snapshot({}, None, None, [])  # nothing to carry over in Python


@dataclass(frozen=True)
class Switching:
    """What a switch publishes besides its plan: who, why, and what it compares and swaps against."""

    source: str
    observed: str | None
    by: str
    note: str | None
    hold: Hold | None
    expect_live_plan: str | None
    program_observed: str | None
    break_lock: bool

    @property
    def first_round(self) -> bool:
        """Whether its first round may publish: it needs nothing from the snapshot but what sh/begin.sh checks."""
        guarded = self.expect_live_plan is not None or self.program_observed is not None or self.break_lock
        return self.source != "program" and self.hold is None and not guarded


@dataclass
class Express:
    """A plan's generation, staged for the round that would close its gate (`probed`: every target the passed
    gate will have probed, what the generation arms)."""

    plan: RoutingPlan
    render: Callable[[], Rendered]  # the plan rendered with the preview up
    switching: Switching
    rendered: Rendered | None = None  # the render of the last publication staged

    def first(self, probed: Sequence[Target]) -> Publication | None:
        """The publication the first round's call publishes if sh/begin.sh finds what FIRST_ROUND assumes."""
        if not self.switching.first_round:
            return None
        self.rendered = rendered = self.render()
        return self._publication(rendered, NO_SNAPSHOT, FIRST_ROUND, probed)

    def later(self, probed: Sequence[Target], snapshot: Snapshot) -> Publication | None:
        """The publication a later round's call publishes once its answers are all 200: what the switch would
        publish from `snapshot`, or None when it would publish nothing (already live, or refused)."""
        s = self.switching
        own = s.observed if s.source == "program" else None
        with contextlib.suppress(SwitchError):  # refused: the switch says so itself, after the gate
            check_unchanged(snapshot, s.expect_live_plan, s.program_observed, own)
            self.rendered = rendered = self.render()
            decision = decide(snapshot, rendered, s.source, s.observed, s.hold.desired.plan_hash() if s.hold else None)
            return None if decision.nothing else self._publication(rendered, snapshot, decision, probed)
        return None

    def _publication(
        self, rendered: Rendered, snapshot: Snapshot, decision: Decision, probed: Sequence[Target]
    ) -> Publication:
        s = self.switching
        files = generation_files(
            self.plan, rendered, snapshot, decision, s.source, s.observed, s.note, s.by, s.hold, probed
        )
        return publication(files, decision, rendered)


def offer(
    plan: RoutingPlan, render: Callable[[], Rendered], switching: Switching, smoke: Sequence[SmokeCheck]
) -> Express | None:
    """The express for a switch to `plan`; None when smoke checks must run between its gate and publishing."""
    return None if smoke else Express(plan, render, switching)
