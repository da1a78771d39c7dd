"""core.store on real SQLite files: projects, taxonomy, documents, runs, predictions, reviews."""

import ast
import hashlib
import math
import re
import sqlite3
from dataclasses import replace
from itertools import count
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.documents import Document
from core.store import (
    DocumentNotFound,
    ProjectNotFound,
    ReviewConflict,
    RunNotFound,
    Store,
    StoreError,
)
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques.base import Span, TextResult

REPO = Path(__file__).resolve().parents[1]

TAXONOMY = Taxonomy(
    labels=(
        Label(
            name="billing",
            description="Invoices, charges and payments",
            keywords=(Keyword("invoice", 2.0), Keyword("overcharged", 1.5)),
            patterns=(r"\binv-\d+\b",),
            entity_types=("MONEY",),
            colour="#1f77b4",
        ),
        Label(name="complaint", keywords=(Keyword("unhappy"),)),
        Label(name="praise", description="Thanks and compliments"),
    )
)
TEXTS = [
    "Invoice INV-1 was charged twice.",
    "I am unhappy with the delivery.",
    "Thank you, great service!",
    "Where is my parcel?",
]


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened


@pytest.fixture
def project(store):
    created = store.create_project("claims")
    store.save_taxonomy(created.id, TAXONOMY)
    return created


def make_docs(texts, source="batch.txt"):
    return [
        Document.from_text(text, source=source, location=f"line {n}")
        for n, text in enumerate(texts, 1)
    ]


def import_docs(store, project, docs, filename="batch.txt"):
    return store.add_documents(
        project.id, docs, filename=filename, format="txt", encoding="utf-8", sha256="0" * 64
    )


@pytest.fixture
def doc_ids(store, project):
    docs = make_docs(TEXTS)
    import_docs(store, project, docs)
    return [doc.id for doc in docs]


def start_run(store, project, *, technique="lexicon", cache_key="key-1", n_documents=4):
    return store.start_run(
        project.id,
        technique=technique,
        config_hash="cfg",
        config={"multi_label": False},
        cache_key=cache_key,
        model_id="",
        model_revision="",
        device="cpu",
        dtype="",
        n_documents=n_documents,
    )


def result(billing=0.7, complaint=0.2, praise=0.1):
    return TextResult(
        scores={"billing": billing, "complaint": complaint, "praise": praise},
        evidence=[Span(0, 7, "keyword", "billing", "invoice")],
    ).to_json()


# --- projects ----------------------------------------------------------------------------------


def test_created_project_is_found_by_name_and_by_id(store):
    created = store.create_project("  Claims 2026  ", settings={"threshold": 0.5})
    assert created.name == "Claims 2026"
    assert store.get_project("Claims 2026") == created
    assert store.get_project(created.id) == created
    assert created.settings == {"threshold": 0.5}


@pytest.mark.parametrize("name", ["", "   ", None])
def test_project_name_must_not_be_empty(store, name):
    with pytest.raises(StoreError, match="empty"):
        store.create_project(name)
    assert store.list_projects() == []


def test_duplicate_project_name_is_refused(store):
    store.create_project("claims")
    with pytest.raises(StoreError, match="'claims' already exists"):
        store.create_project("claims")


def test_unknown_project_error_lists_existing_names(store):
    store.create_project("alpha")
    store.create_project("beta")
    with pytest.raises(ProjectNotFound, match="'alpha', 'beta'"):
        store.get_project("gamma")


def test_projects_are_listed_in_creation_order(store):
    names = ["zeta", "alpha", "mid"]
    for name in names:
        store.create_project(name)
    assert [p.name for p in store.list_projects()] == names


def test_rename_project(store):
    created = store.create_project("old")
    renamed = store.rename_project(created.id, "new")
    assert (renamed.id, renamed.name) == (created.id, "new")
    with pytest.raises(ProjectNotFound):
        store.get_project("old")


def test_rename_to_an_existing_name_is_refused(store):
    store.create_project("taken")
    other = store.create_project("other")
    with pytest.raises(StoreError, match="already exists"):
        store.rename_project(other.id, "taken")
    assert store.get_project(other.id).name == "other"


def test_update_settings_replaces_them(store):
    created = store.create_project("p", settings={"a": 1, "b": 2})
    updated = store.update_project_settings(created.id, {"b": 3})
    assert updated.settings == {"b": 3}
    assert store.get_project(created.id).settings == {"b": 3}


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.count_documents(999),
        lambda s: s.load_taxonomy(999),
        lambda s: s.save_taxonomy(999, TAXONOMY),
        lambda s: s.current_reviews(999),
        lambda s: s.delete_project(999),
        lambda s: s.list_runs(999),
    ],
)
def test_project_scoped_calls_reject_unknown_project(store, call):
    with pytest.raises(ProjectNotFound, match="999"):
        call(store)


