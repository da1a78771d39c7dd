"""Agreement between reviewers (core.evaluation.agreement) against textbook numbers and the
reference implementations (krippendorff, scikit-learn). Reviews go through a real SQLite
store where the store can hold them; the pure parts read hand-made Review rows."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from core.documents import Document
from core.evaluation import agreement as agreement_module
from core.evaluation.agreement import (
    NO_LABEL,
    OVERALL,
    alpha,
    compute_agreement,
    kappa,
    nominal_alpha_sparse,
    opinions_of,
    project_agreement,
)
from core.store import Store
from core.store.records import Review
from core.taxonomy import Label, Taxonomy

NAN = math.nan

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: four
# observers, twelve units, values 1-5, missing values blank. Nominal alpha = 0.743.
KRIPPENDORFF_DATA = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}
KRIPPENDORFF_NOMINAL_ALPHA = 0.743

# Cohen's kappa, the textbook two-rater yes/no table (Wikipedia, "Cohen's kappa", example 1):
# 20 both yes, 5 A yes/B no, 10 A no/B yes, 15 both no; kappa = 0.4.
KAPPA_TABLE = (
    [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
)


def make_store(tmp_path, labels, n_documents, *, settings=None):
    store = Store(tmp_path / "sift.db")
    project = store.create_project("team", settings=settings or {})
    store.save_taxonomy(project.id, Taxonomy(labels=tuple(Label(name=n) for n in labels)))
    docs = [Document.from_text(f"document number {i}") for i in range(n_documents)]
    store.add_documents(
        project.id, docs, filename="d.txt", format="txt", encoding="utf-8", sha256="0" * 64
    )
    return store, project.id, store.document_ids(project.id)


def review(id, document, reviewer, decision="correct", labels=(), *, at=None, undoes=None, note=""):
    return Review(
        id=id,
        project_id=1,
        document_id=document,
        reviewer=reviewer,
        created_at=at or f"2026-01-01T00:00:{id:02d}.000000+00:00",
        decision=decision,
        labels=tuple(labels),
        shown=None,
        undoes=undoes,
        note=note,
    )


# --- Krippendorff's alpha ---------------------------------------------------------------------


@pytest.fixture
def krippendorff_project(tmp_path):
    store, project_id, ids = make_store(tmp_path, [f"v{v}" for v in range(1, 6)], 12)
    for reviewer, values in KRIPPENDORFF_DATA.items():
        for doc_id, value in zip(ids, values):
            if value is not None:
                store.add_review(
                    project_id, doc_id, reviewer=reviewer, decision="correct", labels=[f"v{value}"]
                )
    return store, project_id, ids


def test_alpha_on_krippendorffs_own_example_is_his_published_value(krippendorff_project):
    store, project_id, _ = krippendorff_project
    result = project_agreement(store, project_id)
    matrix = np.array(
        [[NAN if v is None else v for v in row] for row in KRIPPENDORFF_DATA.values()], float
    )
    reference = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert result.overall.alpha == pytest.approx(reference, abs=1e-12)
    assert round(result.overall.alpha, 3) == KRIPPENDORFF_NOMINAL_ALPHA
    # unit 12 has one observer only: not a document with two or more reviewers
    assert result.n_reviewed == 12 and result.n_multi == 11
    assert result.reviewers == ("A", "B", "C", "D")


def test_per_label_alpha_is_the_reference_on_the_binary_matrix(krippendorff_project):
    store, project_id, ids = krippendorff_project
    result = project_agreement(store, project_id)
    assert [row.label for row in result.per_label] == ["v1", "v2", "v3", "v4", "v5"]
    for row in result.per_label:
        value = int(row.label[1:])
        binary = np.array(
            [
                [NAN if v is None else float(v == value) for v in obs]
                for obs in KRIPPENDORFF_DATA.values()
            ],
            float,
        )
        reference = krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal")
        assert row.alpha == pytest.approx(reference, abs=1e-12), row.label


def test_disagreements_are_the_units_where_observers_differ(krippendorff_project):
    store, project_id, ids = krippendorff_project
    result = project_agreement(store, project_id)
    # units 2 (1-based), 6 and 8 hold different values; the rest agree (12 is unpaired)
    assert set(result.overall.disagreements) == {ids[1], ids[5], ids[7]}
    assert result.overall.n_disagreements == 3
    assert result.overall.percent == pytest.approx(8 / 11)
    # v5 is given by all three observers of unit 10: no disagreement on it
    assert result.row("v5").disagreements == ()
    assert set(result.row("v1").disagreements) == {ids[5], ids[7]}


def test_pairwise_kappa_is_sklearns_on_the_shared_documents(krippendorff_project):
    store, project_id, _ = krippendorff_project
    result = project_agreement(store, project_id)
    assert len(result.pairs) == 6
    kappas = []
    for pair in result.pairs:
        a, b = KRIPPENDORFF_DATA[pair.reviewer_a], KRIPPENDORFF_DATA[pair.reviewer_b]
        shared = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
        assert pair.n_documents == len(shared)
        reference = cohen_kappa_score([x for x, _ in shared], [y for _, y in shared])
        assert pair.kappa == pytest.approx(reference, abs=1e-12)
        assert pair.percent == pytest.approx(sum(x == y for x, y in shared) / len(shared))
        kappas.append(reference)
    assert result.overall.kappa == pytest.approx(np.mean(kappas))
    assert result.overall.n_pairs == 6


# --- Cohen's kappa ----------------------------------------------------------------------------


def test_kappa_on_the_textbook_table_is_point_four(tmp_path):
    store, project_id, ids = make_store(tmp_path, ["yes", "no"], len(KAPPA_TABLE))
    for doc_id, (a, b) in zip(ids, KAPPA_TABLE):
        store.add_review(project_id, doc_id, reviewer="ann", decision="correct", labels=[a])
        store.add_review(project_id, doc_id, reviewer="bob", decision="correct", labels=[b])
    result = project_agreement(store, project_id)
    reference = cohen_kappa_score([a for a, _ in KAPPA_TABLE], [b for _, b in KAPPA_TABLE])
    assert reference == pytest.approx(0.4)
    assert result.overall.kappa == pytest.approx(reference, abs=1e-12)
    (pair,) = result.pairs
    assert (pair.reviewer_a, pair.reviewer_b, pair.n_documents) == ("ann", "bob", 50)
    assert pair.percent == pytest.approx(35 / 50)
    # two labels, one each: "yes" as binary is the same split as the label itself
    assert result.row("yes").kappa == pytest.approx(0.4)
    assert pair.label_kappa["no"] == pytest.approx(0.4)
    assert result.overall.alpha == pytest.approx(
        krippendorff.alpha(
            reliability_data=[
                [float(a == "yes") for a, _ in KAPPA_TABLE],
                [float(b == "yes") for _, b in KAPPA_TABLE],
            ],
            level_of_measurement="nominal",
        )
    )
    assert len(result.overall.disagreements) == 15


def test_undefined_numbers_are_none_not_zero():
    # one value between them: chance agreement is 1, kappa and alpha are undefined
    assert kappa(["a", "a"], ["a", "a"]) is None
    assert kappa([], []) is None
    assert alpha([["a", "a"], ["a", None]]) is None
    assert alpha([["a", None], [None, "b"]]) is None  # no document with two values
    assert kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)
    reviews = [review(1, "d1", "ann", labels=["x"]), review(2, "d1", "bob", labels=["x"])]
    result = compute_agreement(reviews, ["x", "y"])
    assert result.overall.alpha is None and result.overall.kappa is None
    assert result.overall.percent == 1.0 and result.overall.n_pairs == 0
    assert result.row("y").n_documents == 1 and result.row("y").alpha is None


# --- what counts as an opinion ----------------------------------------------------------------


def test_an_opinion_is_the_latest_labelling_review_not_undone():
    reviews = [
        review(1, "d1", "ann", labels=["a"]),
        review(2, "d1", "ann", labels=["b"]),  # ann changes her mind ...
        review(3, "d1", "ann", decision="undo", undoes=2),  # ... and takes it back: "a"
        review(4, "d1", "bob", decision="accept", labels=["b"]),
        review(5, "d1", "cat", labels=["a"]),
        review(6, "d1", "cat", decision="undo", undoes=5),  # cat has no opinion any more
        review(7, "d1", "dan", decision="skip"),
        review(8, "d1", "eve", decision="flag"),
        review(9, "d2", "ann", labels=["a"]),  # one reviewer only
        review(10, "d1", "boss", decision="adjudicate", labels=["a"]),  # not an opinion
    ]
    found, adjudications = opinions_of(reviews)
    assert {r: o.labels for r, o in found["d1"].items()} == {"ann": ("a",), "bob": ("b",)}
    assert adjudications["d1"].reviewer == "boss"
    result = compute_agreement(reviews, ["a", "b"])
    assert result.reviewers == ("ann", "bob")
    assert result.opinions == {"d1": {"ann": ("a",), "bob": ("b",)}}
    assert result.n_reviewed == 2 and result.n_multi == 1
    assert result.overall.disagreements == ("d1",)
    assert result.adjudicated == {"d1": ("a",)}


def test_a_later_opinion_reopens_an_adjudicated_dispute():
    reviews = [
        review(1, "d1", "ann", labels=["a"]),
        review(2, "d1", "bob", labels=["b"]),
        review(3, "d1", "boss", decision="adjudicate", labels=["a"]),
        review(4, "d1", "bob", labels=["c"]),
    ]
    assert compute_agreement(reviews, ["a", "b", "c"]).adjudicated == {}
    undone = [*reviews[:3], review(4, "d1", "boss", decision="undo", undoes=3)]
    assert compute_agreement(undone, ["a", "b"]).adjudicated == {}


def test_multi_label_per_label_is_binary_and_overall_is_the_label_set():
    sets = {  # document -> reviewer -> labels
        "d1": {"ann": ["a", "b"], "bob": ["a", "b"], "cat": ["a"]},
        "d2": {"ann": ["b"], "bob": ["b"], "cat": ["b"]},
        "d3": {"ann": [], "bob": ["a"], "cat": []},
        "d4": {"ann": ["a", "c"], "bob": ["c", "a"]},
        "d5": {"ann": ["c"], "cat": ["b", "c"]},
    }
    reviews, n = [], 0
    for doc, by in sets.items():
        for reviewer, labels in by.items():
            n += 1
            reviews.append(review(n, doc, reviewer, labels=labels))
    result = compute_agreement(reviews, ["a", "b", "c"])
    reviewers = ["ann", "bob", "cat"]
    docs = sorted(sets)
    for label in ("a", "b", "c"):
        matrix = [
            [float(label in sets[d][r]) if r in sets[d] else NAN for d in docs] for r in reviewers
        ]
        row = result.row(label)
        assert row.alpha == pytest.approx(
            krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
        ), label
    assert result.row("a").disagreements == ("d3",)  # everyone chose "a" on d1
    assert result.row("b").disagreements == ("d1", "d5")
    assert result.row("c").disagreements == ()
    # overall: the label set is the value; d4's two orders are one set
    assert result.overall.disagreements == ("d1", "d3", "d5")
    values = {}
    matrix = [
        [
            values.setdefault(frozenset(sets[d][r]), len(values)) if r in sets[d] else NAN
            for d in docs
        ]
        for r in reviewers
    ]
    assert result.overall.alpha == pytest.approx(
        krippendorff.alpha(reliability_data=np.array(matrix, float), level_of_measurement="nominal")
    )
    ann_bob = next(p for p in result.pairs if (p.reviewer_a, p.reviewer_b) == ("ann", "bob"))
    assert ann_bob.n_documents == 4 and ann_bob.percent == pytest.approx(3 / 4)
    assert ann_bob.label_kappa["a"] == pytest.approx(cohen_kappa_score([1, 0, 0, 1], [1, 0, 1, 1]))
    assert result.opinions["d3"]["ann"] == ()
    assert NO_LABEL  # the name an empty set shows under


def test_labels_outside_the_taxonomy_still_get_a_row():
    reviews = [review(1, "d1", "ann", labels=["old"]), review(2, "d1", "bob", labels=["a"])]
    result = compute_agreement(reviews, ["a"])
    assert [row.label for row in result.rows()] == [OVERALL, "a", "old"]


def test_to_json_is_plain_json():
    import json

    reviews = [review(1, "d1", "ann", labels=["a"]), review(2, "d1", "bob", labels=["b"])]
    data = json.loads(json.dumps(compute_agreement(reviews, ["a", "b"]).to_json()))
    assert data["documents_with_2_or_more_reviewers"] == 1
    assert data["overall"]["disagreeing_documents"] == ["d1"]
    assert [row["label"] for row in data["labels"]] == ["a", "b"]
    assert data["pairs"][0]["reviewers"] == ["ann", "bob"]


def test_opinions_and_standing_adjudications_match_the_stores(tmp_path):
    """One meaning of "opinion" and "disputed": the store's own reading of the same log."""
    store, project_id, ids = make_store(tmp_path, ["a", "b"], 4)
    add = store.add_review
    add(project_id, ids[0], reviewer="ann", decision="correct", labels=["a"])
    add(project_id, ids[0], reviewer="bob", decision="correct", labels=["b"])
    add(project_id, ids[1], reviewer="ann", decision="correct", labels=["a"])
    changed = add(project_id, ids[1], reviewer="bob", decision="correct", labels=["b"])
    store.undo_review(project_id, changed.id, reviewer="bob")
    add(project_id, ids[1], reviewer="bob", decision="accept", labels=["a"])
    add(project_id, ids[2], reviewer="ann", decision="correct", labels=["a", "b"])
    add(project_id, ids[2], reviewer="bob", decision="flag")
    add(project_id, ids[3], reviewer="ann", decision="correct", labels=["a"])
    add(project_id, ids[3], reviewer="bob", decision="correct", labels=["b"])
    store.adjudicate(project_id, ids[3], reviewer="boss", labels=["b"])
    found, adjudications = opinions_of(store.review_history(project_id))
    assert {doc: {r: o.review_id for r, o in by.items()} for doc, by in found.items()} == {
        doc: {r: review.id for r, review in by.items()}
        for doc, by in store.reviewer_opinions(project_id).items()
    }
    result = project_agreement(store, project_id)
    disputed = set(result.overall.disagreements) - set(result.adjudicated)
    assert disputed == store.disputed_document_ids(project_id) == {ids[0]}
    assert result.adjudicated == {ids[3]: ("b",)}


