"""hooks: preSwitch commands, smoke checks and postPromote commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StringConstraints

from bluegreen.config.problems import Problem
from bluegreen.config.types import Allowed, Model, UrlPath

if TYPE_CHECKING:
    from bluegreen.config.settings import StackSettings

HookName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$"),
    Allowed("a hook name: 1-31 lowercase letters, digits and '-'"),
]


class CommandHook(Model):
    """A one-off container of a colour's image (its environment, network and limits) running `command`."""

    name: HookName = Field(description="Names the hook's container and resource; contract* marks a contract step.")
    command: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        min_length=1, description="Command run in the colour's image, e.g. [python, -m, bluegreen_app, migrate]."
    )
    timeout_seconds: int = Field(300, ge=1, le=3600, description="Killed and failed after this long.")


class SmokeCheck(Model):
    """A GET through the preview listener, from inside the router, before traffic moves."""

    name: HookName = Field(description="Named in the failure message.")
    path: UrlPath = Field(description="Path requested, e.g. /health/ready.")
    expect_status: int = Field(200, ge=100, le=599, description="The status it must answer.")


class Hooks(Model):
    """What runs between "the candidate is healthy" and "traffic moves" (docs/database.md)."""

    pre_switch: list[CommandHook] = Field(
        default_factory=list,
        description="Before any traffic moves to a new image: once per image and hook definition (migrations).",
    )
    smoke: list[SmokeCheck] = Field(
        default_factory=list, description="Checked through the preview before a switch gives the candidate traffic."
    )
    post_promote: list[CommandHook] = Field(
        default_factory=list, description="After the active colour reaches 100%; a failure fails the update only."
    )


def problems(s: StackSettings) -> list[Problem]:
    """Hook names that differ within a stage: a name is how a run, its container and its messages are told apart."""
    found: list[Problem] = []
    for stage, stage_hooks in (
        ("preSwitch", s.hooks.pre_switch),
        ("smoke", s.hooks.smoke),
        ("postPromote", s.hooks.post_promote),
    ):
        names = [h.name for h in stage_hooks]
        for name in sorted({n for n in names if names.count(n) > 1}):
            found.append(Problem(f"hooks.{stage}", name, "hook names that differ within a stage"))
    return found
