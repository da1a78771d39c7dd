"""Agreement between reviewers (inter-annotator agreement), from the review log.

A reviewer's *opinion* on a document is their latest labelling review ('accept' or
'correct') that no 'undo' retracts; an 'adjudicate' review is the final word of whoever
settles a dispute, not an opinion, so it never counts here (it is reported next to the
disagreement it settles). Only documents with opinions from at least two reviewers say
anything about agreement.

Numbers, per label and overall, from maintained implementations:
- Cohen's kappa (scikit-learn `cohen_kappa_score`) for each pair of reviewers, on the
  documents both gave an opinion on; the row's `kappa` is the mean over the pairs where it
  is defined.
- Krippendorff's alpha, nominal, for any number of reviewers, documents a reviewer did not
  see being missing values: the coincidence-matrix formula summed here (nominal_alpha_sparse),
  checked against the `krippendorff` package in the tests (a test-only dependency: it is
  GPL-3.0).
- Per label, each opinion is binary: the label is in the reviewer's labels or not (so a
  multi-label project is measured one label at a time, and a single-label one one-vs-rest).
- Overall, each opinion's whole label set is one nominal value: two reviewers agree on a
  document only when they chose exactly the same labels. (Not the mean of the per-label
  numbers, which those rows already give.)

Undefined numbers are None, never 0: kappa when a pair used one single value between them
(no variation: chance agreement is 1), alpha when every opinion has the same value or no
document has two opinions.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import cohen_kappa_score

if TYPE_CHECKING:
    from core.store.protocol import SiftStore
    from core.store.records import Review

OPINION_DECISIONS = ("accept", "correct")  # what a reviewer's opinion is made of
ADJUDICATE = "adjudicate"  # the decision that settles a dispute (not an opinion)
OVERALL = "overall"  # the row name of the whole-label-set numbers
NO_LABEL = "(no label)"  # how an opinion that gave no label is shown

# document_id -> reviewer -> the labels of their opinion (sorted)
Opinions = dict[str, dict[str, tuple[str, ...]]]


@dataclass(frozen=True)
class Opinion:
    document_id: str
    reviewer: str
    labels: tuple[str, ...]
    review_id: int
    created_at: str


def opinions_of(reviews: Iterable[Review]) -> tuple[dict[str, dict[str, Opinion]], dict]:
    """(document -> reviewer -> Opinion, document -> its standing adjudication Review).

    `reviews` is a project's log in id order (Store.review_history). A standing
    adjudication is the document's latest unretracted 'adjudicate' that came after every
    opinion (a later opinion reopens the dispute).
    """
    reviews = list(reviews)
    undone = {review.undoes for review in reviews if review.decision == "undo"}
    found: dict[str, dict[str, Opinion]] = {}
    adjudications: dict[str, Review] = {}
    for review in reviews:  # oldest first: later ones replace earlier ones
        if review.id in undone:
            continue
        if review.decision in OPINION_DECISIONS:
            found.setdefault(review.document_id, {})[review.reviewer] = Opinion(
                document_id=review.document_id,
                reviewer=review.reviewer,
                labels=tuple(sorted(set(review.labels))),
                review_id=review.id,
                created_at=review.created_at,
            )
            adjudications.pop(review.document_id, None)
        elif review.decision == ADJUDICATE:
            adjudications[review.document_id] = review
    return found, adjudications


@dataclass(frozen=True)
class PairAgreement:
    """Two reviewers on the documents both gave an opinion on."""

    reviewer_a: str
    reviewer_b: str
    n_documents: int
    percent: float | None  # share of those documents with exactly the same labels
    kappa: float | None  # Cohen's kappa on whole label sets (nominal)
    label_kappa: Mapping[str, float | None] = field(default_factory=dict)  # per label, binary


@dataclass(frozen=True)
class LabelAgreement:
    """One row of the agreement table: a label (binary) or OVERALL (label sets)."""

    label: str
    n_documents: int  # documents with opinions from >= 2 reviewers
    n_disagreements: int  # of those, documents where the reviewers' values differ
    percent: float | None  # share of those documents where all reviewers agree
    kappa: float | None  # mean Cohen's kappa over the pairs where it is defined
    n_pairs: int  # pairs of reviewers that kappa is the mean of
    alpha: float | None  # Krippendorff's alpha, nominal
    disagreements: tuple[str, ...]  # the document ids behind n_disagreements


@dataclass(frozen=True)
class Agreement:
    reviewers: tuple[str, ...]
    n_reviewed: int  # documents with at least one opinion
    n_multi: int  # documents with opinions from >= 2 reviewers
    overall: LabelAgreement
    per_label: tuple[LabelAgreement, ...]
    pairs: tuple[PairAgreement, ...]
    opinions: Opinions  # documents with >= 2 opinions only
    adjudicated: Mapping[str, tuple[str, ...]]  # document -> labels of its standing adjudication

    def rows(self) -> list[LabelAgreement]:
        return [self.overall, *self.per_label]

    def row(self, label: str) -> LabelAgreement:
        for row in self.rows():
            if row.label == label:
                return row
        raise KeyError(label)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (the CLI's --json): the numbers and the disagreeing documents' ids."""

        def row_json(row: LabelAgreement) -> dict[str, Any]:
            return {
                "label": row.label,
                "documents": row.n_documents,
                "disagreements": row.n_disagreements,
                "percent_agreement": row.percent,
                "kappa_mean": row.kappa,
                "kappa_pairs": row.n_pairs,
                "alpha": row.alpha,
                "disagreeing_documents": list(row.disagreements),
            }

        return {
            "reviewers": list(self.reviewers),
            "documents_reviewed": self.n_reviewed,
            "documents_with_2_or_more_reviewers": self.n_multi,
            "overall": row_json(self.overall),
            "labels": [row_json(row) for row in self.per_label],
            "pairs": [
                {
                    "reviewers": [pair.reviewer_a, pair.reviewer_b],
                    "documents": pair.n_documents,
                    "percent_agreement": pair.percent,
                    "kappa": pair.kappa,
                    "label_kappa": dict(pair.label_kappa),
                }
                for pair in self.pairs
            ],
        }


def kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's kappa of two reviewers' values on the same documents; None when undefined
    (no documents, or one single value between them: chance agreement is then 1)."""
    values = sorted(set(a) | set(b), key=str)
    if not a or len(values) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined cases are handled above and below
        result = cohen_kappa_score(list(a), list(b), labels=values)
    return None if np.isnan(result) else float(result)


def alpha(matrix: Sequence[Sequence[Any]]) -> float | None:
    """Krippendorff's alpha (nominal) of a reviewers x documents matrix of hashable values,
    None for a missing one; None when undefined (fewer than two values in all, or no
    document with two values)."""
    values = sorted({v for row in matrix for v in row if v is not None}, key=str)
    if len(values) < 2:
        return None
    index = {value: number for number, value in enumerate(values)}
    data = np.array(
        [[np.nan if v is None else float(index[v]) for v in row] for row in matrix], dtype=float
    )
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if not pairable.any():
        return None
    data = data[:, pairable]  # documents with one value add nothing to alpha
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None  # every pairable value the same: no disagreement to expect, alpha is 0/0
    # Our own sum, not the `krippendorff` package: that one is GPL-3.0 (Sift ships none) and
    # builds a documents x values x values array; tests/test_agreement.py checks the two agree.
    return nominal_alpha_sparse(data)


def nominal_alpha_sparse(data: np.ndarray) -> float:
    """Krippendorff's nominal alpha of a reviewers x documents array of value indices (NaN:
    missing), in memory linear in the opinions. The coincidence matrix o = sum over documents
    of (n_u n_u' - diag n_u) / (m_u - 1) (n_u: the document's value counts, m_u their sum)
    as one sparse product; alpha = 1 - (n - 1)(n - trace o) / (n^2 - sum n_v^2)."""
    from scipy.sparse import coo_matrix, diags

    coders, units = np.nonzero(~np.isnan(data))
    values = data[coders, units].astype(int)
    counts = coo_matrix(
        (np.ones(len(values)), (units, values)),
        shape=(data.shape[1], int(values.max()) + 1),
    ).tocsr()  # documents x values: how many reviewers gave each value
    m = np.asarray(counts.sum(axis=1)).ravel()
    weighted = diags(1.0 / np.maximum(m - 1, 1)) @ counts
    coincidences = (weighted.T @ counts).toarray() - np.diag(
        np.asarray(weighted.sum(axis=0)).ravel()
    )
    n_v = coincidences.sum(axis=0)
    n = n_v.sum()
    observed = n - np.trace(coincidences)
    expected = (n * n - (n_v**2).sum()) / (n - 1)
    return float(1 - observed / expected)


def _set_value(labels: tuple[str, ...]) -> str:
    """An opinion's whole (sorted) label set as one nominal value: JSON, so that no label
    name can pass for a set of others (a label "a + b" is not the set {a, b})."""
    return json.dumps(labels)


def _row(
    name: str,
    opinions: Opinions,
    reviewers: Sequence[str],
    shared: Mapping[tuple[str, str], list[str]],
    value_of,
) -> tuple[LabelAgreement, dict[tuple[str, str], float | None]]:
    """The row for one way of reading opinions (`value_of(labels)` -> hashable), and the
    kappa of each pair in `shared` (pair -> the documents both reviewed) under it."""
    docs = sorted(opinions)
    matrix = [
        [value_of(opinions[doc][r]) if r in opinions[doc] else None for doc in docs]
        for r in reviewers
    ]
    disagreements = tuple(
        doc for doc in docs if len({value_of(labels) for labels in opinions[doc].values()}) > 1
    )
    pair_kappa: dict[tuple[str, str], float | None] = {}
    for (a, b), both in shared.items():
        pair_kappa[(a, b)] = kappa(
            [value_of(opinions[doc][a]) for doc in both],
            [value_of(opinions[doc][b]) for doc in both],
        )
    defined = [k for k in pair_kappa.values() if k is not None]
    row = LabelAgreement(
        label=name,
        n_documents=len(docs),
        n_disagreements=len(disagreements),
        percent=(len(docs) - len(disagreements)) / len(docs) if docs else None,
        kappa=float(np.mean(defined)) if defined else None,
        n_pairs=len(defined),
        alpha=alpha(matrix),
        disagreements=disagreements,
    )
    return row, pair_kappa


def compute_agreement(reviews: Iterable[Review], label_names: Sequence[str] = ()) -> Agreement:
    """Agreement from a project's review log (oldest first). `label_names`: the taxonomy's
    labels, in its order (labels in opinions but no longer in it follow, sorted)."""
    found, adjudications = opinions_of(reviews)
    opinions: Opinions = {
        doc: {r: o.labels for r, o in sorted(by.items())}
        for doc, by in found.items()
        if len(by) >= 2
    }
    reviewers = tuple(sorted({r for by in opinions.values() for r in by}))
    seen = {label for by in opinions.values() for labels in by.values() for label in labels}
    names = [*label_names, *sorted(seen - set(label_names))]

    docs = sorted(opinions)
    shared = {  # each pair of reviewers -> the documents both gave an opinion on (if any)
        (a, b): both
        for a, b in combinations(reviewers, 2)
        if (both := [doc for doc in docs if a in opinions[doc] and b in opinions[doc]])
    }
    overall, overall_pairs = _row(OVERALL, opinions, reviewers, shared, _set_value)
    per_label = []
    label_pairs: dict[str, dict[tuple[str, str], float | None]] = {}
    for name in names:
        row, kappas = _row(
            name, opinions, reviewers, shared, lambda labels, name=name: name in labels
        )
        per_label.append(row)
        label_pairs[name] = kappas

    pairs = []
    for (a, b), both in shared.items():
        same = sum(opinions[doc][a] == opinions[doc][b] for doc in both)
        pairs.append(
            PairAgreement(
                reviewer_a=a,
                reviewer_b=b,
                n_documents=len(both),
                percent=same / len(both),
                kappa=overall_pairs[(a, b)],
                label_kappa={name: label_pairs[name][(a, b)] for name in names},
            )
        )
    return Agreement(
        reviewers=reviewers,
        n_reviewed=len(found),
        n_multi=len(opinions),
        overall=overall,
        per_label=tuple(per_label),
        pairs=tuple(pairs),
        opinions=opinions,
        adjudicated={
            doc: tuple(review.labels) for doc, review in adjudications.items() if doc in opinions
        },
    )


def project_agreement(store: SiftStore, project_id: int) -> Agreement:
    """Agreement between the reviewers of a stored project."""
    return compute_agreement(
        store.review_history(project_id), store.load_taxonomy(project_id).names
    )


__all__ = [
    "ADJUDICATE",
    "NO_LABEL",
    "OVERALL",
    "Agreement",
    "LabelAgreement",
    "Opinion",
    "PairAgreement",
    "alpha",
    "compute_agreement",
    "kappa",
    "nominal_alpha_sparse",
    "opinions_of",
    "project_agreement",
]
