"""Teams of reviewers (issue 13, H1b): review settings, k reviews per document, notes and
flag reasons, guidelines on the Review page, deep links. Real SQLite projects, AppTest."""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.export import build_rows
from core.predictions import load_predictions
from core.review_queue import QueueFilters, distribution_progress, filter_mask
from core.review_settings import (
    MAX_GUIDELINES,
    ReviewSettings,
    ReviewSettingsError,
    checked_review_settings,
    review_settings,
    with_review_settings,
)
from core.store import Store
from tests.page_project import build_project
from tests.signed_in import signed_in_app
from ui.markdown import md
from ui.review_guidelines import literal_lines

APP = str(Path(__file__).parent.parent / "app.py")


@pytest.fixture
def project(db_path):
    return build_project(db_path)


def _set(project, **review) -> None:
    store = project.store
    current = store.get_project(project.project_id)
    settings = with_review_settings(current.settings, ReviewSettings(**review))
    store.update_project_settings(project.project_id, settings)


def open_review(project, reviewer: str = "alice", query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if query is None:
        at.session_state["sift_project_id"] = project.project_id
    else:
        at.query_params.update(query)
    at.session_state["sift_reviewer"] = reviewer
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    return at


def displayed_document(at, project) -> str:
    shown = [html.unescape(re.sub(r"<[^>]*>", "", element.proto.body)) for element in at.html]
    documents = project.store.get_documents(project.project_id)
    matches = [d.id for d in documents if d.text in shown]
    assert len(matches) == 1, matches
    return matches[0]


def review(project, reviewer: str, document_id: str, labels=("billing",), note: str = ""):
    return project.store.add_review(
        project.project_id,
        document_id,
        reviewer=reviewer,
        decision="correct",
        labels=list(labels),
        note=note,
    )


def markdown_text(at) -> str:
    return "\n".join(element.value for element in at.markdown)


def captions(at) -> str:
    return "\n".join(element.value for element in at.caption)


# --- settings ----------------------------------------------------------------------------------


def test_review_settings_default_and_bad_stored_values_read_as_default():
    assert review_settings(SimpleNamespace(settings={})) == ReviewSettings(1, True, "")
    stored = {"reviews_wanted": "3", "show_suggestions": False, "guidelines": ["x"]}
    assert review_settings(SimpleNamespace(settings=stored)) == ReviewSettings(1, False, "")
    stored = {"reviews_wanted": 3, "show_suggestions": "no", "guidelines": "Be kind"}
    assert review_settings(SimpleNamespace(settings=stored)) == ReviewSettings(3, True, "Be kind")


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("reviews_wanted", 0, "reviews_wanted must be from 1 to 10"),
        ("reviews_wanted", 11, "reviews_wanted must be from 1 to 10"),
        ("reviews_wanted", "2", "whole number"),
        ("show_suggestions", "yes", "show_suggestions must be true or false"),
        ("guidelines", "x" * (MAX_GUIDELINES + 1), "the most is 20,000"),
    ],
)
def test_checked_review_settings_name_the_field(field, value, says):
    given = {"reviews_wanted": 1, "show_suggestions": True, "guidelines": ""} | {field: value}
    with pytest.raises(ReviewSettingsError, match=says):
        checked_review_settings(**given)


def test_projects_page_saves_review_settings_keeping_the_others(project):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.project_id
    at.switch_page("pages/projects.py").run()
    assert not at.exception, at.exception
    at.number_input(key="projects_reviews_wanted").set_value(2)
    at.toggle(key="projects_show_suggestions").set_value(False)
    at.text_area(key="projects_guidelines").set_value("Refunds are **billing**.")
    at.button(key="projects_review_settings_save").click().run()
    assert not at.exception, at.exception
    saved = project.store.get_project(project.project_id)
    assert review_settings(saved) == ReviewSettings(2, False, "Refunds are **billing**.")
    assert saved.settings["multi_label"] is False  # the classification settings are kept
    assert md("Review settings saved: 2 reviews per document") in at.success[0].value


