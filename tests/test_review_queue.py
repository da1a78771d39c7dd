"""The review queue: uncertainty, disagreement, ordering and filters, on hand-made predictions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.documents import Document
from core.results import ensemble_results, latest_results, suggested_labels
from core.review_queue import (
    PredictionTable,
    QueueFilters,
    build_queue,
    combine_arrays,
    load_predictions,
    order_queue,
    table_signature,
)
from core.store import Store
from core.taxonomy import Label, Taxonomy
from core.techniques.base import TextResult
from core.techniques.ensemble import combine

LABELS = ["billing", "shipping", "account"]


def table(scores, present=None, *, techniques=None, multi_label=False, threshold=0.5, **kw):
    """A PredictionTable from nested lists: scores[t][n] = per-label scores."""
    scores = np.asarray(scores, dtype=float)
    n_techniques, n_docs, _ = scores.shape
    return PredictionTable(
        document_ids=[f"d{i}" for i in range(n_docs)],
        labels=LABELS[: scores.shape[2]],
        techniques=techniques or [f"t{t}" for t in range(n_techniques)],
        scores=scores,
        present=np.ones((n_techniques, n_docs), bool) if present is None else present,
        multi_label=multi_label,
        threshold=threshold,
        **kw,
    )


# --- the arithmetic ---------------------------------------------------------------------

score_rows = st.lists(st.floats(0, 1), min_size=3, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.one_of(st.none(), score_rows), min_size=1, max_size=4),
    weights=st.one_of(st.none(), st.lists(st.floats(0, 3), min_size=4, max_size=4)),
    multi_label=st.booleans(),
)
def test_vectorised_ensemble_equals_combine(rows, weights, multi_label):
    names = [f"t{i}" for i in range(len(rows))]
    weight_map = None if weights is None else dict(zip(names, weights))
    results = {
        name: TextResult(scores=None if row is None else dict(zip(LABELS, row)))
        for name, row in zip(names, rows)
    }
    expected = combine(results, LABELS, weights=weight_map, multi_label=multi_label)
    scores = np.array([[row or [0, 0, 0]] for row in rows], dtype=float)
    present = np.array([[row is not None] for row in rows])
    ensemble, covered = combine_arrays(scores, present, names, weight_map, multi_label)
    assert covered[0] == (expected.scores is not None)
    if expected.scores is not None:
        assert ensemble[0] == pytest.approx([expected.scores[name] for name in LABELS], abs=1e-9)


def test_single_label_uncertainty_is_one_minus_the_margin():
    t = table([[[0.9, 0.1, 0.0], [0.5, 0.5, 0.0]]])
    assert t.uncertainty == pytest.approx([0.2, 1.0])


def test_multi_label_uncertainty_is_closeness_to_the_threshold():
    # Closest label to 0.5: 0.45 for d0 (1 - 0.05/0.5 = 0.9), 0.95 for d1 (1 - 0.45/0.5 = 0.1).
    t = table([[[0.45, 0.0, 1.0], [0.95, 0.0, 0.0]]], multi_label=True)
    assert t.uncertainty == pytest.approx([0.9, 0.1])


def test_disagreement_is_the_share_of_techniques_against_the_ensemble():
    # Two techniques say billing, one says shipping; the ensemble says billing.
    t = table([[[0.9, 0.1, 0]], [[0.8, 0.2, 0]], [[0.1, 0.9, 0]]])
    assert t.suggested_labels(0) == ("billing",)
    assert t.disagreement == pytest.approx([1 / 3])


def test_abstaining_techniques_do_not_count_in_disagreement():
    present = np.array([[True], [True], [False]])
    t = table([[[0.9, 0.1, 0]], [[0.8, 0.2, 0]], [[0.0, 0.0, 0.0]]], present)
    assert t.disagreement == pytest.approx([0.0])


def test_document_nobody_scored_is_fully_uncertain_and_has_no_suggestion():
    t = table([[[0.0, 0.0, 0.0]]], np.array([[False]]))
    item = t.item(0)
    assert (item.confidence, item.suggested_labels, item.uncertainty) == (0.0, (), 1.0)


def test_zero_weight_technique_is_left_out_of_the_ensemble():
    t = table([[[0.9, 0.1, 0]], [[0.0, 1.0, 0]]], weights={"t0": 0.0, "t1": 1.0})
    assert t.suggested_labels(0) == ("shipping",)


def test_needed_order_puts_the_highest_priority_first():
    # d0 confident and agreed, d1 a coin toss, d2 confident but techniques disagree.
    t = table(
        [
            [[0.95, 0.05, 0], [0.5, 0.5, 0], [0.9, 0.1, 0]],
            [[0.9, 0.1, 0], [0.5, 0.5, 0], [0.1, 0.9, 0]],
        ]
    )
    ranked = [item.document_id for item in order_queue(t, order="needed")]
    priorities = [t.item(t.index_of(doc)).priority for doc in ranked]
    assert priorities == sorted(priorities, reverse=True)
    assert ranked[-1] == "d0"


def test_needed_order_does_not_serve_near_duplicates_back_to_back():
    # d0..d3: the same confusing email (equal priority, identical vectors); d4 a different
    # document, slightly less uncertain. By priority alone d4 would come fifth.
    t = table([[[0.5, 0.5, 0]] * 4 + [[0.55, 0.45, 0]]])
    vectors = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]])
    plain = [item.document_id for item in order_queue(t, order="needed")]
    diverse = [item.document_id for item in order_queue(t, order="needed", vectors=vectors)]
    assert plain[0] == "d0" and plain.index("d4") == 4  # the ensemble's vectors are alike
    assert diverse[:2] == ["d0", "d4"]
    assert sorted(diverse) == sorted(t.document_ids)


def test_needed_order_keeps_only_the_kept_documents():
    t = table([[[0.5, 0.5, 0], [0.9, 0.1, 0], [0.6, 0.4, 0], [0.7, 0.3, 0]]])
    keep = np.array([True, False, True, True])
    ranked = [item.document_id for item in order_queue(t, order="needed", keep=keep)]
    assert ranked == ["d0", "d2", "d3"]


def test_needed_order_brings_the_least_reviewed_label_forward():
    t = table([[[0.6, 0.4, 0], [0.4, 0.6, 0], [0.9, 0.1, 0]]])
    plain = [item.document_id for item in order_queue(t, order="needed")]
    balanced = [
        item.document_id
        for item in order_queue(t, order="needed", label_counts=np.array([5.0, 0.0, 0.0]))
    ]
    assert plain[0] in ("d0", "d1")
    assert balanced[0] == "d1"  # likely "shipping", which nobody has reviewed yet
    assert balanced[-1] == "d2"  # confident and "billing", already well reviewed


def test_newest_order_is_reverse_added_order():
    t = table([[[0.9, 0.1, 0], [0.5, 0.5, 0], [0.2, 0.8, 0]]])
    assert [i.document_id for i in order_queue(t, order="newest")] == ["d2", "d1", "d0"]


def test_random_order_is_a_seeded_permutation():
    t = table([np.eye(3)[np.arange(30) % 3].tolist()])
    first = [i.document_id for i in order_queue(t, order="random", seed=7)]
    again = [i.document_id for i in order_queue(t, order="random", seed=7)]
    other = [i.document_id for i in order_queue(t, order="random", seed=8)]
    assert first == again and sorted(first) == sorted(t.document_ids) and first != other


def test_by_label_groups_in_taxonomy_order_most_confident_first():
    t = table([[[0.1, 0.9, 0], [0.6, 0.4, 0], [0.9, 0.1, 0], [0.2, 0.7, 0.1]]])
    ranked = [i.document_id for i in order_queue(t, order="by_label")]
    assert ranked == ["d2", "d1", "d0", "d3"]


def test_unknown_order_names_the_choices():
    with pytest.raises(ValueError, match="needed, newest, random, by_label"):
        order_queue(table([[[1, 0, 0]]]), order="oldest")


def test_shown_records_labels_scores_and_every_technique():
    present = np.array([[True], [False]])
    t = table([[[0.7, 0.3, 0]], [[0, 0, 0]]], present, techniques=["rules", "lexicon"])
    shown = t.shown("d0")
    assert shown["labels"] == ["billing"]
    assert shown["scores"]["billing"] == pytest.approx(0.7)
    assert shown["techniques"] == {"rules": pytest.approx(shown["scores"]), "lexicon": None}


def test_ranking_20k_documents_is_fast():
    rng = np.random.default_rng(0)
    raw = rng.random((4, 20_000, 8))
    t = PredictionTable(
        document_ids=[f"d{i}" for i in range(20_000)],
        labels=[f"l{j}" for j in range(8)],
        techniques=["a", "b", "c", "d"],
        scores=raw / raw.sum(axis=2, keepdims=True),
        present=rng.random((4, 20_000)) > 0.2,
    )
    queue = order_queue(t, order="needed")
    assert len(queue) == 20_000  # speed: bench/review_page.py


# --- against a real store ---------------------------------------------------------------

TAXONOMY = Taxonomy(labels=tuple(Label(name=name) for name in LABELS))
TEXTS = [
    "refund my invoice",
    "parcel is late",
    "cannot login",
    "invoice for the parcel",
    "nothing relevant",
]


def write_run(store, project_id, technique, predictions):
    """Store one finished run of `technique`: {doc_id: scores dict or None}."""
    key = f"key-{technique}"
    run_id = store.start_run(
        project_id,
        technique=technique,
        config_hash=key,
        config={},
        cache_key=key,
        model_id="",
        model_revision="",
        device="cpu",
        dtype="",
        n_documents=len(predictions),
    )
    rows = [
        (doc, {"scores": scores, "evidence": [], "summary": None})
        for doc, scores in predictions.items()
    ]
    store.write_predictions(project_id, run_id, key, technique, rows)
    store.finish_run(run_id, status="finished", n_computed=len(rows), n_cached=0, seconds=0.1)


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


def test_queue_agrees_with_core_results_on_suggestions_and_confidence(project):
    store, pid, ids = project
    expected = ensemble_results(latest_results(store, pid), LABELS)
    for item in build_queue(store, pid, filters=QueueFilters(status="all")):
        result = expected.get(item.document_id)
        scores = result.scores if result else None
        assert list(item.suggested_labels) == suggested_labels(scores, multi_label=False)
        assert item.confidence == pytest.approx(max(scores.values()) if scores else 0.0)


def test_unreviewed_filter_leaves_out_reviewed_documents(project):
    store, pid, ids = project
    store.add_review(pid, ids[0], reviewer="ann", decision="accept", labels=["billing"])
    queued = {i.document_id for i in build_queue(store, pid)}
    assert queued == set(ids) - {ids[0]}


def test_reviewed_filter_keeps_only_reviewed_documents(project):
    store, pid, ids = project
    store.add_review(pid, ids[1], reviewer="ann", decision="correct", labels=["shipping"])
    queued = [
        i.document_id for i in build_queue(store, pid, filters=QueueFilters(status="reviewed"))
    ]
    assert queued == [ids[1]]


def test_reviewed_label_counts_count_current_reviews_per_label(project):
    from core.review_queue import reviewed_label_counts

    store, pid, ids = project
    store.add_review(pid, ids[0], reviewer="ann", decision="accept", labels=["billing"])
    store.add_review(pid, ids[1], reviewer="ann", decision="correct", labels=["billing"])
    store.add_review(pid, ids[1], reviewer="bob", decision="correct", labels=["shipping"])
    store.add_review(pid, ids[2], reviewer="ann", decision="flag")  # no labels
    assert reviewed_label_counts(store, pid, LABELS).tolist() == [1, 1, 0]


def test_flagged_only_filter(project):
    store, pid, ids = project
    store.add_review(pid, ids[4], reviewer="ann", decision="flag")
    filters = QueueFilters(status="all", flagged_only=True)
    assert [i.document_id for i in build_queue(store, pid, filters=filters)] == [ids[4]]


def test_predicted_label_filter(project):
    store, pid, ids = project
    filters = QueueFilters(status="all", predicted_label="account")
    assert [i.document_id for i in build_queue(store, pid, filters=filters)] == [ids[2]]


def test_confidence_range_filter(project):
    store, pid, ids = project
    filters = QueueFilters(status="all", min_confidence=0.9)
    queued = build_queue(store, pid, filters=filters)
    assert queued and all(item.confidence >= 0.9 for item in queued)
    assert ids[3] not in {item.document_id for item in queued}  # a 50/50 document


def test_search_filter_is_case_insensitive(project):
    store, pid, ids = project
    filters = QueueFilters(status="all", search="INVOICE")
    assert {i.document_id for i in build_queue(store, pid, filters=filters)} == {ids[0], ids[3]}


def test_unknown_label_filter_names_the_labels(project):
    store, pid, _ = project
    with pytest.raises(ValueError, match="billing, shipping, account"):
        build_queue(store, pid, filters=QueueFilters(predicted_label="refunds"))


def test_signature_changes_with_a_new_run(project):
    store, pid, ids = project
    before = table_signature(store, pid)
    write_run(store, pid, "embeddings", {ids[0]: {"billing": 1.0, "shipping": 0, "account": 0}})
    assert table_signature(store, pid) != before


def test_fitted_weights_are_used(project):
    store, pid, ids = project
    store.save_trained_model(
        pid,
        kind="ensemble_weights",
        params={"weights": {"rules": 0.0, "lexicon": 1.0}},
        metrics={},
        blob=None,
        n_reviews=20,
    )
    t = load_predictions(store, pid)
    # rules alone would say shipping for ids[1]; lexicon alone says billing.
    assert t.suggested_labels(t.index_of(ids[1])) == ("billing",)


def test_loading_and_ranking_20k_documents_from_the_store(db_path):
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
    queue = build_queue(store, pid)
    assert len(queue) == 20_000  # speed: bench/review_page.py
