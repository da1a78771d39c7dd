"""The Adjudicate page (AppTest) on a real SQLite project: disputed documents listed with
each reviewer's opinion side by side; an admin records the final label, which becomes the
document's current review and its exported label; reviewers may not open it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.export import ADJUDICATED, build_rows
from core.store import Store
from tests.page_project import build_project
from tests.signed_in import signed_in_app

APP = str(Path(__file__).parent.parent / "app.py")


@pytest.fixture
def project(db_path):
    built = build_project(db_path)
    store, pid = built.store, built.project_id
    first, second, third = built.document_ids[:3]
    store.add_review(pid, first, reviewer="root", decision="correct", labels=["account"])
    store.add_review(pid, first, reviewer="bob", decision="correct", labels=["shipping"])
    store.add_review(
        pid, first, reviewer="cat", decision="correct", labels=["shipping"], note="<b>courier</b>"
    )
    store.add_review(pid, second, reviewer="root", decision="correct", labels=["billing"])
    store.add_review(pid, second, reviewer="bob", decision="correct", labels=["billing"])
    store.add_review(pid, third, reviewer="root", decision="correct", labels=["billing"])
    return built


def open_adjudicate(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.project_id
    at.session_state["sift_reviewer"] = "chief"
    at.switch_page("pages/adjudicate.py").run()
    assert not at.exception, at.exception
    return at


def test_lists_only_disputed_documents_with_each_opinion_side_by_side(project):
    at = open_adjudicate(project)
    first = project.document_ids[0]
    assert at.selectbox(key="adjudicate_document").options == [
        at.selectbox(key="adjudicate_document").format_func(first)
    ]
    text = " ".join(m.value for m in at.markdown)
    for reviewer in ("root", "bob", "cat"):
        assert f"**{reviewer}**" in text
    assert "account" in text and "shipping" in text
    notes = " ".join(c.value for c in at.caption)
    assert "&lt;b&gt;courier&lt;/b&gt;" in notes or "\\<b\\>courier" in notes  # escaped
    assert "<b>courier</b>" not in notes
    # the default final label is the one most reviewers gave
    assert at.multiselect(key=f"adjudicate_labels_{first}").value == ["shipping"]


def test_recording_the_final_label_settles_the_document_and_exports_use_it(project):
    at = open_adjudicate(project)
    first = project.document_ids[0]
    at.multiselect(key=f"adjudicate_labels_{first}").set_value(["account"])
    at.text_input(key=f"adjudicate_note_{first}").input("guideline 3: login first")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    final = project.store.current_review(project.project_id, first)
    assert (final.reviewer, final.decision, final.labels, final.note) == (
        "chief",
        "adjudicate",
        ("account",),
        "guideline 3: login first",
    )
    assert project.store.disputed_document_ids(project.project_id) == set()
    assert any("No disagreements" in s.value for s in at.success)
    [row] = [r for r in build_rows(project.store, project.project_id) if r["id"] == first]
    assert (row["labels"], row["label_source"]) == (["account"], ADJUDICATED)


def test_a_review_made_while_adjudicating_is_shown_not_overwritten(project):
    at = open_adjudicate(project)
    first = project.document_ids[0]
    late = Store(project.store.path).add_review(
        project.project_id, first, reviewer="dan", decision="correct", labels=["billing"]
    )
    at.button[0].click().run()
    assert project.store.current_review(project.project_id, first).id == late.id
    assert any("dan" in e.value and "Not recorded" in e.value for e in at.error)
    at.button[0].click().run()  # seen now: the second try records it
    assert project.store.current_review(project.project_id, first).decision == "adjudicate"


def test_reviewers_cannot_open_the_adjudicate_page(project):
    at = signed_in_app("bob", "reviewer", project_id=project.project_id)
    at.switch_page("pages/adjudicate.py").run()
    assert not at.exception, at.exception
    # the router does not register the page for the role: it opens another one instead
    assert "Adjudicate" not in [t.value for t in at.title]
    assert not [s for s in at.selectbox if s.key == "adjudicate_document"]
    assert not [b for b in at.button if "final label" in b.label]
