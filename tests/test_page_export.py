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
        assert by_id[doc_id]["label_source"] == "review"
    assert all(r["label_source"] != "review" for r in rows if r["id"] not in reviews)


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


def test_hugging_face_zip_holds_readme_and_split_parquet_files(project):
    at = open_export(project)
    at.selectbox(key="export_format").set_value("hf").run()
    at.slider(key="export_test_fraction").set_value(0.2).run()
    data = prepare(at)
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert names == {"dataset/README.md", "dataset/data/train.parquet", "dataset/data/test.parquet"}


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
