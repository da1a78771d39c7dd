"""Export: every format carries the final labels; CSV is safe to open in a spreadsheet; the
typed formats (Parquet, the Hugging Face folder) keep label and score types."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.documents import Document
from core.engine import run_techniques
from core.export import (
    LABEL_SOURCES,
    ExportOptions,
    build_rows,
    export_project,
    label_space,
    neutralise_cell,
    render,
    split_summary,
)
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


# Label names that are awkward as struct field names and class names: dots, spaces, brackets,
# non-ASCII, a leading symbol; in an order that is not alphabetical.
ODD_TAXONOMY = Taxonomy(
    labels=(
        Label(name="Shipping & delivery", keywords=(Keyword("parcel"), Keyword("courier"))),
        Label(name="billing.refunds", keywords=(Keyword("invoice"), Keyword("refund"))),
        Label(name="Ärger [complaint]", keywords=(Keyword("angry"), Keyword("complaint"))),
        Label(name="$other", keywords=(Keyword("meeting"),)),
    )
)
ODD_TEXTS = [
    "Refund my invoice please",
    "The courier lost the parcel and I am angry",
    "Angry complaint about the invoice refund",
    "Parcel delivered by the courier",
    "A meeting about the invoice",
    "An angry complaint",
    "Nothing relevant here",
    "Where is my parcel",
]


def odd_project(db_path, *, multi_label: bool, n_reviewed: int):
    """A project over ODD_TAXONOMY (multi- or single-label) with `n_reviewed` reviews."""
    store = Store(db_path)
    project = store.create_project("odd")
    store.save_taxonomy(project.id, ODD_TAXONOMY)
    store.update_project_settings(project.id, {"multi_label": multi_label, "threshold": 0.3})
    docs = [Document.from_text(text, source="odd.csv") for text in ODD_TEXTS]
    store.add_documents(
        project.id, docs, filename="odd.csv", format="csv", encoding="utf-8", sha256="o"
    )
    techniques = [
        create_technique("rules", multi_label=multi_label),
        create_technique("lexicon", multi_label=multi_label),
    ]
    run_techniques(store, project.id, techniques)
    names = ODD_TAXONOMY.names
    for i, doc in enumerate(docs[:n_reviewed]):
        labels = [names[i % 4], names[(i + 1) % 4]] if multi_label else [names[i % 4]]
        store.add_review(project.id, doc.id, reviewer="ana", decision="correct", labels=labels)
    return store, project, docs


# --- CSV formula neutralising --------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell):
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell",
    [
        " =1+1",  # space
        "   +cmd|' /C calc'!A0",
        "\u00a0=1+1",  # NO-BREAK SPACE
        "\ufeff=1+1",  # BOM
        "\ufeff\u00a0 @SUM(A1)",
        "\u200b=1",  # ZERO WIDTH SPACE (Cf)
        "\u2060-2",  # WORD JOINER (Cf)
        "\u202e=1",  # RIGHT-TO-LEFT OVERRIDE (Cf)
        "\u3000=1",  # IDEOGRAPHIC SPACE (Zs)
        "\u2003\t=1",  # EM SPACE, then a tab
        "\n=1+1",  # a line break before the formula
        "\uff1d1+1",  # FULLWIDTH EQUALS SIGN
        '\uff1dHYPERLINK("http://evil")',
        "\uff0b1",  # FULLWIDTH PLUS SIGN
        "\uff0d1",  # FULLWIDTH HYPHEN-MINUS
        "\uff20SUM(A1)",  # FULLWIDTH COMMERCIAL AT
        "\ufe66SUM(A1)",  # SMALL EQUALS SIGN
        "\u207a1",  # SUPERSCRIPT PLUS SIGN
        " \uff1d1",
        "\ufeff\uff1d1",
        "\uff1d\u0338x",  # a combining mark after the full-width sign does not hide it
    ],
)
def test_formula_cells_behind_invisible_or_full_width_characters_are_neutralised(cell):
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell",
    ["Refund 1+1", "", " ", "\u00a0\ufeff", "a=1", "\u00a0hello", "Mr. =", "\u2260 x", "'=1"],
)
def test_plain_cells_are_left_alone(cell):
    assert neutralise_cell(cell) == cell


TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Every character that is a formula start or whose NFKC form is one (full-width, small,
# superscript, subscript forms): computed here, independently of core.export.
TRIGGER_FORMS = sorted(
    {
        char
        for char in map(chr, range(0x110000))
        if unicodedata.category(char) != "Cs"
        and unicodedata.normalize("NFKC", char)[:1] in TRIGGERS
    }
)
INVISIBLE = st.characters(categories=["Zs", "Cf"]) | st.sampled_from(
    ["\ufeff", "\u00a0", "\n", "\x0b", "\x0c", "\u2028", "\u2029", "\x85"]
)


def _first_visible_nfkc(value: str) -> str:
    """The brief's rule, spelled out: strip leading Zs/Cf/whitespace other than TAB and CR,
    NFKC the whole value, strip again, take the first character."""

    def skippable(char: str) -> bool:
        return char not in TRIGGERS and (
            unicodedata.category(char) in ("Zs", "Cf") or char.isspace()
        )

    stripped = value
    while stripped and skippable(stripped[0]):
        stripped = stripped[1:]
    normalised = unicodedata.normalize("NFKC", stripped)
    while normalised and skippable(normalised[0]):
        normalised = normalised[1:]
    return normalised[:1]


def test_the_trigger_forms_include_the_full_width_signs():
    assert {"\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66"} <= set(TRIGGER_FORMS)


@given(
    prefix=st.lists(INVISIBLE, max_size=6).map("".join),
    trigger=st.sampled_from(TRIGGER_FORMS),
    rest=st.text(max_size=30),
)
def test_any_formula_start_behind_invisible_characters_is_neutralised(prefix, trigger, rest):
    cell = prefix + trigger + rest
    assert neutralise_cell(cell) == "'" + cell


@given(st.text(max_size=40))
def test_neutralising_only_ever_prefixes_a_quote_and_catches_the_normalised_start(cell):
    out = neutralise_cell(cell)
    assert out in (cell, "'" + cell)
    if cell[:1] in TRIGGERS or _first_visible_nfkc(cell) in TRIGGERS:
        assert out == "'" + cell
    assert neutralise_cell(out) == out  # a quote-led cell is left alone


@given(st.from_regex(r"[A-Za-z0-9][^\r]*", fullmatch=True))
def test_cells_that_start_with_a_letter_or_digit_are_left_alone(cell):
    assert neutralise_cell(cell) == cell


@given(prefix=st.lists(INVISIBLE, max_size=4).map("".join), trigger=st.sampled_from(TRIGGER_FORMS))
def test_no_csv_cell_opens_as_a_formula(prefix, trigger):
    value = prefix + trigger + "1+1"
    data = render([{"text": value, "labels": [value], "n": "1"}], "csv").data.decode("utf-8")
    _, row = csv.reader(io.StringIO(data, newline=""))
    assert row == ["'" + value, "'" + value, "1"]


# --- rows and label sources ----------------------------------------------------------------------


def test_rows_use_review_labels_over_predictions(project):
    store, project, docs = project
    rows = {row["id"]: row for row in build_rows(store, project.id)}
    assert rows[docs[0].id]["labels"] == ["billing"]
    assert rows[docs[0].id]["label_source"] == "machine"
    assert rows[docs[1].id]["labels"] == ["billing"]  # corrected by the reviewer
    assert rows[docs[1].id]["label_source"] == "reviewed"
    assert rows[docs[1].id]["reviewer"] == "ana"
    assert rows[docs[7].id]["labels"] == [] and rows[docs[7].id]["label_source"] == "none"


def test_label_source_vocabulary(project):
    store, project, docs = project
    assert LABEL_SOURCES == ("reviewed", "adjudicated", "machine", "none")
    sources = [row["label_source"] for row in build_rows(store, project.id)]
    assert set(sources) == {"reviewed", "machine", "none"}
    assert sources.count("reviewed") == 1
    # an undone review makes the document machine-labelled again
    [review] = store.review_history(project.id, docs[1].id)
    store.undo_review(project.id, review.id, reviewer="ana")
    rows = {row["id"]: row for row in build_rows(store, project.id)}
    assert rows[docs[1].id]["label_source"] == "machine" and rows[docs[1].id]["reviewer"] == ""


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
    nothing = next(row for row in rows if row["text"] == "Nothing relevant here")
    assert nothing["scores_lexicon"] == ""  # abstained


def test_jsonl_and_parquet_carry_the_same_rows(project):
    store, project, docs = project
    rows = build_rows(store, project.id)
    jsonl = [json.loads(line) for line in render(rows, "jsonl").data.decode().splitlines()]
    table = pq.read_table(io.BytesIO(render(rows, "parquet").data)).to_pylist()
    assert [r["labels"] for r in jsonl] == [r["labels"] for r in rows]
    assert [r["labels"] for r in table] == [r["labels"] for r in rows]
    assert [r["text"] for r in table] == TEXTS  # no neutralising outside CSV


# --- typed scores --------------------------------------------------------------------------------


def test_parquet_scores_are_a_float_struct_per_label_in_taxonomy_order(db_path):
    store, project, docs = odd_project(db_path, multi_label=False, n_reviewed=2)
    rows = build_rows(store, project.id, ExportOptions(include_scores=True))
    _, rendered = _prepare(store, project.id, "parquet", ExportOptions(include_scores=True))
    table = pq.read_table(io.BytesIO(rendered.data))
    score_columns = [name for name in table.column_names if name.startswith("scores_")]
    assert set(score_columns) == {"scores_rules", "scores_lexicon", "scores_ensemble"}
    for column in score_columns:
        kind = table.schema.field(column).type
        assert pa.types.is_struct(kind)
        assert [kind.field(i).name for i in range(kind.num_fields)] == ODD_TAXONOMY.names
        assert all(pa.types.is_float64(kind.field(i).type) for i in range(kind.num_fields))
    assert pa.types.is_list(table.schema.field("labels").type)
    stored = table.to_pylist()
    assert [row["id"] for row in stored] == [row["id"] for row in rows]
    for written, built in zip(stored, rows):
        for column in score_columns:
            assert written[column] == built[column]  # a dict, or None where abstained
    assert any(row["scores_lexicon"] is None for row in stored)  # "Nothing relevant here"
    assert any(row["scores_lexicon"] is not None for row in stored)
    frame = pq.read_table(io.BytesIO(rendered.data)).to_pandas()
    scored = frame["scores_lexicon"].dropna().iloc[0]
    assert list(scored) == ODD_TAXONOMY.names and all(isinstance(v, float) for v in scored.values())


def test_jsonl_scores_are_objects_or_null(project):
    store, project, docs = project
    rows = build_rows(store, project.id, ExportOptions(include_scores=True))
    records = [json.loads(line) for line in render(rows, "jsonl").data.decode().splitlines()]
    lexicon = [record["scores_lexicon"] for record in records]
    assert any(scores is None for scores in lexicon)
    assert all(
        set(scores) == {"billing", "shipping"}
        and all(isinstance(v, float) for v in scores.values())
        for scores in lexicon
        if scores is not None
    )


# --- the train/test split ------------------------------------------------------------------------


def _review(store, project_id, docs, indices):
    for i in indices:
        store.add_review(
            project_id, docs[i].id, reviewer="bo", decision="accept", labels=["billing"]
        )


def test_split_test_rows_are_reviewed_by_default(project):
    store, project, docs = project
    _review(store, project.id, docs, [0, 2, 4, 6])  # 5 of 8 reviewed, with docs[1]
    options = ExportOptions(test_fraction=0.25, seed=7)
    assert not options.reviewed_only  # the default
    rows = build_rows(store, project.id, options)
    test = [row for row in rows if row["split"] == "test"]
    assert len(test) == 2
    assert {row["label_source"] for row in test} == {"reviewed"}
    machine = [row for row in rows if row["label_source"] in ("machine", "none")]
    assert machine and {row["split"] for row in machine} == {"train"}
    summary = split_summary(rows, options.test_fraction)
    assert summary is not None and not summary.short
    assert (summary.requested, summary.test, summary.reviewed) == (2, 2, 5)


def test_split_is_seeded(project):
    store, project, docs = project
    _review(store, project.id, docs, [0, 2, 4, 6])
    options = ExportOptions(test_fraction=0.25, seed=7)
    first = build_rows(store, project.id, options)
    again = build_rows(store, project.id, options)
    assert [r["split"] for r in first] == [r["split"] for r in again]
    test_sets = {
        frozenset(
            r["id"]
            for r in build_rows(store, project.id, ExportOptions(test_fraction=0.25, seed=seed))
            if r["split"] == "test"
        )
        for seed in range(8)
    }
    assert len(test_sets) > 1


def test_too_few_reviewed_documents_give_a_smaller_test_split_and_say_so(project, tmp_path):
    store, project, docs = project  # one reviewed document of eight
    options = ExportOptions(test_fraction=0.5, seed=3)
    result = export_project(store, project.id, "csv", tmp_path / "out.csv", options)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8"))))
    assert [row["id"] for row in rows if row["split"] == "test"] == [docs[1].id]
    assert result.split is not None and result.split.short
    assert (result.split.requested, result.split.test, result.split.reviewed) == (4, 1, 1)
    note = result.split.note()
    assert "1 row, not the 4 asked for" in note and "only 1 document reviewed" in note


def test_no_split_has_no_split_column_or_summary(project):
    store, project, docs = project
    rows = build_rows(store, project.id)
    assert all("split" not in row for row in rows)
    assert split_summary(rows, 0.0) is None


def test_command_line_export_says_how_the_split_came_out(project, tmp_path, capsys):
    from core.cli import main

    store, project_, docs = project
    out = tmp_path / "out.jsonl"
    argv = ["--db", str(store.path), "export", "export", "--format", "jsonl", "--out", str(out)]
    assert main([*argv, "--test-fraction", "0.25"]) == 0
    captured = capsys.readouterr()
    assert "not the 2 asked for" in captured.err and "only 1 document reviewed" in captured.err
    _review(store, project_.id, docs, [0, 2, 4])
    assert main([*argv, "--test-fraction", "0.25"]) == 0
    captured = capsys.readouterr()
    assert "Test split: 2 reviewed documents; 6 other rows in train." in captured.out
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["label_source"] for r in records if r["split"] == "test"} == {"reviewed"}


# --- the Hugging Face folder ---------------------------------------------------------------------


def _prepare(store, project_id, fmt, options):
    from core.export import prepare_export

    return prepare_export(store, project_id, fmt, options)


def _decoded(dataset, multi_label):
    feature = dataset.features["labels"]
    label = feature.feature if multi_label else feature
    out = {}
    for row in dataset:
        value = row["labels"]
        out[row["id"]] = (
            [label.int2str(v) for v in value]
            if multi_label
            else ([] if value is None else [label.int2str(value)])
        )
    return out


@pytest.mark.parametrize("multi_label", [False, True], ids=["single-label", "multi-label"])
@pytest.mark.parametrize("test_fraction", [0.0, 0.25], ids=["unsplit", "split"])
def test_hf_folder_round_trips_through_load_from_disk(
    db_path, tmp_path, multi_label, test_fraction
):
    datasets = pytest.importorskip("datasets")
    store, project, docs = odd_project(db_path, multi_label=multi_label, n_reviewed=4)
    options = ExportOptions(include_scores=True, test_fraction=test_fraction, seed=5)
    rows = build_rows(store, project.id, options)
    result = export_project(store, project.id, "hf", tmp_path / "ds", options)
    loaded = datasets.load_from_disk(str(result.path))

    if test_fraction:
        assert isinstance(loaded, datasets.DatasetDict) and list(loaded) == ["train", "test"]
        parts = {split: loaded[split] for split in loaded}
        assert parts["test"].num_rows == 2
        assert set(parts["test"]["label_source"]) == {"reviewed"}
        assert "split" not in parts["train"].column_names  # the split is the dict's key
    else:
        assert isinstance(loaded, datasets.Dataset)
        parts = {"train": loaded}
    assert sum(part.num_rows for part in parts.values()) == len(ODD_TEXTS)

    for split, part in parts.items():
        feature = part.features["labels"]
        if multi_label:
            assert isinstance(feature, datasets.List | datasets.Sequence)
            assert isinstance(feature.feature, datasets.ClassLabel)
            assert feature.feature.names == ODD_TAXONOMY.names
        else:
            assert isinstance(feature, datasets.ClassLabel)
            assert feature.names == ODD_TAXONOMY.names  # taxonomy order, not sorted
        scores = part.features["scores_lexicon"]
        assert list(scores) == ODD_TAXONOMY.names
        assert all(value.dtype == "float64" for value in scores.values())
        built = {row["id"]: row for row in rows if row.get("split", "train") == split}
        assert _decoded(part, multi_label) == {i: row["labels"] for i, row in built.items()}
        for row in part:
            assert row["scores_lexicon"] == built[row["id"]]["scores_lexicon"]
            assert row["label_source"] == built[row["id"]]["label_source"]
            assert row["text"] == built[row["id"]]["text"]
    if multi_label:  # the reviews hold two labels each, and they survive the round trip
        assert any(len(row["labels"]) == 2 for part in parts.values() for row in part)


def test_hf_labels_the_taxonomy_lost_are_kept_after_its_own(db_path, tmp_path):
    datasets = pytest.importorskip("datasets")
    store, project, docs = odd_project(db_path, multi_label=False, n_reviewed=0)
    legacy = Taxonomy(labels=(*ODD_TAXONOMY.labels, Label(name="legacy")))
    store.save_taxonomy(project.id, legacy)
    store.add_review(project.id, docs[6].id, reviewer="ana", decision="correct", labels=["legacy"])
    store.save_taxonomy(project.id, ODD_TAXONOMY)  # the label is removed after the review
    result = export_project(store, project.id, "hf", tmp_path / "ds")
    loaded = datasets.load_from_disk(str(result.path))
    assert loaded.features["labels"].names == [*ODD_TAXONOMY.names, "legacy"]
    assert _decoded(loaded, False)[docs[6].id] == ["legacy"]
    assert label_space(store, project.id).names == tuple(ODD_TAXONOMY.names)


def test_hf_single_label_project_with_a_multi_label_review_is_written_as_lists(db_path, tmp_path):
    datasets = pytest.importorskip("datasets")
    store, project, docs = odd_project(db_path, multi_label=False, n_reviewed=0)
    both = ["billing.refunds", "Shipping & delivery"]
    store.add_review(project.id, docs[0].id, reviewer="ana", decision="correct", labels=both)
    loaded = datasets.load_from_disk(
        str(export_project(store, project.id, "hf", tmp_path / "d").path)
    )
    assert isinstance(loaded.features["labels"].feature, datasets.ClassLabel)
    assert _decoded(loaded, True)[docs[0].id] == both


def test_hf_zip_download_unpacks_to_the_folder_load_from_disk_reads(project, tmp_path):
    datasets = pytest.importorskip("datasets")
    store, project_, docs = project
    _review(store, project_.id, docs, [0, 2])
    _, rendered = _prepare(store, project_.id, "hf", ExportOptions(test_fraction=0.25, seed=1))
    zipfile.ZipFile(io.BytesIO(rendered.data)).extractall(tmp_path)
    loaded = datasets.load_from_disk(str(tmp_path / "dataset"))
    assert set(loaded) == {"train", "test"}
    assert loaded["train"].num_rows + loaded["test"].num_rows == len(TEXTS)
    assert loaded["train"].features["labels"].names == ["billing", "shipping"]


def test_hf_export_replaces_an_earlier_export_but_not_another_folder(project, tmp_path):
    datasets = pytest.importorskip("datasets")
    store, project_, docs = project
    destination = tmp_path / "ds"
    export_project(store, project_.id, "hf", destination, ExportOptions(test_fraction=0.25))
    again = export_project(store, project_.id, "hf", destination)  # now unsplit
    assert isinstance(datasets.load_from_disk(str(destination)), datasets.Dataset)
    assert not (destination / "test").exists() and again.split is None
    assert not (tmp_path / "ds.partial").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no dataset"):
        export_project(store, project_.id, "hf", other)
    assert (other / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_hf_export_of_an_empty_project_loads(db_path, tmp_path):
    datasets = pytest.importorskip("datasets")
    store = Store(db_path)
    project = store.create_project("empty")
    store.save_taxonomy(project.id, TAXONOMY)
    result = export_project(store, project.id, "hf", tmp_path / "ds")
    loaded = datasets.load_from_disk(str(result.path))
    assert loaded.num_rows == 0 and loaded.features["labels"].names == ["billing", "shipping"]


# --- recording and the registry ------------------------------------------------------------------


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
        if row["label_source"] == "reviewed":
            continue
        assert row["labels"] == list(table.suggested_labels(i))
        changed += row["labels"] != before[doc_id]
    assert changed  # a 0.0 threshold adds "shipping" wherever the lexicon voted


def test_the_page_download_and_the_command_line_record_the_same_digest(project, tmp_path):
    """One registry of formats and one way to fingerprint each: the Hugging Face folder the
    command line writes and the zip the Export page offers are recorded with one sha256."""
    from core.export import FORMATS, prepare_export

    store, project_, _ = project
    written = export_project(store, project_.id, "hf", tmp_path / "hf")
    rows, rendered = prepare_export(store, project_.id, "hf")
    assert rendered.sha256 == written.sha256 and len(rows) == written.n_rows
    names = zipfile.ZipFile(io.BytesIO(rendered.data)).namelist()
    assert {"dataset/README.md", "dataset/dataset_info.json", "dataset/state.json"} <= set(names)
    assert [e["sha256"] for e in store.list_exports(project_.id)] == [written.sha256] * 2
    assert FORMATS["hf"].folder and FORMATS["csv"].extension == "csv"