def test_delete_project_removes_every_row_of_it_and_nothing_else(store, db_path):
    doomed, kept = store.create_project("doomed"), store.create_project("kept")
    for target in (doomed, kept):
        store.save_taxonomy(target.id, TAXONOMY)
        docs = make_docs(TEXTS)
        import_docs(store, target, docs)
        run = start_run(store, target)
        store.write_predictions(target.id, run, "key-1", "lexicon", [(docs[0].id, result())])
        store.finish_run(run, status="finished", n_computed=1, n_cached=0, seconds=0.1)
        store.add_review(
            target.id, docs[0].id, reviewer="ann", decision="accept", labels=["praise"]
        )
        store.undo_last_review(target.id, "ann")
        store.record_export(target.id, format="csv", n_rows=4, options={}, sha256="e" * 64)
        store.save_trained_model(
            target.id, kind="supervised", params={}, metrics={}, blob=b"m", n_reviews=1
        )
        version = store.save_model_version(
            target.id, status="adopted", config={}, metrics={}, reason="", n_reviews=1
        )
        store.pin_model_version(target.id, version.id)
        store.save_embeddings(target.id, "model|rev|fp32|None", [(b"d" * 16, b"\0" * 8)])

    store.delete_project(doomed.id)

    raw = sqlite_utils.Database(db_path)
    for table in raw.table_names():
        if "project_id" in raw[table].columns_dict:
            assert raw[table].count_where("project_id = ?", [doomed.id]) == 0, table
            assert raw[table].count_where("project_id = ?", [kept.id]) > 0, table
    assert [p.name for p in store.list_projects()] == ["kept"]
    assert store.integrity_check() == "ok"


def test_closed_store_says_so(db_path):
    store = Store(db_path)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_projects()


# --- where the database lives and how it is opened ----------------------------------------------


def test_path_defaults_to_sift_db_env(db_path):
    with Store() as store:
        assert store.path == db_path.resolve()


def test_path_without_env_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SIFT_DB", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with Store() as store:
        assert store.path == (tmp_path / ".local/share/sift/sift.db").resolve()
        assert store.path.exists()


def test_database_file_is_in_wal_mode(store):
    store.create_project("p")
    header = store.path.read_bytes()[:20]
    assert header[18:20] == b"\x02\x02"  # file format read/write versions 2 = WAL


def test_foreign_keys_are_enforced(store, project, doc_ids):
    run = start_run(store, project)
    with pytest.raises(StoreError, match="'not-a-document'"):
        store.write_predictions(project.id, run, "key-1", "lexicon", [("not-a-document", result())])


# --- taxonomy ----------------------------------------------------------------------------------


def test_taxonomy_round_trips_with_order_and_keyword_weights(store, project):
    assert store.load_taxonomy(project.id) == TAXONOMY


def test_saving_a_taxonomy_replaces_the_old_one(store, project):
    smaller = Taxonomy(labels=(Label(name="praise"), Label(name="billing")))
    store.save_taxonomy(project.id, smaller)
    assert store.load_taxonomy(project.id) == smaller


def test_taxonomy_with_repeated_label_is_refused_and_old_one_kept(store, project):
    with pytest.raises(StoreError, match="'billing'"):
        store.save_taxonomy(project.id, Taxonomy(labels=(Label("billing"), Label("billing"))))
    assert store.load_taxonomy(project.id) == TAXONOMY


# --- documents ---------------------------------------------------------------------------------


def test_added_documents_keep_every_field(store, project):
    doc = Document.from_text(
        "Refund please\r\n",
        source="mail.eml",
        location="message 1",
        external_id="T-17",
        gold_labels=("billing", "complaint"),
        meta={"subject": "Refund", "cc": ["a@b.c"]},
    )
    summary = import_docs(store, project, [doc], filename="mail.eml")
    [stored] = store.get_documents(project.id)
    assert stored.to_document() == doc
    assert stored.meta == doc.meta
    assert stored.import_id == summary.import_id
    assert stored.n_chars == len(doc.text)


def test_adding_the_same_documents_again_adds_none(store, project):
    docs = make_docs(TEXTS)
    first = import_docs(store, project, docs)
    second = import_docs(store, project, docs, filename="again.txt")
    assert (first.n_added, first.n_duplicates) == (4, 0)
    assert (second.n_documents, second.n_added, second.n_duplicates) == (4, 0, 4)
    assert store.count_documents(project.id) == 4
    assert [i.filename for i in store.list_imports(project.id)] == ["batch.txt", "again.txt"]


def test_repeats_within_one_file_count_as_duplicates(store, project):
    summary = import_docs(store, project, make_docs(["same", "same", "other"]))
    assert (summary.n_added, summary.n_duplicates) == (2, 1)
    assert store.list_imports(project.id)[0].n_duplicates == 1


@pytest.mark.parametrize(
    ("field", "bad_value", "message"),
    [
        ("text", b"bytes, not text", "text is bytes"),
        ("meta", {"when": object()}, "meta is not JSON"),
        ("gold_labels", (1, 2), "gold_labels"),
    ],
)
def test_a_bad_document_leaves_nothing_of_its_file(store, project, field, bad_value, message):
    docs = make_docs(TEXTS)
    docs[2] = replace(docs[2], **{field: bad_value})  # good rows are inserted before it
    with pytest.raises(StoreError, match=rf"'upload.csv': document 3 \(line 3\): {message}"):
        import_docs(store, project, docs, filename="upload.csv")
    assert store.count_documents(project.id) == 0
    assert store.list_imports(project.id) == []


