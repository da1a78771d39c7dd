"""Metrics of techniques against reviewed or uploaded gold labels (scikit-learn).

For every technique and the ensemble: accuracy, macro-F1, per-label P/R/F1, the confusion
matrix (single-label), calibration (reliability bins and expected calibration error) and
coverage (the share of documents with a truth label on which the technique did not
abstain). Metrics are computed on covered documents, as Snorkel reports labeling functions.

Learned techniques (the supervised model, and the ensemble once its combination is learned)
are measured out of fold: on a document the current configuration learned from, its row is
the prediction the document got while it was held out of training (stored with the
version); on every other document the live prediction, which never saw that label. A
model's predictions on its own training documents are never shown as accuracy.

`suggestion_scores` is the one place accuracy, macro-F1, micro-F1 and ECE are computed from
decisions: this page, the learning loop's guard and the review-loop bench all use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from core.ingest.gold import GoldMatch, match_gold_labels
from core.predictions import (
    ENSEMBLE,
    LEARNED,
    PredictionTable,
    load_predictions,
    project_settings,
    technique_decisions,
)
from core.techniques.base import TextResult

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Scores:
    """Decisions against truth: every row counts, a row without a decision counts as wrong."""

    n: int
    accuracy: float  # single-label: top-1; multi-label: exact set match
    macro_f1: float  # over the labels true or predicted on these rows
    ece: float  # expected calibration error (top score; per-label scores if multi-label)
    micro_f1: float | None = None  # multi-label only

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "ece": self.ece,
            "micro_f1": self.micro_f1,
        }


def suggestion_scores(
    suggested: np.ndarray,
    probabilities: np.ndarray,
    truth: np.ndarray,
    *,
    multi_label: bool,
    sample_weights: np.ndarray | None = None,
) -> Scores:
    """(n, L) bool decisions, (n, L) probabilities, (n, L) bool truth -> Scores.

    Single-label: a row's first true label is its truth; a row with no decision is wrong.
    `sample_weights` (n,): how much each row counts (accuracy and F1; ECE unweighted).
    """
    suggested = np.asarray(suggested, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    probabilities = np.asarray(probabilities, dtype=float)
    n, n_labels = truth.shape
    if n == 0:
        return Scores(
            n=0, accuracy=0.0, macro_f1=0.0, ece=0.0, micro_f1=0.0 if multi_label else None
        )
    weights = sample_weights
    if multi_label:
        accuracy = float(np.average((suggested == truth).all(axis=1), weights=weights))
        present = np.flatnonzero(truth.any(axis=0) | suggested.any(axis=0))
        macro = (
            float(
                f1_score(
                    truth,
                    suggested,
                    labels=present,
                    average="macro",
                    zero_division=0,
                    sample_weight=weights,
                )
            )
            if len(present)
            else 0.0
        )
        micro = float(
            f1_score(truth, suggested, average="micro", zero_division=0, sample_weight=weights)
        )
        ece, _ = calibration(probabilities.ravel(), truth.ravel())
        return Scores(n=n, accuracy=accuracy, macro_f1=macro, ece=ece, micro_f1=micro)
    y_true = np.where(truth.any(axis=1), truth.argmax(axis=1), -1)
    y_pred = np.where(suggested.any(axis=1), suggested.argmax(axis=1), -1)
    accuracy = float(np.average(y_true == y_pred, weights=weights))
    present_classes = sorted((set(y_true.tolist()) | set(y_pred.tolist())) - {-1})
    macro = (
        float(
            f1_score(
                y_true,
                y_pred,
                labels=present_classes,
                average="macro",
                zero_division=0,
                sample_weight=weights,
            )
        )
        if present_classes
        else 0.0
    )
    top = np.where(y_pred >= 0, probabilities.max(axis=1, initial=0.0), 0.0)
    ece, _ = calibration(top, y_true == y_pred)
    return Scores(n=n, accuracy=accuracy, macro_f1=macro, ece=ece)


@dataclass
class Evaluation:
    technique: str
    n_truth: int  # documents with a truth label
    n_covered: int  # of those, documents the technique did not abstain on
    accuracy: float  # single-label: top-1; multi-label: exact set match
    macro_f1: float
    per_label: list[dict] = field(default_factory=list)  # {label, precision, recall, f1, support}
    confusion: list[list[int]] = field(default_factory=list)  # [truth][predicted], labels order
    labels: list[str] = field(default_factory=list)
    ece: float = 0.0  # expected calibration error of the top score / per-label scores
    reliability: list[dict] = field(default_factory=list)  # {bin_low, bin_high, confidence, ...}
    learned: bool = False  # trained on reviews: measured out of fold
    n_out_of_fold: int = 0  # covered rows that came from cross-fitting

    @property
    def coverage(self) -> float:
        return self.n_covered / self.n_truth if self.n_truth else 0.0


def evaluate_arrays(
    technique: str,
    probabilities: np.ndarray,
    covered: np.ndarray,
    suggested: np.ndarray,
    truth: np.ndarray,
    labels: Sequence[str],
    *,
    multi_label: bool,
    learned: bool = False,
    out_of_fold: np.ndarray | None = None,
) -> Evaluation:
    """Rows of one technique against truth (all (n, L) but covered (n,)) -> Evaluation,
    measured on the covered rows. out_of_fold (n,) bool: rows that came from cross-fitting."""
    covered = np.asarray(covered, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    evaluation = Evaluation(
        technique=technique,
        n_truth=len(truth),
        n_covered=int(covered.sum()),
        accuracy=0.0,
        macro_f1=0.0,
        labels=list(labels),
        learned=learned,
        n_out_of_fold=int((covered & out_of_fold).sum()) if out_of_fold is not None else 0,
    )
    if not covered.any():
        return evaluation
    probabilities = np.asarray(probabilities, dtype=float)[covered]
    suggested = np.asarray(suggested, dtype=bool)[covered]
    truth = truth[covered]
    scores = suggestion_scores(suggested, probabilities, truth, multi_label=multi_label)
    evaluation.accuracy, evaluation.macro_f1, evaluation.ece = (
        scores.accuracy,
        scores.macro_f1,
        scores.ece,
    )
    if multi_label:
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, suggested, zero_division=0
        )
        _, evaluation.reliability = calibration(probabilities.ravel(), truth.ravel())
    else:
        names = np.array([*labels, ""])
        y_true = names[np.where(truth.any(axis=1), truth.argmax(axis=1), -1)]
        y_pred = names[np.where(suggested.any(axis=1), suggested.argmax(axis=1), -1)]
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, labels=list(labels), zero_division=0
        )
        if np.isin(list(labels), y_true).any():
            evaluation.confusion = confusion_matrix(y_true, y_pred, labels=list(labels)).tolist()
        else:  # every truth is a label no longer in the taxonomy: sklearn would raise
            evaluation.confusion = [[0] * len(labels) for _ in labels]
        _, evaluation.reliability = calibration(probabilities.max(axis=1), y_true == y_pred)
    evaluation.per_label = [
        {
            "label": name,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(labels)
    ]
    return evaluation


def evaluate(
    technique: str,
    results: Mapping[str, TextResult],
    truth: Mapping[str, Sequence[str]],
    labels: list[str],
    *,
    multi_label: bool,
    threshold: float = 0.5,
) -> Evaluation:
    """One technique's TextResults (document_id -> result) against document_id -> labels."""
    document_ids = list(truth)
    scores = np.zeros((len(document_ids), len(labels)))
    covered = np.zeros(len(document_ids), dtype=bool)
    for i, doc in enumerate(document_ids):
        result = results.get(doc)
        if result is not None and result.scores is not None:
            covered[i] = True
            scores[i] = [float(result.scores.get(name, 0.0)) for name in labels]
    return evaluate_arrays(
        technique,
        scores,
        covered,
        technique_decisions(scores, multi_label, threshold) & covered[:, None],
        truth_matrix(truth, document_ids, labels),
        labels,
        multi_label=multi_label,
    )


