"""The Monitor page (AppTest): the run log, charts over time and the drift warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.documents import Document
from core.engine import run_techniques
from core.evaluation.monitor import drift, project_snapshot
from core.techniques import create_technique
from tests.page_project import FIRST_BATCH, SECOND_BATCH, build_project

APP = str(Path(__file__).parent.parent / "app.py")


@pytest.fixture
def project(db_path):
    return build_project(db_path)


def open_monitor(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.project_id
    at.switch_page("pages/monitor.py").run()
    assert not at.exception, at.exception
    return at


def test_run_log_lists_every_run(project):
    at = open_monitor(project)
    runs = at.dataframe[0].value
    assert sorted(runs["technique"]) == ["lexicon", "rules"]
    assert set(runs["status"]) == {"finished"} and set(runs["documents"]) == {10}


def test_a_run_whose_process_was_killed_shows_as_interrupted(project):
    import subprocess
    import sys

    script = (
        "import sys; from core.store import Store; s = Store(sys.argv[1]); "
        "s.start_run(int(sys.argv[2]), technique='embeddings', config_hash='c', config={}, "
        "cache_key='k', model_id='', model_revision='', device='cpu', dtype='', n_documents=10)"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(project.store.path), str(project.project_id)],
        check=True,
    )  # the process starts a run and exits without finishing it
    at = open_monitor(project)
    runs = at.dataframe[0].value.set_index("technique")
    assert runs.loc["embeddings", "status"] == "interrupted"
    assert "ended without finishing" in runs.loc["embeddings", "error"]
    assert runs.loc["rules", "status"] == "finished"


def test_charts_over_time_are_drawn(project):
    project.store.add_review(
        project.project_id,
        project.document_ids[0],
        reviewer="ann",
        decision="accept",
        labels=["billing"],
        shown={"labels": ["billing"]},
    )
    at = open_monitor(project)
    at.segmented_control(key="monitor_period").set_value("batch").run()
    assert not at.exception, at.exception
    # label distribution, mean confidence, agreement, drift comparison
    assert len(at.get("vega_lite_chart")) == 4


def add_batch(store, pid, name: str, texts: list[str]) -> int:
    return store.add_documents(
        pid,
        [Document.from_text(text) for text in texts],
        filename=f"{name}.txt",
        format="txt",
        encoding="utf-8",
        sha256=name.encode().hex().ljust(64, "0")[:64],
    ).import_id


def copies(texts: list[str], n: int, tag: str) -> list[str]:
    """n distinct documents cycling through `texts` (numbered, so none is a duplicate)."""
    return [f"{texts[i % len(texts)]} ({tag} {i})" for i in range(n)]


@pytest.fixture
def large(project):
    """Two more batches of 150 documents: one mixed like the first batch, one shifted."""
    store, pid = project.store, project.project_id
    base = add_batch(store, pid, "base", copies(FIRST_BATCH, 150, "base"))
    same = add_batch(store, pid, "same", copies(FIRST_BATCH, 150, "same"))
    shifted = add_batch(store, pid, "shifted", copies(SECOND_BATCH[1:2], 150, "shifted"))
    run_techniques(store, pid, [create_technique("rules"), create_technique("lexicon")])
    return project, base, same, shifted


def open_drift(project, baseline: int, batch: int) -> AppTest:
    at = open_monitor(project)
    at.selectbox(key="monitor_baseline").set_value(baseline).run()
    at.selectbox(key="monitor_batch").set_value(batch).run()
    assert not at.exception, at.exception
    return at


def test_shifted_batch_shows_a_significant_shift_warning(large):
    project, base, _, shifted = large
    report = drift(project_snapshot(project.store, project.project_id), base, shifted)
    assert report.level == "significant"
    at = open_drift(project, base, shifted)
    assert any("Significant shift" in warning.value for warning in at.warning)


def test_batch_like_the_baseline_shows_no_warning(large):
    project, base, same, _ = large
    at = open_drift(project, base, same)
    assert not at.warning
    assert any("Stable" in s.value for s in at.success)


def test_small_batches_say_too_little_data_instead_of_a_shift(project):
    baseline, batch = project.import_ids  # 6 and 4 documents
    report = drift(project_snapshot(project.store, project.project_id), baseline, batch)
    assert report.label_psi > 0.2  # it would have read "significant shift"
    at = open_monitor(project)
    assert not any("Significant shift" in warning.value for warning in at.warning)
    shown = " ".join(info.value for info in at.info)
    assert "Too little data to judge drift: 6 and 4 documents" in shown
    assert f"at least {report.documents_needed:,} documents each" in shown