def test_documents_come_back_in_added_order_and_page(store, project):
    docs = make_docs([f"text {n}" for n in range(10)])
    import_docs(store, project, docs[:6])
    import_docs(store, project, docs[4:], filename="second.txt")
    ids = [d.id for d in docs]
    assert [d.id for d in store.get_documents(project.id)] == ids
    assert [d.id for d in store.get_documents(project.id, limit=3, offset=5)] == ids[5:8]


def test_documents_by_id_come_back_in_the_order_asked(store, project, doc_ids):
    wanted = [doc_ids[3], doc_ids[0], doc_ids[2]]
    assert [d.id for d in store.get_documents(project.id, wanted)] == wanted


def test_unknown_document_id_is_an_error(store, project, doc_ids):
    with pytest.raises(DocumentNotFound, match="'nope'"):
        store.get_documents(project.id, [doc_ids[0], "nope"])


def test_document_ids_of_one_import(store, project):
    first = import_docs(store, project, make_docs(["a", "b"]))
    second = import_docs(store, project, make_docs(["b", "c"]), filename="2.txt")
    assert store.document_ids(project.id, import_id=first.import_id) == [
        Document.from_text(t).id for t in ["a", "b"]
    ]
    assert store.document_ids(project.id, import_id=second.import_id) == [
        Document.from_text("c").id
    ]


def test_search_ignores_case_beyond_ascii(store, project):
    docs = make_docs(["Rue de l'ÉCOLE 5", "école primaire", "Schule"])
    import_docs(store, project, docs)
    assert store.search_documents(project.id, "École") == [docs[0].id, docs[1].id]


def test_search_treats_wildcards_literally(store, project):
    docs = make_docs(["100% refund", "1000 refunds", "a_b", "axb"])
    import_docs(store, project, docs)
    assert store.search_documents(project.id, "0% r") == [docs[0].id]
    assert store.search_documents(project.id, "a_b") == [docs[2].id]


def test_context_fields_and_search_in_one_field(store, project):
    docs = [
        Document.from_text("Refund please", meta={"from": "Ann <ANN@example.com>", "vip": True}),
        Document.from_text("Parcel lost", meta={"from": "bob@example.com", "customer": "Ann Ltd"}),
        Document.from_text("No context at all"),
    ]
    import_docs(store, project, docs)
    assert store.context_fields(project.id) == ["from", "vip", "customer"]
    assert store.search_context(project.id, "from", "ann@") == [docs[0].id]  # ignores case
    assert store.search_context(project.id, "customer", "ann") == [docs[1].id]  # one field only
    assert store.search_context(project.id, "vip", "1") == [docs[0].id]  # JSON true reads as 1
    assert store.search_context(project.id, "from", "%") == []  # no wildcards


# --- runs and predictions ----------------------------------------------------------------------


def test_a_run_is_logged_from_start_to_finish(store, project):
    run_id = start_run(store, project)
    assert store.list_runs(project.id)[0].status == "running"
    store.finish_run(run_id, status="finished", n_computed=3, n_cached=1, seconds=1.5)
    run = store.get_run(run_id)
    assert (run.status, run.n_computed, run.n_cached, run.seconds) == ("finished", 3, 1, 1.5)
    assert run.config == {"multi_label": False}
    assert run.finished_at >= run.started_at


def test_a_run_ends_only_once(store, project):
    run_id = start_run(store, project)
    store.finish_run(run_id, status="cancelled", n_computed=0, n_cached=0, seconds=0.1)
    with pytest.raises(StoreError, match="already ended as 'cancelled'"):
        store.finish_run(run_id, status="finished", n_computed=1, n_cached=0, seconds=0.2)


def test_finish_run_rejects_non_final_status(store, project):
    run_id = start_run(store, project)
    with pytest.raises(StoreError, match="'running' is not a final status"):
        store.finish_run(run_id, status="running", n_computed=0, n_cached=0, seconds=0)


def test_a_run_records_the_process_running_it(store, project):
    import os
    import socket

    run = store.get_run(start_run(store, project))
    host, pid, _ = run.owner.rsplit(":", 2)
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    assert store.abandoned_run_ids(project.id) == []  # this process is alive


def test_process_ended_tells_live_dead_reused_and_unknown_owners_apart():
    import os
    import socket
    import subprocess
    import sys

    import psutil

    from core.store._predictions import process_ended, process_identity

    assert not process_ended(process_identity())
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from core.store._predictions import process_identity as p; print(p())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert process_ended(child.stdout.strip())  # it exited
    started = psutil.Process().create_time()
    reused = f"{socket.gethostname()}:{os.getpid()}:{started + 100:.2f}"
    assert process_ended(reused)  # the pid now belongs to another process
    assert not process_ended(f"another-host:{os.getpid() + 99999}:1.00")  # cannot know
    assert not process_ended("")  # runs from before owners were recorded


