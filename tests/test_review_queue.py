"""The review queue: orders, filters and passes of stable batches, on hand-made predictions
in a real store."""

from __future__ import annotations

import numpy as np
import pytest

from core.documents import Document
from core.predictions import Combination, load_predictions
from core.review_queue import (
    QueueFilters,
    ReviewPass,
    filter_mask,
    label_review_state,
    next_batch,
    ranked,
    review_decision,
    whole_queue,
)
from core.store import Store
from core.taxonomy import Label, Taxonomy
from tests.test_predictions import table, write_run

LABELS = ["billing", "shipping", "account"]


# --- orders (pure) --------------------------------------------------------------------------


def ids_of(t, indices):
    return [t.document_ids[i] for i in indices]


def everything(t):
    return np.ones(len(t.document_ids), dtype=bool)


def test_needed_order_puts_the_highest_priority_first():
    # d0 confident and agreed, d1 a coin toss, d2 confident but techniques disagree.
    t = table(
        [
            [[0.95, 0.05, 0], [0.5, 0.5, 0], [0.9, 0.1, 0]],
            [[0.9, 0.1, 0], [0.5, 0.5, 0], [0.1, 0.9, 0]],
        ]
    )
    order = ids_of(t, ranked(t, "needed", everything(t)))
    assert order[-1] == "d0" and set(order) == {"d0", "d1", "d2"}


def test_needed_order_brings_the_least_reviewed_label_forward():
    t = table([[[0.6, 0.4, 0], [0.4, 0.6, 0], [0.9, 0.1, 0]]])
    balanced = ids_of(t, ranked(t, "needed", everything(t), label_counts=np.array([5, 0, 0])))
    assert balanced[0] == "d1"  # likely "shipping", which nobody has reviewed yet
    assert balanced[-1] == "d2"  # confident and "billing", already well reviewed


def test_newest_random_and_by_label_orders():
    t = table([[[0.1, 0.9, 0], [0.6, 0.4, 0], [0.9, 0.1, 0], [0.2, 0.7, 0.1]]])
    assert ids_of(t, ranked(t, "newest", everything(t))) == ["d3", "d2", "d1", "d0"]
    assert ids_of(t, ranked(t, "by_label", everything(t))) == ["d2", "d1", "d0", "d3"]
    first, again = (
        ranked(t, "random", everything(t), seed=7),
        ranked(t, "random", everything(t), seed=7),
    )
    assert first.tolist() == again.tolist() and sorted(first.tolist()) == [0, 1, 2, 3]


def test_an_order_keeps_only_the_kept_documents():
    t = table([[[0.5, 0.5, 0], [0.9, 0.1, 0], [0.6, 0.4, 0], [0.7, 0.3, 0]]])
    keep = np.array([True, False, True, True])
    for order in ("needed", "newest", "random", "by_label"):
        assert "d1" not in ids_of(t, ranked(t, order, keep))


def test_unknown_order_names_the_choices():
    with pytest.raises(ValueError, match="needed, newest, random, by_label"):
        ReviewPass(order="oldest")


def test_saving_the_suggested_labels_is_an_accept_anything_else_a_correction():
    assert review_decision(["a", "b"], ("b", "a")) == "accept"
    assert review_decision(["a"], ("a", "b")) == "correct"
    assert review_decision(["a"], ()) == "correct"


# --- a real store ----------------------------------------------------------------------------

TAXONOMY = Taxonomy(labels=tuple(Label(name=name) for name in LABELS))
TEXTS = [
    "refund my invoice",
    "parcel is late",
    "cannot login",
    "invoice for the parcel",
    "nothing relevant",
]


