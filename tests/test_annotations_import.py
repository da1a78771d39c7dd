"""Annotations in (core.annotations): Label Studio's JSON export and Prodigy's JSONL in their
documented shapes (tests/fixtures/annotations/), a CSV, matched to a real SQLite project, and
round-tripped through core.export. Nothing half-imported: a refused file writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.annotations import ImportRefused, apply_import, plan_import, read_annotations
from core.documents import document_id
from core.export import export_project
from core.ingest import IngestError, IngestLimits
from core.store import Store, StoreError
from core.taxonomy import Label, Taxonomy

FIXTURES = Path(__file__).parent / "fixtures" / "annotations"
LABELS = ("Politics", "Business", "Sport")
BUDGET = "Parliament passed the budget after a late-night vote."
STRIKER = "The striker scored twice in the cup final."
SCAN = "Unreadable scan, page 3 of the minutes."
SHARES = "Shares in the retailer fell 4% after the profit warning."


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "sift.db") as store:
        yield store


def new_project(store, name="demo", labels=LABELS):
    project = store.create_project(name)
    store.save_taxonomy(project.id, Taxonomy(labels=[Label(name=n) for n in labels]))
    return project.id


def import_file(store, project_id, path: Path, fmt=None, reviewer=None, name=None):
    annotations = read_annotations(path.read_bytes(), name or path.name, fmt)
    plan = plan_import(store, project_id, annotations, reviewer=reviewer)
    return apply_import(store, project_id, plan, by="tester")


def opinions_by_text(store, project_id) -> dict[str, dict[str, set[str]]]:
    """{text: {reviewer: labels}}: every reviewer's latest labels per document."""
    texts = {doc.id: doc.text for doc in store.get_documents(project_id)}
    return {
        texts[doc_id]: {name: set(review.labels) for name, review in per_reviewer.items()}
        for doc_id, per_reviewer in store.reviewer_opinions(project_id).items()
    }


def state(store, project_id) -> tuple[int, int, int]:
    return (
        store.count_documents(project_id),
        len(store.review_history(project_id)),
        len(store.list_imports(project_id)),
    )


def exported(store, project_id, tmp_path, fmt) -> list[dict]:
    out = tmp_path / f"export.{fmt}"
    export_project(store, project_id, fmt, out)
    if fmt == "jsonl":
        return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    import csv

    with out.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- Label Studio -----------------------------------------------------------------------------


def test_label_studio_export_imports_each_annotation_as_its_reviewers_review(store):
    project_id = new_project(store)
    outcome = import_file(store, project_id, FIXTURES / "label_studio_export.json")
    plan = outcome.plan
    assert plan.format == "label-studio"
    assert opinions_by_text(store, project_id) == {
        BUDGET: {"label-studio user 10": {"Politics"}, "bob@example.com": {"Business"}},
        STRIKER: {"alice@example.com": {"Sport"}},
        SHARES: {"alice@example.com": {"Business"}},
    }
    # the cancelled annotation is skipped (its task's document is not created either)
    assert store.count_documents(project_id) == 3
    assert any("cancelled" in line and "task 3" in line for line in plan.report())
    # the span result is not a label; it is counted in the report
    assert any("not choices" in line for line in plan.report())
    # a textarea result is the review's note; the provenance is in `shown`
    striker = store.current_review(project_id, document_id(STRIKER))
    assert striker is not None and striker.note == "clear match report"
    assert striker.shown is not None and "labels" not in striker.shown
    assert striker.shown["imported"]["format"] == "label-studio"
    assert striker.shown["imported"]["location"] == "task 2, annotation 1"
    # data.id becomes the created document's external id
    (shares,) = store.get_documents(project_id, [document_id(SHARES)])
    assert shares.external_id == "T4"


