"""The Evaluate page (AppTest): metrics against reviews and gold, fitting and training."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import hash_password, load_auth_config
from core.documents import Document
from core.engine import run_techniques
from core.evaluate import evaluate_project
from core.learn import MIN_REVIEWS_FOR_ENSEMBLE_FIT
from core.techniques import create_technique
from tests.page_project import FIRST_BATCH, build_project
from ui.auth import USER_KEY

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


def test_viewer_sees_metrics_but_cannot_fit_or_train(project):
    review_first_batch(project)
    auth = {
        "cookie_secret": "Zr4kW9-pQ2xL7mVt3Nb8Hy5Jc6Gd1Fs0AeUoTiRq",
        "users": {"vera": {"password_hash": hash_password("vera-pw", rounds=4), "role": "viewer"}},
    }
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = auth
    at.session_state["sift_project_id"] = project.project_id
    at.session_state[USER_KEY] = {
        "name": "vera",
        "fingerprint": load_auth_config({"auth": auth}).users["vera"].fingerprint,
        "signed_in_at": time.time(),
    }
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    assert len(at.dataframe) >= 2  # the metrics are there
    assert at.button(key="evaluate_fit_weights").disabled
    assert at.button(key="evaluate_train").disabled