@pytest.fixture
def project(db_path):
    store = Store(db_path)
    project = store.create_project("queue")
    store.save_taxonomy(project.id, TAXONOMY)
    store.add_documents(
        project.id,
        [Document.from_text(text) for text in TEXTS],
        filename="docs.txt",
        format="txt",
        encoding="utf-8",
        sha256="0" * 64,
    )
    ids = store.document_ids(project.id)
    write_run(
        store,
        project.id,
        "rules",
        {
            ids[0]: {"billing": 1.0, "shipping": 0.0, "account": 0.0},
            ids[1]: {"billing": 0.0, "shipping": 1.0, "account": 0.0},
            ids[2]: None,
            ids[3]: {"billing": 0.5, "shipping": 0.5, "account": 0.0},
        },
    )
    write_run(
        store,
        project.id,
        "lexicon",
        {
            ids[0]: {"billing": 0.9, "shipping": 0.1, "account": 0.0},
            ids[1]: {"billing": 0.6, "shipping": 0.4, "account": 0.0},
            ids[2]: {"billing": 0.0, "shipping": 0.0, "account": 1.0},
            ids[3]: {"billing": 0.4, "shipping": 0.6, "account": 0.0},
        },
    )
    return store, project.id, ids


def queue_ids(store, pid, **filters):
    t = load_predictions(store, pid)
    return ids_of(t, whole_queue(store, pid, t, filters=QueueFilters(**filters)))


def test_unreviewed_filter_leaves_out_reviewed_documents(project):
    store, pid, ids = project
    store.add_review(pid, ids[0], reviewer="ann", decision="accept", labels=["billing"])
    assert set(queue_ids(store, pid)) == set(ids) - {ids[0]}
    assert queue_ids(store, pid, status="reviewed") == [ids[0]]


def test_flagged_predicted_label_confidence_and_search_filters(project):
    store, pid, ids = project
    store.add_review(pid, ids[4], reviewer="ann", decision="flag")
    assert queue_ids(store, pid, status="all", flagged_only=True) == [ids[4]]
    assert queue_ids(store, pid, status="all", predicted_label="account") == [ids[2]]
    confident = queue_ids(store, pid, status="all", min_confidence=0.9)
    assert confident and ids[3] not in confident  # a 50/50 document
    assert set(queue_ids(store, pid, status="all", search="INVOICE")) == {ids[0], ids[3]}


def test_unknown_label_filter_names_the_labels(project):
    store, pid, _ = project
    t = load_predictions(store, pid)
    with pytest.raises(ValueError, match="billing, shipping, account"):
        filter_mask(store, pid, t, QueueFilters(predicted_label="refunds"))


def test_label_review_state_counts_reviews_and_missed_coverage_picks(project):
    store, pid, ids = project
    store.add_review(pid, ids[0], reviewer="ann", decision="accept", labels=["billing"])
    store.add_review(pid, ids[1], reviewer="ann", decision="correct", labels=["billing"])
    store.add_review(pid, ids[1], reviewer="bob", decision="correct", labels=["shipping"])
    sought_account = {"queue": {"reason": "coverage", "label": "account"}}
    store.add_review(
        pid, ids[3], reviewer="ann", decision="correct", labels=["billing"], shown=sought_account
    )
    store.add_review(pid, ids[2], reviewer="ann", decision="flag")  # no labels
    state = label_review_state(store, pid, LABELS)
    assert state.counts.tolist() == [2, 1, 0]
    assert state.attempts.tolist() == [0, 0, 1]  # a document sought for "account" was not


# --- passes of stable batches ------------------------------------------------------------------


def walk(store, pid, review_pass, table):
    """The ids of the batch the pass shows next."""
    next_batch(store, pid, table, review_pass)
    return [item.document_id for item in review_pass.batch]


def test_the_first_batch_seeks_every_label_nobody_reviewed_yet(project):
    store, pid, ids = project
    review_pass = ReviewPass(batch_size=3)
    walk(store, pid, review_pass, load_predictions(store, pid))
    sought = {
        item.for_label: item.document_id for item in review_pass.batch if item.reason == "coverage"
    }
    assert sought == {"billing": ids[0], "shipping": ids[1], "account": ids[2]}
    assert review_pass.batch[0].shown()["queue"] == {
        "reason": "coverage",
        "label": "billing",
        "priority": pytest.approx(review_pass.batch[0].priority),
    }


