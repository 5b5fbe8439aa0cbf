"""A running router, reached only through the Docker API: the real RouterPort.

Everything here works the same against a remote DOCKER_HOST: files go in with
the archive API, the scripts in bluegreen/router/sh/ run as the router's own
user, through its control channel (bluegreen.router.channel: no process started
per call) or in an exec. HTTP from inside the router (status, health probes) uses whichever
client the image has: curl, busybox wget, or bash's /dev/tcp, so the upstream
nginx-unprivileged image and the Debian stand-in both work unchanged.

The routing directory holds generations (g<ns>/: config, state, records);
`current` and `previous` are symlinks to two of them, and the files nginx.conf
includes point into `current` (docs/routing.md, "How a switch publishes").
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ipaddress
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from bluegreen.colors import Color
from bluegreen.engine.client import DockerClient, tar_files
from bluegreen.engine.names import DEPLOYMENT_LABEL, EDGE_NETWORK_SUFFIX, ROLE_LABEL, ROLE_ROUTER
from bluegreen.engine.targets import serving_addresses
from bluegreen.errors import (
    DockerError,
    LockLostError,
    RouterError,
)
from bluegreen.release.metrics import FLUSH_LAG_SECONDS, ColorMetrics, Sample, parse_log, summarize
from bluegreen.router.channel import ControlLink
from bluegreen.router.files import network_owner
from bluegreen.router.layout import (
    ACME_ACCOUNT,
    ACME_CHALLENGES,
    CERTIFICATE_FILE,
    KEY_FILE,
    ROLLOUT_COMMAND,
    ROLLOUT_PROGRESS,
    ROUTING_DIR,
    STATUS_PATH,
    STATUS_PORT,
    TLS_DIR,
)
from bluegreen.router.readout import parse_begun, parse_probes
from bluegreen.router.scripts import (
    CHANNEL_SCRIPTS,
    ScriptExit,
    expect_args,
    file_args,
    inline,
    outcome_unknown,
    publish_error,
    script,
    unwritable,
)
from bluegreen.router.seam import (
    Begun,
    HttpResult,
    Lock,
    Publication,
    Snapshot,
    Target,
    holder_text,
    snapshot_of,
)
from bluegreen.router.seed import seed_routing_volume

T = TypeVar("T")


class LiveRouter:
    def __init__(self, client: DockerClient, container: str, info: dict[str, Any] | None = None) -> None:
        self.client = client
        self.container = container
        self._info = info
        self._net_info: dict[str, Any] | None = None
        # Used once it answers as the router would: its status listener, from where the loop runs.
        self._control = ControlLink(client, lambda: self.info, (script("health"), [str(STATUS_PORT), STATUS_PATH]))

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.client.inspect(self.container)
            if self._info is None:
                raise RouterError(f"router {self.container} disappeared")
        return self._info

    @classmethod
    def find(cls, client: DockerClient, deployment: str) -> LiveRouter:
        found = client.containers({DEPLOYMENT_LABEL: deployment, ROLE_LABEL: ROLE_ROUTER})
        running = [c for c in found if c.get("State") == "running"]
        if not running:
            state = f" ({found[0]['Names'][0].lstrip('/')} is {found[0].get('State')})" if found else ""
            hint = ""
            if found and found[0].get("State") == "exited":
                why = ((client.inspect(found[0]["Id"]) or {}).get("State") or {}).get("Error") or ""
                hint = f"; {why}" if why else ""
                hint += "; `bluegreen router restart --stack STACK` starts it (docs/reliability.md)"
            raise RouterError(
                f"no running router for {deployment} at {client.host}{state}{hint}: "
                f"expected a container labelled {DEPLOYMENT_LABEL}={deployment}, {ROLE_LABEL}={ROLE_ROUTER}"
            )
        if len(running) > 1:
            names = ", ".join(c["Names"][0].lstrip("/") for c in running)
            raise RouterError(f"more than one router for {deployment}: {names}")
        return cls(client, running[0]["Names"][0].lstrip("/"))

    @property
    def net_info(self) -> dict[str, Any]:
        """The container that owns the router's network namespace and host ports: its net container
        (`network_mode: container:<id>`), or the router itself when it was made before hand-overs."""
        owner = network_owner(self.info)
        if owner is None:
            return self.info
        if self._net_info is None:  # read once, like `info`: a switch asks for networks and subnets
            self._net_info = self.client.inspect(owner)
            if self._net_info is None:
                raise RouterError(f"router {self.container}: the container that owns its network ({owner}) is gone")
        return self._net_info

    def networks(self) -> set[str]:
        return set(self.net_info["NetworkSettings"]["Networks"])

    def serving(self) -> set[str]:
        """What Docker says serves on the router's networks now (bluegreen.engine.targets.serving_addresses)."""
        return serving_addresses(self.client, self.networks())

    def subnets(self) -> list[tuple[str, str]]:
        """(network, gateway) of each network the router is on: its containers may not reach the preview."""
        found = []
        for net in self.net_info["NetworkSettings"]["Networks"].values():
            if net.get("IPAddress") and net.get("IPPrefixLen"):
                network = ipaddress.ip_interface(f"{net['IPAddress']}/{net['IPPrefixLen']}").network
                found.append((str(network), str(net.get("Gateway") or "")))
        return found

    def edge_subnets(self) -> list[str]:
        """The networks of shared routers this router is joined to (router.join): whose X-Forwarded-For it believes."""
        nets = self.net_info["NetworkSettings"]["Networks"].items()
        return [str(ipaddress.ip_interface(f"{n['IPAddress']}/{n['IPPrefixLen']}").network)
                for name, n in nets if name.endswith(EDGE_NETWORK_SUFFIX) and n.get("IPAddress")]  # fmt: skip

    def run(self, name: str, args: Sequence[str]) -> tuple[int, str]:
        """Run sh/<name>.sh as the router's user: exit code, and its output (with stderr when it failed)."""
        return self._run(name, args)

    def _run(self, name: str, args: Sequence[str], reloads: bool = False) -> tuple[int, str]:
        """Through the router's control channel when the script may run there (no reload), else an exec."""
        result = self._control.run(script(name), args) if name in CHANNEL_SCRIPTS and not reloads else None
        if result is None:
            result = self.client.exec(self.container, ["sh", "-c", script(name), "sh", *args], timeout=30)
        return result.exit_code, result.stdout + (result.stderr if result.exit_code else "")

    def fetch(self, targets: Sequence[Target]) -> list[HttpResult]:
        """GET each (host, port, path) from inside the router, at once, in one exec."""
        _, out = self._run("probe", [str(len(targets)), *(str(part) for target in targets for part in target)])
        return parse_probes(self.container, out, len(targets))

    def fetch_and_publish(
        self, targets: Sequence[Target], publication: Publication, lock: Lock
    ) -> tuple[list[HttpResult], bool]:
        """`fetch`, and publish `publication` in the same exec when every answer is 200 and the lock is still
        ours (sh/probe.sh; bluegreen.release.express): the answers, and whether it was published."""
        if not inline(publication):
            return self.fetch(targets), False
        args = [str(len(targets)), *(str(part) for target in targets for part in target), ROUTING_DIR, lock.token,
                str(STATUS_PORT), STATUS_PATH, publication.generation, "1" if publication.reload else "0",
                *expect_args(publication), *file_args(publication)]  # fmt: skip
        try:
            code, out = self._run("probe", args, publication.reload)
        except DockerError as exc:
            raise outcome_unknown(exc, publication) from exc
        out, marked, expressed = out.partition("\n@@bluegreen-express\n")
        answers = functools.partial(parse_probes, self.container, out, len(targets))
        return (self._published(publication, expressed, code, answers), True) if marked else (answers(), False)

    def begin(
        self,
        lock: Lock | None,
        targets: Sequence[Target] = (),
        armed: Collection[str] = (),
        express: Publication | None = None,
    ) -> Begun:
        """Take the lock (when given), read the snapshot and probe `targets`: one exec.

        Once the lock is taken, the live generation's armed targets (ARMED_PROBES) at one of the `armed`
        addresses are probed too. A held lock returns its holder and, when it can be read, what was live
        meanwhile (no probes). `express`: a generation sh/begin.sh publishes in the same exec when the first
        round decides it (bluegreen.release.express); from then on the outcome is that of a publish.
        """
        args = [ROUTING_DIR, str(STATUS_PORT), STATUS_PATH]
        args += [lock.token, str(lock.ttl_seconds), lock.owner] if lock else ["-", "0", "-"]
        args += [f",{','.join(sorted(armed))}," if armed else "-", str(len(targets))]
        args += [str(part) for target in targets for part in target]
        express = express if lock is not None and express is not None and inline(express) else None
        args += [express.generation, *expect_args(express), *file_args(express)] if express else []
        try:
            code, out = self._run("begin", args)
            if code == ScriptExit.NOT_WRITABLE:
                self._own_routing_dir()
                code, out = self._run("begin", args)
        except DockerError as exc:
            if express is None:
                raise
            raise outcome_unknown(exc, express) from exc
        out, marked, expressed = out.partition("\n@@bluegreen-express\n")
        if express is not None and marked:  # from here on, the outcome is that of a publish
            begun = functools.partial(parse_begun, self.container, True, len(targets), out, lambda: None)
            return self._published(express, expressed, code, lambda: dataclasses.replace(begun(), published=True))
        if code != 0:
            raise RouterError(f"reading the router {self.container} failed (exit {code}): {_last_line(out)}")
        give_back = functools.partial(self.release, lock) if lock is not None else lambda: None
        return parse_begun(self.container, lock is not None, len(targets), out, give_back)

    def _published(self, publication: Publication, expressed: str, code: int, read: Callable[[], T]) -> T:
        """How a round's exec that began to publish ended: what it read (`read`) once live; what a publish raises
        otherwise. From here nothing it printed is a reason to think the routing unchanged."""
        said, _, ended = expressed.rpartition("\n@@bluegreen-expressed ")
        if code != 0 or not ended.strip().isdigit():
            raise outcome_unknown(RouterError(f"the exec ended while publishing (exit {code})"), publication)
        if int(ended) != ScriptExit.OK:  # the script released the lock; the previous routing is live
            raise publish_error(int(ended), said, self.container, publication)
        try:
            return read()
        except RouterError as exc:
            raise outcome_unknown(exc, publication) from exc

    def snapshot(self) -> Snapshot:
        """Loaded status and both plan records, in one exec, without the lock; and who holds it, if anyone."""
        begun = self.begin(None)
        held = holder_text(begun.holder) if begun.holder else None
        return dataclasses.replace(snapshot_of(begun, self.container), lock_holder=held)

    def _own_routing_dir(self) -> None:
        """Hand a fresh, root-owned routing volume to the router's user (no step of a switch needs root)."""
        volumes = [m.get("Name") for m in self.info.get("Mounts") or [] if m.get("Destination") == ROUTING_DIR]
        if not volumes or not volumes[0]:
            raise RouterError(f"router {self.container} has no routing volume at {ROUTING_DIR}")
        seed_routing_volume(self.client, str(self.info["Image"]), str(volumes[0]), self.user(), {})

    def _upload(self, files: Mapping[str, str]) -> None:
        """Files into the routing directory (a volume, so a read-only router takes them), owned by its user."""
        uid, gid = (int(x) for x in self.user().split(":"))
        self.client.put_archive(self.container, ROUTING_DIR, tar_files(files, uid, gid))

    def user(self) -> str:
        """uid:gid the router runs as: owner of the routing files it must be able to replace."""
        user = str(self.info["Config"].get("User") or "0")
        if all(part.isdigit() for part in user.split(":")):
            return user if ":" in user else f"{user}:{user}"
        result = self.client.exec(self.container, ["sh", "-c", "echo $(id -u):$(id -g)"], timeout=30)
        if result.exit_code != 0:
            raise RouterError(f"reading the router's uid failed in {self.container}: {_last_line(result.stderr)}")
        return result.stdout.strip()

    def publish(self, publication: Publication, lock: Lock) -> None:
        """Write the generation, check and publish it, in one exec as the router's own user.

        The files travel as the exec's arguments (one round trip fewer than an
        upload first); one too large for an argument goes in with the archive
        API first. Returns once the status listener reports the new config and
        plan hash. ConfigRefusedError and LockLostError: nothing was published.
        NotLiveError: the previous generation is back. A transport error from the
        publishing exec leaves the outcome unknown; the caller says so.
        """
        gen = publication.generation
        small = inline(publication)
        if not small:
            try:
                self._upload({f"{gen}/{name}": text for name, text in publication.files.items()})
            except DockerError as exc:  # a full volume: nothing staged is used; the lock and the part written go
                with contextlib.suppress(DockerError):
                    self._run("release", [ROUTING_DIR, lock.token, gen])
                raise unwritable(self.container, str(exc)) from exc
        try:
            code, out = self._run(
                "publish",
                [ROUTING_DIR, gen, "1" if publication.reload else "0", *expect_args(publication), lock.token,
                 str(STATUS_PORT), STATUS_PATH, *(file_args(publication) if small else [])],
                publication.reload,
            )  # fmt: skip
        except DockerError as exc:
            raise outcome_unknown(exc, publication) from exc
        if code != ScriptExit.OK:
            raise publish_error(code, out, self.container, publication)

    def put_challenges(self, answers: Mapping[str, str]) -> None:
        """ACME HTTP-01 answers (token -> key authorization), served from the next request on port 80."""
        self._upload({f"{ACME_CHALLENGES}/{token}": text for token, text in answers.items()})

    def clear_challenges(self, tokens: Sequence[str]) -> None:
        paths = [f"{ROUTING_DIR}/{ACME_CHALLENGES}/{token}" for token in tokens]
        if paths:
            self.client.exec(self.container, ["rm", "-f", *paths], timeout=30)

    def acme_account(self) -> str | None:
        """The ACME account key kept in the routing volume, or None before the first order."""
        result = self.client.exec(self.container, ["cat", f"{ROUTING_DIR}/{ACME_ACCOUNT}"], timeout=30)
        return result.stdout if result.exit_code == 0 and result.stdout.strip() else None

    def save_acme_account(self, text: str) -> None:
        uid, gid = (int(x) for x in self.user().split(":"))
        self.client.put_archive(self.container, ROUTING_DIR, tar_files({ACME_ACCOUNT: text}, uid, gid, mode=0o600))

    def install_tls(self, certificate: str, key: str, generation: str) -> None:
        """Stage a certificate and key (checked by the caller), then serve them: the next handshake does.

        No lock: certificates live apart from the routing generations, and a
        switch never touches them.
        """
        folder = TLS_DIR.removeprefix(f"{ROUTING_DIR}/")
        self._upload(
            {f"{folder}/{generation}/{CERTIFICATE_FILE}": certificate, f"{folder}/{generation}/{KEY_FILE}": key}
        )
        code, out = self._run("tls", [ROUTING_DIR, generation])
        if code != ScriptExit.OK:
            raise RouterError(f"serving the certificate in {self.container} failed (exit {code}): {_last_line(out)}")

    def live_samples(self, seconds: float) -> tuple[list[Sample], float]:
        """Live requests of the last `seconds` from the router's access log, and the engine's clock now.

        Through the Docker API, so it works against a remote host with no new
        container; the window is measured on the engine's clock, not this one's.
        """
        now = self.client.system_time()
        text = self.client.logs(self.container, now - seconds - FLUSH_LAG_SECONDS - 1)
        return parse_log(text), now

    def metrics(self, window: float, skip_paths: Collection[str] = ()) -> dict[Color, ColorMetrics]:
        """Each colour's metrics over the last `window` seconds that the log is sure to hold."""
        samples, now = self.live_samples(window)
        end = now - FLUSH_LAG_SECONDS
        return summarize(samples, end - window, end, skip_paths)

    def engine_time(self) -> float:
        """The engine's clock: a rollout's heartbeat and its staleness are both measured on it."""
        return self.client.system_time()

    def take_command(self) -> str | None:
        """The operator's command for a running rollout (removed as it is read), or None."""
        path = f"{ROUTING_DIR}/{ROLLOUT_COMMAND}"
        result = self.client.exec(
            self.container, ["sh", "-c", 'if [ -f "$1" ]; then cat "$1" && rm -f "$1"; fi', "sh", path], timeout=30
        )
        return result.stdout.strip() or None

    def leave_command(self, command: str) -> None:
        self._upload({ROLLOUT_COMMAND: command + "\n"})

    def write_progress(self, progress: Mapping[str, Any] | None) -> None:
        """What `status` shows while a rollout runs; None when it has ended."""
        if progress is None:
            self.client.exec(self.container, ["rm", "-f", f"{ROUTING_DIR}/{ROLLOUT_PROGRESS}"], timeout=30)
        else:
            self._upload({ROLLOUT_PROGRESS: json.dumps(progress, indent=2) + "\n"})

    def break_lock(self) -> str | None:
        """Remove the switch lock whoever holds it; the holder it broke, or None when there was no lock."""
        code, out = self._run("break_lock", [ROUTING_DIR])
        if code != 0:
            raise RouterError(f"breaking the lock in {self.container} failed: {_last_line(out)}")
        return holder_text(out.strip()) if out.strip() else None

    def release(self, lock: Lock) -> None:
        self._run("release", [ROUTING_DIR, lock.token])

    def renew(self, lock: Lock) -> None:
        """Extend the lease of `lock`; LockLostError when another switch holds it now (ours expired)."""
        code, out = self._run("renew", [ROUTING_DIR, lock.token, str(lock.ttl_seconds), lock.owner])
        answer = out.strip().splitlines()[-1] if out.strip() else ""
        if code == 0 and answer == "renewed":
            return
        if answer == "lost":
            raise LockLostError(f"the lock on {self.container} expired and was taken while this switch waited")
        raise RouterError(f"renewing the lock in {self.container} failed: {answer.removeprefix('unwritable ')}")

    def old_workers(self) -> int:
        code, out = self._run("old_workers", [])
        if code != 0:
            raise RouterError(f"counting old workers in {self.container} failed: {_last_line(out)}")
        return int(out.strip() or 0)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
