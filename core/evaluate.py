"""Metrics of techniques against reviewed or uploaded gold labels (scikit-learn).

For every technique and the ensemble: accuracy, macro-F1, per-label P/R/F1,
the confusion matrix (single-label), calibration (reliability bins and
expected calibration error) and coverage (the share of documents with a
truth label on which the technique did not abstain). Metrics are computed on
covered documents, as Snorkel reports labeling functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import MultiLabelBinarizer

from core.results import (
    ensemble_results,
    latest_results,
    project_settings,
    suggested_labels,
)
from core.techniques.base import TextResult

CALIBRATION_BINS = 10


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
    ece: float = (
        0.0  # expected calibration error of the top score (single-label) / per-label scores
    )
    reliability: list[dict] = field(
        default_factory=list
    )  # {bin_low, bin_high, confidence, accuracy, count}

    @property
    def coverage(self) -> float:
        return self.n_covered / self.n_truth if self.n_truth else 0.0


def evaluate(
    technique: str,
    results: Mapping[str, TextResult],
    truth: Mapping[str, Sequence[str]],
    labels: list[str],
    *,
    multi_label: bool,
    threshold: float = 0.5,
) -> Evaluation:
    covered = [doc for doc in truth if doc in results and results[doc].scores is not None]
    evaluation = Evaluation(
        technique=technique,
        n_truth=len(truth),
        n_covered=len(covered),
        accuracy=0.0,
        macro_f1=0.0,
        labels=list(labels),
    )
    if not covered:
        return evaluation
    predicted = [
        suggested_labels(results[doc].scores, multi_label=multi_label, threshold=threshold)
        for doc in covered
    ]
    actual = [list(truth[doc]) for doc in covered]
    if multi_label:
        binarizer = MultiLabelBinarizer(classes=labels)
        y_true, y_pred = binarizer.fit_transform(actual), binarizer.transform(predicted)
        evaluation.accuracy = float(accuracy_score(y_true, y_pred))
        # As in single-label: labels neither reviewed nor predicted here do not count (their
        # F1 is undefined, and counting it as 0 would punish a technique for a label it was
        # never asked about).
        present = np.flatnonzero(y_true.any(axis=0) | y_pred.any(axis=0))
        evaluation.macro_f1 = (
            float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
            if len(present)
            else 0.0
        )
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, zero_division=0
        )
        scores = np.array(
            [[results[doc].scores.get(name, 0.0) for name in labels] for doc in covered]
        )
        evaluation.ece, evaluation.reliability = calibration(scores.ravel(), y_true.ravel() == 1)
    else:
        y_true = [items[0] if items else "" for items in actual]
        y_pred = [items[0] if items else "" for items in predicted]
        present = [name for name in labels if name in set(y_true) | set(y_pred)]
        evaluation.accuracy = float(accuracy_score(y_true, y_pred))
        evaluation.macro_f1 = float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        )
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=0
        )
        evaluation.confusion = confusion_matrix(y_true, y_pred, labels=labels).tolist()
        top = np.array([max(results[doc].scores.values()) for doc in covered])
        hit = np.array([t == p for t, p in zip(y_true, y_pred)])
        evaluation.ece, evaluation.reliability = calibration(top, hit)
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


def calibration(confidences: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS):
    """Reliability bins and expected calibration error (weighted |accuracy - confidence|)."""
    confidences = np.asarray(confidences, dtype=float)
    correct = np.asarray(correct, dtype=float)
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


def truth_labels(store, project_id: int, source: str = "reviews") -> dict[str, list[str]]:
    """document_id -> truth labels, from current reviews or from uploaded gold labels."""
    if source == "reviews":
        return {
            doc: list(review.labels) for doc, review in store.current_reviews(project_id).items()
        }
    if source == "gold":
        return {
            doc.id: list(doc.gold_labels)
            for doc in store.get_documents(project_id)
            if doc.gold_labels
        }
    raise ValueError(f"unknown truth source {source!r}; use 'reviews' or 'gold'")


def evaluate_project(store, project_id: int, *, source: str = "reviews") -> dict[str, Evaluation]:
    """technique (and "ensemble") -> Evaluation against the chosen truth."""
    settings = project_settings(store.get_project(project_id))
    labels = store.load_taxonomy(project_id).names
    truth = truth_labels(store, project_id, source)
    per_technique = latest_results(store, project_id, list(truth) or None) if truth else {}
    weights_model = store.latest_trained_model(project_id, "ensemble_weights")
    out = {}
    for technique, results in sorted(per_technique.items()):
        out[technique] = evaluate(
            technique,
            results,
            truth,
            labels,
            multi_label=settings["multi_label"],
            threshold=settings["threshold"],
        )
    if per_technique:
        ensemble = ensemble_results(
            per_technique,
            labels,
            weights=weights_model.params.get("weights") if weights_model else None,
            multi_label=settings["multi_label"],
        )
        out["ensemble"] = evaluate(
            "ensemble",
            ensemble,
            truth,
            labels,
            multi_label=settings["multi_label"],
            threshold=settings["threshold"],
        )
    return out
