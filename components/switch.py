"""Switch: runs `python -m bluegreen switch` with the plan on stdin.

The plan travels in stdin and the environment, not in `triggers`, so a flip
or a canary step is an *update* of this resource (pulumi-command runs
`update`), never a replacement. It depends on every app container, the
router and `after` (the router's certificate, the preSwitch hooks), so it runs
after new replicas are healthy and migrated, and before Pulumi deletes
replaced ones (deletes come last in an update).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from bluegreen.engine.topology import Topology
from bluegreen.env import OBSERVED_ENV, ROUTER_ID_ENV, SMOKE_ENV, WEBHOOK_ENV
from bluegreen.plan.model import RoutingPlan
from components.cli import LOCAL_ENGINE, Engine, bluegreen_cli


class Switch(pulumi.ComponentResource):
    command: command.local.Command

    def __init__(
        self,
        name: str,
        topology: Topology,
        plan: pulumi.Output[RoutingPlan],
        router: docker.Container,
        containers: Sequence[pulumi.Resource],
        observed: str,
        engine: Engine = LOCAL_ENGINE,
        after: Sequence[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("bluegreen:index:Switch", name, None, opts)
        # With rollout.steps, traffic moves through analysed steps (docs/rollouts.md); a failed
        # analysis aborts to the stable colour and fails this command, so `pulumi up` fails.
        verb = "rollout" if topology.settings.rollout.steps else "switch"
        run = bluegreen_cli(
            verb, "--stack", topology.stack, "--project", topology.project, "--plan", "-", "--source", "program"
        )
        webhook = topology.settings.notifications.webhook_url
        extra: dict[str, pulumi.Input[str]] = {WEBHOOK_ENV: pulumi.Output.secret(webhook)} if webhook else {}
        smoke = topology.settings.hooks.smoke
        if smoke:  # checked through the preview before the candidate gains traffic (bluegreen/release/smoke.py)
            extra[SMOKE_ENV] = json.dumps([c.model_dump(mode="json", by_alias=True) for c in smoke])
        self.command = command.local.Command(
            name,
            create=run,
            update=run,
            stdin=plan.apply(lambda p: p.canonical()),
            environment={
                **engine.env(),
                # A replaced router starts with no routing: its new id re-runs the switch.
                ROUTER_ID_ENV: router.id,
                # What the drift check saw (components/drift.py); stable while nothing drifts.
                OBSERVED_ENV: observed,
                **extra,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[router, *(after or []), *containers]),
        )
        self.register_outputs({"planHash": plan.apply(lambda p: p.plan_hash())})
