"""The Evaluate page (AppTest) against uploaded gold labels spelled unlike the taxonomy."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.evaluation.metrics import evaluate_gold
from tests.gold_project import GOLD_OTHER_CASE, gold_project
from tests.rendered import as_shown

APP = str(Path(__file__).parent.parent / "app.py")


def open_gold(project_id: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["sift_project_id"] = project_id
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    at.segmented_control(key="evaluate_source").set_value("gold").run()
    assert not at.exception, at.exception
    return at


def shown(elements) -> list[str]:
    return [as_shown(element.value) for element in elements]


def test_gold_labels_in_another_case_are_matched_and_measured(db_path):
    store, pid = gold_project(db_path, GOLD_OTHER_CASE)
    at = open_gold(pid)
    summary = at.dataframe[0].value.set_index("technique")
    expected, _ = evaluate_gold(store, pid)
    assert set(summary.index) == {"ensemble", "rules", "lexicon"}
    for name, evaluation in expected.items():
        assert evaluation.n_truth == 5
        assert summary.loc[name, "accuracy"] == pytest.approx(evaluation.accuracy)
    captions = shown(at.caption)
    assert any(
        c.startswith("Gold labels matched to taxonomy labels ignoring case:")
        and "SHIPPING → shipping: 1 document" in c
        for c in captions
    )
    assert "5 documents with gold labels" in captions
    assert any(
        "match no taxonomy label: 'refunds' (1 document)" in w and "Left out: 1 document" in w
        for w in shown(at.warning)
    )


def test_gold_labels_matching_no_label_say_so_instead_of_metrics(db_path):
    _, pid = gold_project(db_path, [("sport",), ("news",), ("sport",), (), ("weather",), ()])
    at = open_gold(pid)
    [warning] = [w for w in shown(at.warning) if w.startswith("None of the")]
    assert "None of the 4 documents with uploaded gold labels" in warning
    assert "'sport' (2 documents)" in warning
    assert "Taxonomy labels: billing, shipping, account" in warning
    assert not any(df.key == "evaluate_summary" for df in at.dataframe)
