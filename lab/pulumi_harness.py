"""Run the real `__main__.py` under Pulumi mocks and capture what it registers.

Each run gets a fresh root stack and config, so tests can compare two runs of
the program (e.g. before and after `activeColor` flips) resource by resource.
Like the real engine (and unlike Pulumi's own mock monitor), a run refuses a
second resource with the same URN, computed from the full chain of parent
types as the engine does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from lab.paths import ROOT

PROJECT = "bluegreen"


SECRET_SIG = rpc._special_secret_sig
STACK_REFERENCE = "pulumi:pulumi:StackReference"


def stack_reference(name: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """What the engine gives a StackReference: the other stack's outputs (none of them secret here)."""
    return {"name": name, "outputs": outputs, "secretOutputNames": []}


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None = None
    urn: str = ""
    parent: str = ""  # the parent's URN as the engine saw it ("" for the root stack's children)
    ignore_changes: list[str] = field(default_factory=list)  # ResourceOptions.ignore_changes, as sent
    dependencies: list[str] = field(default_factory=list)  # URNs it waits for: depends_on and its inputs' owners
    delete_before_replace: bool = False

    def plain(self, key: str) -> Any:
        """An input with Pulumi's secret wrapper removed (see `is_secret`)."""
        value = self.inputs.get(key)
        return value["value"] if isinstance(value, dict) and is_secret(value) else value

    def is_secret(self, key: str) -> bool:
        return is_secret(self.inputs.get(key))


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == SECRET_SIG


class DuplicateUrnError(RuntimeError):
    pass


class StrictMonitor(MockMonitor):
    """The mock monitor with the engine's URN rules: full parent type chain, duplicates refused."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks
        self.urns: set[str] = set()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        if parent:
            qualified = parent.split("::")[2]
            if qualified != "pulumi:pulumi:Stack":
                type_ = f"{qualified}${type_}"
        return "urn:pulumi:" + "::".join([get_stack(), get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != "pulumi:pulumi:Stack":
            if urn in self.urns:
                raise DuplicateUrnError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self.urns.add(urn)
        # RegisterResource calls new_resource on this thread: hand it the URN and the parent.
        self.recording.registering.urn = urn
        self.recording.registering.parent = "" if "::pulumi:pulumi:Stack::" in request.parent else request.parent
        self.recording.registering.ignore_changes = list(request.ignoreChanges)
        self.recording.registering.retain_on_delete = bool(request.retainOnDelete)
        self.recording.registering.dependencies = list(request.dependencies)
        self.recording.registering.delete_before_replace = bool(request.deleteBeforeReplace)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    registering: threading.local = field(default_factory=threading.local)
    # Other stacks' outputs, by the name a StackReference gives ("organization/bluegreen/edge").
    stack_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        urn, parent = getattr(self.registering, "urn", ""), getattr(self.registering, "parent", "")
        ignored = list(getattr(self.registering, "ignore_changes", []))
        deps = list(getattr(self.registering, "dependencies", []))
        dbr = bool(getattr(self.registering, "delete_before_replace", False))
        self.resources.append(
            Registered(args.typ, args.name, dict(args.inputs), args.provider, urn, parent, ignored, deps, dbr)
        )
        outputs = dict(args.inputs)
        if args.typ == STACK_REFERENCE:
            return f"{args.name}-id", stack_reference(args.name, self.stack_outputs.get(args.name, {}))
        if args.typ == "command:local:Command":
            outputs["stdout"] = "sha256:" + hashlib.sha256(str(args.inputs.get("create")).encode()).hexdigest()
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = (
                "mock" + hashlib.sha256(args.name.encode()).hexdigest()[: int(args.inputs["length"]) - 4]
            )
        if args.typ == "docker:index/remoteImage:RemoteImage":
            # What the provider reports: the image id, here derived from the reference.
            outputs["imageId"] = "sha256:" + hashlib.sha256(str(args.inputs.get("name")).encode()).hexdigest()
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "command:local:run":  # `bluegreen status` on an engine that runs nothing yet
            return {"stdout": f"status {self.deployment()}: no running router for {self.deployment()}\n"}, []
        return {}, []

    @staticmethod
    def deployment() -> str:
        return f"{get_project()}-{get_stack()}"


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


def _quiet_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if "never retrieved" not in str(context.get("message", "")):
        loop.default_exception_handler(context)


def _abandon_run() -> None:
    """After a failed run: cancel what is still pending on the shared loop, so nothing of it (a resource
    waiting on the one that failed, an apply) finishes during the next run and fails that one too."""
    loop = _harness_loop()
    # The failed run's futures carry its exception; the run already raised it, so asyncio need not log
    # each of them again when they are collected ("Future exception was never retrieved").
    loop.set_exception_handler(_quiet_unretrieved)
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    with runtime_settings.SETTINGS.lock:
        runtime_settings.SETTINGS.outputs.clear()


def run_program(
    raw: dict[str, Any],
    stack: str = "dev",
    mocks: RecordingMocks | None = None,
    secret_keys: Iterable[str] = (),
    program: Callable[[], None] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run __main__.py (or `program`) with `raw` as stack config; `secret_keys` (e.g. "app") are marked secret."""
    mocks = mocks or RecordingMocks()
    asyncio.set_event_loop(_harness_loop())
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=StrictMonitor(mocks))
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{k}": engine_value(v) for k, v in raw.items()}, [f"{PROJECT}:{k}" for k in secret_keys]
    )
    if program is None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    else:
        program()
    root = runtime_settings.get_root_resource()
    assert root is not None, "the program did not create a root stack"
    try:
        _sync_await(wait_for_rpcs())
    except BaseException:
        _abandon_run()
        raise
    outputs = {
        name: _sync_await(pulumi.Output.from_input(value).future())
        for name, value in getattr(root, "outputs", {}).items()
    }
    return ProgramRun(resources=list(mocks.resources), outputs=outputs)
