"""The Evaluate page (AppTest): metrics against reviews and gold, fitting and training."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.documents import Document
from core.engine import run_techniques
from core.evaluate import evaluate_project
from core.learn import MIN_REVIEWS_FOR_ENSEMBLE_FIT
from core.techniques import create_technique
from tests.page_project import FIRST_BATCH, build_project
from tests.signed_in import signed_in_app

APP = str(Path(__file__).parent.parent / "app.py")
# The first batch's texts, in order, with the label a person would give them.
TRUTH = ["billing", "shipping", "account", "billing", "shipping", "billing"]


@pytest.fixture
def project(db_path):
    return build_project(db_path)


def review_first_batch(project):
    ids = project.store.document_ids(project.project_id, import_id=project.import_ids[0])
    texts = [doc.text for doc in project.store.get_documents(project.project_id, ids)]
    assert texts == [Document.from_text(t).text for t in FIRST_BATCH]
    for doc_id, label in zip(ids, TRUTH):
        project.store.add_review(
            project.project_id, doc_id, reviewer="ann", decision="correct", labels=[label]
        )


def open_evaluate(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["sift_project_id"] = project.project_id
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    return at


def test_without_reviews_the_page_says_what_to_do(project):
    at = open_evaluate(project)
    assert any("review some documents" in info.value for info in at.info)


def test_summary_table_matches_core_metrics(project):
    review_first_batch(project)
    at = open_evaluate(project)
    expected = evaluate_project(project.store, project.project_id, source="reviews")
    summary = at.dataframe[0].value.set_index("technique")
    assert set(summary.index) == set(expected) == {"ensemble", "rules", "lexicon"}
    for name, evaluation in expected.items():
        assert summary.loc[name, "accuracy"] == pytest.approx(evaluation.accuracy)
        assert summary.loc[name, "macro-F1"] == pytest.approx(evaluation.macro_f1)
        assert summary.loc[name, "coverage"] == pytest.approx(evaluation.coverage)


def test_per_label_table_follows_the_chosen_technique(project):
    review_first_batch(project)
    at = open_evaluate(project)
    at.selectbox(key="evaluate_technique").set_value("rules").run()
    expected = evaluate_project(project.store, project.project_id)["rules"].per_label
    table = at.dataframe[1].value
    assert table["recall"].tolist() == pytest.approx([row["recall"] for row in expected])
    assert at.get("vega_lite_chart")  # confusion matrix and calibration


def test_gold_source_without_gold_labels_says_so(project):
    at = open_evaluate(project)
    at.segmented_control(key="evaluate_source").set_value("gold").run()
    assert any("gold labels" in info.value for info in at.info)


def test_fit_weights_with_too_few_reviews_explains_why(project):
    review_first_batch(project)
    at = open_evaluate(project)
    at.button(key="evaluate_fit_weights").click().run()
    assert any(str(MIN_REVIEWS_FOR_ENSEMBLE_FIT) in info.value for info in at.info)
    assert project.store.latest_trained_model(project.project_id, "ensemble_weights") is None


def test_fit_weights_stores_and_shows_them(project):
    store, pid = project.store, project.project_id
    extra = [f"Refund for invoice #{i} please." for i in range(8)] + [
        f"The parcel {i} was lost by the courier." for i in range(8)
    ]
    store.add_documents(
        pid,
        [Document.from_text(t) for t in extra],
        filename="more.txt",
        format="txt",
        encoding="utf-8",
        sha256="9" * 64,
    )
    run_techniques(store, pid, [create_technique("rules"), create_technique("lexicon")])
    review_first_batch(project)
    for doc_id in store.document_ids(pid)[10:]:
        text = store.get_documents(pid, [doc_id])[0].text
        label = "billing" if "invoice" in text else "shipping"
        store.add_review(pid, doc_id, reviewer="ann", decision="correct", labels=[label])
    at = open_evaluate(project)
    at.button(key="evaluate_fit_weights").click().run()
    assert not at.exception, at.exception
    stored = store.latest_trained_model(pid, "ensemble_weights")
    assert stored is not None and set(stored.params["weights"]) == {"rules", "lexicon"}
    assert any("Fitted weights on 22 reviews" in s.value for s in at.success)
    [weights] = [
        df.value for df in at.dataframe if list(df.value.columns) == ["technique", "weight"]
    ]
    shown = weights.set_index("technique")["weight"]
    assert shown.to_dict() == pytest.approx(stored.params["weights"])


def test_train_supervised_model_reports_cross_validated_metrics(project):
    review_first_batch(project)
    at = open_evaluate(project)
    at.button(key="evaluate_train").click().run(timeout=120)
    assert not at.exception, at.exception
    stored = project.store.latest_trained_model(project.project_id, "supervised")
    assert stored is not None and stored.n_reviews == len(TRUTH)
    assert any(f"Trained on {len(TRUTH)} reviews" in s.value for s in at.success)


def open_as_viewer(project) -> AppTest:
    at = signed_in_app("vera", "viewer", project_id=project.project_id)
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    return at


def test_viewer_sees_metrics_but_cannot_fit_or_train(project):
    review_first_batch(project)
    at = open_as_viewer(project)
    assert len(at.dataframe) >= 2  # the metrics are there
    assert at.button(key="evaluate_fit_weights").disabled
    assert at.button(key="evaluate_train").disabled


# --- diagnostics and keyword suggestions ------------------------------------------------------


def table_with(at, column: str):
    """The page's (first) dataframe that has `column` (AppTest does not expose their keys)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column on the page")


