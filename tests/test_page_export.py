"""The Export page (AppTest): the prepared file matches the project and the export is recorded."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.documents import Document
from tests.page_project import build_project

APP = str(Path(__file__).parent.parent / "app.py")
PREPARED = "_export_prepared"


@pytest.fixture
def project(db_path):
    project = build_project(db_path)
    first, second = project.document_ids[:2]
    project.store.add_review(
        project.project_id, first, reviewer="ann", decision="accept", labels=["billing"]
    )
    project.store.add_review(
        project.project_id, second, reviewer="ann", decision="correct", labels=["account"]
    )
    return project


def open_export(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.project_id
    at.session_state["sift_reviewer"] = "alice"
    at.switch_page("pages/export.py").run()
    assert not at.exception, at.exception
    return at


def prepare(at) -> bytes:
    at.button(key="export_prepare").click().run()
    assert not at.exception, at.exception
    assert at.download_button(key="export_download")
    return at.session_state[PREPARED]["data"]


def test_csv_rows_and_labels_match_the_project(project):
    at = open_export(project)
    rows = list(csv.DictReader(io.StringIO(prepare(at).decode("utf-8"))))
    assert [row["id"] for row in rows] == project.document_ids
    by_id = {row["id"]: row for row in rows}
    reviews = project.store.current_reviews(project.project_id)
    for doc_id, review in reviews.items():
        assert by_id[doc_id]["labels"] == "; ".join(review.labels)
        assert by_id[doc_id]["label_source"] == "reviewed"
    assert all(r["label_source"] != "reviewed" for r in rows if r["id"] not in reviews)


def test_prepared_export_is_recorded_with_its_hash(project):
    at = open_export(project)
    data = prepare(at)
    [record] = project.store.list_exports(project.project_id)
    assert (record["format"], record["n_rows"], record["by"]) == ("csv", 10, "alice")
    assert record["sha256"] == hashlib.sha256(data).hexdigest()


def test_reviewed_only_exports_only_reviewed_documents(project):
    at = open_export(project)
    at.toggle(key="export_reviewed_only").set_value(True).run()
    rows = list(csv.DictReader(io.StringIO(prepare(at).decode("utf-8"))))
    assert {row["id"] for row in rows} == set(project.store.current_reviews(project.project_id))


def test_csv_neutralises_formula_cells(project):
    project.store.add_documents(
        project.project_id,
        [Document.from_text('=HYPERLINK("http://x") refund')],
        filename="evil.txt",
        format="txt",
        encoding="utf-8",
        sha256="8" * 64,
    )
    at = open_export(project)
    rows = list(csv.DictReader(io.StringIO(prepare(at).decode("utf-8"))))
    assert rows[-1]["text"].startswith("'=HYPERLINK")


def test_hugging_face_zip_unpacks_to_a_dataset_dict_load_from_disk_reads(project, tmp_path):
    datasets = pytest.importorskip("datasets")
    at = open_export(project)
    at.selectbox(key="export_format").set_value("hf").run()
    at.slider(key="export_test_fraction").set_value(0.2).run()
    data = prepare(at)
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    loaded = datasets.load_from_disk(str(tmp_path / "dataset"))
    assert set(loaded) == {"train", "test"}
    assert loaded["train"].num_rows + loaded["test"].num_rows == 10
    assert set(loaded["test"]["label_source"]) == {"reviewed"}  # 2 of 10 asked, 2 reviewed
    assert (tmp_path / "dataset" / "README.md").is_file()


def test_preview_shows_the_first_rows(project):
    at = open_export(project)
    prepare(at)
    preview = at.dataframe[0].value
    assert preview["id"].tolist() == project.document_ids


def test_changed_options_ask_to_prepare_again(project):
    at = open_export(project)
    prepare(at)
    at.toggle(key="export_include_scores").set_value(True).run()
    assert not at.download_button


def test_split_says_when_too_few_reviewed_documents_for_the_test_split(project):
    at = open_export(project)
    at.slider(key="export_test_fraction").set_value(0.5).run()
    assert any("reviewed documents only" in c.value for c in at.caption)
    rows = list(csv.DictReader(io.StringIO(prepare(at).decode("utf-8"))))
    test = [row for row in rows if row["split"] == "test"]
    assert {row["label_source"] for row in test} == {"reviewed"} and len(test) == 2
    [warning] = at.warning
    assert "not the 5 asked for" in warning.value and "only 2 documents reviewed" in warning.value