def test_projects_page_review_settings_need_the_classify_permission(project):
    at = signed_in_app("vera", "viewer", project_id=project.project_id)
    at.switch_page("pages/projects.py").run()
    assert not at.exception, at.exception
    assert not [w for w in at.number_input if w.key == "projects_reviews_wanted"]
    at = signed_in_app("rita", "reviewer", project_id=project.project_id)
    at.switch_page("pages/projects.py").run()
    assert at.number_input(key="projects_reviews_wanted").value == 1


# --- distribution: k reviews per document ----------------------------------------------------


def _queue(project, reviewer: str, wanted: int) -> set[str]:
    table = load_predictions(project.store, project.project_id)
    filters = QueueFilters(reviewer=reviewer, reviews_wanted=wanted)
    keep = filter_mask(project.store, project.project_id, table, filters)
    return {table.document_ids[i] for i in np.flatnonzero(keep)}


def test_queue_with_two_reviews_wanted_is_per_reviewer(project):
    ids = project.document_ids
    for document_id in ids[:6]:
        review(project, "alice", document_id)
    for document_id in ids[:3]:
        review(project, "bob", document_id, labels=("shipping",))
    bob_undone = review(project, "bob", ids[3])
    project.store.undo_review(project.project_id, bob_undone.id, reviewer="bob")
    everyone = set(ids)
    # alice: not hers -> the four nobody reviewed
    assert _queue(project, "alice", 2) == everyone - set(ids[:6])
    # bob: alice's 3..5 (his undo gives 3 back) and the untouched four
    assert _queue(project, "bob", 2) == everyone - set(ids[:3])
    # carol: everything with fewer than two reviewers: 0..2 are done
    assert _queue(project, "carol", 2) == everyone - set(ids[:3])
    # k = 1: the single-reviewer queue of before (no current review)
    assert _queue(project, "carol", 1) == everyone - set(ids[:6])
    progress = distribution_progress(project.store, project.project_id, "bob", 2)
    assert (progress.done, progress.mine, progress.reviews, progress.needed) == (3, 3, 9, 11)


def test_an_adjudicated_document_leaves_every_queue(project):
    ids = project.document_ids
    review(project, "alice", ids[0])
    project.store.adjudicate(project.project_id, ids[0], reviewer="root", labels=["account"])
    assert ids[0] not in _queue(project, "bob", 3)
    assert distribution_progress(project.store, project.project_id, "bob", 3).done == 1


def test_review_page_with_two_reviews_wanted_serves_each_reviewer_their_queue(project):
    _set(project, reviews_wanted=2)
    ids = project.document_ids
    for document_id in ids[:9]:
        review(project, "alice", document_id)
    for document_id in ids[:5]:
        review(project, "bob", document_id)
    at = open_review(project, "alice")
    assert at.get("progress")[0].proto.text == "5 of 10 done (2 reviews each) · you reviewed 9"
    assert displayed_document(at, project) == ids[9]  # the only one alice has not reviewed
    at.button(key="review_toggle_3").click().run()
    at.button(key="review_save").click().run()
    assert not at.exception, at.exception
    assert "End of this pass" in at.success[0].value  # alice's queue is empty now
    bob = open_review(project, "bob")
    assert displayed_document(bob, project) in set(ids[5:])  # alice's, not yet his
    assert "you reviewed 5" in bob.get("progress")[0].proto.text


def test_with_two_reviews_wanted_another_reviewers_save_meanwhile_is_no_conflict(project):
    """k = 2: bob opens a document, alice reviews it meanwhile; bob's save is his independent
    opinion, saved without asking (with k = 1 the same race shows the conflict box:
    tests/test_review_conflicts.py)."""
    _set(project, reviews_wanted=2)
    bob = open_review(project, "bob")
    shown = displayed_document(bob, project)
    review(project, "alice", shown, labels=("billing",))
    bob.button(key="review_toggle_3").click().run()
    bob.button(key="review_save").click().run()
    assert not bob.exception, bob.exception
    assert not any("Not saved" in warning.value for warning in bob.warning)
    opinions = project.store.reviewer_opinions(project.project_id, shown)
    assert set(opinions[shown]) == {"alice", "bob"}


