"""Least privilege for every container this project runs, defined once.

The Pulumi components, the test lab and the policy pack read these values,
so what the pack demands is what the program sets and what the tests run.
Every container drops all Linux capabilities, cannot gain privileges
(setuid binaries, file capabilities), has a read-only root filesystem with a
small tmpfs where it must write, and a process limit against fork bombs.

pulumi-docker (5.x) has no input for the pids limit, so the program applies
it right after the container starts (`bluegreen pids-limit`, a Docker API
`update`); Docker keeps it across restarts. Until then the container runs for
the second its health gate takes without one.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

CAP_DROP = ("ALL",)
NO_NEW_PRIVILEGES = "no-new-privileges:true"
SECURITY_OPTS = (NO_NEW_PRIVILEGES,)
TMP = "/tmp"  # noqa: S108 - the container's own tmpfs, not the host's /tmp  # nosec B108

PIDS_LIMIT_COMMAND = "pids-limit"  # `bluegreen pids-limit --limit N CONTAINER`
APP_PIDS_LIMIT = 256  # uvicorn, its threads and a healthcheck; a fork bomb stops here
APP_TMPFS_MB = 64
ROUTER_PIDS_LIMIT = 512  # nginx workers, the switch's exec'd scripts and the healthcheck
ROUTER_TMPFS_MB = 64  # pid file and proxy buffers that spill to disk (routing.py puts them in /tmp)


def is_root_user(user: str) -> bool:
    """uid 0 in every spelling Docker accepts: `0`, `00`, `0:0`, `root`, `root:root`, `0:1000`."""
    uid = user.strip().split(":", 1)[0].strip()
    return uid == "root" or (uid.isdigit() and int(uid) == 0)


def tmpfs_options(size_mb: int) -> str:
    """Mount options of a writable scratch directory: nothing on it runs, nothing setuid, bounded."""
    return f"rw,noexec,nosuid,nodev,size={size_mb}m"


@dataclass(frozen=True)
class Hardening:
    """What one container runs with (AppSecurity.hardening() builds the app's from stack config)."""

    read_only: bool = True
    cap_add: tuple[str, ...] = ()
    pids_limit: int = APP_PIDS_LIMIT
    tmpfs_mb: Mapping[str, int] = field(default_factory=lambda: {TMP: APP_TMPFS_MB})  # path -> size, MiB

    @property
    def tmpfs(self) -> dict[str, str]:
        """Each scratch directory's mount options (Docker's Tmpfs map); Swarm takes the sizes only."""
        return {path: tmpfs_options(size) for path, size in self.tmpfs_mb.items()}

    def docker_run_args(self) -> list[str]:
        """The same hardening as `docker run` flags (the test lab starts containers this way)."""
        args = [f"--cap-drop={c}" for c in CAP_DROP] + [f"--cap-add={c}" for c in self.cap_add]
        args += [f"--security-opt={o}" for o in SECURITY_OPTS] + [f"--pids-limit={self.pids_limit}"]
        if self.read_only:
            args.append("--read-only")
        args += [f"--tmpfs={path}:{options}" for path, options in self.tmpfs.items()]
        return args


ROUTER = Hardening(pids_limit=ROUTER_PIDS_LIMIT, tmpfs_mb={TMP: ROUTER_TMPFS_MB})
# The router's control loop (bluegreen/router/channel.py): a few switches' scripts and probes at once; its
# scratch holds their requests, answers and the scripts it keeps.
CONTROL = Hardening(pids_limit=128, tmpfs_mb={TMP: 16})
# PostgreSQL: a process per connection (the app's pools and hooks), its socket directory on a tmpfs.
DATABASE_PIDS_LIMIT = 256
DATABASE = Hardening(
    pids_limit=DATABASE_PIDS_LIMIT,
    tmpfs_mb={TMP: APP_TMPFS_MB, "/var/run/postgresql": 1},
)
APP_DEFAULT = Hardening()


def pids_limit_of(run: str) -> int | None:
    """The limit a `bluegreen pids-limit` command line sets; None when it is not one (the pack reads this)."""
    try:
        words = shlex.split(run)
    except ValueError:
        return None
    if PIDS_LIMIT_COMMAND not in words or "--limit" not in words[words.index(PIDS_LIMIT_COMMAND) :]:
        return None
    try:
        return int(words[words.index("--limit") + 1])
    except (IndexError, ValueError):
        return None