def test_a_batch_stays_put_when_a_new_version_lands_and_the_next_one_uses_it(project):
    store, pid, ids = project
    review_pass = ReviewPass(order="newest", batch_size=2)
    before = load_predictions(store, pid)
    first = walk(store, pid, review_pass, before)
    shown = [item.suggestion for item in review_pass.batch]
    # A refresh lands: the supervised model says "account" for everything.
    key = write_run(
        store, pid, "supervised", {d: {"billing": 0, "shipping": 0, "account": 1.0} for d in ids}
    )
    version = store.save_model_version(
        pid,
        status="adopted",
        config={
            "learned_cache_keys": {"supervised": key},
            "combination": Combination(
                weights={"supervised": 1.0, "rules": 0.05, "lexicon": 0.05}
            ).to_json(),
        },
        metrics={},
        reason="adopted",
        n_reviews=5,
    )
    assert [item.document_id for item in review_pass.batch] == first  # nothing moved
    assert [item.suggestion for item in review_pass.batch] == shown
    assert (review_pass.position, review_pass.number, review_pass.version) == (0, 1, None)
    review_pass.move(+1)
    review_pass.move(+1)
    assert review_pass.needs_batch
    second = walk(store, pid, review_pass, load_predictions(store, pid))
    assert review_pass.version == version.id and review_pass.number == 2
    assert not set(first) & set(second)
    assert all(item.suggestion.labels == ("account",) for item in review_pass.batch)


def test_skipped_flagged_and_passed_over_documents_do_not_come_back_in_the_pass(project):
    store, pid, ids = project
    review_pass = ReviewPass(order="newest", batch_size=2)
    table = load_predictions(store, pid)
    assert walk(store, pid, review_pass, table) == [ids[4], ids[3]]
    store.add_review(pid, ids[4], reviewer="ann", decision="skip")
    review_pass.act(ids[4])
    review_pass.move(+1)
    review_pass.move(+1)  # ids[3] passed over with Next
    assert walk(store, pid, review_pass, table) == [ids[2], ids[1]]
    store.add_review(pid, ids[2], reviewer="ann", decision="flag")
    review_pass.act(ids[2])
    review_pass.move(+2)
    assert walk(store, pid, review_pass, table) == [ids[0]]
    review_pass.move(+1)
    walk(store, pid, review_pass, table)
    assert review_pass.finished and review_pass.current is None
    again = ReviewPass(order="newest", batch_size=2, seed=1)  # a new pass: from the top
    assert walk(store, pid, again, table) == [ids[4], ids[3]]


def test_undo_brings_the_document_back_here(project):
    store, pid, ids = project
    review_pass = ReviewPass(order="newest", batch_size=3)
    table = load_predictions(store, pid)
    walk(store, pid, review_pass, table)
    review_pass.act(ids[4])
    review_pass.move(+1)
    assert review_pass.current.document_id == ids[3]
    from core.review_queue import QueueItem

    review_pass.bring_back(QueueItem(table.suggestion_for(ids[4]), 0.0, "undo"))
    assert review_pass.current.document_id == ids[4] and ids[4] not in review_pass.seen
    assert [item.document_id for item in review_pass.batch] == [ids[4], ids[3], ids[2]]


def test_loading_and_batching_20k_documents_from_the_store(db_path):
    store = Store(db_path)
    pid = store.create_project("big").id
    store.save_taxonomy(pid, TAXONOMY)
    docs = [Document.from_text(f"document number {i}") for i in range(20_000)]
    store.add_documents(
        pid, docs, filename="big.txt", format="txt", encoding="utf-8", sha256="1" * 64
    )
    rng = np.random.default_rng(1)
    for technique in ("rules", "lexicon", "embeddings"):
        raw = rng.random((len(docs), 3))
        write_run(
            store,
            pid,
            technique,
            {doc.id: dict(zip(LABELS, (row / row.sum()).tolist())) for doc, row in zip(docs, raw)},
        )
    review_pass = ReviewPass()
    walk(store, pid, review_pass, load_predictions(store, pid))
    assert len(review_pass.batch) == review_pass.batch_size and review_pass.left == 20_000