@pytest.mark.parametrize("seed", range(8))
def test_the_sparse_alpha_for_many_label_sets_equals_the_packages(seed):
    """Sift sums the formula itself (the package is GPL-3.0, a test-only dependency here); on
    random matrices with missing values it must give the package's number."""
    rng = np.random.default_rng(seed)
    coders, units, n_values = rng.integers(2, 7), rng.integers(2, 60), rng.integers(2, 12)
    data = rng.integers(0, n_values, size=(coders, units)).astype(float)
    data[rng.random(data.shape) < 0.4] = NAN
    data[:, 0] = [0, 1, *[NAN] * (coders - 2)]  # at least one pairable document, two values
    assert nominal_alpha_sparse(data) == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"), abs=1e-12
    )


def test_alpha_is_undefined_when_every_pairable_value_is_the_same():
    assert agreement_module.alpha([["x", "x", "y"], ["x", "x", None]]) is None
    assert agreement_module.alpha([["x", "y"], ["x", "x"]]) == pytest.approx(
        krippendorff.alpha(reliability_data=[[0, 1], [0, 0]], level_of_measurement="nominal")
    )


def test_a_label_named_like_a_set_of_others_is_its_own_value():
    reviews = [
        review(1, "d1", "ann", labels=["a", "b"]),
        review(2, "d1", "bob", labels=["a + b"]),
        review(3, "d2", "ann", labels=["a,b"]),
        review(4, "d2", "bob", labels=["a", "b"]),
    ]
    result = compute_agreement(reviews, ["a", "b", "a + b", "a,b"])
    assert result.overall.disagreements == ("d1", "d2")
    assert result.pairs[0].percent == 0.0