def test_a_run_whose_process_ended_is_abandoned_and_can_be_failed(store, project, db_path):
    import subprocess
    import sys

    script = (
        "import sys; from core.store import Store; s = Store(sys.argv[1]); "
        "print(s.start_run(int(sys.argv[2]), technique='rules', config_hash='c', config={}, "
        "cache_key='k2', model_id='', model_revision='', device='cpu', dtype='', "
        "n_documents=3))"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(store.path), str(project.id)],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(child.stdout)
    alive = start_run(store, project)
    assert store.abandoned_run_ids(project.id) == [orphan]
    assert store.fail_abandoned_runs(project.id) == [orphan]
    failed = store.get_run(orphan)
    assert failed.status == "failed" and "ended without finishing" in failed.error
    assert store.get_run(alive).status == "running"
    assert store.abandoned_run_ids(project.id) == []


def test_pruning_keeps_only_the_named_predictions_of_that_technique(store, project, doc_ids):
    def run_with(technique, key):
        run_id = start_run(
            store, project, technique=technique, cache_key=key, n_documents=len(doc_ids)
        )
        store.write_predictions(
            project.id,
            run_id,
            key,
            technique,
            [(doc, TextResult(scores={"billing": 1.0})) for doc in doc_ids],
        )
        store.finish_run(run_id, status="finished", n_computed=len(doc_ids), n_cached=0, seconds=0)

    run_with("supervised", "s1")
    run_with("rules", "r1")
    run_with("supervised", "s2")
    run_with("supervised", "s3")
    kept = ["s1", "s3"]
    assert store.prune_predictions(project.id, "supervised", keep_cache_keys=kept) == len(doc_ids)
    assert store.get_predictions(project.id, "s2") == {}
    assert len(store.get_predictions(project.id, "s1")) == len(doc_ids)
    assert len(store.get_predictions(project.id, "s3")) == len(doc_ids)
    assert len(store.get_predictions(project.id, "r1")) == len(doc_ids)  # other techniques stay
    assert len(store.list_runs(project.id)) == 4  # the run log is whole
    assert store.prune_predictions(project.id, "supervised", keep_cache_keys=kept) == 0


def test_model_versions_current_pinned_and_refusals(store, project):
    assert store.current_model_version(project.id) is None
    first = store.save_model_version(
        project.id, status="adopted", config={"a": 1}, metrics={"m": 0.5}, reason="r", n_reviews=5
    )
    rejected = store.save_model_version(
        project.id, status="rejected", config={}, metrics={}, reason="worse", n_reviews=9
    )
    assert store.current_model_version(project.id).id == first.id
    assert store.latest_model_version(project.id).id == rejected.id
    second = store.save_model_version(
        project.id, status="adopted", config={}, metrics={}, reason="", n_reviews=12, blob=b"z"
    )
    assert store.current_model_version(project.id).id == second.id
    store.pin_model_version(project.id, first.id, by="ann")
    assert store.current_model_version(project.id).id == first.id
    assert store.pinned_model_version(project.id) == first.id
    with pytest.raises(StoreError, match="only adopted versions"):
        store.pin_model_version(project.id, rejected.id)
    with pytest.raises(StoreError, match="No model version"):
        store.pin_model_version(project.id, 999)
    store.pin_model_version(project.id, None)
    assert store.current_model_version(project.id).id == second.id
    assert store.get_model_version(project.id, second.id).blob == b"z"
    assert [v.id for v in store.list_model_versions(project.id)] == [
        first.id,
        rejected.id,
        second.id,
    ]
    with pytest.raises(StoreError, match="status"):
        store.save_model_version(
            project.id, status="maybe", config={}, metrics={}, reason="", n_reviews=1
        )


def test_label_changes_since_a_review_count_accepts_corrections_and_their_undos(
    store, project, doc_ids
):
    assert store.review_watermark(project.id) == 0
    store.add_review(project.id, doc_ids[0], reviewer="ann", decision="accept", labels=["billing"])
    mark = store.review_watermark(project.id)
    store.add_review(project.id, doc_ids[1], reviewer="ann", decision="correct", labels=["billing"])
    store.add_review(project.id, doc_ids[1], reviewer="ann", decision="skip")
    store.add_review(project.id, doc_ids[2], reviewer="ann", decision="flag")
    store.undo_last_review(project.id, "ann")  # undoes the flag: no label change
    assert store.count_label_changes(project.id, mark) == 1
    store.undo_review(project.id, store.current_review(project.id, doc_ids[0]).id, reviewer="ann")
    assert store.count_label_changes(project.id, mark) == 2
    assert store.count_label_changes(project.id, 0) == 3


def test_unknown_run(store):
    with pytest.raises(RunNotFound):
        store.get_run(42)


