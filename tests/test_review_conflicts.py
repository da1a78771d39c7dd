"""No review is overwritten silently: two reviewers (two AppTest sessions, and a second
process writing through the store) on one real SQLite project; every save of the Review page
carries the state its reviewer saw, and a save against a newer one shows what changed and
lets the reviewer choose: take theirs, keep mine as a second opinion, or adjudicate."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.store import Store
from tests.page_project import TAXONOMY, build_project
from tests.signed_in import signed_in_app

APP = str(Path(__file__).parent.parent / "app.py")
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def project(db_path):
    return build_project(db_path)


def open_review(project, reviewer: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.project_id
    at.session_state["sift_reviewer"] = reviewer
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    return at


def shown_document(at) -> str:
    """The document the Document view shows (the snapshot it took when it drew it)."""
    return at.session_state["_review_seen"]["document_id"]


def reviews_of(project, document_id):
    return [
        (r.reviewer, r.decision, r.labels)
        for r in project.store.review_history(project.project_id, document_id)
    ]


def press_label_then_save(at, number: int) -> None:
    """What bob did in the issue: press a label's number key, then Ctrl+Enter."""
    at.button(key=f"review_toggle_{number}").click().run()
    at.button(key="review_save").click().run()
    assert not at.exception, at.exception


def test_a_key_press_after_someone_else_saved_does_not_overwrite_them(project):
    root = open_review(project, "root")
    bob = open_review(project, "bob")
    document = shown_document(root)
    assert shown_document(bob) == document  # both opened the same document
    suggested = root.session_state["review_correct_labels"]
    root.button(key="review_accept").click().run()
    assert reviews_of(project, document) == [("root", "accept", tuple(suggested))]

    mine = next(i for i, name in enumerate(TAXONOMY.names, 1) if [name] != suggested)
    press_label_then_save(bob, mine)

    assert reviews_of(project, document) == [("root", "accept", tuple(suggested))]
    [box] = [w.value for w in bob.warning if "Not saved" in w.value]
    assert "root" in box and suggested[0] in box and TAXONOMY.names[mine - 1] in box
    for key in ("review_conflict_keep", "review_conflict_overwrite"):
        assert bob.button(key=key)
    assert shown_document(bob) == document  # still on it, until bob chooses


def test_keep_mine_as_a_second_opinion_keeps_both_and_the_document_is_disputed(project):
    root = open_review(project, "root")
    bob = open_review(project, "bob")
    document = shown_document(root)
    root.button(key="review_accept").click().run()
    theirs = project.store.current_review(project.project_id, document)
    mine = next(i for i, name in enumerate(TAXONOMY.names, 1) if (name,) != theirs.labels)
    press_label_then_save(bob, mine)

    bob.button(key="review_conflict_overwrite").click().run()
    assert not bob.exception, bob.exception
    assert reviews_of(project, document) == [
        ("root", "accept", theirs.labels),
        ("bob", "correct", (TAXONOMY.names[mine - 1],)),
    ]
    assert project.store.disputed_document_ids(project.project_id) == {document}
    assert shown_document(bob) != document  # moved on
    assert not [w for w in bob.warning if "Not saved" in w.value]


def test_take_theirs_saves_nothing_and_moves_on(project):
    root = open_review(project, "root")
    bob = open_review(project, "bob")
    document = shown_document(root)
    root.button(key="review_accept").click().run()
    press_label_then_save(bob, 3)
    bob.button(key="review_conflict_keep").click().run()
    assert [who for who, _, _ in reviews_of(project, document)] == ["root"]
    assert shown_document(bob) != document


def test_an_admin_can_make_theirs_the_final_label_from_the_conflict(project):
    root = open_review(project, "root")
    chief = open_review(project, "chief")  # sign-in off: the local user is an admin
    document = shown_document(root)
    root.button(key="review_accept").click().run()
    press_label_then_save(chief, 3)
    chief.button(key="review_conflict_adjudicate").click().run()
    final = project.store.current_review(project.project_id, document)
    assert (final.reviewer, final.decision, final.labels) == ("chief", "adjudicate", ("account",))


def test_a_reviewer_without_the_permission_is_not_offered_adjudication(project):
    root = open_review(project, "root")
    document = shown_document(root)
    bob = signed_in_app("bob", "reviewer", project_id=project.project_id)
    bob.switch_page("pages/review.py").run()
    assert shown_document(bob) == document
    root.button(key="review_accept").click().run()
    press_label_then_save(bob, 3)
    assert bob.button(key="review_conflict_overwrite")
    assert not [b for b in bob.button if b.key == "review_conflict_adjudicate"]


def test_the_page_warns_before_saving_when_the_document_changed(project):
    bob = open_review(project, "bob")
    document = shown_document(bob)
    Store(project.store.path).add_review(
        project.project_id, document, reviewer="root", decision="correct", labels=["account"]
    )
    bob.button(key="review_toggle_1").click().run()  # any rerun
    [notice] = [w.value for w in bob.warning if "Changed since you opened" in w.value]
    assert "root" in notice and "account" in notice


def _review_in_another_process(db_path, project_id, document_id, ready, done):
    with Store(db_path) as store:
        ready.wait(timeout=60)
        store.add_review(
            project_id, document_id, reviewer="cli", decision="correct", labels=["shipping"]
        )
    done.set()


def test_a_review_from_another_process_while_the_page_is_open_is_not_overwritten(project):
    bob = open_review(project, "bob")
    document = shown_document(bob)
    ready, done = SPAWN.Event(), SPAWN.Event()
    writer = SPAWN.Process(
        target=_review_in_another_process,
        args=(str(project.store.path), project.project_id, document, ready, done),
    )
    writer.start()
    ready.set()
    assert done.wait(timeout=120)
    writer.join(timeout=60)
    assert writer.exitcode == 0
    bob.button(key="review_accept").click().run()
    assert reviews_of(project, document) == [("cli", "correct", ("shipping",))]
    assert any("cli" in w.value and "Not saved" in w.value for w in bob.warning)


def _edit_first_row(at, label: str) -> str:
    editor = at.data_editor[0]
    at.session_state[editor.key] = {
        "edited_rows": {0: {"labels": label}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    return editor.value["text"].iloc[0]


def _table_row_document(project, snippet: str) -> str:
    [doc] = [
        d
        for d in project.store.get_documents(project.project_id)
        if d.text.startswith(snippet.rstrip("…"))
    ]
    return doc.id


@pytest.mark.parametrize(
    "choice, kept",
    [
        ("review_batch_take_theirs", ["root"]),
        ("review_batch_second_opinions", ["root", "bob"]),
    ],
)
def test_table_edits_against_a_newer_review_ask_first(project, choice, kept):
    bob = open_review(project, "bob")
    bob.segmented_control(key="review_mode").set_value("Table").run()
    snippet = bob.data_editor[0].value["text"].iloc[0]
    document = _table_row_document(project, snippet)
    Store(project.store.path).add_review(
        project.project_id, document, reviewer="root", decision="correct", labels=["account"]
    )
    _edit_first_row(bob, "shipping")
    bob.button(key="review_table_save").click().run()
    assert [who for who, _, _ in reviews_of(project, document)] == ["root"]  # nothing yet
    assert any("Nothing was saved" in w.value and "root" in w.value for w in bob.warning)
    bob.button(key=choice).click().run()
    assert not bob.exception, bob.exception
    assert [who for who, _, _ in reviews_of(project, document)] == kept
