"""The benchmark report: flattening, goals, and the docs table it regenerates."""

from __future__ import annotations

from pathlib import Path

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
    doc.write_text(f"intro\n{run.TABLE_START}\nold\n{run.TABLE_END}\nkeys\n")
    sizing = tmp_path / "rollouts.md"
    sizing.write_text(f"rule\n{run.TABLE_START}\nold\n{run.TABLE_END}\nsteering\n")
    monkeypatch.setattr(run, "DOC", doc)
    monkeypatch.setattr(run, "SIZING_DOC", sizing)
    run.write_doc(SAMPLE)
    text = doc.read_text()
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
