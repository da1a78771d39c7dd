"""Upload's "Import existing annotations" (AppTest, a real SQLite file): the report is shown
first, nothing is written until Import is clicked, unknown labels are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.store import Store
from core.taxonomy import Label, Taxonomy

APP = str(Path(__file__).parent.parent / "app.py")
FIXTURES = Path(__file__).parent / "fixtures" / "annotations"


@pytest.fixture
def store(db_path):
    with Store(db_path) as store:
        yield store


@pytest.fixture
def project(store):
    project = store.create_project("team")
    labels = [Label(name=n) for n in ("Politics", "Business", "Sport")]
    store.save_taxonomy(project.id, Taxonomy(labels=labels))
    return project


def open_upload(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.id
    at.switch_page("pages/upload.py").run()
    assert not at.exception, at.exception
    return at


def choose(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="annotations_file").set_value([(name, data, "application/octet-stream")])
    at.run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_report_then_confirm_then_written(store, project):
    at = choose(
        open_upload(project),
        "label_studio_export.json",
        (FIXTURES / "label_studio_export.json").read_bytes(),
    )
    text = shown(at)
    assert "4 reviews to record" in text.replace("\\", "")
    assert "'sport' → Sport" in text.replace("\\", "")
    assert store.count_documents(project.id) == 0  # shown, not written
    button = at.button(key="annotations_import")
    assert button.label == "Import 4 reviews" and not button.disabled
    button.click().run()
    assert not at.exception, at.exception
    assert store.count_documents(project.id) == 3
    assert len(store.review_history(project.id)) == 4
    assert any("Imported 4 review(s)" in s.value.replace("\\", "") for s in at.success)
    # the same file again: nothing left to record
    assert at.button(key="annotations_import").disabled


def test_unknown_label_is_refused_on_the_page(store, project):
    data = b"text,labels,reviewer\nA text,Weather,ann\n"
    at = choose(open_upload(project), "bad.csv", data)
    errors = [e.value.replace("\\", "") for e in at.error]
    assert any("labels not in the taxonomy: 'Weather' (1 row)" in e for e in errors)
    assert store.count_documents(project.id) == 0


def test_rows_without_reviewer_take_the_reviewer_box(store, project):
    data = b'{"text": "Rates rise again", "labels": "Business"}\n'
    at = open_upload(project)
    at.text_input(key="annotations_reviewer").set_value("dana").run()
    at = choose(at, "rows.jsonl", data)
    at.button(key="annotations_import").click().run()
    assert not at.exception, at.exception
    (review,) = store.review_history(project.id)
    assert review.reviewer == "dana" and review.labels == ("Business",)
