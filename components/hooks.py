"""Hook resources: preSwitch hooks between the colour stacks and the Switch, postPromote hooks after it.

Each hook is a `command.local.Command` running `python -m bluegreen hook run`
(bluegreen/release/hooks.py) whose `triggers` are its run key, a hash of the hook's
definition and the colour's image id: Pulumi replaces the resource, and so
runs the hook, exactly when one of them changes, and `pulumi preview` shows
`+- replace ...-hook-migrate` before a migration runs. An unchanged `pulumi
up`, a flip of activeColor and `bluegreen rollback` change neither, so they
run nothing. The replaced resource's delete removes only the containers of
its own run (label bluegreen.hook-run), never the new one's.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_command as command

from bluegreen.colors import Color
from bluegreen.config.hooks import CommandHook
from bluegreen.engine.topology import Topology
from bluegreen.env import HOOK_DEFINITION_ENV, HOOK_IMAGE_ENV, HOOK_RUN_ENV
from bluegreen.plan.traffic import CONTRACT_PREFIX
from bluegreen.release.hooks import run_key
from components.cli import LOCAL_ENGINE, Engine, bluegreen_cli


def hook_command(
    name: str,
    topology: Topology,
    stage: str,
    color: Color,
    hook: CommandHook,
    image_id: pulumi.Input[str],
    engine: Engine,
    after: Sequence[pulumi.Resource],
    parent: pulumi.Resource,
) -> command.local.Command:
    where = ("--stack", topology.stack, "--project", topology.project)
    key = pulumi.Output.from_input(image_id).apply(lambda image: run_key(hook, image))
    return command.local.Command(
        name,
        create=bluegreen_cli("hook", "run", *where, "--stage", stage, "--color", color),
        # Only the trigger (the run key) runs the hook again; any other input change (a new docker.host, a new
        # pulumi-command's defaults) is an update, and an update runs nothing.
        update=f"echo 'hook {hook.name}: run key unchanged, nothing to run'",
        delete=bluegreen_cli("hook", "remove", *where) + f' --run "${HOOK_RUN_ENV}"',
        environment={
            **engine.env(),
            HOOK_DEFINITION_ENV: hook.model_dump_json(by_alias=True),
            HOOK_IMAGE_ENV: image_id,
            HOOK_RUN_ENV: key,
        },
        triggers=[key],
        # A hook prints what the migration printed: encrypted in state like every other secret.
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=list(after), additional_secret_outputs=["stdout", "stderr"]
        ),
    )


class PreSwitchHooks(pulumi.ComponentResource):
    """Every preSwitch hook of every deployed colour, one after another, before the Switch."""

    commands: list[command.local.Command]

    def __init__(
        self,
        name: str,
        topology: Topology,
        image_ids: dict[Color, pulumi.Input[str]],
        after: dict[Color, Sequence[pulumi.Resource]],
        engine: Engine = LOCAL_ENGINE,
        live_active: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`live_active`: the colour live now (components/drift.py). With a contract* hook it is an input of
        this component, so the policy pack can refuse a contract step and a colour change in one update."""
        contracts = [h.name for h in topology.settings.hooks.pre_switch if h.name.startswith(CONTRACT_PREFIX)]
        props = {"contractHooks": contracts, "liveActiveColor": live_active} if contracts else None
        super().__init__("bluegreen:index:PreSwitchHooks", name, props, opts)
        self.commands = []
        for color, image_id in image_ids.items():
            for hook in topology.settings.hooks.pre_switch:
                # One at a time, in the order given: a backup before the migration it guards.
                run = hook_command(
                    f"{name}-{color}-{hook.name}", topology, "preSwitch", color, hook, image_id, engine,
                    [*after[color], *self.commands[-1:]], self,
                )  # fmt: skip
                self.commands.append(run)
        self.register_outputs({"hooks": [c.urn for c in self.commands]})


class PostPromoteHooks(pulumi.ComponentResource):
    """postPromote hooks of the colour that has 100% (components/deployment.py): run when its image or a hook
    changes, after the Switch."""

    commands: list[command.local.Command]

    def __init__(
        self,
        name: str,
        topology: Topology,
        color: Color,
        image_id: pulumi.Input[str],
        switch: pulumi.Resource,
        engine: Engine = LOCAL_ENGINE,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("bluegreen:index:PostPromoteHooks", name, None, opts)
        self.commands = []
        for hook in topology.settings.hooks.post_promote:
            run = hook_command(
                f"{name}-{hook.name}", topology, "postPromote", color, hook, image_id, engine,
                [switch, *self.commands[-1:]], self,
            )  # fmt: skip
            self.commands.append(run)
        self.register_outputs({"hooks": [c.urn for c in self.commands]})
