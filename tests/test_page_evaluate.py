"""The Evaluate page (AppTest): metrics against reviews and gold, fitting and training."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.documents import Document
from core.evaluation.metrics import evaluate_project
from core.learning.loop import learn
from tests.page_project import FIRST_BATCH, build_project
from tests.rendered import as_shown
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


def versions_table(at):
    return table_with(at, "why")


def test_learn_now_judges_a_candidate_and_lists_the_version(project):
    review_first_batch(project)
    at = open_evaluate(project)
    at.button(key="evaluate_learn").click().run(timeout=180)
    assert not at.exception, at.exception
    version = project.store.latest_model_version(project.project_id)
    assert version is not None and version.n_reviews == len(TRUTH)
    messages = [as_shown(m.value) for m in (*at.success, *at.warning)]
    assert f"v{version.id} {version.reason}" in messages
    shown = versions_table(at)
    assert shown.iloc[0]["version"] == f"v{version.id}"
    assert shown.iloc[0]["reviews"] == len(TRUTH)
    assert shown.iloc[0]["accuracy"] == pytest.approx(version.metrics["candidate"]["accuracy"])


def test_learned_techniques_are_shown_out_of_fold(project):
    review_first_batch(project)
    outcome = learn(project.store, project.project_id)
    assert outcome.adopted, outcome.reason
    at = open_evaluate(project)
    summary = at.dataframe[0].value.set_index("technique")
    assert summary.loc["supervised", "measured"] == "out of fold"
    assert summary.loc["ensemble", "measured"] == "out of fold"
    assert summary.loc["rules", "measured"] == "as run"
    expected = evaluate_project(project.store, project.project_id)
    assert summary.loc["supervised", "accuracy"] == pytest.approx(expected["supervised"].accuracy)
    assert any("measured out of fold" in c.value for c in at.caption)


def test_pin_and_roll_back_from_the_page(project):
    store, pid = project.store, project.project_id
    review_first_batch(project)
    first = learn(store, pid)
    review_overcharged_documents(project)
    second = learn(store, pid)
    assert first.adopted and second.adopted, (first.reason, second.reason)
    at = open_evaluate(project)
    at.selectbox(key="evaluate_version_choice").set_value(first.version_id).run()
    at.button(key="evaluate_pin").click().run(timeout=180)
    assert not at.exception, at.exception
    assert store.current_model_version(pid).id == first.version_id
    assert f"Pinned to v{first.version_id}." in [as_shown(s.value) for s in at.success]
    at.button(key="evaluate_unpin").click().run(timeout=180)
    assert store.current_model_version(pid).id == second.version_id
    at.selectbox(key="evaluate_version_choice").set_value(first.version_id).run()
    at.button(key="evaluate_rollback").click().run(timeout=180)
    current = store.current_model_version(pid)
    assert current.id > second.version_id and "rolled back" in current.reason


def open_as_viewer(project) -> AppTest:
    at = signed_in_app("vera", "viewer", project_id=project.project_id)
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    return at


def test_viewer_sees_metrics_but_cannot_learn_pin_or_roll_back(project):
    review_first_batch(project)
    learn(project.store, project.project_id)
    at = open_as_viewer(project)
    assert len(at.dataframe) >= 2  # the metrics are there
    assert at.button(key="evaluate_learn").disabled
    assert not [b for b in at.button if b.key in ("evaluate_pin", "evaluate_rollback")]


# --- diagnostics and keyword suggestions ------------------------------------------------------


def table_with(at, column: str):
    """The page's (first) dataframe that has `column` (AppTest does not expose their keys)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column on the page")


def test_diagnostics_table_has_each_technique_as_core_computes_it(project):
    from core.evaluation.diagnostics import diagnose_project

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


def test_the_learning_curve_shows_each_adopted_version(project):
    store, pid = project.store, project.project_id
    review_first_batch(project)
    at = open_evaluate(project)
    at.button(key="evaluate_learn").click().run(timeout=180)
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert not any("reviewed documents" in spec for spec in specs)  # one version only
    review_overcharged_documents(project)
    at.button(key="evaluate_learn").click().run(timeout=180)
    assert not at.exception, at.exception
    adopted = [v for v in store.list_model_versions(pid) if v.adopted]
    assert [v.n_reviews for v in adopted] == [len(TRUTH), len(TRUTH) + 3]
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any("reviewed documents" in spec and "out of fold" in spec for spec in specs)


def test_widget_changes_reuse_the_measurements_and_a_review_renews_them(project, monkeypatch):
    """Measuring reads every prediction and review: a rerun for a widget change answers from
    the cache keyed by the project's state; a new review changes the key."""
    from ui import evaluation_cache

    review_first_batch(project)
    calls = []

    def counted(function):
        def wrapper(*args, **kwargs):
            calls.append(function.__name__)
            return function(*args, **kwargs)

        return wrapper

    for name in ("evaluate_project", "diagnose_project"):
        monkeypatch.setattr(evaluation_cache, name, counted(getattr(evaluation_cache, name)))
    at = open_evaluate(project)
    assert sorted(calls) == ["diagnose_project", "evaluate_project"]
    at.selectbox(key="evaluate_technique").set_value("rules").run()
    assert not at.exception, at.exception
    assert len(calls) == 2  # same state: nothing measured again
    store, project_id = project.store, project.project_id
    unreviewed = [
        d for d in store.document_ids(project_id) if store.current_review(project_id, d) is None
    ]
    store.add_review(
        project_id, unreviewed[0], reviewer="ann", decision="correct", labels=["billing"]
    )
    at.run()
    assert not at.exception, at.exception
    assert sorted(calls[2:]) == ["diagnose_project", "evaluate_project"]
