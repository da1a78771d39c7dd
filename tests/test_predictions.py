"""core.predictions: the one combination, the suggestions and the prediction table, on
hand-made scores and on a real store."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.documents import Document
from core.predictions import (
    EQUAL,
    MIN_WEIGHT,
    Combination,
    PredictionTable,
    calibrate,
    combine,
    combine_arrays,
    decide,
    disagreement,
    load_predictions,
    table_signature,
    uncertainty,
)
from core.store import Store
from core.taxonomy import Label, Taxonomy
from core.techniques.base import TextResult
from tests.stored_runs import store_run

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


# --- the combination --------------------------------------------------------------------------

score_rows = st.lists(st.floats(0, 1), min_size=3, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.one_of(st.none(), score_rows), min_size=1, max_size=4),
    weights=st.one_of(st.none(), st.lists(st.floats(0, 3), min_size=4, max_size=4)),
    multi_label=st.booleans(),
    temperature=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_the_one_text_form_equals_the_array_form(rows, weights, multi_label, temperature):
    names = [f"t{i}" for i in range(len(rows))]
    combination = Combination(
        weights=None if weights is None else dict(zip(names, weights)), temperature=temperature
    )
    results = {
        name: TextResult(scores=None if row is None else dict(zip(LABELS, row)))
        for name, row in zip(names, rows)
    }
    one = combine(results, LABELS, combination=combination, multi_label=multi_label)
    scores = np.array([[row or [0, 0, 0]] for row in rows], dtype=float)
    present = np.array([[row is not None] for row in rows])
    ensemble, covered = combine_arrays(scores, present, names, combination, multi_label)
    assert covered[0] == (one.scores is not None) == any(row is not None for row in rows)
    if one.scores is not None:
        assert ensemble[0] == pytest.approx([one.scores[name] for name in LABELS], abs=1e-9)
        assert all(0.0 <= value <= 1.0 for value in ensemble[0])
        if not multi_label:
            assert ensemble[0].sum() == pytest.approx(1.0)


def test_a_document_any_technique_voted_on_always_gets_a_suggestion():
    """The collapse: weights rules=1, lexicon=0, supervised=0 left every document rules
    abstained on without a suggestion. Weights are floored, so the voters still count."""
    t = table(
        [
            [[0.0, 0.0, 0.0], [0.9, 0.1, 0.0]],  # rules: abstains on d0
            [[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]],  # lexicon
        ],
        present=np.array([[False, True], [True, True]]),
        techniques=["rules", "lexicon"],
        combination=Combination(weights={"rules": 1.0, "lexicon": 0.0}),
    )
    assert t.covered.tolist() == [True, True]
    assert t.suggested_labels(0) == ("shipping",)  # lexicon alone decides d0
    assert t.suggested_labels(1) == ("billing",)  # rules dominate where both vote
    assert Combination(weights={"a": 0.0, "b": 2.0}).weight_vector(["a", "b"]).tolist() == [
        MIN_WEIGHT,
        1.0,
    ]


def test_a_technique_without_a_fitted_weight_counts_fully():
    weights = Combination(weights={"rules": 0.5}).weight_vector(["rules", "zero_shot"])
    assert weights.tolist() == [0.5, 1.0]


def test_calibration_keeps_the_top_label_and_moves_confidence():
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    assert calibrate(p, 1.0, False) is p
    softer, sharper = calibrate(p, 2.0, False), calibrate(p, 0.5, False)
    assert (softer.argmax(axis=1) == p.argmax(axis=1)).all()
    assert (softer.max(axis=1) < p.max(axis=1)).all() and (
        sharper.max(axis=1) > p.max(axis=1)
    ).all()
    assert softer.sum(axis=1) == pytest.approx([1.0, 1.0])
    multi = calibrate(np.array([[0.9, 0.5, 0.2]]), 2.0, True)[0]
    assert multi[1] == pytest.approx(0.5) and 0.5 < multi[0] < 0.9 and 0.2 < multi[2] < 0.5


def test_decide_single_label_takes_the_top_label():
    suggested, below = decide(np.array([[0.2, 0.7, 0.1]]), np.array([True]), multi_label=False)
    assert suggested.tolist() == [[False, True, False]] and below.tolist() == [False]


def test_decide_multi_label_offers_the_top_label_when_none_reaches_its_threshold():
    probabilities = np.array([[0.9, 0.6, 0.1], [0.3, 0.45, 0.1], [0.0, 0.0, 0.0]])
    suggested, below = decide(
        probabilities, np.array([True, True, False]), multi_label=True, thresholds=0.5
    )
    assert suggested.tolist() == [
        [True, True, False],
        [False, True, False],  # nothing reaches 0.5: the top label, marked below threshold
        [False, False, False],  # nothing voted: nothing to suggest
    ]
    assert below.tolist() == [False, True, False]


def test_fitted_per_label_thresholds_decide_multi_label_suggestions():
    t = table(
        [[[0.6, 0.3, 0.1]]],
        multi_label=True,
        combination=Combination(thresholds={"billing": 0.7, "shipping": 0.25}),
    )
    assert t.suggested_labels(0) == ("shipping",)
    assert t.thresholds.tolist() == [0.7, 0.25, 0.5]


# --- uncertainty and disagreement ----------------------------------------------------------------


def test_single_label_uncertainty_is_one_minus_the_margin():
    t = table([[[0.6, 0.3, 0.1], [0.34, 0.33, 0.33]]])
    assert t.uncertainty.tolist() == pytest.approx([0.7, 0.99])


def test_multi_label_uncertainty_is_closeness_to_each_labels_threshold():
    value = uncertainty(
        np.array([[0.95, 0.02], [0.55, 0.01]]), multi_label=True, thresholds=np.array([0.5, 0.5])
    )
    assert value[1] > value[0]
    near_own = uncertainty(
        np.array([[0.8, 0.0]]), multi_label=True, thresholds=np.array([0.8, 0.5])
    )
    assert near_own[0] == pytest.approx(1.0)


def test_documents_nobody_scored_are_fully_uncertain_and_have_no_suggestion():
    t = table([[[0.0, 0.0, 0.0]]], present=np.array([[False]]))
    assert t.uncertainty.tolist() == [1.0] and t.suggested_labels(0) == ()
    assert t.confidence.tolist() == [0.0] and t.top.tolist() == [-1]


def test_disagreement_is_the_share_of_voting_techniques_that_decide_otherwise():
    reference = np.array([[True, False], [True, False]])
    techniques = np.array(
        [
            [[0.9, 0.1], [0.9, 0.1]],  # agrees on both
            [[0.1, 0.9], [0.9, 0.1]],  # disagrees on document 0
            [[0.1, 0.9], [0.1, 0.9]],  # disagrees on both, but abstains on document 1
        ]
    )
    present = np.array([[True, True], [True, True], [True, False]])
    assert list(disagreement(techniques, present, reference)) == [pytest.approx(2 / 3), 0.0]


def test_a_suggestion_snapshot_records_what_was_shown():
    t = table([[[0.9, 0.1, 0.0]], [[0.0, 0.0, 0.0]]], present=np.array([[True], [False]]))
    suggestion = t.suggestion(0)
    shown = suggestion.shown(view="bulk")
    assert shown["labels"] == ["billing"] and shown["view"] == "bulk"
    assert shown["scores"]["billing"] == pytest.approx(0.9)
    assert shown["techniques"] == {"t0": suggestion.techniques["t0"], "t1": None}
    assert shown["version"] is None


# --- from a real store ---------------------------------------------------------------------------

TAXONOMY = Taxonomy(labels=tuple(Label(name=name) for name in LABELS))


def write_run(store, project_id, technique, predictions, key=None):
    """Store one finished run of `technique`: {doc_id: scores dict or None}; returns its key."""
    key = key or f"key-{technique}"
    rows = [
        (doc, {"scores": scores, "evidence": [], "summary": None})
        for doc, scores in predictions.items()
    ]
    store_run(store, project_id, technique, rows, key)
    return key


@pytest.fixture
def project(db_path):
    store = Store(db_path)
    pid = store.create_project("predictions").id
    store.save_taxonomy(pid, TAXONOMY)
    store.add_documents(
        pid,
        [Document.from_text(text) for text in ("refund my invoice", "parcel is late")],
        filename="docs.txt",
        format="txt",
        encoding="utf-8",
        sha256="0" * 64,
    )
    ids = store.document_ids(pid)
    write_run(store, pid, "lexicon", {ids[0]: dict(zip(LABELS, [0.8, 0.2, 0.0])), ids[1]: None})
    return store, pid, ids


def test_supervised_predictions_count_only_once_a_version_adopts_them(project):
    store, pid, ids = project
    key = write_run(
        store, pid, "supervised", {d: dict(zip(LABELS, [0.1, 0.8, 0.1])) for d in ids}, "sup-1"
    )
    assert load_predictions(store, pid).techniques == ["lexicon"]  # a run alone is not adopted
    rejected = store.save_model_version(
        pid,
        status="rejected",
        config={"learned_cache_keys": {"supervised": key}},
        metrics={},
        reason="not adopted",
        n_reviews=4,
    )
    assert load_predictions(store, pid).version is None
    adopted = store.save_model_version(
        pid,
        status="adopted",
        config={
            "learned_cache_keys": {"supervised": key},
            "combination": Combination(weights={"lexicon": 1.0, "supervised": 0.25}).to_json(),
        },
        metrics={},
        reason="adopted",
        n_reviews=4,
    )
    t = load_predictions(store, pid)
    assert (t.version, t.techniques) == (adopted.id, ["lexicon", "supervised"])
    assert rejected.id != adopted.id
    assert t.combination.weights == {"lexicon": 1.0, "supervised": 0.25}
    # d0: (1.0 * [.8 .2 0] + .25 * [.1 .8 .1]) / 1.25; d1: supervised alone
    assert t.ensemble[0] == pytest.approx([0.66, 0.32, 0.02])
    assert t.suggested_labels(1) == ("shipping",)


def test_signature_changes_with_a_run_a_version_and_settings(project):
    store, pid, ids = project
    first = table_signature(store, pid)
    write_run(store, pid, "rules", {ids[0]: dict(zip(LABELS, [1.0, 0.0, 0.0]))})
    second = table_signature(store, pid)
    store.save_model_version(pid, status="adopted", config={}, metrics={}, reason="", n_reviews=4)
    third = table_signature(store, pid)
    store.update_project_settings(pid, {"multi_label": True})
    assert len({first, second, third, table_signature(store, pid)}) == 4


def test_equal_combination_is_the_default():
    assert Combination.from_json(None) == EQUAL and EQUAL.to_json()["weights"] is None