def test_predictions_round_trip_including_abstentions(store, project, doc_ids):
    run = start_run(store, project)
    summarised = TextResult(scores={"billing": 1.0}, summary="Charged twice.").to_json()
    rows = [(doc_ids[0], result()), (doc_ids[1], TextResult(scores=None).to_json())]
    rows.append((doc_ids[2], summarised))
    assert store.write_predictions(project.id, run, "key-1", "lexicon", rows) == 3
    stored = store.get_predictions(project.id, "key-1")
    assert stored == dict(rows)
    assert TextResult.from_json(stored[doc_ids[0]]) == TextResult.from_json(result())


def test_predictions_are_never_rewritten(store, project, doc_ids):
    first_run = start_run(store, project)
    store.write_predictions(project.id, first_run, "key-1", "lexicon", [(doc_ids[0], result())])
    later_run = start_run(store, project)
    rows = [(doc_ids[0], result(billing=0.0, complaint=1.0, praise=0.0)), (doc_ids[1], result())]
    assert store.write_predictions(project.id, later_run, "key-1", "lexicon", rows) == 1
    assert store.get_predictions(project.id, "key-1", [doc_ids[0]]) == {doc_ids[0]: result()}


def test_cached_document_ids_are_those_with_a_prediction_for_the_key(store, project, doc_ids):
    run = start_run(store, project)
    store.write_predictions(project.id, run, "key-1", "lexicon", [(doc_ids[1], result())])
    other = start_run(store, project, cache_key="key-2")
    store.write_predictions(project.id, other, "key-2", "lexicon", [(doc_ids[2], result())])
    assert store.cached_document_ids(project.id, "key-1", doc_ids) == {doc_ids[1]}
    assert store.cached_document_ids(project.id, "key-1", doc_ids[2:]) == set()
    assert store.cached_document_ids(project.id, "key-2") == {doc_ids[2]}


def test_a_batch_with_an_unknown_document_writes_nothing(store, project, doc_ids):
    run = start_run(store, project)
    with pytest.raises(StoreError, match="'ghost'"):
        store.write_predictions(
            project.id, run, "key-1", "lexicon", [(doc_ids[0], result()), ("ghost", result())]
        )
    assert store.cached_document_ids(project.id, "key-1") == set()


def test_a_nan_score_is_refused_naming_the_document(store, project, doc_ids):
    run = start_run(store, project)
    with pytest.raises(StoreError, match=doc_ids[1]):
        store.write_predictions(
            project.id,
            run,
            "key-1",
            "lexicon",
            [(doc_ids[0], result()), (doc_ids[1], result(billing=math.nan))],
        )
    assert store.cached_document_ids(project.id, "key-1") == set()


def test_predictions_must_match_their_run(store, project, doc_ids):
    run = start_run(store, project, technique="lexicon", cache_key="key-1")
    with pytest.raises(StoreError, match="cannot write 'rules' predictions"):
        store.write_predictions(project.id, run, "key-1", "rules", [(doc_ids[0], result())])


def test_latest_cache_keys_come_from_runs_that_left_predictions(store, project):
    def run(technique, key, status, n_computed):
        run_id = start_run(store, project, technique=technique, cache_key=key)
        store.finish_run(run_id, status=status, n_computed=n_computed, n_cached=0, seconds=1)

    run("lexicon", "lex-old", "finished", 4)
    run("lexicon", "lex-new", "finished", 4)
    run("lexicon", "lex-failed", "failed", 2)
    run("rules", "rules-partial", "cancelled", 2)
    run("rules", "rules-empty", "cancelled", 0)
    run("ner", "ner-running", "failed", 0)
    start_run(store, project, technique="zero_shot", cache_key="zs-still-running")
    assert store.latest_cache_keys(project.id) == {
        "lexicon": "lex-new",
        "rules": "rules-partial",
    }


# --- reviews -----------------------------------------------------------------------------------


def review(store, project, doc_id, decision="accept", labels=("billing",), reviewer="ann", **kw):
    return store.add_review(
        project.id, doc_id, reviewer=reviewer, decision=decision, labels=labels, **kw
    )


def test_a_correction_is_appended_and_becomes_current(store, project, doc_ids):
    accepted = review(store, project, doc_ids[0], "accept", ["billing"])
    corrected = review(store, project, doc_ids[0], "correct", ["complaint", "praise"])
    history = store.review_history(project.id, doc_ids[0])
    assert history == [accepted, corrected]
    assert store.current_reviews(project.id) == {doc_ids[0]: corrected}


def test_shown_suggestion_is_kept_with_the_review(store, project, doc_ids):
    shown = {"labels": ["billing"], "scores": {"billing": 0.9}, "run_ids": [1, 2]}
    review(store, project, doc_ids[0], shown=shown, note="looks right")
    [stored] = store.review_history(project.id)
    assert (stored.shown, stored.note) == (shown, "looks right")


def test_undo_retracts_the_latest_and_the_previous_becomes_current(store, project, doc_ids):
    accepted = review(store, project, doc_ids[0], "accept", ["billing"])
    review(store, project, doc_ids[0], "correct", ["praise"])
    undo = store.undo_last_review(project.id, "ann")
    assert undo.decision == "undo"
    assert store.current_reviews(project.id) == {doc_ids[0]: accepted}
    store.undo_last_review(project.id, "ann")
    assert store.current_reviews(project.id) == {}
    assert len(store.review_history(project.id)) == 4  # nothing removed


