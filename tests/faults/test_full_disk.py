"""The routing volume full (a tmpfs of its own, filled from inside the router): the incident you roll back from.

Nothing may be half-written: the lock is taken only with its record, a generation is published whole or not
at all, and the live routing keeps serving from memory and the files it already has.
"""

from __future__ import annotations

import re
from collections import Counter

from lab.deployment import Stack
from lab.dockercli import docker
from tests.integration.test_switch import colors_of

LAB_NAME = "bgfdisk"
ROUTING_VOLUME_SIZE = "4m"
VOLUME = "/etc/nginx/bluegreen"


def in_router(stack: Stack, command: str) -> str:
    return docker("exec", stack.router.name, "sh", "-c", command, check=False).stdout


def fill(stack: Stack, leave_kb: int = 0) -> None:
    """Fill the volume, then free `leave_kb` (a page or two: room for a lock record, not for a generation)."""
    spare = f"dd if=/dev/zero of={VOLUME}/spare bs=1k count={leave_kb} 2>/dev/null; " if leave_kb else ""
    in_router(stack, f"{spare}dd if=/dev/zero of={VOLUME}/ballast bs=4k 2>/dev/null; rm -f {VOLUME}/spare; true")


def empty(stack: Stack) -> None:
    in_router(stack, f"rm -f {VOLUME}/ballast {VOLUME}/spare")


def generations(stack: Stack) -> list[str]:
    return sorted(n for n in in_router(stack, f"ls {VOLUME}").split() if re.fullmatch(r"g\d+(@.+)?", n))


def leftovers(stack: Stack) -> list[str]:
    return [n for n in in_router(stack, f"ls -a {VOLUME}").split() if "lock" in n]


def test_a_full_volume_refuses_the_lock_says_so_and_keeps_serving(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("green")).returncode == 0
    fill(stack)
    try:
        done = stack.cli("rollback")
        assert done.returncode == 1, done.stdout
        lines = done.stderr.strip().splitlines()
        # dash says "I/O error" for a full tmpfs, other shells "No space left on device"; the usage says why.
        assert len(lines) == 1 and re.search(r"the lock's record cannot be written in /etc/nginx/bluegreen \(.*(I/O "
                                             r"error|No space left on device); the volume is 100% used\); nothing was "
                                             r"changed", lines[0]), done.stderr  # fmt: skip
        assert colors_of(stack.url(), 20) == Counter({"green": 20}), "the live routing keeps serving"
        assert leftovers(stack) == [], "no lock left behind"
        assert stack.cli("status").returncode == 0
    finally:
        empty(stack)
    back = stack.cli("rollback")
    assert back.returncode == 0, back.stderr
    assert colors_of(stack.url(), 20) == Counter({"blue": 20})


def test_a_volume_with_room_for_the_lock_but_not_the_generation_publishes_nothing(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("green")).returncode == 0
    before = generations(stack)
    fill(stack, leave_kb=8)
    try:
        done = stack.cli("rollback")
        assert done.returncode == 1, done.stdout
        assert re.fullmatch(r"rollback bluegreen-bgfdisk: writing the new routing into /etc/nginx/bluegreen of "
                            r"bluegreen-bgfdisk-router failed \((no space left on device|I/O error); the volume is "
                            r"\d+% used\); nothing was changed",
                            done.stderr.strip()), done.stderr  # fmt: skip
        assert colors_of(stack.url(), 20) == Counter({"green": 20}), "the live routing keeps serving"
        assert leftovers(stack) == [], "the lock is released"
        assert generations(stack) == before, "no half-written generation left"
    finally:
        empty(stack)
    assert stack.cli("rollback").returncode == 0
    assert colors_of(stack.url(), 20) == Counter({"blue": 20})
