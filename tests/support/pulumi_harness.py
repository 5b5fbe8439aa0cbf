"""Run the real `__main__.py` under Pulumi mocks and capture what it registers.

Each run gets a fresh root stack and config, so tests can compare two runs of
the program (e.g. before and after `activeColor` flips) resource by resource.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from tests.support.paths import ROOT

PROJECT = "bluegreen"


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None = None


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs), args.provider))
        outputs = dict(args.inputs)
        if args.typ == "command:local:Command":
            outputs["stdout"] = "sha256:" + hashlib.sha256(str(args.inputs.get("create")).encode()).hexdigest()
        if args.typ == "docker:index/remoteImage:RemoteImage":
            # What the provider reports: the image id, here derived from the reference.
            outputs["imageId"] = "sha256:" + hashlib.sha256(str(args.inputs.get("name")).encode()).hexdigest()
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        return {}, []


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any]

    def by_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]


def engine_value(value: Any) -> str:
    """Config values as the Pulumi engine passes them: strings, objects as JSON."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_LOOP: asyncio.AbstractEventLoop | None = None


def _harness_loop() -> asyncio.AbstractEventLoop:
    """One loop for every run. Pulumi's runtime keeps work on the loop it first
    saw (a new loop per run hangs in wait_for_rpcs), and a test that used
    asyncio.run() leaves the thread with no loop at all."""
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP


def run_program(raw: dict[str, Any], stack: str = "dev", mocks: RecordingMocks | None = None) -> ProgramRun:
    mocks = mocks or RecordingMocks()
    asyncio.set_event_loop(_harness_loop())
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config({f"{PROJECT}:{k}": engine_value(v) for k, v in raw.items()}, [])
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    root = runtime_settings.get_root_resource()
    assert root is not None, "the program did not create a root stack"
    _sync_await(wait_for_rpcs())
    outputs = {
        name: _sync_await(pulumi.Output.from_input(value).future())
        for name, value in getattr(root, "outputs", {}).items()
    }
    return ProgramRun(resources=list(mocks.resources), outputs=outputs)