def test_undo_only_touches_that_reviewers_reviews(store, project, doc_ids):
    anns = review(store, project, doc_ids[0], reviewer="ann")
    bobs = review(store, project, doc_ids[1], reviewer="bob")
    assert store.undo_last_review(project.id, "ann").undoes == anns.id
    assert store.undo_last_review(project.id, "ann") is None
    assert store.current_reviews(project.id) == {doc_ids[1]: bobs}


def test_an_undo_cannot_be_repeated_or_undone(store, project, doc_ids):
    accepted = review(store, project, doc_ids[0])
    undo = store.undo_review(project.id, accepted.id, reviewer="ann")
    with pytest.raises(StoreError, match="already been undone"):
        store.undo_review(project.id, accepted.id, reviewer="ann")
    with pytest.raises(StoreError, match="itself an undo"):
        store.undo_review(project.id, undo.id, reviewer="ann")


def test_undo_last_action_takes_back_a_whole_bulk_save_at_once(store, project, doc_ids):
    bulk = store.add_reviews(
        project.id,
        [{"document_id": doc, "decision": "accept", "labels": ["billing"]} for doc in doc_ids[:3]],
        reviewer="ann",
    )
    assert len({r.action for r in bulk}) == 1 and bulk[0].action
    single = review(store, project, doc_ids[3], "correct", ["praise"])
    bobs = store.add_reviews(
        project.id, [{"document_id": doc_ids[0], "decision": "flag"}], reviewer="bob"
    )
    [undo] = store.undo_last_action(project.id, "ann")  # the single correction first
    assert undo.undoes == single.id
    undos = store.undo_last_action(project.id, "ann")  # then the three accepts together
    assert sorted(u.undoes for u in undos) == sorted(r.id for r in bulk)
    assert len({u.action for u in undos}) == 1
    assert store.current_reviews(project.id) == {}
    assert store.undo_last_action(project.id, "ann") == []
    assert store.flagged_document_ids(project.id) == {doc_ids[0]}  # bob's flag stays
    assert bobs[0].action != bulk[0].action


def test_reviews_from_before_actions_were_recorded_are_undone_one_at_a_time(
    store, project, doc_ids
):
    import sqlite3

    first, second = (review(store, project, doc) for doc in doc_ids[:2])
    with sqlite3.connect(store.path) as conn:  # as a database from before migration m005
        conn.execute("DROP TRIGGER reviews_are_append_only_update")
        conn.execute("UPDATE reviews SET action = ''")
    [undo] = store.undo_last_action(project.id, "ann")
    assert undo.undoes == second.id
    assert set(store.current_reviews(project.id)) == {first.document_id}


def test_count_labelled_reviews_counts_current_reviews_with_labels(store, project, doc_ids):
    review(store, project, doc_ids[0], "accept", ["billing"])
    review(store, project, doc_ids[1], "accept", [])  # reviewed, no label
    review(store, project, doc_ids[2], "correct", ["praise"])
    review(store, project, doc_ids[2], "correct", ["billing"])  # still one document
    review(store, project, doc_ids[3], "flag", ())
    assert store.count_labelled_reviews(project.id) == 2
    store.undo_last_action(project.id, "ann")  # the flag
    store.undo_last_action(project.id, "ann")  # doc 2's second correction: still labelled
    assert store.count_labelled_reviews(project.id) == 2
    store.undo_last_action(project.id, "ann")
    assert store.count_labelled_reviews(project.id) == 1


def test_flag_and_unflag(store, project, doc_ids):
    review(store, project, doc_ids[0], "flag", ())
    review(store, project, doc_ids[1], "flag", ())
    review(store, project, doc_ids[1], "unflag", ())
    assert store.flagged_document_ids(project.id) == {doc_ids[0]}


def test_undoing_an_unflag_flags_again(store, project, doc_ids):
    review(store, project, doc_ids[0], "flag", ())
    review(store, project, doc_ids[0], "unflag", ())
    store.undo_last_review(project.id, "ann")
    assert store.flagged_document_ids(project.id) == {doc_ids[0]}


def test_skip_and_flag_do_not_change_the_current_review(store, project, doc_ids):
    accepted = review(store, project, doc_ids[0])
    review(store, project, doc_ids[0], "skip", ())
    review(store, project, doc_ids[0], "flag", ())
    assert store.current_reviews(project.id) == {doc_ids[0]: accepted}


def test_stale_expected_current_raises_conflict_and_writes_nothing(store, project, doc_ids):
    seen = review(store, project, doc_ids[0], reviewer="ann")
    newer = review(store, project, doc_ids[0], "correct", ["praise"], reviewer="bob")
    with pytest.raises(ReviewConflict, match="bob") as raised:
        review(store, project, doc_ids[0], "correct", ["complaint"], expected_current=seen.id)
    assert raised.value.current == newer
    assert len(store.review_history(project.id)) == 2


