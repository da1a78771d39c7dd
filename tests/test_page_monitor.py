"""The Monitor page (AppTest): the run log, charts over time and the drift warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.documents import Document
from core.engine import run_techniques
from core.evaluation.monitor import drift, project_snapshot
from core.techniques import create_technique
from tests.page_project import FIRST_BATCH, build_project

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


def test_shifted_batch_shows_a_significant_shift_warning(project):
    baseline, batch = project.import_ids
    assert drift(project_snapshot(project.store, project.project_id), baseline, batch).level == (
        "significant"
    )
    at = open_monitor(project)
    assert any("Significant shift" in warning.value for warning in at.warning)


def test_batch_like_the_baseline_shows_no_warning(project):
    store, pid = project.store, project.project_id
    same = store.add_documents(
        pid,
        [Document.from_text(text + " Regards.") for text in FIRST_BATCH],
        filename="again.txt",
        format="txt",
        encoding="utf-8",
        sha256="7" * 64,
    ).import_id
    run_techniques(store, pid, [create_technique("rules"), create_technique("lexicon")])
    at = open_monitor(project)
    at.selectbox(key="monitor_baseline").set_value(project.import_ids[0]).run()
    at.selectbox(key="monitor_batch").set_value(same).run()
    assert not at.warning
    assert any("Stable" in s.value for s in at.success)