def test_diagnostics_table_has_each_technique_as_core_computes_it(project):
    from core.diagnostics import diagnose_project

    review_first_batch(project)
    at = open_evaluate(project)
    shown = table_with(at, "conflict")
    expected = diagnose_project(project.store, project.project_id)
    assert list(shown["technique"]) == [d.technique for d in expected.techniques]
    assert list(shown["coverage"]) == pytest.approx([d.coverage for d in expected.techniques])
    assert list(shown["conflict"]) == pytest.approx([d.conflict for d in expected.techniques])


def test_a_keyword_that_was_wrong_is_listed_with_the_document_it_was_wrong_on(project):
    # "delivery" is a shipping keyword; the sixth document mentions a delivery but is billing.
    review_first_batch(project)
    at = open_evaluate(project)
    evidence = table_with(at, "pattern or keyword")
    row = evidence[evidence["pattern or keyword"] == "delivery"].iloc[0]
    assert (row["label"], row["kind"], row["wrong"]) == ("shipping", "keyword", 1)
    pick = next(
        i
        for i, option in enumerate(at.selectbox(key="diagnostics_evidence_pick").options)
        if "'delivery'" in option
    )
    at.selectbox(key="diagnostics_evidence_pick").set_value(pick).run()
    wrong = table_with(at, "reviewed labels")
    assert list(wrong["text"]) == [FIRST_BATCH[5]]
    assert list(wrong["reviewed labels"]) == ["billing"]


def review_overcharged_documents(project):
    """Three reviewed billing documents sharing a word no label has as a keyword yet."""
    store, project_id = project.store, project.project_id
    extra = [
        "I was overcharged on my card this month.",
        "Overcharged again for the same order, please fix it.",
        "You overcharged me for the premium plan.",
    ]
    docs = [Document.from_text(text) for text in extra]
    store.add_documents(
        project_id, docs, filename="more.txt", format="txt", encoding="utf-8", sha256="7" * 64
    )
    for doc in docs:
        store.add_review(project_id, doc.id, reviewer="ann", decision="correct", labels=["billing"])


def test_add_puts_a_suggested_keyword_into_the_taxonomy(project):
    review_first_batch(project)
    review_overcharged_documents(project)
    store, project_id = project.store, project.project_id
    at = open_evaluate(project)
    at.selectbox(key="diagnostics_suggest_label").set_value("billing").run()
    # Each suggestion is a row of three texts (keyword, precision, matched) and an Add button.
    terms = [element.value for element in at.text][0::3]
    assert "overcharged" in terms
    index = terms.index("overcharged")
    at.button(key=f"diagnostics_add_{index}").click().run()
    assert not at.exception, at.exception
    keywords = [k.term for k in store.load_taxonomy(project_id)["billing"].keywords]
    assert "overcharged" in keywords
    assert any("overcharged" in s.value for s in at.success)


def test_a_viewer_sees_suggestions_but_cannot_add_them(project):
    review_first_batch(project)
    review_overcharged_documents(project)
    at = open_as_viewer(project)
    at.selectbox(key="diagnostics_suggest_label").set_value("billing").run()
    buttons = [b for b in at.button if b.key and b.key.startswith("diagnostics_add_")]
    assert buttons and all(b.disabled for b in buttons)


def test_the_learning_curve_shows_each_retrained_model(project):
    from core.learn import learning_history

    review_first_batch(project)
    at = open_evaluate(project)
    at.button(key="evaluate_train").click().run(timeout=120)
    charts_before = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert not any("reviewed documents" in spec for spec in charts_before)  # one model only
    review_overcharged_documents(project)
    at.button(key="evaluate_train").click().run(timeout=120)
    assert not at.exception, at.exception
    history = learning_history(project.store, project.project_id)
    assert [row["n_reviews"] for row in history] == [len(TRUTH), len(TRUTH) + 3]
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any("reviewed documents" in spec for spec in specs)