def test_expecting_no_review_conflicts_once_someone_reviewed(store, project, doc_ids):
    review(store, project, doc_ids[0], reviewer="bob")
    with pytest.raises(ReviewConflict):
        review(store, project, doc_ids[0], expected_current=None)


def test_matching_expected_current_writes(store, project, doc_ids):
    first = review(store, project, doc_ids[0], expected_current=None)
    second = review(store, project, doc_ids[0], "correct", ["praise"], expected_current=first.id)
    assert store.current_reviews(project.id)[doc_ids[0]] == second


def test_unknown_label_is_refused_naming_it_and_the_known_ones(store, project, doc_ids):
    with pytest.raises(StoreError, match=r"'refund'.*billing, complaint, praise"):
        review(store, project, doc_ids[0], "correct", ["billing", "refund"])
    assert store.review_history(project.id) == []


def test_review_of_unknown_document_is_refused(store, project, doc_ids):
    with pytest.raises(DocumentNotFound, match="'ghost'"):
        review(store, project, "ghost")


@pytest.mark.parametrize("decision", ["approve", "undo", ""])
def test_invalid_decision_is_refused(store, project, doc_ids, decision):
    with pytest.raises(StoreError):
        review(store, project, doc_ids[0], decision)
    assert store.review_history(project.id) == []


def test_bulk_reviews_are_written_together(store, project, doc_ids):
    items = [{"document_id": d, "decision": "accept", "labels": ["billing"]} for d in doc_ids]
    written = store.add_reviews(project.id, items, reviewer="ann")
    assert [r.document_id for r in written] == doc_ids
    assert set(store.current_reviews(project.id)) == set(doc_ids)


def test_bulk_reviews_are_all_or_nothing(store, project, doc_ids):
    items = [{"document_id": d, "decision": "accept", "labels": ["billing"]} for d in doc_ids]
    items[-1]["labels"] = ["nonsense"]
    with pytest.raises(StoreError, match="Item 4"):
        store.add_reviews(project.id, items, reviewer="ann")
    assert store.review_history(project.id) == []


def test_count_reviews_counts_documents_with_a_current_review(store, project, doc_ids):
    review(store, project, doc_ids[0])
    review(store, project, doc_ids[0], "correct", ["praise"])
    review(store, project, doc_ids[1])
    review(store, project, doc_ids[2], "skip", ())
    review(store, project, doc_ids[3])
    store.undo_last_review(project.id, "ann")
    assert store.count_reviews(project.id) == 2


