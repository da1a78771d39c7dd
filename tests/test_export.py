"""Export: every format carries the final labels; CSV is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from core.documents import Document
from core.engine import run_techniques
from core.export import ExportOptions, build_rows, export_project, neutralise_cell, render
from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique

TAXONOMY = Taxonomy(
    labels=(
        Label(name="billing", keywords=(Keyword("invoice"), Keyword("refund"))),
        Label(name="shipping", keywords=(Keyword("parcel"), Keyword("courier"))),
    )
)
TEXTS = [
    "Refund my invoice please",
    "The courier lost the parcel",
    '=HYPERLINK("http://evil") invoice',
    "+1 refund for the invoice",
    "-parcel went missing with the courier",
    "@courier parcel",
    "\tparcel tab-led courier",
    "Nothing relevant here",
]


@pytest.fixture
def project(db_path):
    store = Store(db_path)
    project = store.create_project("export")
    store.save_taxonomy(project.id, TAXONOMY)
    docs = [Document.from_text(text, source="in.csv", gold_labels=("billing",)) for text in TEXTS]
    store.add_documents(
        project.id, docs, filename="in.csv", format="csv", encoding="utf-8", sha256="s"
    )
    run_techniques(store, project.id, [create_technique("rules"), create_technique("lexicon")])
    # The reviewer overrules the model on the second document.
    second = docs[1].id
    store.add_review(project.id, second, reviewer="ana", decision="correct", labels=["billing"])
    return store, project, docs


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell):
    assert neutralise_cell(cell) == "'" + cell


def test_plain_cells_are_left_alone():
    assert neutralise_cell("Refund 1+1") == "Refund 1+1"


def test_rows_use_review_labels_over_predictions(project):
    store, project, docs = project
    rows = {row["id"]: row for row in build_rows(store, project.id)}
    assert rows[docs[0].id]["labels"] == ["billing"]
    assert rows[docs[0].id]["label_source"] == "prediction"
    assert rows[docs[1].id]["labels"] == ["billing"]  # corrected by the reviewer
    assert rows[docs[1].id]["label_source"] == "review"
    assert rows[docs[1].id]["reviewer"] == "ana"
    assert rows[docs[7].id]["labels"] == [] and rows[docs[7].id]["label_source"] == "none"


def test_reviewed_only(project):
    store, project, docs = project
    rows = build_rows(store, project.id, ExportOptions(reviewed_only=True))
    assert [row["id"] for row in rows] == [docs[1].id]


def test_csv_round_trips_and_neutralises(project):
    store, project, docs = project
    data = render(build_rows(store, project.id, ExportOptions(include_scores=True)), "csv").data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert len(rows) == len(TEXTS)
    texts = {row["text"] for row in rows}
    assert '\'=HYPERLINK("http://evil") invoice' in texts
    assert "'+1 refund for the invoice" in texts
    assert "'-parcel went missing with the courier" in texts
    assert "'@courier parcel" in texts
    assert "'\tparcel tab-led courier" in texts
    assert "Refund my invoice please" in texts
    scored = next(row for row in rows if row["text"] == "Refund my invoice please")
    assert (
        json.loads(scored["scores_lexicon"])["billing"]
        > json.loads(scored["scores_lexicon"])["shipping"]
    )


def test_jsonl_and_parquet_carry_the_same_rows(project):
    store, project, docs = project
    rows = build_rows(store, project.id)
    jsonl = [json.loads(line) for line in render(rows, "jsonl").data.decode().splitlines()]
    table = pq.read_table(io.BytesIO(render(rows, "parquet").data)).to_pylist()
    assert [r["labels"] for r in jsonl] == [r["labels"] for r in rows]
    assert [r["labels"] for r in table] == [r["labels"] for r in rows]
    assert [r["text"] for r in table] == TEXTS  # no neutralising outside CSV


def test_split_is_seeded_and_sized(project):
    store, project, docs = project
    options = ExportOptions(test_fraction=0.25, seed=7)
    first = build_rows(store, project.id, options)
    again = build_rows(store, project.id, options)
    assert [r["split"] for r in first] == [r["split"] for r in again]
    assert sum(r["split"] == "test" for r in first) == 2
    other = build_rows(store, project.id, ExportOptions(test_fraction=0.25, seed=8))
    assert {r["id"] for r in other if r["split"] == "test"} != {
        r["id"] for r in first if r["split"] == "test"
    }


def test_hf_folder_loads_with_datasets(project, tmp_path):
    datasets = pytest.importorskip("datasets")
    store, project, docs = project
    result = export_project(
        store, project.id, "hf", tmp_path / "ds", ExportOptions(test_fraction=0.25, seed=1)
    )
    loaded = datasets.load_dataset(str(result.path))
    assert set(loaded) == {"train", "test"}
    assert loaded["train"].num_rows + loaded["test"].num_rows == len(TEXTS)
    assert "labels" in loaded["train"].column_names


def test_export_is_recorded_and_atomic(project, tmp_path):
    store, project, docs = project
    destination = tmp_path / "out.csv"
    result = export_project(store, project.id, "csv", destination, by="ana")
    assert destination.exists() and not (tmp_path / "out.csv.partial").exists()
    exports = store.list_exports(project.id)
    assert exports[-1]["n_rows"] == result.n_rows == len(TEXTS)
    assert exports[-1]["sha256"] == result.sha256


def test_unknown_format_lists_the_known_ones():
    with pytest.raises(ValueError, match="csv, jsonl, parquet, hf"):
        render([], "xlsx")


def test_machine_labels_follow_the_learned_thresholds_like_the_review_page(project):
    """Multi-label: a version's per-label thresholds decide the exported machine labels, the
    same as the Review page's suggestions (one owner: core.predictions)."""
    from core.predictions import Combination, load_predictions

    store, project_, docs = project
    store.update_project_settings(project_.id, {"multi_label": True, "threshold": 0.5})
    run_techniques(
        store,
        project_.id,
        [
            create_technique("rules", multi_label=True),
            create_technique("lexicon", multi_label=True),
        ],
    )
    before = {row["id"]: row["labels"] for row in build_rows(store, project_.id)}
    store.save_model_version(
        project_.id,
        status="adopted",
        config={"combination": Combination(thresholds={"shipping": 0.0}).to_json()},
        metrics={},
        reason="adopted",
        n_reviews=10,
    )
    table = load_predictions(store, project_.id)
    rows = {row["id"]: row for row in build_rows(store, project_.id)}
    changed = 0
    for i, doc_id in enumerate(table.document_ids):
        row = rows[doc_id]
        if row["label_source"] == "review":
            continue
        assert row["labels"] == list(table.suggested_labels(i))
        changed += row["labels"] != before[doc_id]
    assert changed  # a 0.0 threshold adds "shipping" wherever the lexicon voted


def test_the_page_download_and_the_command_line_record_the_same_digest(project, tmp_path):
    """One registry of formats and one way to fingerprint each: the Hugging Face folder the
    command line writes and the zip the Export page offers are recorded with one sha256."""
    import zipfile

    from core.export import FORMATS, prepare_export

    store, project_, _ = project
    written = export_project(store, project_.id, "hf", tmp_path / "hf")
    rows, rendered = prepare_export(store, project_.id, "hf")
    assert rendered.sha256 == written.sha256 and len(rows) == written.n_rows
    names = zipfile.ZipFile(io.BytesIO(rendered.data)).namelist()
    assert "dataset/README.md" in names and "dataset/data/train.parquet" in names
    assert [e["sha256"] for e in store.list_exports(project_.id)] == [written.sha256] * 2
    assert FORMATS["hf"].folder and FORMATS["csv"].extension == "csv"
