"""Metrics against truth on hand-made results, where every number can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.metrics import calibration, evaluate
from core.techniques.base import TextResult
from tests.gold_project import GOLD_AS_NAMED, GOLD_OTHER_CASE, gold_project

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


def test_truth_only_in_labels_removed_from_the_taxonomy_is_not_an_error():
    # reviews made before "old" was deleted from the taxonomy: sklearn's confusion_matrix
    # would raise "At least one label specified must be in y_true"
    results = {"d1": result(0.8, 0.1, 0.1), "d2": result(0.1, 0.8, 0.1)}
    truth = {"d1": ["old"], "d2": ["old"]}
    ev = evaluate("t", results, truth, LABELS, multi_label=False)
    assert ev.n_covered == 2 and ev.accuracy == 0.0
    assert ev.confusion == [[0, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_perfectly_calibrated_scores_have_zero_ece():
    confidences = np.array([0.25] * 4 + [0.75] * 4)
    correct = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    ece, table = calibration(confidences, correct)
    assert ece == pytest.approx(0.0)
    assert [row["count"] for row in table] == [4, 4]


def test_overconfident_scores_have_positive_ece():
    ece, _ = calibration(np.array([0.95] * 10), np.array([True] * 5 + [False] * 5))
    assert ece == pytest.approx(0.45)


# --- uploaded gold labels, matched to the taxonomy ignoring case ------------------------------


@pytest.mark.parametrize("multi_label", [False, True])
def test_gold_labels_in_another_case_are_measured_like_the_label_names(db_path, multi_label):
    from core.evaluation.metrics import evaluate_gold, evaluate_project

    store, pid = gold_project(db_path, GOLD_OTHER_CASE, multi_label=multi_label)
    evaluations, match = evaluate_gold(store, pid)
    assert match.mapping_lines() == [
        "Account → account: 1 document",
        "BILLING → billing: 1 document",
        "Billing → billing: 1 document",
        "SHIPPING → shipping: 1 document",
        "Shipping → shipping: 1 document",
    ]
    assert match.unknown == (("refunds", 1),)
    assert set(evaluations) == {"ensemble", "rules", "lexicon"}
    assert all(e.n_truth == 5 for e in evaluations.values())  # "refunds" is left out

    # The same numbers as gold labels spelled exactly like the taxonomy (another project).
    expected_store, expected_pid = gold_project(
        db_path.with_name("named.db"), GOLD_AS_NAMED, multi_label=multi_label
    )
    expected, _ = evaluate_gold(expected_store, expected_pid)
    for name, evaluation in evaluations.items():
        assert evaluation.accuracy == pytest.approx(expected[name].accuracy)
        assert evaluation.macro_f1 == pytest.approx(expected[name].macro_f1)
        assert evaluation.per_label == expected[name].per_label
    assert evaluate_project(store, pid, source="gold")["rules"].accuracy == pytest.approx(
        evaluations["rules"].accuracy
    )


def test_gold_labels_matching_no_label_give_no_metrics_and_no_error(db_path):
    from core.evaluation.diagnostics import diagnose_project
    from core.evaluation.metrics import evaluate_gold, evaluate_project, truth_labels

    gold = [("sport",), ("news",), ("sport",), (), ("weather",), ()]
    store, pid = gold_project(db_path, gold)
    evaluations, match = evaluate_gold(store, pid)
    assert evaluations == {}
    assert (match.n_documents, match.n_matched_documents) == (4, 0)
    assert match.unknown == (("sport", 2), ("news", 1), ("weather", 1))
    assert truth_labels(store, pid, "gold") == {}
    assert evaluate_project(store, pid, source="gold") == {}
    assert all(d.n_truth == 0 for d in diagnose_project(store, pid, source="gold").techniques)
