"""Container values as pulumi-docker reads them back from Docker: the program sends exactly those.

The bridged provider (kreuzwerker's terraform-provider-docker inside
pulumi-docker 5.x) diffs a program's inputs against the state its Read wrote
from `docker inspect`, not against the inputs it was given. A value Docker
stores in another spelling is a diff on every `pulumi up`, and `cpus`,
`healthcheck` and `log_opts` force a replacement:

- `cpus` is read back through `nanoInt64ToDecimalString`: 1.0 CPUs reads as
  "1.0" (the program used to send "1"), 0.05 as "0.1" (no spelling is stable);
- healthcheck durations through Go's `time.Duration.String`: 60 s reads as
  "1m0s";
- `log_opts` come back merged with the daemon's default log options
  (daemon.json `log-opts`) when the container's driver is the daemon's
  default (moby's mergeAndVerifyLogConfig). `docker info` does not show
  those options, so no program can send them: every container ignores
  changes to `logOpts` (`DAEMON_MERGED`), whose value is a constant of
  bluegreen that every container gets when it is created;
- `memory_swap` is 2 x `memory` when none is sent, and the provider's update
  sends none, so raising memory past twice its create-time value fails: the
  program sends it, equal to memory (no swap).

`read_container` is that Read, from an inspect document: the test engine
(lab/engine.py) stores what it returns and diffs against it, as the real
engine does, and a unit test checks every shipped stack under mocks with it.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

MIB = 1024 * 1024
# Inputs Docker stores merged with daemon defaults: every container's ignore_changes.
DAEMON_MERGED = ["logOpts"]
NANO = 1_000_000_000


def cpus(value: float) -> str:
    """`nanoInt64ToDecimalString(value x 1e9)`: what Read writes for `cpus`, character for character."""
    nano = round(value * NANO)
    if nano == 0:
        return "0"
    rat = Fraction(nano, NANO)
    nine = _float_string(rat, 9)
    if nine.count("0") == 9:  # Go: a "round" value is printed with one decimal, rounded there
        return _float_string(rat, 1)
    return nine.rstrip("0")


def cpus_round_trip(value: float) -> bool:
    """Whether `value` reads back as itself: 0.05 reads back as "0.1", and would replace its container on
    every `pulumi up`."""
    return Fraction(cpus(value)) == Fraction(round(value * NANO), NANO)


def _float_string(rat: Fraction, digits: int) -> str:
    """Go's `big.Rat.FloatString`: `digits` decimals, the last rounded half away from zero."""
    scaled = abs(rat) * 10**digits
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    sign = "-" if rat < 0 else ""
    text = str(whole).rjust(digits + 1, "0")
    return f"{sign}{text[:-digits]}.{text[-digits:]}" if digits else f"{sign}{text}"


def duration(seconds: float) -> str:
    """Go's `time.Duration.String` of `seconds`: "1s", "500ms", "1m0s", "1h0m0s", "1.5s"."""
    ns = round(seconds * NANO)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_decimal(ns, 1_000)}µs"
    if ns < NANO:
        return f"{sign}{_decimal(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3600 * NANO)
    minutes, rest = divmod(rest, 60 * NANO)
    text = f"{hours}h" if hours else ""
    text += f"{minutes}m" if hours or minutes else ""
    return f"{sign}{text}{_decimal(rest, NANO)}s"


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT_NS = {"h": 3600 * NANO, "m": 60 * NANO, "s": NANO, "ms": 1_000_000, "us": 1_000, "µs": 1_000, "ns": 1}


def parse_duration(text: str) -> float:
    """Seconds of a Go duration ("1m0s", "500ms", "30s"); a bare number is seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(n) * _UNIT_NS[u] for n, u in parts) / NANO


def limits(memory_mb: int, cpu_count: float) -> dict[str, Any]:
    """A container's memory and CPU inputs, spelled as Read writes them back, swap pinned to memory."""
    return {"memory": memory_mb, "memory_swap": memory_mb, "cpus": cpus(cpu_count)}


