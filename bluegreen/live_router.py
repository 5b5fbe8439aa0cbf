"""A running router, reached only through the Docker API.

Everything here works the same against a remote DOCKER_HOST: files go in with
the archive API, commands run with exec, the reload is a SIGHUP to nginx (PID 1).
HTTP from inside the router (status, health probes) uses whichever client the
image has: curl, busybox wget, or bash's /dev/tcp, so the upstream
nginx-unprivileged image and the Debian stand-in both work unchanged.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluegreen.conventions import DEPLOYMENT_LABEL, ROLE_LABEL
from bluegreen.docker_api import DockerClient, tar_files
from bluegreen.errors import BluegreenError
from bluegreen.routing import ROUTING_DIR, STATUS_PATH, STATUS_PORT

LIVE_PLAN = "plan.json"
PROGRAM_PLAN = "program-plan.json"

_FETCH_FN = r"""
fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -i --max-time 2 "http://$1:$2$3"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -S -O - -T 2 "http://$1:$2$3" 2>&1
  else
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" &&
      printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$0" >&3 &&
      cat <&3' "$1" "$2" "$3"
  fi
}
"""

_FETCH_LOOP = r"""
while [ "$#" -ge 3 ]; do
  printf '\n@@bluegreen %s:%s%s\n' "$1" "$2" "$3"
  fetch "$1" "$2" "$3" || true
  shift 3
done
"""
_FETCH = _FETCH_FN + _FETCH_LOOP

# Runs as the router's own user: swap the staged files in, test, reload; on a
# refused config put the previous files back and print nginx's complaint.
_APPLY = """
cd "$1" || exit 10
mode=$2
expect=$3
tries=$4
shift 4
for f in "$@"; do
  rm -f ".prev.$f" ".prev.$f.none"
  if [ -e "$f" ]; then cp -p "$f" ".prev.$f"; else : > ".prev.$f.none"; fi
done
for f in "$@"; do if [ -e ".pending.$f" ]; then mv -f ".pending.$f" "$f"; fi; done
[ "$mode" = reload ] || exit 0
if out=$(nginx -t -q 2>&1); then
  if out=$(nginx -s reload 2>&1); then
    # Verify from inside: the loaded config reports its own hash (50 ms steps, $tries of them).
    i=0
    while [ "$i" -lt "$tries" ]; do
      case "$(fetch 127.0.0.1 "$STATUS_PORT" "$STATUS_PATH" 2>/dev/null)" in
        *"\\"configHash\\":\\"$expect\\""*) exit 0 ;;
      esac
      sleep 0.05
      i=$((i + 1))
    done
    exit 5
  fi
  code=4
else
  code=3
fi
for f in "$@"; do
  if [ -e ".prev.$f" ]; then mv -f ".prev.$f" "$f";
  elif [ -e ".prev.$f.none" ]; then rm -f "$f" ".prev.$f.none"; fi
done
printf '%s\\n' "$out"
exit $code
"""

_RESTORE = """
cd "$1" || exit 10
shift
for f in "$@"; do
  if [ -e ".prev.$f" ]; then mv -f ".prev.$f" "$f";
  elif [ -e ".prev.$f.none" ]; then rm -f "$f" ".prev.$f.none"; fi
