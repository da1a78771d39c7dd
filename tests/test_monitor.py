"""Monitoring: PSI, distributions over time, reviewer-model agreement, drift between batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.documents import Document
from core.engine import run_techniques
from core.evaluation.monitor import (
    MIN_DRIFT_DOCUMENTS,
    MODERATE_PSI,
    NO_PREDICTION,
    SIGNIFICANT_PSI,
    TOO_LITTLE_DATA,
    agreement_over_time,
    chance_psi,
    documents_needed,
    drift,
    label_distribution_by,
    mean_confidence_by,
    project_snapshot,
    psi,
    psi_level,
    runs_table,
)
from core.store import Review, Store
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique

# --- psi --------------------------------------------------------------------------------


def test_psi_of_identical_distributions_is_zero():
    assert psi([10, 20, 30], [20, 40, 60]) == pytest.approx(0.0)


def test_psi_matches_the_formula():
    expected = 0.4 * math.log(0.9 / 0.5) + (-0.4) * math.log(0.1 / 0.5)
    assert psi([50, 50], [90, 10]) == pytest.approx(expected)


def test_psi_with_an_empty_category_is_finite():
    value = psi([100, 0], [50, 50])
    assert math.isfinite(value) and value > 0.2


def test_psi_of_mappings_aligns_categories_by_name():
    assert psi({"a": 50, "b": 50}, {"b": 10, "a": 90}) == pytest.approx(psi([50, 50], [90, 10]))


def test_psi_of_mappings_counts_missing_categories_as_zero():
    assert psi({"a": 10}, {"a": 5, "b": 5}) == pytest.approx(psi([10, 0], [5, 5]))


def test_psi_needs_aligned_counts():
    with pytest.raises(ValueError, match="one entry per category"):
        psi([1, 2, 3], [1, 2])


def test_psi_needs_documents_on_both_sides():
    with pytest.raises(ValueError, match="baseline or the batch has none"):
        psi([0, 0], [1, 2])


counts = st.lists(st.integers(0, 1000), min_size=2, max_size=6)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_psi_is_non_negative_and_symmetric(data):
    expected = data.draw(counts.filter(lambda c: sum(c) > 0))
    actual = data.draw(
        st.lists(st.integers(0, 1000), min_size=len(expected), max_size=len(expected)).filter(
            lambda c: sum(c) > 0
        )
    )
    value = psi(expected, actual)
    assert value >= -1e-12
    assert value == pytest.approx(psi(actual, expected))


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0.0, "stable"),
        (0.099, "stable"),
        (0.1, "moderate"),
        (0.2, "moderate"),
        (0.21, "significant"),
    ],
)
def test_psi_levels(value, level):
    assert psi_level(value) == level


# --- over time --------------------------------------------------------------------------


def test_label_distribution_counts_each_period_and_fills_zeros():
    rows = label_distribution_by(["d2", "d1", "d1"], [["a"], ["a", "b"], ["a"]], ["a", "b", "c"])
    table = {(r["period"], r["label"]): (r["count"], r["share"]) for r in rows}
    assert table == {
        ("d1", "a"): (2, 1.0),
        ("d1", "b"): (1, 0.5),
        ("d1", "c"): (0, 0.0),
        ("d2", "a"): (1, 1.0),
        ("d2", "b"): (0, 0.0),
        ("d2", "c"): (0, 0.0),
    }
    assert [r["period"] for r in rows] == ["d1"] * 3 + ["d2"] * 3


def test_label_distribution_needs_a_period_per_document():
    with pytest.raises(ValueError, match="one period per document"):
        label_distribution_by(["d1"], [["a"], ["b"]], ["a", "b"])


def test_mean_confidence_leaves_out_abstentions():
    rows = mean_confidence_by(["d1", "d1", "d2"], [0.4, None, 0.8])
    assert rows == [
        {"period": "d1", "mean_confidence": pytest.approx(0.4), "n": 1},
        {"period": "d2", "mean_confidence": pytest.approx(0.8), "n": 1},
    ]


def review(id, doc, decision, labels=(), shown_labels=None, day="2026-01-01", undoes=None):
    return Review(
        id=id,
        project_id=1,
        document_id=doc,
        reviewer="ann",
        created_at=f"{day}T10:00:00+00:00",
        decision=decision,
        labels=tuple(labels),
        shown=None if shown_labels is None else {"labels": list(shown_labels)},
        undoes=undoes,
        note="",
    )


def test_agreement_is_the_share_of_reviews_matching_the_suggestion():
    reviews = [
        review(1, "a", "accept", ["x"], ["x"]),
        review(2, "b", "correct", ["y"], ["x"]),
        review(3, "c", "correct", ["y", "x"], ["x", "y"], day="2026-01-02"),
    ]
    assert agreement_over_time(reviews) == [
        {"period": "2026-01-01", "agreement": 0.5, "n": 2},
        {"period": "2026-01-02", "agreement": 1.0, "n": 1},
    ]


def test_agreement_ignores_undone_reviews_skips_and_reviews_without_a_suggestion():
    reviews = [
        review(1, "a", "correct", ["y"], ["x"]),
        review(2, "a", "undo", undoes=1),
        review(3, "b", "skip", shown_labels=["x"]),
        review(4, "c", "correct", ["y"]),  # nothing shown
        review(5, "d", "accept", ["x"], ["x"]),
    ]
    assert agreement_over_time(reviews) == [{"period": "2026-01-01", "agreement": 1.0, "n": 1}]


def test_agreement_by_batch():
    reviews = [review(1, "a", "accept", ["x"], ["x"]), review(2, "b", "correct", ["y"], ["x"])]
    rows = agreement_over_time(reviews, by="batch", batch_of={"a": 1, "b": 2})
    assert [(r["period"], r["agreement"]) for r in rows] == [(1, 1.0), (2, 0.0)]


def test_agreement_by_batch_needs_the_batches():
    with pytest.raises(ValueError, match="batch_of"):
        agreement_over_time([], by="batch")


# --- drift on a real store --------------------------------------------------------------

TAXONOMY = Taxonomy(
    labels=(
        Label(name="billing", keywords=(Keyword("invoice"),)),
        Label(name="shipping", keywords=(Keyword("parcel"),)),
    )
)


def import_batch(store, pid, name, texts):
    return store.add_documents(
        pid,
        [Document.from_text(t) for t in texts],
        filename=name,
        format="txt",
        encoding="utf-8",
        sha256=name.ljust(64, "0"),
    ).import_id


@pytest.fixture
def batches(db_path):
    store = Store(db_path)
    pid = store.create_project("drift").id
    store.save_taxonomy(pid, TAXONOMY)
    # 100 documents a batch: enough for PSI to mean something (see test_small_batches_...)
    base = import_batch(
        store,
        pid,
        "base",
        [f"invoice {i}" for i in range(80)] + [f"parcel {i}" for i in range(20)],
    )
    same = import_batch(
        store,
        pid,
        "same",
        [f"invoice no {i}" for i in range(80)] + [f"parcel no {i}" for i in range(20)],
    )
    shifted = import_batch(
        store,
        pid,
        "shifted",
        [f"parcel x {i}" for i in range(90)] + [f"hello {i}" for i in range(10)],
    )
    run_techniques(store, pid, [create_technique("lexicon")])
    return store, pid, base, same, shifted


def test_batch_with_the_same_mix_is_stable(batches):
    store, pid, base, same, _ = batches
    report = drift(project_snapshot(store, pid), base, same)
    assert report.label_psi == pytest.approx(0.0, abs=1e-9) and report.level == "stable"


def test_shifted_batch_is_significant(batches):
    store, pid, base, _, shifted = batches
    report = drift(project_snapshot(store, pid), base, shifted)
    assert report.level == "significant"
    assert report.batch_counts == {"billing": 0, "shipping": 90, NO_PREDICTION: 10}


def test_small_batches_are_too_little_data_however_large_the_psi(db_path):
    store = Store(db_path)
    pid = store.create_project("tiny drift").id
    store.save_taxonomy(pid, TAXONOMY)
    one = import_batch(store, pid, "one", ["invoice 1"])
    other = import_batch(store, pid, "other", ["parcel 1"])
    run_techniques(store, pid, [create_technique("lexicon")])
    report = drift(project_snapshot(store, pid), one, other)
    assert report.label_psi > SIGNIFICANT_PSI  # a "significant" figure ...
    assert report.level == TOO_LITTLE_DATA and not report.enough_data  # ... that means nothing
    assert report.chance_psi > MODERATE_PSI
    assert report.documents_needed >= MIN_DRIFT_DOCUMENTS


def test_chance_psi_matches_two_samples_of_one_population():
    rng = np.random.default_rng(0)
    shares = np.array([0.5, 0.3, 0.2])
    n = 200
    observed = [psi(rng.multinomial(n, shares), rng.multinomial(n, shares)) for _ in range(400)]
    # the mean PSI between same-population samples is what chance_psi predicts (within 15%)
    assert np.mean(observed) == pytest.approx(chance_psi(3, n, n), rel=0.15)
    assert documents_needed(3) == 80  # 4 * (3 - 1) / 0.1


def test_current_labels_prefer_the_review(batches):
    store, pid, base, *_ = batches
    doc = store.document_ids(pid, import_id=base)[0]  # lexicon says billing
    store.add_review(pid, doc, reviewer="ann", decision="correct", labels=["shipping"])
    snapshot = project_snapshot(store, pid)
    assert snapshot.current_labels()[snapshot.table.index_of(doc)] == ("shipping",)


def test_runs_table_lists_runs_newest_first(batches):
    store, pid, *_ = batches
    run_techniques(store, pid, [create_technique("rules")])
    rows = runs_table(store.list_runs(pid))
    assert [r["technique"] for r in rows] == ["rules", "lexicon"]
    assert rows[1]["computed"] == 300 and rows[1]["status"] == "finished"
