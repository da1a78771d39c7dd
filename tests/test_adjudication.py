"""Adjudication and reviewer opinions in the store: the 'adjudicate' decision (migration
m008), current_review(s) preferring it, reviewer_opinions, disputed_document_ids, its own
permission, exports marking it, and the m008 table rebuild keeping ids, counters, indexes
and the append-only triggers."""

import sqlite3

import pytest
import sqlite_utils

from core.auth import GuardedStore, Identity, PermissionDenied
from core.documents import Document
from core.export import ADJUDICATED, REVIEWED, build_rows
from core.store import ReviewConflict, Store, StoreError
from core.store.migrations import apply_migrations
from core.taxonomy import Label, Taxonomy

LABELS = ("Business", "Politics", "Sport")


@pytest.fixture
def project(db_path):
    with Store(db_path) as store:
        project = store.create_project("team")
        store.save_taxonomy(project.id, Taxonomy(labels=tuple(Label(n) for n in LABELS)))
        docs = [Document.from_text(f"Document number {i} about markets") for i in range(3)]
        store.add_documents(
            project.id, docs, filename="d.txt", format="txt", encoding="utf-8", sha256="0" * 64
        )
        yield store, project.id, [doc.id for doc in docs]


def test_reviewer_opinions_hold_each_reviewers_latest_labelling_review(project):
    store, pid, (a, b, _c) = project
    store.add_review(pid, a, reviewer="root", decision="accept", labels=["Politics"])
    store.add_review(pid, a, reviewer="bob", decision="correct", labels=["Business"])
    store.add_review(pid, a, reviewer="bob", decision="correct", labels=["Sport"])
    store.add_review(pid, a, reviewer="bob", decision="flag")  # not an opinion
    store.add_review(pid, b, reviewer="ann", decision="accept", labels=["Sport"])
    store.undo_last_review(pid, "ann")  # retracted: no opinion left
    opinions = store.reviewer_opinions(pid)
    assert set(opinions) == {a}
    assert {who: r.labels for who, r in opinions[a].items()} == {
        "root": ("Politics",),
        "bob": ("Sport",),
    }
    assert store.reviewer_opinions(pid, b) == {}
    assert set(store.reviewer_opinions(pid, a)[a]) == {"root", "bob"}


def test_a_document_is_disputed_until_adjudicated_and_again_after_a_new_differing_opinion(
    project,
):
    store, pid, (a, b, c) = project
    store.add_review(pid, a, reviewer="root", decision="accept", labels=["Politics"])
    store.add_review(pid, a, reviewer="bob", decision="correct", labels=["Business"])
    store.add_review(pid, b, reviewer="root", decision="accept", labels=["Sport"])
    store.add_review(pid, b, reviewer="bob", decision="accept", labels=["Sport"])  # agree
    store.add_review(pid, c, reviewer="root", decision="accept", labels=["Sport"])  # alone
    assert store.disputed_document_ids(pid) == {a}

    final = store.adjudicate(pid, a, reviewer="chief", labels=["Politics"], note="see guide §2")
    assert final.decision == "adjudicate" and final.note == "see guide §2"
    assert store.disputed_document_ids(pid) == set()
    assert store.current_review(pid, a).id == final.id

    # a later plain review is a second opinion: it does not replace the adjudication...
    store.add_review(pid, a, reviewer="cat", decision="correct", labels=["Sport"])
    assert store.current_review(pid, a).id == final.id
    assert store.current_reviews(pid)[a].id == final.id
    # ...but it disagrees with the others after the adjudication, so the document is disputed
    assert store.disputed_document_ids(pid) == {a}

    store.undo_review(pid, final.id, reviewer="chief")
    assert store.current_review(pid, a).reviewer == "cat"  # back to the latest plain review


def test_adjudications_count_as_labelling_reviews(project):
    store, pid, (a, _b, _c) = project
    watermark = store.review_watermark(pid)
    store.adjudicate(pid, a, reviewer="chief", labels=["Sport"])
    assert store.count_reviews(pid) == 1
    assert store.count_labelled_reviews(pid) == 1
    assert store.count_label_changes(pid, watermark) == 1


def test_adjudicate_checks_labels_and_the_state_the_adjudicator_saw(project):
    store, pid, (a, _b, _c) = project
    seen = store.add_review(pid, a, reviewer="root", decision="accept", labels=["Politics"])
    with pytest.raises(StoreError, match="'Cooking'.*not in the project's taxonomy"):
        store.adjudicate(pid, a, reviewer="chief", labels=["Cooking"])
    newer = store.add_review(pid, a, reviewer="bob", decision="correct", labels=["Sport"])
    with pytest.raises(ReviewConflict) as caught:
        store.adjudicate(pid, a, reviewer="chief", labels=["Politics"], expected_current=seen.id)
    assert caught.value.current.id == newer.id
    assert len(store.review_history(pid, a)) == 2  # nothing written
    store.adjudicate(pid, a, reviewer="chief", labels=["Politics"], expected_current=newer.id)