def calibration(confidences: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS):
    """Reliability bins and expected calibration error (weighted |accuracy - confidence|)."""
    confidences = np.asarray(confidences, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if len(confidences) == 0:
        return 0.0, []
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        if count == 0:
            continue
        conf, acc = float(confidences[mask].mean()), float(correct[mask].mean())
        ece += count / len(confidences) * abs(acc - conf)
        table.append(
            {
                "bin_low": edges[b],
                "bin_high": edges[b + 1],
                "confidence": conf,
                "accuracy": acc,
                "count": count,
            }
        )
    return float(ece), table


def truth_matrix(
    truth: Mapping[str, Sequence[str]], document_ids: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """(n, L) bool: which of `labels` each document's truth holds (unknown names ignored)."""
    index = {name: j for j, name in enumerate(labels)}
    matrix = np.zeros((len(document_ids), len(labels)), dtype=bool)
    for i, doc in enumerate(document_ids):
        for name in truth.get(doc, ()):
            j = index.get(name)
            if j is not None:
                matrix[i, j] = True
    return matrix


def truth_labels(
    store: SiftStore, project_id: int, source: str = "reviews"
) -> dict[str, list[str]]:
    """document_id -> truth labels, from current reviews or from uploaded gold labels (those
    matching a taxonomy label, as `gold_truth` matches them)."""
    if source == "reviews":
        return {
            doc: list(review.labels) for doc, review in store.current_reviews(project_id).items()
        }
    if source == "gold":
        return gold_truth(store, project_id)[0]
    raise ValueError(f"unknown truth source {source!r}; use 'reviews' or 'gold'")


def gold_truth(store: SiftStore, project_id: int) -> tuple[dict[str, list[str]], GoldMatch]:
    """document_id -> the taxonomy labels its uploaded gold labels match, and how they matched.

    Gold labels are stored as uploaded and matched to the current taxonomy here, ignoring case
    and spaces ("sport" -> "Sport"), so a taxonomy written or renamed after the upload still
    matches. Values that match no label are left out; a document none of whose gold labels
    matches is not a truth document (its row would have no true label to measure against).
    """
    documents = [doc for doc in store.get_documents(project_id) if doc.gold_labels]
    match = match_gold_labels(
        (doc.gold_labels for doc in documents), store.load_taxonomy(project_id).names
    )
    truth = {doc.id: match.labels_for(doc.gold_labels) for doc in documents}
    return {doc: labels for doc, labels in truth.items() if labels}, match


def evaluate_gold(store: SiftStore, project_id: int) -> tuple[dict[str, Evaluation], GoldMatch]:
    """evaluate_project against uploaded gold labels, with how they matched the taxonomy (the
    page says which values it ignored, or that none matched, instead of measuring nothing)."""
    project_settings(store.get_project(project_id))  # unknown projects raise here
    truth, match = gold_truth(store, project_id)
    if not truth:
        return {}, match
    return evaluate_table(store, project_id, load_predictions(store, project_id), truth), match


@dataclass(frozen=True)
class HonestRows:
    """One technique's rows on the truth documents, learned ones replaced out of fold."""

    probabilities: np.ndarray  # (n, L)
    covered: np.ndarray  # (n,)
    suggested: np.ndarray  # (n, L) bool
    learned: bool
    out_of_fold: np.ndarray  # (n,) bool: the row came from cross-fitting


def honest_rows(
    store: SiftStore, project_id: int, table: PredictionTable, document_ids: Sequence[str]
) -> dict[str, HonestRows]:
    """technique (and "ensemble") -> its rows on `document_ids` (all in `table`), where the
    rows of learned techniques on documents the current configuration learned from are the
    out-of-fold predictions stored with it."""
    from core.learning.versions import out_of_fold

    idx = table.indices(document_ids)
    version = store.current_model_version(project_id)
    held_out = out_of_fold(store, project_id, version)
    positions = rows = columns = None
    if held_out is not None:
        columns = held_out.columns_for(table.labels)
        if columns is not None:
            positions, rows = held_out.rows_for(document_ids, table.labels)
    out = {}
    for t, name in enumerate(table.techniques):
        probabilities = table.scores[t, idx].copy()
        covered = table.present[t, idx].copy()
        replaced = np.zeros(len(idx), dtype=bool)
        if name in LEARNED and positions is not None and len(positions):
            assert held_out is not None and rows is not None and columns is not None  # see below
            probabilities[positions] = held_out.supervised[np.ix_(rows, columns)]
            covered[positions] = True
            replaced[positions] = True
        suggested = technique_decisions(probabilities, table.multi_label, table.threshold)
        out[name] = HonestRows(
            probabilities, covered, suggested & covered[:, None], name in LEARNED, replaced
        )
    probabilities = table.ensemble[idx].copy()
    covered = table.covered[idx].copy()
    suggested = table.suggested[idx].copy()
    replaced = np.zeros(len(idx), dtype=bool)
    if positions is not None and len(positions):
        # positions is set only together with held_out, rows and columns
        assert held_out is not None and rows is not None and columns is not None
        probabilities[positions] = held_out.ensemble[np.ix_(rows, columns)]
        covered[positions] = held_out.covered[rows]
        suggested[positions] = held_out.suggested[np.ix_(rows, columns)]
        replaced[positions] = True
    out[ENSEMBLE] = HonestRows(probabilities, covered, suggested, version is not None, replaced)
    return out


def evaluate_table(
    store: SiftStore, project_id: int, table: PredictionTable, truth: Mapping[str, Sequence[str]]
) -> dict[str, Evaluation]:
    """technique (and "ensemble", when any technique ran) -> Evaluation against `truth`, on
    the documents of `table` it names, learned techniques out of fold."""
    document_ids = [doc for doc in truth if doc in table]
    if not document_ids or not table.techniques:
        return {}
    matrix = truth_matrix(truth, document_ids, table.labels)
    return {
        name: evaluate_arrays(
            name,
            rows.probabilities,
            rows.covered,
            rows.suggested,
            matrix,
            table.labels,
            multi_label=table.multi_label,
            learned=rows.learned,
            out_of_fold=rows.out_of_fold,
        )
        for name, rows in sorted(honest_rows(store, project_id, table, document_ids).items())
    }


def evaluate_project(
    store: SiftStore, project_id: int, *, source: str = "reviews"
) -> dict[str, Evaluation]:
    """technique (and "ensemble") -> Evaluation against the chosen truth."""
    project_settings(store.get_project(project_id))  # unknown projects raise here
    truth = truth_labels(store, project_id, source)
    if not truth:
        return {}
    return evaluate_table(store, project_id, load_predictions(store, project_id), truth)