def test_hidden_suggestions_hide_the_suggestion_scores_and_votes(project):
    _set(project, show_suggestions=False)
    at = open_review(project)
    assert not at.get("vega_lite_chart")
    assert "**Suggested:**" not in markdown_text(at)
    assert "Suggestions are hidden in this project" in captions(at)
    assert at.button(key="review_accept").disabled
    assert at.multiselect(key="review_correct_labels").value == []
    assert not [html.unescape(e.proto.body) for e in at.html if "<mark" in e.proto.body]
    at.button(key="review_toggle_2").click().run()  # still works: shipping, saved blind
    at.button(key="review_save").click().run()
    assert not at.exception, at.exception
    (saved,) = project.store.review_history(project.project_id)
    assert saved.labels == ("shipping",)


# --- notes and flag reasons ------------------------------------------------------------------


def test_a_note_and_a_flag_reason_are_saved_shown_in_history_and_exported(project):
    at = open_review(project)
    first = displayed_document(at, project)
    at.text_input(key="review_note").input("Unsure: mentions *both* topics")
    at.button(key="review_toggle_1").click().run()
    at.button(key="review_save").click().run()
    assert not at.exception, at.exception
    assert at.text_input(key="review_note").value == ""  # the next document starts empty
    second = displayed_document(at, project)
    at.text_input(key="review_note").input("Customer name in the text")
    at.button(key="review_flag").click().run()
    assert not at.exception, at.exception
    store = project.store
    notes = {(r.document_id, r.decision): r.note for r in store.review_history(project.project_id)}
    saved = notes.get((first, "correct"), notes.get((first, "accept")))
    assert saved == "Unsure: mentions *both* topics"
    assert notes[(second, "flag")] == "Customer name in the text"
    rows = {row["id"]: row for row in build_rows(store, project.project_id)}
    assert rows[first]["review_note"] == "Unsure: mentions *both* topics"
    assert rows[second]["flag_reason"] == "Customer name in the text"
    assert rows[first]["flag_reason"] == rows[second]["review_note"] == ""
    # the history of the document, with its note escaped (the asterisks read as typed)
    again = open_review(project, query={"project": str(project.project_id), "doc": first})
    history = captions(again)
    assert r"Unsure\: mentions \*both\* topics" in history


def test_an_unflag_takes_the_flag_reason_out_of_the_export(project):
    document_id = project.document_ids[0]
    store = project.store
    store.add_review(project.project_id, document_id, reviewer="a", decision="flag", note="PII")
    assert build_rows(store, project.project_id)[0]["flag_reason"] == "PII"
    store.add_review(project.project_id, document_id, reviewer="a", decision="unflag")
    assert build_rows(store, project.project_id)[0]["flag_reason"] == ""


# --- guidelines ------------------------------------------------------------------------------


def test_guidelines_and_label_descriptions_are_on_the_review_page_escaped(project):
    guidelines = "Refunds are **billing**.\n- :red[never] $x$ ![t](http://x.example/t.png)"
    _set(project, guidelines=guidelines)
    review(project, "alice", project.document_ids[0])
    at = open_review(project)
    shown = markdown_text(at)
    assert literal_lines(guidelines) in shown
    assert r"Refunds are \*\*billing\*\*\." in shown
    assert r"\!\[t\]\(http\:\/\/x\.example\/t\.png\)" in shown  # no image is fetched
    assert f"**billing** — {md('Invoices, charges and refunds')}" in shown
    assert f"Keywords: {md('invoice')}, {md('refund')}, {md('charge')}" in shown
    assert f"Reviewed example: “{md('Please refund invoice #1042')}" in shown


def test_literal_lines_keep_line_breaks_and_paragraphs():
    assert literal_lines("a*\nb\n\nc") == "a\\*  \nb\n\nc"


# --- deep links ------------------------------------------------------------------------------


