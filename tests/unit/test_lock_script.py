"""The switch lock as the router runs it: router/sh/lib.sh under the machine's POSIX sh, on a real directory.

No Docker: the same text one exec runs in the router (the layout's names, then lib.sh), driven here.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from bluegreen.router.layout import LOCK_DIR, LOCK_INFO, LOCK_ORPHAN_SECONDS
from bluegreen.router.scripts import script


def sh(directory: Path, body: str) -> str:
    text = script("release").rsplit("lock_drop", 1)[0]  # the preamble and lib.sh, without release's own line
    done = subprocess.run(["sh", "-c", text + body, "sh", str(directory)], capture_output=True, text=True,
                          timeout=30, check=True)  # fmt: skip
    return done.stdout.strip()


def take(directory: Path, token: str = "t1", ttl: int = 60, owner: str = "alice@ops pid 1 (cli)") -> str:
    return sh(directory, f'lock_take "$1" {token} {ttl} "{owner}"; echo "$lock_taken"')


def test_a_free_lock_is_taken_with_its_record_in_place(tmp_path: Path) -> None:
    assert take(tmp_path) == "acquired"
    token, expires, owner = (tmp_path / LOCK_DIR / LOCK_INFO).read_text().strip().split(" ", 2)
    assert token == "t1" and int(expires) > time.time() and owner == "alice@ops pid 1 (cli)"
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_DIR], "nothing left aside"


def test_a_held_lock_names_its_holder(tmp_path: Path) -> None:
    take(tmp_path)
    answer = take(tmp_path, token="t2", owner="bob")
    assert answer.startswith("held t1 ") and answer.endswith("alice@ops pid 1 (cli)")
    assert not [p for p in tmp_path.iterdir() if p.name != LOCK_DIR]


def test_an_expired_lock_is_taken_over(tmp_path: Path) -> None:
    take(tmp_path, ttl=-5)
    assert take(tmp_path, token="t2") == "acquired"
    assert (tmp_path / LOCK_DIR / LOCK_INFO).read_text().startswith("t2 ")


@pytest.mark.parametrize("record", [None, "", "garbage"], ids=["no-record", "empty-record", "unreadable-record"])
def test_a_lock_without_a_readable_record_blocks_only_until_it_is_old(tmp_path: Path, record: str | None) -> None:
    """A holder of an older version killed between its mkdir and its write left this behind."""
    lock = tmp_path / LOCK_DIR
    lock.mkdir()
    if record is not None:
        (lock / LOCK_INFO).write_text(record)
    if record is None:
        assert take(tmp_path) == "acquired", "an empty lock directory is replaced by the rename at once"
        return
    assert take(tmp_path).startswith("held")
    old = time.time() - LOCK_ORPHAN_SECONDS - 1
    os.utime(lock, (old, old))
    assert take(tmp_path) == "acquired"


def test_breaking_the_lock_prints_the_holder_and_frees_it(tmp_path: Path) -> None:
    take(tmp_path)
    assert sh(tmp_path, 'lock_break "$1"').endswith("alice@ops pid 1 (cli)")
    assert not (tmp_path / LOCK_DIR).exists()
    assert sh(tmp_path, 'lock_break "$1"') == "", "no lock: nothing to say"
    assert take(tmp_path, token="t2") == "acquired"


def test_of_many_takers_at_once_exactly_one_wins(tmp_path: Path) -> None:
    racers = " ".join(f'(lock_take "$1" t{i} 60 racer{i}; echo "$lock_taken" > "$1/.out{i}") &' for i in range(12))
    sh(tmp_path, racers + " wait")
    answers = [(tmp_path / f".out{i}").read_text().strip() for i in range(12)]
    assert sum(a == "acquired" for a in answers) == 1, answers
    assert sum(a.startswith("held ") for a in answers) == 11, answers


def test_a_record_that_cannot_be_written_takes_nothing_and_says_why(tmp_path: Path) -> None:
    """As a full disk does: the write fails (here, into a folder that is not there), and nothing is taken."""
    answer = sh(tmp_path, 'BG_LOCK_INFO=missing/info lock_take "$1" t1 60 alice; echo "$lock_taken"')
    assert answer.startswith("unwritable ") and "missing/info" in answer, answer
    assert list(tmp_path.iterdir()) == [], "no lock, and nothing left aside"


# --- the lease: short, renewed while its holder works -------------------------------------------


def renew(directory: Path, token: str = "t1", ttl: int = 30, owner: str = "alice@ops pid 1 (cli)") -> str:
    return sh(directory, f'lock_renew "$1" {token} {ttl} "{owner}"')


def test_a_renewal_extends_the_holders_lease_and_only_the_holders(tmp_path: Path) -> None:
    take(tmp_path, ttl=2)
    assert renew(tmp_path, ttl=600) == "renewed"
    token, expires, owner = (tmp_path / LOCK_DIR / LOCK_INFO).read_text().strip().split(" ", 2)
    assert token == "t1" and int(expires) > time.time() + 500 and owner == "alice@ops pid 1 (cli)"
    assert renew(tmp_path, token="t2") == "lost", "another switch cannot extend a lock it does not hold"
    assert (tmp_path / LOCK_DIR / LOCK_INFO).read_text().startswith("t1 ")
    assert sorted(p.name for p in (tmp_path / LOCK_DIR).iterdir()) == [LOCK_INFO], "nothing left aside"


def test_a_lease_taken_over_after_it_expired_is_lost_and_the_new_holders_record_is_untouched(tmp_path: Path) -> None:
    take(tmp_path, ttl=-5)  # its holder stalled past its lease...
    assert take(tmp_path, token="t2", owner="bob") == "acquired"  # ...and another switch took the lock
    assert renew(tmp_path) == "lost"
    assert (tmp_path / LOCK_DIR / LOCK_INFO).read_text().startswith("t2 "), "bob still holds it"
    assert renew(tmp_path / "nowhere") == "lost", "no lock at all"


def test_a_renewal_racing_a_takeover_is_lost_and_writes_nothing_into_the_new_lock(tmp_path: Path) -> None:
    """The race the inode check closes: a taker moves the expired lock aside while the renewal runs.

    `date` is the renewal's first step after its token check; here it is the moment the taker acts.
    """
    take(tmp_path, ttl=-5)
    takeover = (f'mv "$D/{LOCK_DIR}" "$D/aside" && mkdir "$D/{LOCK_DIR}" && '
                f'printf "t2 9999999999 bob\\n" > "$D/{LOCK_DIR}/{LOCK_INFO}"')  # fmt: skip
    body = f'D="$1"\ndate() {{ {takeover}; command date "$@"; }}\nlock_renew "$1" t1 30 alice'
    assert sh(tmp_path, body) == "lost"
    assert (tmp_path / LOCK_DIR / LOCK_INFO).read_text() == "t2 9999999999 bob\n", "bob's record untouched"
    assert (tmp_path / "aside" / LOCK_INFO).read_text().startswith("t1 "), "the renewal went to its own old lock"
