"""The Review page (AppTest) against a real temporary SQLite project."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.documents import Document
from core.learning.loop import MIN_REVIEWS, refresh_in_flight
from core.predictions import Combination, load_predictions
from core.store import Store
from tests.page_project import TAXONOMY, build_project
from tests.stored_runs import store_run

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
    return load_predictions(project.store, project.project_id).suggestion_for(document_id)


def true_label(text: str) -> str:
    """What a person would answer for the page project's texts."""
    lowered = text.lower()
    for label, words in (
        ("account", ("login", "password")),
        ("shipping", ("parcel", "courier", "delivery", "tracking")),
    ):
        if any(word in lowered for word in words) and "invoice" not in lowered:
            return label
    return "billing"


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
    expected = expected_suggestion(project, document)
    assert (saved.document_id, saved.reviewer, saved.decision) == (document, REVIEWER, "accept")
    assert saved.labels == expected.labels == tuple(saved.shown["labels"])
    assert saved.shown["scores"] == pytest.approx(expected.ensemble)
    assert set(saved.shown["techniques"]) == set(expected.techniques) == {"rules", "lexicon"}
    assert saved.shown["queue"]["reason"] in ("coverage", "priority")


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
    at.button(key="review_bulk_confirm").click().run()
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
    table = load_predictions(project.store, project.project_id)
    at.button(key="review_bulk_accept").click().run()
    assert not at.exception, at.exception
    assert project.store.current_reviews(project.project_id) == {}  # not before confirming
    at.button(key="review_bulk_confirm").click().run()
    assert not at.exception, at.exception
    expected = {
        doc: table.suggested_labels(i)
        for i, doc in enumerate(table.document_ids)
        if table.covered[i] and table.confidence[i] >= 0.75
    }
    saved = project.store.current_reviews(project.project_id)
    assert expected and {doc: r.labels for doc, r in saved.items()} == expected
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
        raw = rng.random((len(docs), len(TAXONOMY.names)))
        raw /= raw.sum(axis=1, keepdims=True)
        evidence = [{"start": 0, "end": 7, "kind": "keyword", "label": "billing", "detail": "x"}]
        rows = [
            (
                doc.id,
                {
                    "scores": dict(zip(TAXONOMY.names, row.tolist())),
                    "evidence": evidence,
                    "summary": None,
                },
            )
            for doc, row in zip(docs, raw)
        ]
        store_run(store, big, technique, rows, key=f"key-{technique}")

    at = open_review(project)  # imports and caches warmed on the small project
    at.session_state["sift_project_id"] = big
    at.run()
    assert not at.exception, at.exception
    assert at.get("progress")[0].proto.text == "0 of 20,000 reviewed"


def wait_for_learning(store, project_id):
    import time

    deadline = time.monotonic() + 300  # a wait for the background thread, not a speed check
    while time.monotonic() < deadline and (
        refresh_in_flight(store, project_id) or store.latest_model_version(project_id) is None
    ):
        time.sleep(0.2)


def test_reviews_are_learned_from_in_the_background_and_the_next_batch_uses_it(project):
    """After MIN_REVIEWS labelled reviews the page starts the learning path without making
    anyone wait; once a version is adopted the page says what it learned from and the next
    batch's suggestions include the supervised model."""
    at = open_review(project)
    captions = " ".join(c.value for c in at.caption)
    assert f"after {MIN_REVIEWS} labelled documents" in captions
    for _ in range(MIN_REVIEWS):  # corrections: some documents have no suggestion to accept
        text = project.store.get_documents(project.project_id, [displayed_document(at, project)])
        at.multiselect(key="review_correct_labels").set_value([true_label(text[0].text)]).run()
        at.button(key="review_save").click().run()
        assert not at.exception, at.exception
    assert len(labelling_reviews(project)) == MIN_REVIEWS
    store = project.store
    wait_for_learning(store, project.project_id)
    version = store.latest_model_version(project.project_id)
    assert version.n_reviews == MIN_REVIEWS
    at.run()
    captions = " ".join(c.value for c in at.caption)
    assert version.adopted, version.reason
    assert f"Suggestions from v{version.id}, learned from {MIN_REVIEWS} reviews" in captions
    walk = at.session_state["_review_walk"]
    while walk.version != version.id:  # finish the batch: the next one uses the version
        at.button(key="review_skip").click().run()
        walk = at.session_state["_review_walk"]
    assert "supervised" in walk.current.suggestion.techniques