done
nginx -s reload
"""

_SNAPSHOT = """
printf '@@bluegreen:status\\n'; fetch 127.0.0.1 "$1" "$2" || true
printf '\\n@@bluegreen:live\\n'; cat "$3/plan.json" 2>/dev/null || true
printf '\\n@@bluegreen:program\\n'; cat "$3/program-plan.json" 2>/dev/null || true
printf '\\n@@bluegreen-probes\\n'
"""

# "dow[n]": the pattern must not match this script's own command line.
_OLD_WORKERS = (
    "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\000' '\\n'"
    " | grep -c '^nginx: worker process is shutting dow[n]' || true"
)

_STATUS_LINE = re.compile(r"HTTP/\d(?:\.\d)? (\d{3})")


class RouterError(BluegreenError):
    """The router cannot be found or did not do what was asked; the message says what."""


class ConfigRefusedError(RouterError):
    """`nginx -t` refused the new routing; the previous files are back in place."""


class NotLiveError(RouterError):
    """nginx took the reload signal but never served the new config; files are still the new ones."""


@dataclass(frozen=True)
class Snapshot:
    status: dict[str, Any]
    live_record: dict[str, Any] | None
    program_record: dict[str, Any] | None
    unreadable: list[str] = field(default_factory=list)


def _json(text: str, what: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:
        raise RouterError(f"{what} is not JSON: {text[:120]!r}") from None
    return data


def _record(text: str, name: str, unreadable: list[str]) -> dict[str, Any] | None:
    """A plan record, or None when there is none; a record that is not JSON is noted in `unreadable`."""
    text = text.strip()
    if not text:
        return None
    try:
        data: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        unreadable.append(f"{ROUTING_DIR}/{name} is not JSON ({exc.msg} at line {exc.lineno})")
        return None
    return data


@dataclass(frozen=True)
class HttpResult:
    status: int | None  # None: no HTTP answer at all
    body: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == 200


def _parse_response(raw: str) -> HttpResult:
    match = _STATUS_LINE.search(raw)
    if match is None:
        detail = raw.strip().splitlines()[-1] if raw.strip() else "no answer"
        return HttpResult(None, "", detail[:200])
    status = int(match.group(1))
    body = raw.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in raw else ""
    if not body.strip():
        # busybox wget prints headers on stderr and the body on stdout: take the JSON line.
        lines = [line for line in raw.splitlines() if line.startswith("{")]
        body = lines[-1] if lines else ""
    return HttpResult(status, body.strip(), f"HTTP {status}")


class LiveRouter:
    def __init__(self, client: DockerClient, container: str, info: dict[str, Any] | None = None) -> None:
        self.client = client
        self.container = container
        self._info = info

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.client.inspect(self.container)
            if self._info is None:
                raise RouterError(f"router {self.container} disappeared")
        return self._info

    @classmethod
    def find(cls, client: DockerClient, deployment: str) -> LiveRouter:
        found = client.containers({DEPLOYMENT_LABEL: deployment, ROLE_LABEL: "router"})
        running = [c for c in found if c.get("State") == "running"]
        if not running:
            state = f" ({found[0]['Names'][0].lstrip('/')} is {found[0].get('State')})" if found else ""
            raise RouterError(
                f"no running router for {deployment}{state}: "
                f"expected a container labelled {DEPLOYMENT_LABEL}={deployment}, {ROLE_LABEL}=router"
            )
        if len(running) > 1:
            names = ", ".join(c["Names"][0].lstrip("/") for c in running)
            raise RouterError(f"more than one router for {deployment}: {names}")
        return cls(client, running[0]["Names"][0].lstrip("/"))

    def networks(self) -> set[str]:
        return set(self.info["NetworkSettings"]["Networks"])

    def _exec(self, cmd: Sequence[str], user: str | None = None, what: str = "") -> str:
        result = self.client.exec(self.container, cmd, user=user, timeout=30)
        if result.exit_code != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise RouterError(
                f"{what or shlex.join(cmd)} failed in {self.container}: {message[-1] if message else result.exit_code}"
            )
        return result.stdout

    def fetch(self, targets: Sequence[tuple[str, int, str]]) -> list[HttpResult]:
        """GET each (host, port, path) from inside the router, in one exec."""
        args = [str(part) for target in targets for part in target]
        out = self.client.exec(self.container, ["sh", "-c", _FETCH, "sh", *args], timeout=30).stdout
        return self._parse_probes(out, len(targets))

    def _parse_probes(self, out: str, expected: int) -> list[HttpResult]:
        sections = out.split("\n@@bluegreen ")[1:]
        results = [_parse_response(s.split("\n", 1)[1] if "\n" in s else "") for s in sections]
        if len(results) != expected:
            raise RouterError(f"probe in {self.container} returned {len(results)} answers for {expected} targets")
        return results

    def fetch_with_snapshot(self, targets: Sequence[tuple[str, int, str]]) -> tuple[list[HttpResult], Snapshot]:
        """Probe `targets` and take the snapshot in one exec (the switch's first gate round)."""
        args = [str(part) for target in targets for part in target]
        script = _FETCH_FN + _SNAPSHOT + "shift 3\n" + _FETCH_LOOP
        out = self.client.exec(
            self.container,
            ["sh", "-c", script, "sh", str(STATUS_PORT), STATUS_PATH, ROUTING_DIR, *args],
            timeout=30,
        ).stdout
        head, _, probes = out.partition("\n@@bluegreen-probes\n")
        return self._parse_probes(probes, len(targets)), self._parse_snapshot(head)

    def snapshot(self) -> Snapshot:
        """Loaded config status and both plan records, in one exec."""
        out = self.client.exec(
            self.container,
            ["sh", "-c", _FETCH_FN + _SNAPSHOT, "sh", str(STATUS_PORT), STATUS_PATH, ROUTING_DIR],
            timeout=30,
        ).stdout
        return self._parse_snapshot(out)

    def _parse_snapshot(self, out: str) -> Snapshot:
        out = out.partition("\n@@bluegreen-probes\n")[0]
        parts: dict[str, str] = {}
        for section in out.split("@@bluegreen:")[1:]:
            name, _, body = section.partition("\n")
            parts[name.strip()] = body
        result = _parse_response(parts.get("status", ""))
        if not result.ok:
            raise RouterError(f"router {self.container} status: {result.detail}")
        unreadable: list[str] = []
        live = _record(parts.get("live", ""), LIVE_PLAN, unreadable)
        program = _record(parts.get("program", ""), PROGRAM_PLAN, unreadable)
        return Snapshot(_json(result.body, f"router {self.container} status"), live, program, unreadable)

    def user(self) -> str:
        """uid:gid the router runs as: owner of the routing files it must be able to replace."""
        user = str(self.info["Config"].get("User") or "0")
        if all(part.isdigit() for part in user.split(":")):
            return user if ":" in user else f"{user}:{user}"
        ids = self._exec(["sh", "-c", "echo $(id -u):$(id -g)"], what="reading the router's uid")
        return ids.strip()

    def apply(
        self, files: Mapping[str, str], owner: str, expect_hash: str | None = None, verify_seconds: float = 10.0
    ) -> None:
        """Stage files, then swap, `nginx -t`, reload and verify in one exec as the router's own user.

        With expect_hash, the exec returns only once the status listener reports
        that config hash (or raises NotLiveError); without it the files are only
        swapped in (records nginx does not read).

        The archive also carries the routing directory itself, owned by the router's
        user: a fresh volume is root-owned, and this way no step needs root.
        """
        uid, gid = (int(x) for x in owner.split(":"))
        archive = tar_files({f".pending.{n}": t for n, t in files.items()}, uid, gid, directory=ROUTING_DIR)
        self.client.put_archive(self.container, ROUTING_DIR.rsplit("/", 1)[0], archive)
        mode = "reload" if expect_hash else "keep"
        env = f"STATUS_PORT={STATUS_PORT}; STATUS_PATH={STATUS_PATH}\n"
        script = _FETCH_FN + env + _APPLY
        tries = str(max(1, round(verify_seconds / 0.05)))
        args = ["sh", "-c", script, "sh", ROUTING_DIR, mode, expect_hash or "-", tries, *files]
        result = self.client.exec(self.container, args, timeout=30)
        if result.exit_code == 0:
            return
        lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        detail = next((line for line in lines if "emerg" in line or "error" in line), lines[0] if lines else "")
        if result.exit_code == 3:
            raise ConfigRefusedError(detail or "nginx -t failed")
        if result.exit_code == 5:
            raise NotLiveError(f"router {self.container} did not load config {expect_hash} within {verify_seconds:g}s")
        raise RouterError(f"applying routing in {self.container} failed (exit {result.exit_code}): {detail}")

    def restore(self, names: Sequence[str]) -> None:
        """Put the previous files back and reload (after a reload that never took effect)."""
        self._exec(["sh", "-c", _RESTORE, "sh", ROUTING_DIR, *names], what="restoring routing files")

    def old_workers(self) -> int:
        out = self._exec(["sh", "-c", _OLD_WORKERS], what="counting old workers")
        return int(out.strip() or 0)
