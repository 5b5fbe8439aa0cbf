"""An express switch: the exec that takes the lock and decides the gate also publishes.

A switch's time is its execs' time: about 50 ms each on an idle host, 100 ms on
a busy one, most of it the runtime starting a process in the container. A
switch whose gate needs one round took two execs: begin (lock, read, probe),
then publish. That switch reads only three things from the live snapshot: that
the router's config is the one this plan renders (so no reload to check), that
its plan is another (so something to do), and the program's record to carry
over. sh/begin.sh can check those itself. So the first exec carries the staged
generation, and the script publishes it, as sh/publish.sh would, once it holds
the lock, every target answered 200 and the status listener agrees. Otherwise
it publishes nothing and keeps the lock, and the switch goes on as before
(bluegreen.release.switch). Both ways, Python's own gate and `decide` then run
on what the exec read, and reach what the script found.

Only a switch that needs nothing else goes express: a plan given (not derived
from the live one: those compare and swap), not the program's (its record and
hold), no smoke checks, no lock to break, one success per target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bluegreen.config.hooks import SmokeCheck
from bluegreen.plan.model import RoutingPlan
from bluegreen.release.generation import VERIFY_SECONDS, Decision, generation_files
from bluegreen.release.health import gated
from bluegreen.router.render import Rendered
from bluegreen.router.seam import Publication, Snapshot, Target

# What an express publication assumes the live snapshot decides: new routing, no reload, the program's
# record untouched (sh/begin.sh carries it over).
EXPRESS_DECISION = Decision(routing=True, reload=False, record=False)


@dataclass
class Express:
    """A plan's generation, staged for the first gate round once that round's targets are known."""

    rendered: Rendered
    files: Callable[[Sequence[Target]], dict[str, str]]  # the generation's files, given the targets probed
    targets: int  # every target the gate checks, hard and soft: a round that probes fewer cannot decide it

    def stage(self, targets: Sequence[Target]) -> Publication | None:
        """The publication for a first round that probes `targets`, or None when that round cannot decide."""
        if len(targets) != self.targets:
            return None
        return Publication(
            self.rendered.generation(time.time_ns()),
            self.files(targets),
            False,
            self.rendered.config_hash,
            self.rendered.plan_hash,
            VERIFY_SECONDS,
        )


def offer(
    plan: RoutingPlan,
    rendered: Callable[[], Rendered],
    source: str,
    observed: str | None,
    by: str,
    note: str | None,
    smoke: Sequence[SmokeCheck],
    guarded: bool,
) -> Express | None:
    """The express for a switch to `plan`, rendered (with the preview up) only when it goes express; None when
    something besides the first round could stop it or change what it publishes. `guarded`: the switch compares
    and swaps (an expected live plan or program reading) or breaks a lock."""
    if source == "program" or smoke or guarded or plan.health_gate.successes != 1:
        return None
    names, soft = gated(plan)
    if not names:  # maintenance: nothing to gate, nothing to decide in a round
        return None
    nothing = Snapshot({}, None, None, [])  # no record to carry in Python: the script carries the program's
    made = rendered()

    def files(probed: Sequence[Target]) -> dict[str, str]:
        return generation_files(plan, made, nothing, EXPRESS_DECISION, source, observed, note, by, None, probed)

    return Express(made, files, len(names) + len(soft))
