"""The Review page (AppTest) against a real temporary SQLite project."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.documents import Document
from core.results import ensemble_results, latest_results, suggested_labels
from core.store import Store
from tests.page_project import TAXONOMY, build_project

APP = str(Path(__file__).parent.parent / "app.py")
REVIEWER = "alice"


@pytest.fixture
def project(db_path):
    return build_project(db_path)


def open_review(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.project_id
    at.session_state["sift_reviewer"] = REVIEWER
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    return at


def displayed_document(at, project) -> str:
    """The id of the document whose text the page shows."""
    shown = [html.unescape(re.sub(r"<[^>]*>", "", element.proto.body)) for element in at.html]
    documents = project.store.get_documents(project.project_id)
    matches = [d.id for d in documents if d.text in shown]
    assert len(matches) == 1, matches
    return matches[0]


def expected_suggestion(project, document_id):
    per_technique = latest_results(project.store, project.project_id, [document_id])
    ensemble = ensemble_results(per_technique, TAXONOMY.names)[document_id]
    return suggested_labels(ensemble.scores, multi_label=False), ensemble.scores, per_technique


def labelling_reviews(project):
    return [
        r
        for r in project.store.review_history(project.project_id)
        if r.decision in ("accept", "correct")
    ]


def test_page_shows_progress_text_chart_and_actions(project):
    at = open_review(project)
    assert at.get("progress")[0].proto.text == "0 of 10 reviewed"
    assert at.get("vega_lite_chart")
    for key in ("review_accept", "review_skip", "review_flag", "review_undo", "review_save"):
        assert at.button(key=key)


def test_buttons_have_keyboard_shortcuts(project):
    at = open_review(project)
    shortcuts = {
        key: at.button(key=key).proto.shortcut
        for key in (
            "review_accept",
            "review_skip",
            "review_flag",
            "review_undo",
            "review_next",
            "review_prev",
            "review_toggle_1",
            "review_toggle_3",
        )
    }
    assert shortcuts == {
        "review_accept": "a",
        "review_skip": "s",
        "review_flag": "f",
        "review_undo": "u",
        "review_next": "j",
        "review_prev": "k",
        "review_toggle_1": "1",
        "review_toggle_3": "3",
    }


def test_accept_saves_the_suggestion_with_reviewer_and_what_was_shown(project):
    at = open_review(project)
    document = displayed_document(at, project)
    at.button(key="review_accept").click().run()
    [saved] = labelling_reviews(project)
    labels, scores, per_technique = expected_suggestion(project, document)
    assert (saved.document_id, saved.reviewer, saved.decision) == (document, REVIEWER, "accept")
    assert list(saved.labels) == labels == saved.shown["labels"]
    assert saved.shown["scores"] == pytest.approx(scores)
    assert set(saved.shown["techniques"]) == set(per_technique)


def test_accept_moves_to_the_next_document(project):
    at = open_review(project)
    first = displayed_document(at, project)
    at.button(key="review_accept").click().run()
    assert displayed_document(at, project) != first
    assert at.get("progress")[0].proto.text == "1 of 10 reviewed"


def test_correct_saves_the_chosen_labels(project):
    at = open_review(project)
    document = displayed_document(at, project)
    suggested = at.multiselect(key="review_correct_labels").value
    other = next(name for name in TAXONOMY.names if name not in suggested)
    at.multiselect(key="review_correct_labels").set_value([other]).run()
    at.button(key="review_save").click().run()
    [saved] = labelling_reviews(project)
    assert (saved.document_id, saved.decision, saved.labels) == (document, "correct", (other,))


def test_number_key_button_picks_that_label_for_the_correction(project):
    at = open_review(project)
    at.button(key="review_toggle_3").click().run()
    assert at.multiselect(key="review_correct_labels").value == [TAXONOMY.names[2]]


def test_skip_records_a_skip_and_moves_on(project):
    at = open_review(project)
    document = displayed_document(at, project)
    at.button(key="review_skip").click().run()
    [skip] = project.store.review_history(project.project_id)
    assert (skip.document_id, skip.decision, skip.reviewer) == (document, "skip", REVIEWER)
    assert displayed_document(at, project) != document


def test_flag_marks_the_document_and_the_flagged_filter_finds_it(project):
    at = open_review(project)
    document = displayed_document(at, project)
    at.button(key="review_flag").click().run()
    assert project.store.flagged_document_ids(project.project_id) == {document}
    at.toggle(key="review_flagged_only").set_value(True).run()
    assert displayed_document(at, project) == document


def test_undo_takes_back_the_accept_and_returns_to_the_document(project):
    at = open_review(project)
    document = displayed_document(at, project)
    at.button(key="review_accept").click().run()
    at.button(key="review_undo").click().run()
    assert project.store.current_reviews(project.project_id) == {}
    assert displayed_document(at, project) == document


def test_undo_after_a_bulk_accept_takes_all_of_it_back(project):
    at = open_review(project)
    at.segmented_control(key="review_mode").set_value("Table").run()
    at.slider(key="review_bulk_threshold").set_value(0.5).run()
    at.button(key="review_bulk_accept").click().run()
    accepted = project.store.current_reviews(project.project_id)
    assert len(accepted) >= 2
    at.segmented_control(key="review_mode").set_value("Document").run()
    at.button(key="review_undo").click().run()
    assert not at.exception, at.exception
    assert project.store.current_reviews(project.project_id) == {}
    assert any(f"{len(accepted)} reviews taken back" in t.value for t in at.toast)


def test_conflict_shows_the_other_decision_and_can_overwrite(project):
    at = open_review(project)
    document = displayed_document(at, project)
    other = Store(project.store.path)  # another reviewer, another connection
    other.add_review(
        project.project_id, document, reviewer="bob", decision="correct", labels=["account"]
    )
    at.button(key="review_accept").click().run()
    assert any("bob" in warning.value for warning in at.warning)
    assert project.store.current_review(project.project_id, document).reviewer == "bob"
    at.button(key="review_conflict_overwrite").click().run()
    assert project.store.current_review(project.project_id, document).reviewer == REVIEWER


def test_conflict_keep_theirs_writes_nothing(project):
    at = open_review(project)
    document = displayed_document(at, project)
    Store(project.store.path).add_review(
        project.project_id, document, reviewer="bob", decision="correct", labels=["account"]
    )
    at.button(key="review_accept").click().run()
    at.button(key="review_conflict_keep").click().run()
    assert [r.reviewer for r in project.store.review_history(project.project_id)] == ["bob"]
    assert not at.warning


def test_bulk_accept_above_confidence_accepts_exactly_those_documents(project):
    at = open_review(project)
    at.segmented_control(key="review_mode").set_value("Table").run()
    at.slider(key="review_bulk_threshold").set_value(0.75).run()
    at.button(key="review_bulk_accept").click().run()
    assert not at.exception, at.exception
    ensemble = ensemble_results(latest_results(project.store, project.project_id), TAXONOMY.names)
    expected = {
        doc: suggested_labels(result.scores, multi_label=False)
        for doc, result in ensemble.items()
        if result.scores and max(result.scores.values()) >= 0.75
    }
    saved = project.store.current_reviews(project.project_id)
    assert expected and {doc: list(r.labels) for doc, r in saved.items()} == expected
    assert all(r.reviewer == REVIEWER and r.shown["view"] == "bulk" for r in saved.values())


def test_table_edit_saves_a_correction(project):
    at = open_review(project)
    at.segmented_control(key="review_mode").set_value("Table").run()
    editor = at.data_editor[0]
    first_text = editor.value["text"].iloc[0]
    current = editor.value["labels"].iloc[0]
    other = next(name for name in TAXONOMY.names if name != current)
    at.session_state[editor.key] = {
        "edited_rows": {0: {"labels": other}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="review_table_save").click().run()
    [saved] = labelling_reviews(project)
    [document] = project.store.get_documents(project.project_id, [saved.document_id])
    assert document.text.startswith(first_text.rstrip("…"))
    assert (saved.decision, saved.labels) == ("correct", (other,))


def test_review_page_loads_a_20k_document_project(project):
    """The Review page works on a 20,000-document, 3-technique project.

    Its speed is measured in bench/review_page.py, not here (timed tests are noisy).
    """
    store = project.store
    big = store.create_project("big").id
    store.save_taxonomy(big, TAXONOMY)
    docs = [
        Document.from_text(f"invoice {i} for the parcel, login {i % 97}") for i in range(20_000)
    ]
    store.add_documents(
        big, docs, filename="big.txt", format="txt", encoding="utf-8", sha256="6" * 64
    )
    rng = np.random.default_rng(0)
    for technique in ("rules", "lexicon", "embeddings"):
        key = f"key-{technique}"
        run = store.start_run(
            big,
            technique=technique,
            config_hash=key,
            config={},
            cache_key=key,
            model_id="",
            model_revision="",
            device="cpu",
            dtype="",
            n_documents=len(docs),
        )
        raw = rng.random((len(docs), len(TAXONOMY.names)))
        raw /= raw.sum(axis=1, keepdims=True)
        evidence = [{"start": 0, "end": 7, "kind": "keyword", "label": "billing", "detail": "x"}]
        store.write_predictions(
            big,
            run,
            key,
            technique,
            [
                (
                    doc.id,
                    {
                        "scores": dict(zip(TAXONOMY.names, row.tolist())),
                        "evidence": evidence,
                        "summary": None,
                    },
                )
                for doc, row in zip(docs, raw)
            ],
        )
        store.finish_run(run, status="finished", n_computed=len(docs), n_cached=0, seconds=1.0)

    at = open_review(project)  # imports and caches warmed on the small project
    at.session_state["sift_project_id"] = big
    at.run()
    assert not at.exception, at.exception
    assert at.get("progress")[0].proto.text == "0 of 20,000 reviewed"


def test_reviews_retrain_the_models_in_the_background_and_the_queue_uses_them(project):
    """After four labelled reviews the page starts a refresh (supervised model trained on
    them, every document scored with it, ensemble re-weighted) without making anyone wait;
    once it is done the page says what it learned from and suggestions include the model."""
    import time

    from core.active_learning import refresh_in_flight

    at = open_review(project)
    assert "after 4 labelled documents" in " ".join(c.value for c in at.caption)
    for i in range(4):  # corrections: some documents have no suggestion to accept
        label = TAXONOMY.names[i % 2]
        at.multiselect(key="review_correct_labels").set_value([label]).run()
        at.button(key="review_save").click().run()
        assert not at.exception, at.exception
    assert len(labelling_reviews(project)) == 4
    store = project.store
    deadline = time.monotonic() + 300  # a wait for the background thread, not a speed check
    while time.monotonic() < deadline and (
        refresh_in_flight(store, project.project_id)
        or store.latest_trained_model(project.project_id, "supervised") is None
    ):
        time.sleep(0.2)
    model = store.latest_trained_model(project.project_id, "supervised")
    assert model is not None and model.n_reviews == 4
    assert "supervised" in store.latest_cache_keys(project.project_id)
    at.run()
    assert "Learned from 4 reviews" in " ".join(c.value for c in at.caption)
    queue = at.session_state["_review_queue"]
    assert "supervised" in dict(queue["key"][0][2])  # rebuilt over the new predictions


def test_reviews_made_elsewhere_are_learned_from_when_the_page_opens(project):
    """Reviews from the command line or another process: the first visit starts the refresh."""
    import time

    from core.active_learning import refresh_in_flight

    store = project.store
    for doc_id, label in zip(store.document_ids(project.project_id)[:4], TAXONOMY.names * 2):
        store.add_review(
            project.project_id, doc_id, reviewer="cli", decision="correct", labels=[label]
        )
    open_review(project)
    deadline = time.monotonic() + 300  # a wait for the background thread, not a speed check
    while time.monotonic() < deadline and (
        refresh_in_flight(store, project.project_id)
        or store.latest_trained_model(project.project_id, "supervised") is None
    ):
        time.sleep(0.2)
    assert store.latest_trained_model(project.project_id, "supervised").n_reviews == 4
