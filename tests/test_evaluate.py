"""Metrics against truth on hand-made results, where every number can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.metrics import calibration, evaluate
from core.techniques.base import TextResult

LABELS = ["a", "b", "c"]


def result(a, b, c):
    return TextResult(scores={"a": a, "b": b, "c": c})


def test_single_label_accuracy_f1_confusion_and_coverage():
    results = {
        "d1": result(0.8, 0.1, 0.1),  # a, truth a
        "d2": result(0.2, 0.7, 0.1),  # b, truth a  (wrong)
        "d3": result(0.1, 0.8, 0.1),  # b, truth b
        "d4": TextResult(scores=None),  # abstained, truth c
    }
    truth = {"d1": ["a"], "d2": ["a"], "d3": ["b"], "d4": ["c"]}
    ev = evaluate("t", results, truth, LABELS, multi_label=False)
    assert ev.n_truth == 4 and ev.n_covered == 3 and ev.coverage == pytest.approx(0.75)
    assert ev.accuracy == pytest.approx(2 / 3)
    # a: P=1 R=.5 F1=2/3; b: P=.5 R=1 F1=2/3; c absent from covered docs: excluded from macro
    assert ev.macro_f1 == pytest.approx(2 / 3)
    assert ev.confusion == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    per_label = {row["label"]: row for row in ev.per_label}
    assert per_label["a"]["recall"] == pytest.approx(0.5)
    assert per_label["b"]["precision"] == pytest.approx(0.5)


def test_multi_label_exact_match_and_macro_f1():
    results = {"d1": result(0.9, 0.6, 0.1), "d2": result(0.2, 0.9, 0.8)}
    truth = {"d1": ["a", "b"], "d2": ["b"]}
    ev = evaluate("t", results, truth, LABELS, multi_label=True, threshold=0.5)
    assert ev.accuracy == pytest.approx(0.5)  # d1 exact, d2 has an extra "c"
    # a: F1 1; b: F1 1; c: predicted once, never true: F1 0 -> macro 2/3
    assert ev.macro_f1 == pytest.approx(2 / 3)


def test_multi_label_macro_f1_leaves_out_labels_neither_true_nor_predicted():
    results = {"d1": result(0.9, 0.1, 0.1), "d2": result(0.1, 0.9, 0.1)}
    truth = {"d1": ["a"], "d2": ["b"]}
    ev = evaluate("t", results, truth, LABELS, multi_label=True, threshold=0.5)
    # a and b perfect; c never reviewed nor predicted on these documents: not counted
    assert ev.accuracy == pytest.approx(1.0)
    assert ev.macro_f1 == pytest.approx(1.0)


def test_nothing_covered_gives_zero_metrics_not_an_error():
    ev = evaluate("t", {"d1": TextResult(scores=None)}, {"d1": ["a"]}, LABELS, multi_label=False)
    assert ev.coverage == 0 and ev.accuracy == 0


def test_perfectly_calibrated_scores_have_zero_ece():
    confidences = np.array([0.25] * 4 + [0.75] * 4)
    correct = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    ece, table = calibration(confidences, correct)
    assert ece == pytest.approx(0.0)
    assert [row["count"] for row in table] == [4, 4]


def test_overconfident_scores_have_positive_ece():
    ece, _ = calibration(np.array([0.95] * 10), np.array([True] * 5 + [False] * 5))
    assert ece == pytest.approx(0.45)