def test_the_database_refuses_to_change_or_delete_a_review(store, project, doc_ids, db_path):
    written = review(store, project, doc_ids[0])
    raw = sqlite_utils.Database(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw["reviews"].update(written.id, {"labels": '["praise"]'})
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw["reviews"].delete(written.id)
    raw.close()
    assert store.review_history(project.id) == [written]


def _project_sources():
    skip = {"tests", "venv", ".venv", "test-artifacts"}
    for path in sorted(REPO.rglob("*.py")):
        parts = path.relative_to(REPO).parts
        if not any(part in skip or part.startswith(".") for part in parts):
            yield path


def test_no_code_updates_or_deletes_reviews_except_delete_project():
    rewrite = re.compile(
        r"UPDATE\s+(OR\s+\w+\s+)?reviews\b|DELETE\s+FROM\s+reviews\b|REPLACE\s+INTO\s+reviews\b"
        r"|\[\s*['\"]reviews['\"]\s*\]\s*\.\s*(update|delete|upsert|transform|drop)"
        r"|(UPDATE|DELETE\s+FROM)\s+[\"\[]?\{",  # dynamic table names could be reviews
        re.IGNORECASE,
    )
    offenders = []
    for path in _project_sources():
        source = path.read_text(encoding="utf-8")
        functions = [
            node
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        for match in rewrite.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            inside = [f.name for f in functions if f.lineno <= line <= f.end_lineno]
            if "delete_project" not in inside:
                offenders.append(f"{path.relative_to(REPO)}:{line}: {match.group(0)}")
    assert offenders == []


def test_only_core_store_touches_sqlite():
    opens_sqlite = re.compile(r"^\s*(import|from)\s+(sqlite3|sqlite_utils)\b", re.MULTILINE)
    store_dir = REPO / "core" / "store"
    offenders = [
        str(path.relative_to(REPO))
        for path in _project_sources()
        if store_dir not in path.parents and opens_sqlite.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# --- exports and trained models ------------------------------------------------------------------


def test_exports_are_logged(store, project):
    export_id = store.record_export(
        project.id, format="jsonl", n_rows=4, options={"scores": True}, sha256="f" * 64, by="ann"
    )
    [logged] = store.list_exports(project.id)
    assert logged["id"] == export_id
    assert (logged["format"], logged["n_rows"], logged["options"], logged["by"]) == (
        "jsonl",
        4,
        {"scores": True},
        "ann",
    )


def test_trained_model_history_is_oldest_first_per_kind_without_blobs(store, project):
    def save(kind, accuracy, blob, n_reviews):
        metrics = {} if accuracy is None else {"cv_accuracy": accuracy}
        return store.save_trained_model(
            project.id, kind=kind, params={}, metrics=metrics, blob=blob, n_reviews=n_reviews
        )

    first = save("supervised", 0.5, b"a", 4)
    save("ensemble_weights", None, None, 4)
    second = save("supervised", 0.75, b"b", 9)
    history = store.trained_model_history(project.id, "supervised")
    assert [(h["id"], h["n_reviews"], h["metrics"]) for h in history] == [
        (first, 4, {"cv_accuracy": 0.5}),
        (second, 9, {"cv_accuracy": 0.75}),
    ]
    assert all("blob" not in h for h in history)


def test_latest_trained_model_of_a_kind(store, project):
    assert store.latest_trained_model(project.id, "supervised") is None
    store.save_trained_model(
        project.id, kind="supervised", params={"C": 1}, metrics={}, blob=b"old", n_reviews=5
    )
    newest = store.save_trained_model(
        project.id,
        kind="supervised",
        params={"C": 2},
        metrics={"f1": 0.8},
        blob=b"\x00new",
        n_reviews=9,
    )
    store.save_trained_model(
        project.id, kind="ensemble_weights", params={"w": [1]}, metrics={}, blob=None, n_reviews=9
    )
    model = store.latest_trained_model(project.id, "supervised")
    assert (model.id, model.params, model.metrics, model.blob, model.n_reviews) == (
        newest,
        {"C": 2},
        {"f1": 0.8},
        b"\x00new",
        9,
    )


# --- maintenance ---------------------------------------------------------------------------------


def test_integrity_check_of_a_used_database_is_ok(store, project, doc_ids):
    review(store, project, doc_ids[0])
    assert store.integrity_check() == "ok"


def test_integrity_check_reports_dangling_rows(store, project, doc_ids, db_path):
    raw = sqlite_utils.Database(db_path)  # a foreign tool, with foreign keys off
    raw["reviews"].insert(
        {
            "project_id": project.id,
            "document_id": "gone",
            "reviewer": "x",
            "created_at": "t",
            "decision": "accept",
        }
    )
    raw.close()
    assert "reviews refers to a missing row of documents" in store.integrity_check()


def test_backup_is_a_working_copy(store, project, doc_ids, tmp_path):
    review(store, project, doc_ids[0])
    copy_path = store.backup(tmp_path / "backups" / "copy.db")
    with Store(copy_path) as copy:
        assert copy.integrity_check() == "ok"
        assert copy.list_projects() == store.list_projects()
        assert copy.current_reviews(project.id) == store.current_reviews(project.id)


# --- invariants (hypothesis) ---------------------------------------------------------------------

_names = count()
# Any Unicode a Document can hold: everything but lone surrogates and NUL (ingest rejects NUL).
unicode_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("hypothesis") / "sift.db") as opened:
        yield opened


def _raw_document(text, **fields):
    # id from the raw text: the store must keep the text exactly, normalised or not
    return Document(text=text, id=hashlib.sha256(text.encode()).hexdigest(), **fields)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(unicode_text, min_size=1, max_size=4, unique=True),
    location=unicode_text,
    meta=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
)
@example(
    texts=["שלום, איפה ההזמנה שלי? 👋🏽", "Ünïcödé\r\n\ttabs  ", "مرحبا 🇸🇦 🧑‍💻"],
    location="",
    meta={},
)
def test_any_text_round_trips_through_the_store(shared_store, texts, location, meta):
    project = shared_store.create_project(f"texts-{next(_names)}")
    docs = [_raw_document(text, location=location, meta=meta) for text in texts]
    shared_store.add_documents(
        project.id, docs, filename="f", format="txt", encoding=None, sha256="0"
    )
    stored = shared_store.get_documents(project.id)
    assert [d.to_document() for d in stored] == docs
    assert [d.meta for d in stored] == [meta] * len(docs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scores=st.none() | st.dictionaries(unicode_text, json_values, max_size=6),
    summary=st.none() | unicode_text,
)
def test_any_json_scores_round_trip_through_predictions(shared_store, scores, summary):
    project = shared_store.create_project(f"scores-{next(_names)}")
    doc = _raw_document("some text")
    shared_store.add_documents(
        project.id, [doc], filename="f", format="txt", encoding=None, sha256="0"
    )
    run = shared_store.start_run(
        project.id,
        technique="t",
        config_hash="c",
        config={},
        cache_key="k",
        model_id="",
        model_revision="",
        device="cpu",
        dtype="",
        n_documents=1,
    )
    written = {"scores": scores, "evidence": [], "summary": summary}
    shared_store.write_predictions(project.id, run, "k", "t", [(doc.id, written)])
    assert shared_store.get_predictions(project.id, "k") == {doc.id: written}


def test_labels_given_as_a_plain_string_are_refused(store, project, doc_ids):
    with pytest.raises(StoreError, match="list of label names"):
        review(store, project, doc_ids[0], "correct", "billing")