def read_container(inspect: dict[str, Any]) -> dict[str, Any]:
    """What the provider's Read writes into state for the inputs this project sends, from `docker inspect`
    (pulumi-docker's names). Environment and labels are not read back (the provider keeps the inputs)."""
    host, config = inspect.get("HostConfig") or {}, inspect.get("Config") or {}
    swap = int(host.get("MemorySwap") or 0)
    state: dict[str, Any] = {
        "memory": int(host.get("Memory") or 0) // MIB,
        "memorySwap": swap // MIB if swap > 0 else swap,
        "cpus": cpus(int(host.get("NanoCpus") or 0) / NANO),
        "cpuShares": int(host.get("CpuShares") or 0),
        "logDriver": (host.get("LogConfig") or {}).get("Type", ""),
        "logOpts": dict((host.get("LogConfig") or {}).get("Config") or {}),
        "networkMode": host.get("NetworkMode", ""),
        "readOnly": bool(host.get("ReadonlyRootfs")),
        "restart": (host.get("RestartPolicy") or {}).get("Name", ""),
        "user": config.get("User", ""),
        "sysctls": dict(host.get("Sysctls") or {}),
        "tmpfs": dict(host.get("Tmpfs") or {}),
        "init": bool(host.get("Init")),  # null (the daemon's default) reads back as false
        "stdinOpen": bool(config.get("OpenStdin")),
    }
    check = config.get("Healthcheck")
    if check:
        state["healthcheck"] = {
            "tests": list(check.get("Test") or []),
            "interval": duration(int(check.get("Interval") or 0) / NANO),
            "timeout": duration(int(check.get("Timeout") or 0) / NANO),
            "startPeriod": duration(int(check.get("StartPeriod") or 0) / NANO),
            "retries": int(check.get("Retries") or 0),
        }
    return state


def inspect_of(inputs: dict[str, Any], daemon_log: tuple[str, dict[str, str]] = ("json-file", {})) -> dict[str, Any]:
    """What Docker stores for a container created from pulumi-docker `inputs` (the fields read_container
    reads): the daemon's side of a create, for checking a program under mocks without a daemon.

    `daemon_log`: the daemon's default log driver and options, merged in under the container's own when the
    drivers match, as the daemon does."""
    memory = int(inputs.get("memory") or 0) * MIB
    swap = inputs.get("memorySwap")
    check = inputs.get("healthcheck")
    log_type = inputs.get("logDriver", "json-file")
    log_opts = {**(daemon_log[1] if log_type == daemon_log[0] else {}), **(inputs.get("logOpts") or {})}
    inspect: dict[str, Any] = {
        "HostConfig": {
            "Memory": memory,
            # Docker's default: swap as large as memory again (2 x memory in all); -1 stays -1.
            "MemorySwap": (int(swap) * MIB if int(swap) > 0 else int(swap)) if swap is not None else 2 * memory,
            "NanoCpus": round(float(inputs.get("cpus") or 0) * NANO),
            "CpuShares": int(inputs.get("cpuShares") or 0),
            "LogConfig": {"Type": log_type, "Config": log_opts},
            "NetworkMode": inputs.get("networkMode") or "",
            "ReadonlyRootfs": bool(inputs.get("readOnly")),
            "RestartPolicy": {"Name": inputs.get("restart", "no")},
            "Sysctls": dict(inputs.get("sysctls") or {}),
            "Tmpfs": dict(inputs.get("tmpfs") or {}),
            "Init": inputs.get("init"),
        },
        "Config": {"User": inputs.get("user", ""), "OpenStdin": bool(inputs.get("stdinOpen"))},
    }
    if check:
        inspect["Config"]["Healthcheck"] = {
            "Test": list(check.get("tests") or []),
            "Interval": round(parse_duration(check.get("interval") or "0s") * NANO),
            "Timeout": round(parse_duration(check.get("timeout") or "0s") * NANO),
            "StartPeriod": round(parse_duration(check.get("startPeriod") or "0s") * NANO),
            "Retries": int(check.get("retries") or 0),
        }
    return inspect


def read_back_differs(inputs: dict[str, Any], state: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Inputs whose value differs from what Read wrote (`state`): what the real engine would plan to change.

    Only the keys the program sends count (the provider does not diff an input nobody set); within a
    healthcheck, each field the program sets."""
    found: dict[str, tuple[Any, Any]] = {}
    for key, sent in inputs.items():
        if key not in state:
            continue
        read = state[key]
        if key == "healthcheck" and isinstance(sent, dict) and isinstance(read, dict):
            for field, value in sent.items():
                if field in read and _norm(value) != _norm(read[field]):
                    found[f"healthcheck.{field}"] = (value, read[field])
        elif _norm(sent) != _norm(read):
            found[key] = (sent, read)
    return found


def _norm(value: Any) -> Any:
    """Numbers compare as numbers (the mock monitor sends every number as a float)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value
