"""`bluegreen release` and `promote`: the stack-file edits a release and a promotion pull request commit."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bluegreen.cli.main import main
from bluegreen.config.settings import StackSettings, parse_settings
from bluegreen.config.stackfile import read_stack_file
from lab.paths import ROOT


@pytest.fixture
def prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text((ROOT / "Pulumi.prod.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    return path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def settings(path: Path) -> StackSettings:
    config = read_stack_file(path, path.parent / "Pulumi.yaml")
    return parse_settings(config.raw, config.stack, config.secret_paths)


def test_a_release_changes_only_the_idle_colours_version_and_keeps_the_files_comments(prod: Path) -> None:
    before = prod.read_text()
    assert run("release", "Pulumi.prod.yaml", "--tag", "1.5.0") == (
        0, "Pulumi.prod.yaml: green.version 1.4.1 -> 1.5.0 (the idle colour; blue stays live)\n", "",
    )  # fmt: skip
    after = prod.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [('    version: "1.4.1"', '    version: "1.5.0"')], "one line, comments and layout kept"
    s = settings(prod)
    assert s.green.version == "1.5.0" and s.blue.version == "1.4.2" and s.active_color == "blue"


def test_a_digest_is_pinned_with_its_version_and_a_stale_one_removed(prod: Path) -> None:
    digest = "sha256:" + "a" * 64
    assert run("release", "Pulumi.prod.yaml", "--tag", "1.5.0", "--digest", digest)[0] == 0
    assert settings(prod).green.digest == digest
    run("promote", "Pulumi.prod.yaml", "--to", "green")
    assert run("release", "Pulumi.prod.yaml", "--tag", "1.6.0")[0] == 0  # blue: no digest given
    assert settings(prod).blue.digest is None and settings(prod).green.digest == digest


def test_promotion_moves_traffic_then_completes_a_canary(prod: Path) -> None:
    assert run("promote", "Pulumi.prod.yaml", "--to", "green", "--weight", "10")[1] == (
        "Pulumi.prod.yaml: activeColor green, trafficWeight 10 (was blue 100)\n"
    )
    s = settings(prod)
    assert (s.active_color, s.traffic_weight) == ("green", 10)
    code, _, err = run("release", "Pulumi.prod.yaml", "--tag", "1.5.0")
    assert code == 2 and "a canary is running (activeColor green, trafficWeight 10)" in err
    assert run("promote", "Pulumi.prod.yaml")[0] == 0
    s = settings(prod)
    assert (s.active_color, s.traffic_weight) == ("green", 100)


def test_a_refused_release_changes_nothing(prod: Path) -> None:
    before = prod.read_text()
    code, out, err = run("release", "Pulumi.prod.yaml", "--tag", "latest")
    assert code == 2 and out == "" and err.splitlines()[-1] == "Pulumi.prod.yaml: 1 problem(s); nothing was changed"
    assert "green.version: got 'latest'" in err and prod.read_text() == before
    with pytest.raises(SystemExit):
        main(["promote", "Pulumi.prod.yaml", "--weight", "0"])
    assert prod.read_text() == before


def test_promote_never_toggles_and_a_repeated_one_changes_nothing(prod: Path) -> None:
    before = prod.read_text()
    code, out, err = run("promote", "Pulumi.prod.yaml")
    assert code == 2 and out == "" and prod.read_text() == before, "a promoted file names no colour to move to"
    assert err == ("promote: Pulumi.prod.yaml: activeColor blue already has trafficWeight 100; name the colour "
                   "that should take the traffic: --to green (the idle colour, version 1.4.1)\n")  # fmt: skip
    assert run("promote", "Pulumi.prod.yaml", "--to", "green")[0] == 0
    promoted = prod.read_text()
    assert run("promote", "Pulumi.prod.yaml", "--to", "green") == (
        0,
        "Pulumi.prod.yaml: activeColor green, trafficWeight 100 already; nothing was changed\n",
        "",
    )
    assert prod.read_text() == promoted, "the same job twice: the same file"
    assert run("promote", "Pulumi.prod.yaml")[0] == 2 and prod.read_text() == promoted


def test_release_takes_the_tag_as_tag_because_version_means_the_tools_own(prod: Path) -> None:
    with pytest.raises(SystemExit):
        main(["release", "Pulumi.prod.yaml", "--version", "1.5.0"])
    assert run("release", "Pulumi.prod.yaml", "--tag", "1.5.0")[0] == 0


def test_an_edited_line_keeps_its_own_comment(prod: Path) -> None:
    text = prod.read_text()
    text = text.replace('    version: "1.4.1"\n', '    version: "1.4.1"   # the release before, "quoted #"\n')
    text = text.replace("  bluegreen:activeColor: blue\n", "  bluegreen:activeColor: blue  # who is live\n")
    prod.write_text(text)
    assert run("release", "Pulumi.prod.yaml", "--tag", "1.5.0")[0] == 0
    assert run("promote", "Pulumi.prod.yaml", "--to", "green")[0] == 0
    after = prod.read_text().splitlines()
    assert '    version: "1.5.0"   # the release before, "quoted #"' in after
    assert "  bluegreen:activeColor: green # who is live" in after, "the comment keeps its column"
    assert settings(prod).green.version == "1.5.0"


def test_a_file_whose_layout_the_parser_would_rewrite_is_refused_untouched(prod: Path) -> None:
    steps = "  bluegreen:rollout:\n    steps:\n        - {weight: 10, pauseSeconds: 30}\n"  # a dash 4 deeper
    text = prod.read_text().replace("config:\n", "config:\n" + steps, 1)
    prod.write_text(text)
    code, out, err = run("release", "Pulumi.prod.yaml", "--tag", "1.5.0")
    assert code == 2 and out == "" and prod.read_text() == text
    assert "its layout would not survive an edit" in err
    assert "set green.version, green.digest with pulumi config set" in err


def test_a_missing_key_is_added_to_its_block_and_everything_else_stays(prod: Path) -> None:
    text = prod.read_text().replace("  bluegreen:trafficWeight: 100\n", "")
    prod.write_text(text)
    assert run("promote", "Pulumi.prod.yaml", "--to", "green", "--weight", "10")[0] == 0
    after = prod.read_text()
    back = after.replace("  bluegreen:trafficWeight: 10\n", "").replace("activeColor: green", "activeColor: blue")
    assert back == text
    assert (settings(prod).active_color, settings(prod).traffic_weight) == ("green", 10)
