"""A test engine: the real __main__.py applied to the real Docker daemon, without the Pulumi CLI.

The Pulumi CLI cannot be installed on the machines this project is built
on, so this engine stands in for `pulumi up`: it is a `pulumi.runtime.Mocks`
whose `new_resource` does what the docker and command providers would do,
with Pulumi's update semantics where they matter for zero downtime:

- state is kept between runs (a JSON file per stack), keyed by URN; a second
  resource with the same URN is refused, as the engine does (the harness's
  StrictMonitor computes URNs from the full chain of parent types);
- unchanged inputs: nothing happens; a Command whose inputs changed runs
  `update`; a container whose changes are all in CONTAINER_IN_PLACE is
  updated in place (`docker update` for resources and the restart policy,
  state only for the rest), as pulumi-docker does; any other change replaces
  the resource, creating the new one first and deleting the old one at the
  end of the run (a container that publishes host ports is deleted first, as
  the Router's delete_before_replace asks);
- relative build contexts are resolved against the project, where Pulumi
  runs the provider;
- resources the program no longer registers are deleted at the end, newest
  first, except those registered with `retain_on_delete` (Pulumi forgets
  them, the daemon keeps them); `command:local:run` invokes run for real;
- a Command whose `triggers` changed is replaced (create runs, then the old
  one's `delete`), as pulumi-command does; a RandomPassword is made once and
  kept in state.

    python -m lab.engine up dev router.port=18080 image.baseImage=bluegreen-local/python:3.11
    python -m lab.engine destroy dev
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import string
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import yaml

from bluegreen.engine.client import DockerClient, tar_files
from bluegreen.engine.readback import MIB, parse_duration, read_container
from bluegreen.errors import DockerError
from lab.images import BASE_IMAGE, POSTGRES_IMAGE, ROUTER_IMAGE, RUNTIME_IMAGE
from lab.paths import ROOT
from lab.pulumi_harness import STACK_REFERENCE, RecordingMocks, is_secret, run_program, stack_reference
from lab.stacks import stack_raw, with_changes

STATE_DIR = Path(os.environ.get("BLUEGREEN_E2E_STATE", ROOT / ".e2e-state"))
STAND_IN = {
    "image.baseImage": BASE_IMAGE,
    "image.runtimeImage": RUNTIME_IMAGE,
    "router.image": ROUTER_IMAGE,
    "database.image": POSTGRES_IMAGE,
    # Not an image: the tests read which colour answered from this debug header (off by default).
    "router.edge.colorHeader": True,
}


class EngineError(RuntimeError):
    pass


def _docker(*args: str, timeout: float = 600) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise EngineError(f"docker {' '.join(args[:3])}: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def _docker_ok(*args: str) -> bool:
    return subprocess.run(["docker", *args], capture_output=True, timeout=60, check=False).returncode == 0


def _duration(text: str | None, default: float) -> int:
    """A Go duration ('1s', '1m0s', '500ms') -> nanoseconds, as the Engine API wants them."""
    return round((parse_duration(text) if text else default) * 1e9)


def _integral(value: Any) -> Any:
    """The mock monitor passes every number as a float; the Engine API wants ints where they are ints.

    A secret arrives wrapped; like the real engine, a provider gets its value (state keeps it too, which
    is fine for a test double's state file and nothing else).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if is_secret(value):
        return _integral(value["value"])
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _as_read(sent: dict[str, Any], read: dict[str, Any] | None) -> dict[str, Any]:
    """The inputs as the state holds them after the provider's Read: each value it reads back replaces the
    one sent (within a healthcheck, field by field); what it does not read keeps the value sent."""
    if not read:
        return sent
    state = dict(sent)
    for key, value in read.items():
        if key not in sent:
            continue
        if key == "healthcheck" and isinstance(sent[key], dict) and isinstance(value, dict):
            state[key] = {**sent[key], **{f: v for f, v in value.items() if f in sent[key]}}
        else:
            state[key] = value
    return state


def _keep(new: dict[str, Any], old: dict[str, Any], path: list[str]) -> None:
    """ignore_changes for one property path: the new inputs take the old value there (or lose the key)."""
    head, rest = path[0], path[1:]
    if rest:
        if isinstance(new.get(head), dict) and isinstance(old.get(head), dict):
            _keep(new[head], old[head], rest)
    elif head in old:
        new[head] = old[head]
    else:
        new.pop(head, None)


# --- what each resource type does ------------------------------------------------


class Handler:
    def create(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def delete(self, rid: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        raise NotImplementedError

    def update(
        self, rid: str, old: dict[str, Any], new: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Outputs after an in-place update, or None: the change needs a replacement."""

    def read(self, rid: str) -> dict[str, Any] | None:
        """What the provider's Read writes back over the inputs, or None: it keeps the inputs as sent."""
        return None


class NetworkHandler(Handler):
    def create(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        labels = [a for lab in inputs.get("labels", []) for a in ("--label", f"{lab['label']}={lab['value']}")]
        driver = ["--driver", inputs["driver"]] if inputs.get("driver") else []
        attachable = ["--attachable"] if inputs.get("attachable") else []
        options = [a for key, value in (inputs.get("options") or {}).items() for a in ("--opt", f"{key}={value}")]
        rid = _docker("network", "create", *driver, *attachable, *options, *labels, inputs["name"])
        return rid, {**inputs, "id": rid}

    def read(self, rid: str) -> dict[str, Any] | None:
        """The provider's Read (resourceDockerNetworkReadRefreshFunc) sets `options` to the network's Options,
        which for an overlay include the driver's own (`...overlay.vxlanid_list`): a diff against what was sent."""
        found = json.loads(_docker("network", "inspect", rid))[0]
        return {"options": found.get("Options") or {}}

    def delete(self, rid: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        # As the provider does (resourceDockerNetworkRemoveRefreshFunc): remove until inspect finds it no
        # more, waiting out "has active endpoints"; a swarm's overlay leaves each node a moment later.
        deadline = time.monotonic() + 30
        while _docker_ok("network", "inspect", rid):
            try:
                _docker("network", "rm", rid)
            except EngineError as exc:
                if "active endpoints" not in str(exc) and "No such network" not in str(exc):
                    raise
            if time.monotonic() > deadline:
                raise EngineError(f"network {inputs['name']} still exists 30s after its removal")
            time.sleep(0.2)


class VolumeHandler(Handler):
    def create(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        labels = [a for lab in inputs.get("labels", []) for a in ("--label", f"{lab['label']}={lab['value']}")]
        rid = _docker("volume", "create", *labels, inputs["name"])
        return rid, dict(inputs)

    def delete(self, rid: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        _docker("volume", "rm", "-f", rid)


class ImageHandler(Handler):
    def create(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ref = inputs["name"]
        build = inputs.get("build")
        if build:
            args = [a for k, v in (build.get("buildArgs") or {}).items() for a in ("--build-arg", f"{k}={v}")]
            context = ROOT / build["context"]  # relative: the project, where Pulumi runs the provider
            dockerfile = str(context / build.get("dockerfile", "Dockerfile"))
            _docker("build", "-q", "-t", ref, "-f", dockerfile, *args, str(context), timeout=900)
        image_id = _docker("image", "inspect", "-f", "{{.Id}}", ref)  # nothing can be pulled here
        return image_id, {**inputs, "imageId": image_id, "repoDigest": ""}

    def delete(self, rid: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        if not inputs.get("keepLocally"):
            _docker("image", "rm", inputs["name"])


# pulumi-docker's container inputs without ForceNew: a change updates in place.
CONTAINER_IN_PLACE = frozenset({
    "restart", "maxRetryCount", "memory", "memorySwap", "cpuShares", "cpuSet", "healthcheck", "mustRun", "wait",
    "waitTimeout", "destroyGraceSeconds", "removeVolumes", "start", "attach", "logs", "rm",
})  # fmt: skip
# ...of which these make the provider call `docker update`, sending all of them at once (its Update reads
# each from the new inputs, memory_swap only when set): a memory raised past the swap Docker kept (2 x the
# create-time memory) fails there, as on the real engine, unless memory_swap is sent too.
_UPDATE_KEYS = frozenset({"restart", "maxRetryCount", "cpuShares", "memory", "cpuSet", "memorySwap"})


def _swap(mib: Any) -> int:
    """memory_swap as the provider sends it: MiB, or -1 (unlimited) as is."""
    return int(mib) * MIB if int(mib) > 0 else int(mib)


def _update_body(new: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "RestartPolicy": {"Name": new.get("restart") or "no", "MaximumRetryCount": int(new.get("maxRetryCount") or 0)},
        "CpuShares": int(new.get("cpuShares") or 0),
        "Memory": int(new.get("memory") or 0) * MIB,
        "CpusetCpus": new.get("cpuSet") or "",
    }
    if new.get("memorySwap"):
        body["MemorySwap"] = _swap(new["memorySwap"])
    return body


class ContainerHandler(Handler):
    def __init__(self, client: DockerClient) -> None:
        self.client = client

    def update(
        self, rid: str, old: dict[str, Any], new: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        if not changed <= CONTAINER_IN_PLACE:
            return None
        if changed & _UPDATE_KEYS:
            self.client.request("POST", f"/containers/{rid}/update", _update_body(new))
        return dict(new)

    def read(self, rid: str) -> dict[str, Any] | None:
        """The provider's Read: what it writes into state from `docker inspect` (bluegreen.engine.readback)."""
        found = self.client.inspect(rid)
        return read_container(found) if found else None

    def create(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        hc = inputs.get("healthcheck")
        body: dict[str, Any] = {
            "Image": inputs["image"],
            "Env": inputs.get("envs", []),
            "Labels": {lab["label"]: lab["value"] for lab in inputs.get("labels", [])},
            "User": inputs.get("user", ""),
            "ExposedPorts": {f"{p['internal']}/tcp": {} for p in inputs.get("ports", [])},
            "StopSignal": inputs.get("stopSignal"),
            "StopTimeout": int(inputs.get("stopTimeout", 10)),
            "OpenStdin": bool(inputs.get("stdinOpen")),
            "HostConfig": {
                **({"Init": bool(inputs["init"])} if "init" in inputs else {}),
                "Memory": int(inputs.get("memory", 0)) * MIB,
                **({"MemorySwap": _swap(inputs["memorySwap"])} if inputs.get("memorySwap") else {}),
                "NanoCpus": int(float(inputs.get("cpus", "0")) * 1e9),
                "CpuShares": int(inputs.get("cpuShares", 0)),
                "RestartPolicy": {"Name": inputs.get("restart", "no")},
                "Sysctls": inputs.get("sysctls") or {},
                "CapDrop": (inputs.get("capabilities") or {}).get("drops") or [],
                "CapAdd": (inputs.get("capabilities") or {}).get("adds") or [],
                "SecurityOpt": inputs.get("securityOpts") or [],
                "ReadonlyRootfs": bool(inputs.get("readOnly")),
                "Tmpfs": inputs.get("tmpfs") or {},
                "LogConfig": {"Type": inputs.get("logDriver", "json-file"), "Config": inputs.get("logOpts", {})},
                "NetworkMode": inputs.get("networkMode") or "",
                "PortBindings": {
                    f"{p['internal']}/tcp": [{"HostIp": p.get("ip", ""), "HostPort": str(p["external"])}]
                    for p in inputs.get("ports", [])
                },
                "Mounts": [
                    {"Type": "volume", "Source": v["volumeName"], "Target": v["containerPath"]}
                    for v in inputs.get("volumes", [])
                ],
            },
            "NetworkingConfig": {
                "EndpointsConfig": {
                    n["name"]: {"Aliases": n.get("aliases", [])} for n in inputs.get("networksAdvanced", [])[:1]
                }
            },
        }
        if inputs.get("command"):
            body["Cmd"] = inputs["command"]
        if hc:
            body["Healthcheck"] = {
                "Test": hc["tests"],
                "Interval": _duration(hc.get("interval"), 30),
                "Timeout": _duration(hc.get("timeout"), 30),
                "StartPeriod": _duration(hc.get("startPeriod"), 0),
                "Retries": int(hc.get("retries", 3)),
            }
        _, data = self.client.request("POST", f"/containers/create?name={inputs['name']}", body)
        rid = json.loads(data)["Id"]
        # As the provider does: created on the first network, then connected to each other one before it starts.
        for extra in inputs.get("networksAdvanced", [])[1:]:
            connect = {"Container": rid, "EndpointConfig": {"Aliases": extra.get("aliases", [])}}
            self.client.request("POST", f"/networks/{extra['name']}/connect", connect)
        for upload in inputs.get("uploads", []):
            # As pulumi-docker does: one archive per file, named by its full path, extracted at "/".
            # Docker refuses that for a read-only root filesystem, as it does for the real provider.
            mode = int(upload.get("permissions", "0644"), 8)
            owner, group = int(upload.get("owner", 0)), int(upload.get("group", 0))
            archive = tar_files({upload["file"].lstrip("/"): upload["content"]}, owner, group, mode)
            self.client.put_archive(rid, "/", archive)
        self.client.request("POST", f"/containers/{rid}/start")
        if inputs.get("wait"):
            self._wait_healthy(rid, inputs["name"], float(inputs.get("waitTimeout", 60)))
        return rid, dict(inputs)

    def _wait_healthy(self, rid: str, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = (self.client.inspect(rid) or {}).get("State", {})
            if state.get("Health", {}).get("Status") == "healthy":
                return
            if not state.get("Running"):
                break
            time.sleep(0.1)
        raise EngineError(f"container {name} did not become healthy within {timeout:g}s")

    def delete(self, rid: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        grace = int(inputs.get("destroyGraceSeconds") or 0)
        if grace > 0:  # pulumi-docker stops first only with destroy_grace_seconds; otherwise rm -f kills it
            self.client.request("POST", f"/containers/{rid}/stop?t={grace}", allow=(304, 404))
        self.client.request("DELETE", f"/containers/{rid}?force=1", allow=(404,))


class RandomPasswordHandler(Handler):
    """random.RandomPassword: made once, kept in state; only new inputs make a new one."""

    def create(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        alphabet = string.ascii_letters + string.digits
        result = "".join(secrets.choice(alphabet) for _ in range(int(inputs["length"])))
        return f"{name}-{time.time_ns()}", {**inputs, "result": result}

    def delete(self, rid: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        pass


class CommandHandler(Handler):
    @staticmethod
    def run(script: str, inputs: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """As pulumi-command runs it: an update or a delete sees the last run's output in
        PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR."""
        env = {**os.environ, **(inputs.get("environment") or {})}
        for key in ("stdout", "stderr"):
            if previous and previous.get(key):
                env[f"PULUMI_COMMAND_{key.upper()}"] = str(previous[key])
        done = subprocess.run(
            ["/bin/sh", "-c", script], input=inputs.get("stdin"), capture_output=True, text=True,
            cwd=ROOT, env=env, timeout=600, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            # Like `pulumi up`, which shows the command's stderr: here its last 40 lines.
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            said = "\n".join(lines[-40:]) if lines else f"exit {done.returncode}, no output"
            raise EngineError(f"{said}\n  (command failed with exit {done.returncode}: {script})")
        return {**inputs, "stdout": done.stdout.strip(), "stderr": done.stderr.strip()}

    def create(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return f"{name}-{time.time_ns()}", self.run(inputs["create"], inputs)

    def update(
        self, rid: str, old: dict[str, Any], new: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        if old.get("triggers") != new.get("triggers"):
            return None  # as pulumi-command: a change of `triggers` replaces the resource (create, then delete)
        return self.run(new.get("update") or new["create"], new, previous)

    def delete(self, rid: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        if inputs.get("delete"):
            self.run(inputs["delete"], inputs, outputs)


# --- the engine -------------------------------------------------------------------------


def _service_spec(inputs: dict[str, Any]) -> dict[str, Any]:
    """A docker.Service's inputs as the Engine API's ServiceSpec (what the provider sends)."""
    task, container = inputs.get("taskSpec", {}), inputs.get("taskSpec", {}).get("containerSpec", {})
    hc, limits = container.get("healthcheck"), task.get("resources", {}).get("limits", {})
    restart, log = task.get("restartPolicy", {}), task.get("logDriver")

    def rollout(config: dict[str, Any]) -> dict[str, Any]:
        return {
            "Parallelism": int(config.get("parallelism", 1)), "Delay": _duration(config.get("delay"), 0),
            "FailureAction": config.get("failureAction", "pause"), "Monitor": _duration(config.get("monitor"), 5),
            "Order": config.get("order", "stop-first"),
        }  # fmt: skip

    spec: dict[str, Any] = {
        "Name": inputs["name"],
        "Labels": {lab["label"]: lab["value"] for lab in inputs.get("labels", [])},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": container["image"],
                "Env": [f"{k}={v}" for k, v in (container.get("env") or {}).items()],
                "Labels": {lab["label"]: lab["value"] for lab in container.get("labels", [])},
                "User": container.get("user", ""),
                "ReadOnly": bool(container.get("readOnly")),
                "CapabilityDrop": container.get("capDrops") or None,
                "CapabilityAdd": container.get("capAdds") or None,
                "Mounts": [
                    {"Type": m["type"], "Target": m["target"], "TmpfsOptions": {
                        "SizeBytes": int(m.get("tmpfsOptions", {}).get("sizeBytes", 0)),
                        "Mode": int(m.get("tmpfsOptions", {}).get("mode", 0o1777))}}
                    for m in container.get("mounts", [])
                ],
                "StopSignal": container.get("stopSignal"),
                "StopGracePeriod": _duration(container.get("stopGracePeriod"), 10),
                **({"Healthcheck": {
                    "Test": hc["tests"], "Interval": _duration(hc.get("interval"), 30),
                    "Timeout": _duration(hc.get("timeout"), 30), "StartPeriod": _duration(hc.get("startPeriod"), 0),
                    "Retries": int(hc.get("retries", 3))}} if hc else {}),
            },
            "Resources": {"Limits": {"MemoryBytes": int(limits.get("memoryBytes", 0)),
                                     "NanoCPUs": int(limits.get("nanoCpus", 0))}},
            "RestartPolicy": {"Condition": restart.get("condition", "any"), "Delay": _duration(restart.get("delay"), 5),
                              "Window": _duration(restart.get("window"), 0)},
            "Placement": {"Preferences": [
                {"Spread": {"SpreadDescriptor": pref.partition("=")[2]}}
                for pref in task.get("placement", {}).get("prefs", []) if pref.startswith("spread=")
            ]},
            "Networks": [{"Target": n.get("id") or n["name"]} for n in task.get("networksAdvanceds", [])],
            **({"LogDriver": {"Name": log["name"], "Options": log.get("options", {})}} if log else {}),
        },
        "Mode": {"Replicated": {"Replicas": int(inputs.get("mode", {}).get("replicated", {}).get("replicas", 1))}},
        "EndpointSpec": {"Mode": inputs.get("endpointSpec", {}).get("mode", "vip")},
        "UpdateConfig": rollout(inputs.get("updateConfig", {})),
        "RollbackConfig": rollout(inputs.get("rollbackConfig", {})),
    }  # fmt: skip
    return spec


class ServiceHandler(Handler):
    """docker.Service as pulumi-docker runs it: a new name replaces it, anything else updates it in place,
    and with converge_config the create or update waits until every task runs (healthy, with a healthcheck)."""

    def __init__(self, client: DockerClient) -> None:
        self.client = client

    def create(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, data = self.client.request("POST", "/services/create", _service_spec(inputs))
        rid = json.loads(data)["ID"]
        self._converge(rid, inputs)
        return rid, dict(inputs)

    def update(
        self, rid: str, old: dict[str, Any], new: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        if old.get("name") != new.get("name"):
            return None
        version = self.client.get_json(f"/services/{rid}")["Version"]["Index"]
        self.client.request("POST", f"/services/{rid}/update?version={version}", _service_spec(new))
        self._converge(rid, new)
        return dict(new)

    def _converge(self, rid: str, inputs: dict[str, Any]) -> None:
        converge = inputs.get("convergeConfig")
        if not converge:
            return
        timeout = _duration(converge.get("timeout"), 180) / 1e9
        replicas = int(inputs.get("mode", {}).get("replicated", {}).get("replicas", 1))
        deadline = time.monotonic() + timeout
        filters = urllib.parse.quote(json.dumps({"service": [rid], "desired-state": ["running"]}))
        while time.monotonic() < deadline:
            service = self.client.get_json(f"/services/{rid}") or {}
            updating = (service.get("UpdateStatus") or {}).get("State") in ("updating", "rollback_started")
            tasks = self.client.get_json(f"/tasks?filters={filters}") or []
            running = [t for t in tasks if t["Status"]["State"] == "running"]
            spec = service.get("Spec", {}).get("TaskTemplate", {}).get("ContainerSpec", {})
            current = [t for t in running if t["Spec"]["ContainerSpec"].get("Image") == spec.get("Image")]
            if not updating and len(running) == replicas and len(current) == replicas:
                return
            time.sleep(0.2)
        every = urllib.parse.quote(json.dumps({"service": [rid]}))
        seen = "; ".join(  # what a real `pulumi up` leaves to `docker service ps`: say it here
            f"{t['Status']['State']} on {t.get('NodeID', '?')[:12]} {t['Status'].get('Err', '')}".strip()
            for t in self.client.get_json(f"/tasks?filters={every}") or []
        )
        raise EngineError(f"service {inputs['name']} did not converge within {timeout:g}s (tasks: {seen})")

    def delete(self, rid: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        self.client.request("DELETE", f"/services/{rid}", allow=(404,))
        # Its tasks stop in the background; the network cannot go before their containers have.
        deadline = time.monotonic() + 60
        labels = urllib.parse.quote(json.dumps({"label": [f"com.docker.swarm.service.id={rid}"]}))
        while time.monotonic() < deadline and self.client.get_json(f"/containers/json?all=1&filters={labels}"):
            time.sleep(0.2)


class DockerEngineMocks(RecordingMocks):
    def __init__(self, state_path: Path, log: Callable[[str], None] = print) -> None:
        super().__init__()
        self.state_path = state_path
        self.log = log
        data: dict[str, Any] = (
            json.loads(state_path.read_text()) if state_path.exists() else {"seq": 0, "resources": {}}
        )
        self.seq: int = data["seq"]
        self.outputs: dict[str, Any] = data.get("outputs", {})
        self.resources_state: dict[str, dict[str, Any]] = data["resources"]
        self.seen: set[str] = set()
        # Replaced resources wait for the end of the update to be deleted; like the engine's
        # pending deletes, they are in the state file, so an update that fails first leaks none.
        self.doomed: list[dict[str, Any]] = data.get("pendingDeletes", [])
        self.lock = threading.Lock()
        client = DockerClient()
        self.handlers: dict[str, Handler] = {
            "docker:index/network:Network": NetworkHandler(),
            "docker:index/volume:Volume": VolumeHandler(),
            "docker:index/remoteImage:RemoteImage": ImageHandler(),
            "docker:index/container:Container": ContainerHandler(client),
            "docker:index/service:Service": ServiceHandler(client),
            "command:local:Command": CommandHandler(),
            "random:index/randomPassword:RandomPassword": RandomPasswordHandler(),
        }
        self.operations: list[str] = []

    def save(self, outputs: dict[str, Any] | None = None) -> None:
        """The state file; `outputs`: the stack's, at the end of an `up` (what a StackReference reads)."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        if outputs is not None:
            self.outputs = outputs
        state = {"seq": self.seq, "resources": self.resources_state, "pendingDeletes": self.doomed,
                 "outputs": self.outputs}  # fmt: skip
        self.state_path.write_text(json.dumps(state, indent=1))

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        super().new_resource(args)
        label = f"{args.typ}::{args.name}"  # what operations say; state is keyed by URN
        key = getattr(self.registering, "urn", "") or label
        inputs = _integral(copy.deepcopy(dict(args.inputs)))
        handler = self.handlers.get(args.typ)
        if args.typ == STACK_REFERENCE:  # the other stack's outputs, as its last `up` left them
            return f"{args.name}-id", stack_reference(args.name, stack_outputs(args.name))
        with self.lock:
            self.seen.add(key)
            if handler is None:  # components and providers: nothing to do on the daemon
                return f"{args.name}-id", inputs
            old = self.resources_state.get(key)
            if old is not None:  # ignore_changes: the engine keeps the old value of each named input (or path)
                for name in getattr(self.registering, "ignore_changes", []):
                    _keep(inputs, old["inputs"], name.split("."))
            # The real engine diffs against what the provider's Read wrote back, not against what was sent;
            # the bridged provider leaves an ignored path out of that diff.
            before = _as_read(old["inputs"], old.get("read")) if old is not None else None
            if before is not None:
                for name in getattr(self.registering, "ignore_changes", []):
                    _keep(before, inputs, name.split("."))
            if old is not None and before == inputs:
                return old["id"], old["outputs"]
            if old is not None and before is not None:
                outputs = handler.update(old["id"], before, inputs, old["outputs"])
                if outputs is not None:
                    self.operations.append(f"update {label}")
                    old.update(inputs=inputs, outputs=outputs, read=handler.read(old["id"]))
                    self.save()
                    return old["id"], outputs
                if getattr(self.registering, "delete_before_replace", False):
                    self._delete(old)
                else:
                    self.doomed.append(old)
            rid, outputs = handler.create(args.name, inputs)
            self.operations.append(f"{'replace' if old else 'create'} {label}")
            self.seq += 1
            self.resources_state[key] = {
                "key": key, "label": label, "type": args.typ, "id": rid, "inputs": inputs, "outputs": outputs,
                "seq": self.seq, "retain": bool(getattr(self.registering, "retain_on_delete", False)),
                "read": handler.read(rid),
            }  # fmt: skip
            self.save()
            return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "command:local:run":
            result = CommandHandler.run(args.args["command"], dict(args.args))
            return {"stdout": result["stdout"], "stderr": result["stderr"]}, []
        return {}, []

    def _delete(self, entry: dict[str, Any]) -> None:
        if entry.get("retain"):  # retain_on_delete: Pulumi forgets it, the daemon keeps it
            self.operations.append(f"retain {entry.get('label', entry['key'])}")
            return
        self.handlers[entry["type"]].delete(entry["id"], entry["inputs"], entry["outputs"])
        self.operations.append(f"delete {entry.get('label', entry['key'])}")

    def finish(self) -> None:
        """End of the update: replaced and dropped resources go, newest first."""
        dropped = [e for k, e in self.resources_state.items() if k not in self.seen]
        for entry in sorted(self.doomed + dropped, key=lambda e: -e["seq"]):
            self._delete(entry)
            if self.resources_state.get(entry["key"]) is entry:
                del self.resources_state[entry["key"]]
        self.doomed = []
        self.save()

    def destroy(self) -> None:
        self.seen = set()
        self.finish()
        self.state_path.unlink(missing_ok=True)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """key=value pairs; values are YAML (numbers, booleans, quoted strings)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise EngineError(f"override {pair!r}: expected key=value, e.g. activeColor=green")
        result[key] = yaml.safe_load(value)
    return result


def state_file(stack: str) -> Path:
    return STATE_DIR / f"{stack}.json"


def stack_outputs(reference: str) -> dict[str, Any]:
    """The outputs of the stack a reference names (`org/project/stack`: its last part), from its state file."""
    path = state_file(reference.rsplit("/", 1)[-1])
    outputs: dict[str, Any] = json.loads(path.read_text()).get("outputs", {}) if path.exists() else {}
    return outputs


def up(
    stack: str,
    overrides: dict[str, Any] | None = None,
    stand_in: bool = True,
    secret_keys: tuple[str, ...] = (),
    base: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Apply the program for `stack` (stack file + overrides); returns the outputs and the operations done.

    `secret_keys`: top-level keys set with `pulumi config set --secret` (e.g. "tls"). `base`: the shipped stack
    whose file a new stack starts from (several apps on one host: `up("shop", base="dev")`).
    """
    raw = with_changes(stack_raw(base or stack), {**(STAND_IN if stand_in else {}), **(overrides or {})})
    mocks = DockerEngineMocks(state_file(stack))
    run = run_program(raw, stack=stack, mocks=mocks, secret_keys=secret_keys)
    mocks.finish()
    mocks.save(run.outputs)
    return run.outputs, mocks.operations


class Steps:
    """A stack's config across several `up`s, changed step by step as a user edits the stack file."""

    def __init__(self, stack: str, config: dict[str, Any]) -> None:
        self.stack, self.config = stack, dict(config)

    def __call__(self, changes: dict[str, Any]) -> list[str]:
        """Apply `changes` on top of every earlier step; the operations the engine did (timed on stdout)."""
        self.config.update(changes)
        started = time.monotonic()
        _, operations = up(self.stack, self.config)
        print(f"{changes}: {time.monotonic() - started:.1f}s, {operations}")
        return operations


def destroy(stack: str) -> list[str]:
    mocks = DockerEngineMocks(state_file(stack))
    mocks.destroy()
    return mocks.operations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    up_parser = sub.add_parser("up", help="apply the program to the real engine")
    up_parser.add_argument("stack")
    up_parser.add_argument("overrides", nargs="*", metavar="key=value")
    up_parser.add_argument("--no-stand-in", action="store_true", help="keep the stack file's base and router images")
    destroy_parser = sub.add_parser("destroy", help="remove everything the engine created for the stack")
    destroy_parser.add_argument("stack")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            outputs, operations = up(args.stack, parse_overrides(args.overrides), stand_in=not args.no_stand_in)
            for line in operations:
                print(line, file=sys.stderr)
            print(json.dumps(outputs, sort_keys=True))
        else:
            for line in destroy(args.stack):
                print(line, file=sys.stderr)
    except (EngineError, DockerError, pulumi.RunError) as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