def test_a_new_version_landing_mid_batch_does_not_move_the_queue(project):
    at = open_review(project)
    at.button(key="review_skip").click().run()
    document = displayed_document(at, project)
    numbering = [c.value for c in at.caption if c.value.startswith("Document ")]
    assert numbering and numbering[0].startswith("Document 2 of 3 in batch 1")
    store, pid = project.store, project.project_id
    version = store.save_model_version(  # what a background refresh writes when it adopts
        pid,
        status="adopted",
        config={"combination": Combination(weights={"rules": 0.05, "lexicon": 1.0}).to_json()},
        metrics={},
        reason="adopted",
        n_reviews=5,
    )
    at.run()
    assert displayed_document(at, project) == document
    assert [c.value for c in at.caption if c.value.startswith("Document ")] == numbering
    assert any(f"v{version.id} is ready" in c.value for c in at.caption)


def test_changing_the_order_starts_a_new_pass_at_the_top(project):
    at = open_review(project)
    at.button(key="review_skip").click().run()
    at.button(key="review_skip").click().run()
    at.selectbox(key="review_order").set_value("newest").run()
    numbering = [c.value for c in at.caption if c.value.startswith("Document ")]
    assert numbering[0].startswith("Document 1 of 3 in batch 1")
    newest = project.store.document_ids(project.project_id)[-1]
    assert displayed_document(at, project) == newest


def test_skipped_documents_do_not_come_back_in_the_same_pass(project):
    at = open_review(project)
    skipped = set()
    for _ in range(len(project.document_ids)):
        skipped.add(displayed_document(at, project))
        at.button(key="review_skip").click().run()
    assert skipped == set(project.document_ids)
    assert any("End of this pass" in s.value for s in at.success)
    at.button(key="review_new_pass").click().run()
    assert displayed_document(at, project) in skipped


def test_reviews_made_elsewhere_are_learned_from_when_the_page_opens(project):
    """Reviews from the command line or another process: the first visit starts learning."""
    store = project.store
    for doc_id, label in zip(
        store.document_ids(project.project_id)[:MIN_REVIEWS], TAXONOMY.names * 2
    ):
        store.add_review(
            project.project_id, doc_id, reviewer="cli", decision="correct", labels=[label]
        )
    open_review(project)
    wait_for_learning(store, project.project_id)
    assert store.latest_model_version(project.project_id).n_reviews == MIN_REVIEWS


def test_accept_is_never_dead_below_the_threshold(db_path):
    """Multi-label, a threshold nothing reaches: the top label is offered, said to be below
    the threshold, and Accept saves it."""
    project = build_project(db_path, multi_label=True)
    store = project.store
    store.update_project_settings(project.project_id, {"multi_label": True, "threshold": 0.99})
    at = open_review(project)
    for _ in range(len(project.document_ids)):
        suggestion = at.session_state["_review_walk"].current.suggestion
        if suggestion.below_threshold:
            break
        at.button(key="review_next").click().run()
    assert suggestion.below_threshold and len(suggestion.labels) == 1
    assert not at.button(key="review_accept").proto.disabled
    assert any("below it" in c.value for c in at.caption)
    at.button(key="review_accept").click().run()
    saved = store.current_review(project.project_id, suggestion.document_id)
    assert saved.labels == suggestion.labels


def test_a_document_nobody_scored_says_why_accept_is_off(project):
    """ "Thanks for the lovely meeting yesterday." matches no rule and no keyword."""
    at = open_review(project)
    for _ in range(len(project.document_ids)):
        if at.session_state["_review_walk"].current.suggestion.ensemble is None:
            break
        at.button(key="review_skip").click().run()
    assert at.session_state["_review_walk"].current.suggestion.ensemble is None
    assert at.button(key="review_accept").proto.disabled
    assert any("nothing to accept" in c.value for c in at.caption)


def test_labels_scored_by_the_cascade_ranker_are_said_to_be_estimates(project):
    """zero_shot's cascade keeps cheap scores for the labels it did not send to NLI; the page
    says how many of a document's labels are estimates."""
    store, project_id = project.store, project.project_id
    names = list(TAXONOMY.names)
    rows = [
        (
            doc_id,
            {
                "scores": {name: 1 / len(names) for name in names},
                "evidence": [],
                "summary": None,
                "estimated": names[1:],
            },
        )
        for doc_id in store.document_ids(project_id)
    ]
    store_run(store, project_id, "zero_shot", rows, key="zs-cascade")
    at = open_review(project)
    captions = " ".join(element.value for element in at.caption)
    assert (
        f"zero\\_shot scored 1 of {len(names)} labels itself; the other {len(names) - 1} are "
        "the embeddings ranker's estimates" in captions
    )
