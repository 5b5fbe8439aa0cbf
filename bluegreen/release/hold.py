"""What an operator set live outside Pulumi, and the program keeps: emergency state holds.

A `bluegreen rollback`, `maintenance on|off`, a CLI `switch` or `rollout`
changes the live routing behind the program's back. The next `pulumi up`
often has nothing to do with it (the deploy workflow runs one on every push),
so undoing it there would undo an incident's fix silently. The rule, per
group of traffic settings (`routing`: activeColor and the weights;
`maintenance`):

- the operator changed the group live (live differs from the plan the program
  last applied), and
- the stack config did not change it since (the program wants what it last
  applied),

then the program's Switch keeps the live value of that group, still applies
everything else (new containers, a release, edge settings) and says so. A
changed group in the stack config is a new desired state and applies over it,
as Argo Rollouts does after an abort. `bluegreen resume` hands the routing
back to the program's plan at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from bluegreen.config.settings import StackSettings
from bluegreen.errors import SettingsError
from bluegreen.plan.model import RoutingPlan, parse_plan
from bluegreen.router.seam import RouterPort, snapshot_of

GROUPS: Final = ("routing", "maintenance")


@dataclass(frozen=True)
class Traffic:
    """The settings an operator can change live, grouped as the hold keeps them."""

    routing: tuple[str, tuple[tuple[str, int], ...]]
    maintenance: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, plan: RoutingPlan) -> Traffic:
        weights = plan.weights.model_dump()
        return cls((plan.active, tuple(sorted(weights.items()))), _maintenance(plan.maintenance.model_dump()))

    @classmethod
    def of_settings(cls, settings: StackSettings) -> Traffic:
        routing = (settings.active_color, tuple(sorted(settings.weights().items())))
        return cls(routing, _maintenance(settings.maintenance.model_dump()))

    @classmethod
    def of_record(cls, record: dict[str, Any] | None) -> Traffic | None:
        """The traffic of a router record's plan; None when there is no record or it holds no plan."""
        try:
            return cls.of(parse_plan((record or {})["plan"]))
        except (SettingsError, KeyError, TypeError):
            return None

    @classmethod
    def of_json(cls, raw: Any) -> Traffic | None:
        """What `as_json` wrote (`status --json`'s programTraffic); None for anything else."""
        try:
            weights = tuple(sorted((str(c), int(w)) for c, w in raw["weights"].items()))
            return cls((str(raw["active"]), weights), _maintenance(dict(raw["maintenance"])))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def as_json(self) -> dict[str, Any]:
        active, weights = self.routing
        return {"active": active, "weights": dict(weights), "maintenance": dict(self.maintenance)}

    def group(self, name: str) -> Any:
        return getattr(self, name)


def _maintenance(raw: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    # Off is off whatever the page would say: a changed message alone does not hold or release anything.
    return tuple(sorted(raw.items())) if raw.get("enabled") else (("enabled", False),)


def kept_groups(desired: Traffic, program: Traffic | None, live: Traffic | None) -> list[str]:
    """The groups the program keeps: changed live since its last plan, unchanged in its config since."""
    if program is None or live is None:
        return []  # a first deploy, or records this version cannot read: nothing to keep
    return [g for g in GROUPS if live.group(g) != program.group(g) and desired.group(g) == program.group(g)]


def origin(live_record: dict[str, Any], group: str) -> dict[str, Any]:
    """Who set a kept group: the operator's record, or what the program's last hold carried over."""
    carried = (live_record.get("held") or {}).get(group)
    if isinstance(carried, dict):
        return carried
    return {"source": live_record.get("source"), "by": live_record.get("by"), "at": live_record.get("appliedAt")}


def describe(group: str, live: Traffic, who: dict[str, Any]) -> str:
    """One phrase: what is kept and who set it ("routing blue 100% / green 0% (rollback by ops at T)")."""
    if group == "routing":
        active, weights = live.routing
        what = f"routing {' / '.join(f'{c} {w}%' for c, w in weights)} (active {active})"
    else:
        what = "maintenance on" if dict(live.maintenance).get("enabled") else "maintenance off"
    return f"{what}, set by {who.get('source') or 'a switch'} by {who.get('by') or 'someone'} at {who.get('at') or '?'}"


def preview_lines(desired: Traffic, program: Traffic | None, held: dict[str, str]) -> list[str]:
    """What `pulumi preview` says of each group set live: kept, or applied over because the config changed it."""
    lines = []
    for group, what in held.items():
        if program is not None and desired.group(group) == program.group(group):
            lines.append(f"held: {what}; this update keeps it (the stack config did not change it since the "
                         "program's last update); `bluegreen resume` hands it back")  # fmt: skip
        else:
            keys = "activeColor/trafficWeight" if group == "routing" else "maintenance"
            lines.append(f"drift: {what}; the stack config changed {keys} since, so this update applies it over it")
    return lines


def live_changes(live_record: dict[str, Any] | None, program_record: dict[str, Any] | None) -> dict[str, str]:
    """Each group set live outside the program's last plan, described: what an unchanged `pulumi up` keeps."""
    live, program = Traffic.of_record(live_record), Traffic.of_record(program_record)
    if live is None or program is None or live_record is None:
        return {}
    return {g: describe(g, live, origin(live_record, g)) for g in GROUPS if live.group(g) != program.group(g)}


@dataclass(frozen=True)
class Hold:
    """The plan the program's Switch publishes: its own, with the kept groups' live values in it."""

    plan: RoutingPlan
    desired: RoutingPlan
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    @property
    def record(self) -> dict[str, Any] | None:
        """What the live record carries, so the next hold and `status` still name who set each group."""
        return self.kept or None


def hold(desired: RoutingPlan, live_record: dict[str, Any] | None, program_record: dict[str, Any] | None) -> Hold:
    """Overlay what the program keeps on its `desired` plan (module docstring); nothing kept: `desired` as is.

    A kept routing that the desired plan cannot carry (the colour it sends
    traffic to has no containers in it) is not kept, and the line says so.
    """
    live = Traffic.of_record(live_record)
    groups = kept_groups(Traffic.of(desired), Traffic.of_record(program_record), live)
    if not groups or live is None or live_record is None:
        return Hold(desired, desired)
    raw = desired.model_dump(mode="json", by_alias=True)
    live_plan = parse_plan(live_record["plan"])
    if "routing" in groups:
        raw.update(active=live_plan.active, weights=live_plan.weights.model_dump())
    if "maintenance" in groups:
        raw["maintenance"] = live_plan.maintenance.model_dump(mode="json", by_alias=True)
    try:
        plan = parse_plan(raw)
    except SettingsError as exc:
        why = f"the live {' and '.join(groups)} cannot be kept ({exc}); applying the program's plan"
        return Hold(desired, desired, lines=[why])
    kept = {g: origin(live_record, g) for g in groups}
    lines = [f"kept {describe(g, live, who)}; the stack config did not change it" for g, who in kept.items()]
    return Hold(plan, desired, kept, lines)


def program_hold(router: RouterPort, desired: RoutingPlan) -> Hold:
    """What the program's Switch publishes for `desired`: its plan with what an operator set live kept in it.

    Read before the lock; the switch's compare-and-swap refuses to act if the live plan moved since.
    """
    snapshot = snapshot_of(router.begin(None), router.container)
    return hold(desired, snapshot.live_record, snapshot.program_record)