def test_add_review_refuses_the_adjudicate_decision(project):
    store, pid, (a, _b, _c) = project
    with pytest.raises(StoreError, match="adjudicate\\(\\)"):
        store.add_review(pid, a, reviewer="bob", decision="adjudicate", labels=["Sport"])
    with pytest.raises(StoreError, match="Item 1: .*adjudicate\\(\\)"):
        store.add_reviews(
            pid, [{"document_id": a, "decision": "adjudicate", "labels": []}], reviewer="bob"
        )
    assert store.review_history(pid) == []


def test_only_admins_may_adjudicate_through_the_guarded_store(project):
    store, pid, (a, _b, _c) = project
    reviewer = GuardedStore(store, Identity("bob", "reviewer", "password"))
    with pytest.raises(PermissionDenied, match="adjudicate"):
        reviewer.adjudicate(pid, a, reviewer="bob", labels=["Sport"])
    assert reviewer.disputed_document_ids(pid) == set()  # reading is open to reviewers
    admin = GuardedStore(store, Identity("chief", "admin", "password"))
    assert admin.adjudicate(pid, a, reviewer="chief", labels=["Sport"]).decision == "adjudicate"


def test_exports_use_the_adjudicated_labels(project):
    store, pid, (a, b, _c) = project
    store.add_review(pid, a, reviewer="root", decision="accept", labels=["Politics"])
    store.add_review(pid, a, reviewer="bob", decision="correct", labels=["Business"])
    store.adjudicate(pid, a, reviewer="chief", labels=["Business", "Politics"])
    store.add_review(pid, a, reviewer="cat", decision="correct", labels=["Sport"])  # later
    store.add_review(pid, b, reviewer="root", decision="accept", labels=["Sport"])
    rows = {row["id"]: row for row in build_rows(store, pid)}
    assert rows[a]["labels"] == ["Business", "Politics"]
    assert rows[a]["label_source"] == ADJUDICATED
    assert rows[a]["reviewer"] == "chief"
    assert rows[b]["label_source"] == REVIEWED


def _reviews_schema(db_path):
    db = sqlite_utils.Database(db_path)
    objects = db.execute(
        "SELECT type, name FROM sqlite_master WHERE tbl_name = 'reviews' ORDER BY name"
    ).fetchall()
    return {tuple(row) for row in objects}


def test_m008_rebuild_keeps_ids_the_counter_indexes_triggers_and_undos(
    db_path, tmp_path, monkeypatch
):
    Store(db_path).close()  # a new database: every migration
    expected_objects = _reviews_schema(db_path)

    # A database as Sift left it before m008, filled with reviews, an undo, and a project
    # deleted with its reviews (so the AUTOINCREMENT counter is above max(id)).
    old_path = tmp_path / "old.sqlite"
    import core.store._base as base

    monkeypatch.setattr(
        base, "apply_migrations", lambda conn: apply_migrations(conn, up_to="m007_embeddings")
    )
    store = Store(old_path)
    assert "m008_reviews_adjudicate" not in store.applied_migrations()
    keep = store.create_project("keep")
    gone = store.create_project("gone")
    for project_id in (keep.id, gone.id):
        store.save_taxonomy(project_id, Taxonomy(labels=(Label("Sport"),)))
        store.add_documents(
            project_id,
            [Document.from_text("A match report")],
            filename="d.txt",
            format="txt",
            encoding="utf-8",
            sha256="0" * 64,
        )
    doc = store.document_ids(keep.id)[0]
    first = store.add_review(keep.id, doc, reviewer="ann", decision="accept", labels=["Sport"])
    undo = store.undo_review(keep.id, first.id, reviewer="ann")
    second = store.add_review(keep.id, doc, reviewer="bob", decision="correct", labels=[])
    gone_doc = store.document_ids(gone.id)[0]
    last = store.add_review(gone.id, gone_doc, reviewer="x", decision="accept", labels=[])
    store.delete_project(gone.id)
    store.close()
    monkeypatch.undo()

    with Store(old_path) as store:
        assert "m008_reviews_adjudicate" in store.applied_migrations()
        history = store.review_history(keep.id, doc)
        assert [(r.id, r.decision, r.undoes, r.reviewer) for r in history] == [
            (first.id, "accept", None, "ann"),
            (undo.id, "undo", first.id, "ann"),
            (second.id, "correct", None, "bob"),
        ]
        assert store.current_review(keep.id, doc).id == second.id
        final = store.adjudicate(keep.id, doc, reviewer="chief", labels=["Sport"])
        assert final.id > last.id  # ids are never reused, even those of a deleted project
        assert store.integrity_check() == "ok"
    assert _reviews_schema(old_path) == expected_objects  # same indexes and triggers
    raw = sqlite3.connect(old_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE reviews SET labels = '[]'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM reviews")
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()