def test_case_insensitive_label_matches_are_reported(store):
    project_id = new_project(store)
    outcome = import_file(store, project_id, FIXTURES / "label_studio_export.json")
    assert outcome.plan.mapped == (("sport", "Sport", 1),)
    assert "labels matched to the taxonomy ignoring case: 'sport' → Sport: 1 row" in (
        outcome.plan.report()
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_label_studio_round_trip_through_export(store, tmp_path, fmt):
    """Label Studio -> Sift -> export -> a fresh project: the same reviewers and labels."""
    project_id = new_project(store)
    import_file(store, project_id, FIXTURES / "label_studio_export.json")
    rows = exported(store, project_id, tmp_path, fmt)
    by_text = {row["text"]: row for row in rows}
    assert set(by_text) == {BUDGET, STRIKER, SHARES}
    labels = {text: row["labels"] for text, row in by_text.items()}
    if fmt == "csv":
        labels = {text: [v.strip() for v in value.split(";")] for text, value in labels.items()}
    # the current review of each document: its only annotation, or the later of two
    assert labels == {BUDGET: ["Business"], STRIKER: ["Sport"], SHARES: ["Business"]}
    assert {text: row["reviewer"] for text, row in by_text.items()} == {
        BUDGET: "bob@example.com",
        STRIKER: "alice@example.com",
        SHARES: "alice@example.com",
    }
    assert {row["label_source"] for row in rows} == {"reviewed"}

    again = new_project(store, "again")
    import_file(store, again, tmp_path / f"export.{fmt}")
    assert {text: r for text, r in opinions_by_text(store, again).items()} == {
        BUDGET: {"bob@example.com": {"Business"}},
        STRIKER: {"alice@example.com": {"Sport"}},
        SHARES: {"alice@example.com": {"Business"}},
    }
    # the export's external_id column keeps the document's own id
    (shares,) = store.get_documents(again, [document_id(SHARES)])
    assert shares.external_id == "T4"


# --- Prodigy ----------------------------------------------------------------------------------


def test_prodigy_choice_answers_accept_reject_ignore(store):
    project_id = new_project(store)
    outcome = import_file(store, project_id, FIXTURES / "prodigy_textcat_choice.jsonl")
    assert outcome.plan.format == "prodigy"
    # accept -> the accepted options; reject (line 5) and ignore (line 4) -> skipped
    assert opinions_by_text(store, project_id) == {
        BUDGET: {"news_topics-alice": {"Politics"}, "news_topics-bob": {"Business"}},
        STRIKER: {"news_topics-alice": {"Sport"}},
    }
    report = outcome.plan.report()
    assert any("'ignore'" in line and "line 4" in line for line in report)
    assert any("'reject' of a choice task" in line and "line 5" in line for line in report)
    # the upper-case option ids are matched to the taxonomy's names, and said so
    assert {value for value, _, _ in outcome.plan.mapped} == {"POLITICS", "BUSINESS", "SPORT"}


def test_prodigy_binary_reject_means_absent(store):
    project_id = new_project(store)
    outcome = import_file(store, project_id, FIXTURES / "prodigy_textcat_binary.jsonl")
    # lines 1-2: POLITICS accepted, BUSINESS rejected -> Politics; line 4: Business;
    # line 3 only rejects a label -> skipped; line 5 ignore -> skipped
    assert opinions_by_text(store, project_id) == {
        BUDGET: {"news_teach-carol": {"Politics"}},
        SHARES: {"news_teach-carol": {"Business"}},
    }
    report = outcome.plan.report()
    assert any("only reject labels" in line and "line 3" in line for line in report)
    assert any("'ignore'" in line and "line 5" in line for line in report)


def test_prodigy_binary_later_reject_of_the_same_label_wins(store, tmp_path):
    lines = [
        {"text": BUDGET, "label": "POLITICS", "answer": "accept", "_annotator_id": "x-a"},
        {"text": BUDGET, "label": "SPORT", "answer": "accept", "_annotator_id": "x-a"},
        {"text": BUDGET, "label": "POLITICS", "answer": "reject", "_annotator_id": "x-a"},
    ]
    path = tmp_path / "binary.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    project_id = new_project(store)
    import_file(store, project_id, path)
    assert opinions_by_text(store, project_id) == {BUDGET: {"x-a": {"Sport"}}}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_prodigy_round_trip_through_export(store, tmp_path, fmt):
    project_id = new_project(store)
    import_file(store, project_id, FIXTURES / "prodigy_textcat_binary.jsonl")
    rows = exported(store, project_id, tmp_path, fmt)
    reviewed = {row["text"]: row for row in rows if row["label_source"] == "reviewed"}
    assert {text: row["reviewer"] for text, row in reviewed.items()} == {
        BUDGET: "news_teach-carol",
        SHARES: "news_teach-carol",
    }
    again = new_project(store, "again")
    import_file(store, again, tmp_path / f"export.{fmt}")
    assert opinions_by_text(store, again) == opinions_by_text(store, project_id)


# --- refusals: nothing half-imported ----------------------------------------------------------


def test_unknown_label_refuses_the_whole_file_and_writes_nothing(store, tmp_path):
    project_id = new_project(store, labels=("Politics", "Business"))  # no Sport
    before = state(store, project_id)
    annotations = read_annotations(
        (FIXTURES / "label_studio_export.json").read_bytes(), "label_studio_export.json"
    )
    with pytest.raises(ImportRefused) as refused:
        plan_import(store, project_id, annotations)
    message = str(refused.value)
    assert "labels not in the taxonomy: 'sport' (1 row)" in message
    assert "'Politics', 'Business'" in message and "nothing was imported" in message
    assert state(store, project_id) == before == (0, 0, 0)


def test_a_write_that_fails_midway_leaves_nothing(store):
    """The taxonomy loses a label between the check and the write: the store refuses the
    review, and the documents created in the same transaction are rolled back with it."""
    project_id = new_project(store)
    annotations = read_annotations(
        (FIXTURES / "label_studio_export.json").read_bytes(), "label_studio_export.json"
    )
    plan = plan_import(store, project_id, annotations)
    assert plan.new_documents and plan.reviews
    store.save_taxonomy(project_id, Taxonomy(labels=[Label(name="Politics")]))
    with pytest.raises(StoreError, match="not in the project's taxonomy"):
        apply_import(store, project_id, plan)
    assert state(store, project_id) == (0, 0, 0)


def test_rows_without_a_reviewer_need_one_named(store, tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text(f'text,labels\n"{BUDGET}",Politics\n"{STRIKER}",Sport\n', encoding="utf-8")
    project_id = new_project(store)
    with pytest.raises(ImportRefused, match=r"2 rows say no reviewer \(row 1, row 2\).*--reviewer"):
        import_file(store, project_id, path)
    assert state(store, project_id) == (0, 0, 0)
    import_file(store, project_id, path, reviewer="dana")
    assert opinions_by_text(store, project_id) == {
        BUDGET: {"dana": {"Politics"}},
        STRIKER: {"dana": {"Sport"}},
    }


def test_the_files_reviewer_wins_over_the_default(store):
    project_id = new_project(store)
    import_file(store, project_id, FIXTURES / "reviews.csv", reviewer="dana")
    assert opinions_by_text(store, project_id) == {
        BUDGET: {"alice": {"Politics"}, "bob": {"Business", "Politics"}},
        STRIKER: {"alice": {"Sport"}},
    }
    budget = store.reviewer_opinions(project_id)[document_id(BUDGET)]["bob"]
    assert budget.note == "budget is both"


def test_an_id_without_text_must_name_a_document(store, tmp_path):
    project_id = new_project(store)
    path = tmp_path / "ids.jsonl"
    path.write_text('{"id": "T9", "labels": ["Sport"], "reviewer": "a"}\n', encoding="utf-8")
    with pytest.raises(ImportRefused, match=r"line 1 \('T9'\).*add a text column"):
        import_file(store, project_id, path)
    assert state(store, project_id) == (0, 0, 0)


def test_documents_are_matched_by_external_id_and_by_sift_id(store, tmp_path):
    project_id = new_project(store)
    import_file(store, project_id, FIXTURES / "label_studio_export.json")  # SHARES is T4
    path = tmp_path / "ids.jsonl"
    lines = [
        {"id": "T4", "labels": "Politics", "reviewer": "eve"},
        {"id": document_id(STRIKER), "labels": ["Politics"], "reviewer": "eve"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    outcome = import_file(store, project_id, path)
    assert outcome.plan.matched_by_id == 2 and not outcome.plan.new_documents
    opinions = store.reviewer_opinions(project_id)
    assert opinions[document_id(SHARES)]["eve"].labels == ("Politics",)
    assert opinions[document_id(STRIKER)]["eve"].labels == ("Politics",)


def test_importing_the_same_file_twice_writes_nothing_new(store):
    project_id = new_project(store)
    import_file(store, project_id, FIXTURES / "prodigy_textcat_choice.jsonl")
    before = state(store, project_id)
    outcome = import_file(store, project_id, FIXTURES / "prodigy_textcat_choice.jsonl")
    assert outcome.reviews == [] and outcome.plan.unchanged == 3
    assert state(store, project_id) == before


def test_a_repeated_reviewer_and_document_keeps_the_later_row(store, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(
        f'text,labels,reviewer\n"{BUDGET}",Politics,a\n"{BUDGET}",Business,a\n', encoding="utf-8"
    )
    project_id = new_project(store)
    outcome = import_file(store, project_id, path)
    assert outcome.plan.replaced_in_file == 1 and len(outcome.reviews) == 1
    assert opinions_by_text(store, project_id) == {BUDGET: {"a": {"Business"}}}


def test_machine_rows_of_a_sift_export_are_skipped(store, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "id,text,labels,label_source,reviewer\n"
        f'1,"{BUDGET}",Politics,reviewed,ann\n'
        f'2,"{STRIKER}",Sport,machine,\n',
        encoding="utf-8",
    )
    project_id = new_project(store)
    outcome = import_file(store, project_id, path)
    assert opinions_by_text(store, project_id) == {BUDGET: {"ann": {"Politics"}}}
    assert any("label_source 'machine'" in line for line in outcome.plan.report())


def test_limits_bound_the_file(store, tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("text,labels,reviewer\na,Sport,x\nb,Sport,x\nc,Sport,x\n", encoding="utf-8")
    with pytest.raises(IngestError, match="more than 2 rows"):
        read_annotations(path.read_bytes(), "many.csv", limits=IngestLimits(max_documents=2))
    with pytest.raises(IngestError, match="over the 10-byte limit"):
        read_annotations(path.read_bytes(), "many.csv", limits=IngestLimits(max_file_bytes=10))


def test_bad_shapes_are_named(tmp_path):
    with pytest.raises(IngestError, match=r"x\.json, task 1: is not a Label Studio task"):
        read_annotations(b'[{"text": "a"}]', "x.json", "label-studio")
    with pytest.raises(IngestError, match=r"p\.jsonl, line 1: \"answer\" is 'maybe'"):
        read_annotations(b'{"text": "a", "label": "X", "answer": "maybe"}', "p.jsonl", "prodigy")
    with pytest.raises(IngestError, match="has no labels column"):
        read_annotations(b"text,reviewer\na,b\n", "x.csv")
    with pytest.raises(IngestError, match="control characters"):
        read_annotations(b'text,labels,reviewer\na,Sport,"x\x1b[31m"\n', "x.csv")


def test_the_format_is_guessed_from_extension_and_content():
    choice = (FIXTURES / "prodigy_textcat_choice.jsonl").read_bytes()
    assert read_annotations(choice, "a.jsonl").format == "prodigy"
    assert read_annotations(b'{"text": "a", "labels": "Sport"}\n', "a.jsonl").format == "jsonl"
    studio = (FIXTURES / "label_studio_export.json").read_bytes()
    assert read_annotations(studio, "a.json").format == "label-studio"
    assert read_annotations(b'[{"text": "a", "labels": "Sport"}]', "a.json").format == "jsonl"
    with pytest.raises(IngestError, match="annotations are read from"):
        read_annotations(b"x", "a.pdf")


def test_a_viewer_cannot_import_reviews_through_the_guarded_store(store):
    from core.auth import GuardedStore, Identity, PermissionDenied

    project_id = new_project(store)
    annotations = read_annotations((FIXTURES / "reviews.csv").read_bytes(), "reviews.csv")
    viewer = GuardedStore(store, Identity(name="vic", role="viewer", method="password"))
    plan = plan_import(viewer, project_id, annotations)  # checking only reads
    with pytest.raises(PermissionDenied, match="review"):
        apply_import(viewer, project_id, plan)
    assert state(store, project_id) == (0, 0, 0)


def test_the_import_bench_runs_and_a_reimport_writes_nothing():
    from bench.import_reviews import run

    figures = run(60)  # asserts inside: 60 reviews written, then all 60 found unchanged
    assert set(figures) == {"MB", "read s", "check s", "write s", "re-import check s"}
