"""The benchmark report: flattening, goals, and the docs table it regenerates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import run

SAMPLE = {
    "machine": {"cores": 2, "python": "3.11", "docker": "20.10", "storage_driver": "overlay2", "nginx": "1.22.1",
                "date": "2026-01-01T00:00:00+00:00"},
    "switch": {"failed": 0, "full_ms_p99": 620.0},
    "rollback": {"ms": 700.0},
    "weights": {"max_abs_error_pct": 0.4, "by_weight": {"1": 0.1}},
    "analysis": {"low_traffic": {"simulated_runs": 3, "latency_samples": {"blue": 9, "green": 1}},
                 "sizing": [{"rps": 5, "runs": 3, "healthy_pass_s_median": 41.2, "healthy_pass_s_p90": 46.2,
                             "false_aborts": 0, "bad_abort_s_median": 31.2, "bad_abort_s_p90": None,
                             "bad_promoted": 0, "bad_aborted_within_60s": 2}]},
}  # fmt: skip


def test_flat_keeps_by_weight_as_one_value() -> None:
    values = run.flat(SAMPLE)
    assert values["switch.failed"] == 0 and values["weights.by_weight"] == {"1": 0.1}
    assert "weights.by_weight.1" not in values


def test_table_marks_goals_met_and_missed() -> None:
    table = run.render_table(SAMPLE)
    assert "| `switch.failed` | 0 | 0 failed requests | yes |" in table
    assert "| `switch.full_ms_p99` | 620.0 | switch p99 < 500 ms | **no** |" in table
    assert "| `rollback.ms` | 700.0 | rollback < 600 ms | **no** |" in table
    assert "machine." not in table and "2 cores, Docker 20.10 (overlay2), nginx 1.22.1" in table


def test_write_doc_replaces_only_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"intro\n{run.PLOTS_START}\nold\n{run.PLOTS_END}\n{run.TABLE_START}\nold\n{run.TABLE_END}\nkeys\n")
    sizing = tmp_path / "rollouts.md"
    sizing.write_text(f"rule\n{run.TABLE_START}\nold\n{run.TABLE_END}\nsteering\n")
    monkeypatch.setattr(run, "DOC", doc)
    monkeypatch.setattr(run, "SIZING_DOC", sizing)
    run.write_doc(SAMPLE, {"timeline.png": "a" * 64})
    text = doc.read_text()
    assert "<!-- bench:plot timeline.png sha256:" + "a" * 64 + " -->" in text
    assert text.startswith("intro\n") and text.endswith(f"{run.TABLE_END}\nkeys\n")
    assert "old" not in text and "`rollback.ms`" in text and "analysis.sizing" not in text
    table = sizing.read_text()
    assert table.startswith("rule\n") and table.endswith(f"{run.TABLE_END}\nsteering\n") and "old" not in table
    assert "| 5 | 0.5/s | 41.2 s, 46.2 s | 0 of 3 | 31.2 s, never | 2 of 3 |" in table
    assert "each row is 3 simulated steps" in table


def test_every_goal_key_is_documented() -> None:
    doc = (Path(run.__file__).resolve().parent.parent / "docs" / "benchmarks.md").read_text()
    for key, _, _ in run.GOALS:
        assert f"`{key}`" in doc, key


def test_each_generated_doc_has_one_table_and_benchmarks_md_one_keys_section() -> None:
    docs = Path(run.__file__).resolve().parent.parent / "docs"
    for doc in (docs / "benchmarks.md", docs / "rollouts.md"):
        text = doc.read_text()
        assert text.count(run.TABLE_START) == 1 and text.count(run.TABLE_END) == 1, doc
        assert text.index(run.TABLE_START) < text.index(run.TABLE_END), doc
    assert (docs / "benchmarks.md").read_text().count("## The keys") == 1


def series() -> dict[str, Any]:
    """What the scenarios keep, small: a run of the plots without a Docker engine."""
    t0 = 100.0
    samples = [(t0 + i * 0.01, "blue" if i < 500 else "green", 200) for i in range(900)]
    return {
        "timeline": {"samples": samples, "marks": [(t0 + 2, "canary"), (t0 + 5, "promote")], "t0": t0},
        "baseline_failed": [310, 295, 301, 288],
        "bluegreen_failed": [0, 0, 0, 0, 0],
        "live_ms": [120.0, 180.5, 240.0, 90.0],
        "full_ms": [200.0, 310.0, 150.0],
        "abort": {"samples": [(t0 + i * 0.05, "green", 500 if i % 5 == 0 else 200) for i in range(300)],
                  "events": [(t0 + 6, "verdict", "fail"), (t0 + 6.5, "aborted", "abort: back to 0%")],
                  "weights": [(t0, 0), (t0 + 0.5, 10), (t0 + 6.5, 0)], "t0": t0},
    }  # fmt: skip


def test_the_plots_are_drawn_and_listed_with_their_hashes(tmp_path: Path) -> None:
    import hashlib

    from bench import plots

    router = {"tool": "wrk", "direct_rps": 4000, "router_rps": 2700, "rps_ratio": 0.675}
    hashes = plots.draw(series(), {"router": router}, tmp_path)
    assert set(hashes) == {name for name, _, _ in plots.PLOTS}
    for name, digest in hashes.items():
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, name
        assert hashlib.sha256(data).hexdigest() == digest
    text = plots.markdown(hashes, "2026-12-04T21:09:00+00:00")
    assert all(f"![{title}](img/{name})" in text for name, title, _ in plots.PLOTS)
    assert text.startswith("Drawn by `make bench` from the run of 2026-12-04T21:09:00+00:00.")


def test_the_pictures_in_the_docs_are_this_runs() -> None:
    """Every picture docs/benchmarks.md shows exists, is the file the run drew (its sha256 is recorded beside
    it), and the pictures' run is the table's run."""
    import hashlib
    import re

    root = Path(run.__file__).resolve().parent.parent
    doc = (root / "docs" / "benchmarks.md").read_text()
    section = doc[doc.index(run.PLOTS_START) : doc.index(run.PLOTS_END)]
    shown = re.findall(r"\]\(img/([a-z_]+\.png)\)", section)
    recorded = dict(re.findall(r"<!-- bench:plot ([a-z_]+\.png) sha256:([0-9a-f]{64}) -->", section))
    from bench.plots import PLOTS

    assert shown == [name for name, _, _ in PLOTS] and set(recorded) == set(shown), "every picture, recorded"
    for name, digest in recorded.items():
        assert hashlib.sha256((root / "docs" / "img" / name).read_bytes()).hexdigest() == digest, f"{name} is stale"
    drawn = re.search(r"from the run of (\S+)\.", section)
    table_run = re.search(r"; run (\S+)\.", doc)
    assert drawn and table_run and drawn.group(1) == table_run.group(1), "the pictures and the table are one run"
    assert f"(docs/img/{PLOTS[0][0]})" in (root / "README.md").read_text(), "the README shows the first"


def test_a_failed_hand_over_request_names_the_hand_over_it_fell_in() -> None:
    from lab.prober import ProbeStats, Sample

    stats = ProbeStats(samples=[Sample(10.0, 200, "blue", 0.01), Sample(12.25, 502, "blue", 0.01, method="POST"),
                                Sample(31.0, 0, "", 0.0), Sample(5.0, 503, "blue", 0.01)])  # fmt: skip
    found = run.failed_at(stats, [(11.0, "restart 1"), (30.0, "replacement 1")])
    assert found == ["restart 1 +1.25s: 502 POST", "replacement 1 +1.00s: no answer GET", "before the first: 503 GET"]