def test_a_link_opens_the_project_document_and_filters_and_f5_keeps_them(project):
    target = project.document_ids[7]
    query = {
        "project": str(project.project_id),
        "doc": target,
        "order": "newest",
        "status": "all",
        "min": "0.2",
        "q": "",
    }
    at = open_review(project, query=query)
    assert at.session_state["sift_project_id"] == project.project_id
    assert displayed_document(at, project) == target
    assert at.selectbox(key="review_order").value == "newest"
    assert at.selectbox(key="review_status").value == "all"
    assert at.slider(key="review_confidence").value == (0.2, 1.0)
    params = dict(at.query_params)
    assert params == {
        "project": str(project.project_id),
        "doc": target,
        "order": "newest",
        "status": "all",
        "min": "0.20",
    }
    link = [c.value for c in at.code if "doc=" in c.value]
    assert link and link[0].startswith("/review?project=") and f"doc={target}" in link[0]
    # moving on writes the next document into the URL; F5 (a new session) reopens it
    at.button(key="review_next").click().run()
    moved = displayed_document(at, project)
    assert moved != target and at.query_params["doc"] == moved
    reloaded = open_review(project, query=dict(at.query_params))
    assert displayed_document(reloaded, project) == moved
    assert reloaded.selectbox(key="review_order").value == "newest"


def test_a_link_to_a_reviewed_document_shows_it_outside_the_unreviewed_queue(project):
    target = project.document_ids[2]
    review(project, "bob", target)
    at = open_review(project, query={"project": str(project.project_id), "doc": target})
    assert displayed_document(at, project) == target
    assert at.selectbox(key="review_status").value == "unreviewed"


def test_a_bad_link_says_what_it_ignored(project):
    at = open_review(project, query={"project": "999"})
    assert md("The link's project '999' is not here") in at.sidebar.warning[0].value
    at = open_review(
        project,
        query={"project": str(project.project_id), "doc": "nope", "status": "sideways"},
    )
    warned = "\n".join(w.value for w in at.sidebar.warning) + "\n".join(w.value for w in at.warning)
    assert "not in this project" in warned
    assert "status" in warned and "sideways" in warned
    assert at.selectbox(key="review_status").value == "unreviewed"


# --- who reviews -----------------------------------------------------------------------------


def test_without_sign_in_the_reviewer_box_says_it_is_free_text(project):
    at = open_review(project)
    box = at.sidebar.text_input(key="sift_reviewer")
    assert "free text" in box.help and "sign-in" in box.help


def test_with_sign_in_reviews_carry_the_signed_in_name_not_the_typed_one(project):
    at = signed_in_app("rita", "reviewer", project_id=project.project_id)
    at.session_state["sift_reviewer"] = "mallory"
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    assert not [w for w in at.sidebar.text_input if w.key == "sift_reviewer"]
    at.text_input(key="review_note").input("checked")
    at.button(key="review_skip").click().run()
    assert not at.exception, at.exception
    (saved,) = Store(project.store.path).review_history(project.project_id)
    assert (saved.reviewer, saved.decision, saved.note) == ("rita", "skip", "checked")


def _page_text(at) -> str:
    parts = [element.value for element in at.markdown] + [c.value for c in at.caption]
    return "\n".join(parts)


@pytest.mark.parametrize("role, blind", [("reviewer", True), ("admin", False)])
def test_hidden_suggestions_hide_other_reviewers_labels_from_reviewers_not_adjudicators(
    project, role, blind
):
    """An agreement study (suggestions hidden, 2 reviews wanted): what another reviewer chose
    anchors like a suggestion, so a reviewer sees that the document was reviewed, not how;
    an admin, who may adjudicate, sees everything."""
    _set(project, reviews_wanted=2, show_suggestions=False)
    first = project.document_ids[0]
    review(project, "alice", first, labels=("account",), note="looks like a login issue")
    at = signed_in_app("rita", role, project_id=project.project_id)
    at.query_params.update({"project": str(project.project_id), "doc": first})
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    assert displayed_document(at, project) == first
    text = _page_text(at)
    if blind:
        assert "reviewed by another reviewer" in text
        assert "by alice" not in text and "alice · correct" not in text
        assert "login issue" not in text
        assert "1 action by other reviewers hidden" in text
    else:
        assert "correct by alice: account" in text
        assert "login issue" in text
