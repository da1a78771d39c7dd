"""Two reviewers in two real browsers (Chromium contexts, two Streamlit sessions) on one
project: alice (admin) accepts a document bob has open; bob's later save is not written
over hers — the page shows who changed what, bob keeps his as a second opinion; alice then
records the final label on the Adjudicate page. The database is checked after each step."""

from __future__ import annotations

import pytest

from core.store import Store
from tests.browser import (
    ARTIFACTS,
    assert_no_exception,
    button,
    main_area,
    open_page,
    save_screenshot,
    streamlit_app,
    wait_idle,
    warm_up,
)
from tests.page_project import build_project
from tests.test_e2e_browser import (
    PASSWORDS,
    STEP_MS,
    VIEWPORT,
    dismiss_dialog,
    load,
    open_first_project,
    shown_document,
    sign_in,
    wait_for_another_document,
    write_secrets,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def team_app(tmp_path_factory):
    from tests.browser import launch_chromium, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("e2e_team")
    build_project(folder / "sift.db").store.close()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            with streamlit_app(
                folder / "sift.db", write_secrets(folder), log_path=ARTIFACTS / "streamlit-team.log"
            ) as server:
                warm_up(browser, server.url)
                yield server, browser
        finally:
            browser.close()


def _page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(STEP_MS)
    return context.new_page()


def _history(db_path, text):
    with Store(db_path) as store:
        project_id = store.list_projects()[0].id
        [doc] = [d for d in store.get_documents(project_id) if d.text == text]
        return doc.id, [
            (r.reviewer, r.decision, r.labels) for r in store.review_history(project_id, doc.id)
        ]


def test_two_reviewers_conflict_is_shown_and_resolved_then_adjudicated(team_app):
    server, browser = team_app
    alice, bob = _page(browser), _page(browser)
    for page, user in ((alice, "alice"), (bob, "bob")):
        load(page, server.url)  # the root: signing in lands on Projects
        sign_in(page, user, PASSWORDS[user])
        page.get_by_role("heading", name="Projects", level=1).wait_for()
        wait_idle(page)
        open_first_project(page)
        open_page(page, "Review")
    text = shown_document(alice)
    assert shown_document(bob) == text  # both opened the same document

    button(alice, "review_accept").click()
    wait_for_another_document(alice, text)
    doc_id, history = _history(server.db_path, text)
    [(who, decision, theirs)] = history
    assert (who, decision) == ("alice", "accept")

    # bob presses a label that differs from alice's, then saves: refused, and shown
    mine = 3 if theirs != ("account",) else 1
    button(bob, f"review_toggle_{mine}").click()
    wait_idle(bob)
    button(bob, "review_save").click()
    box = main_area(bob).get_by_text("Not saved: this document changed after you opened it")
    box.wait_for()
    save_screenshot(bob, "review-conflict.png")
    warning = main_area(bob).locator("[data-testid='stAlert']", has_text="Not saved").inner_text()
    assert "alice" in warning and theirs[0] in warning
    assert _history(server.db_path, text)[1] == history  # nothing written over alice's

    button(bob, "review_conflict_overwrite").click()  # keep mine as a second opinion
    wait_for_another_document(bob, text)
    assert_no_exception(bob)
    after = _history(server.db_path, text)[1]
    assert [(who, decision) for who, decision, _ in after] == [
        ("alice", "accept"),
        ("bob", "correct"),
    ]

    # alice, an admin, settles it on the Adjudicate page
    open_page(alice, "Adjudicate")
    opinions = main_area(alice).inner_text()
    assert "alice" in opinions and "bob" in opinions
    save_screenshot(alice, "adjudicate.png")
    alice.get_by_role("button", name="Record final label").click()
    main_area(alice).get_by_text("No disagreements").wait_for()
    with Store(server.db_path) as store:
        project_id = store.list_projects()[0].id
        final = store.current_review(project_id, doc_id)
        assert (final.reviewer, final.decision) == ("alice", "adjudicate")
        assert store.disputed_document_ids(project_id) == set()


def test_a_link_to_a_document_opens_it_after_signing_in(team_app):
    """bob sends carol-the-reviewer (here: bob in a fresh browser) the Review page's link to
    one document: signing in from that link lands on the Review page showing that document."""
    server, browser = team_app
    with Store(server.db_path) as store:
        project_id = store.list_projects()[0].id
        ids = store.document_ids(project_id)
        doc = store.get_documents(project_id, [ids[-1]])[0]
    page = _page(browser)
    page.goto(f"{server.url}/review?project={project_id}&doc={doc.id}")
    page.get_by_role("heading", level=1).first.wait_for(timeout=STEP_MS * 2)
    wait_idle(page)
    dismiss_dialog(page)
    sign_in(page, "bob", PASSWORDS["bob"])
    page.get_by_role("heading", name="Review", level=1).wait_for()
    wait_idle(page)
    assert_no_exception(page)
    assert shown_document(page) == doc.text
    assert f"doc={doc.id}" in page.url and f"project={project_id}" in page.url
    page.reload()  # F5 keeps the project and the document (a new session, signed in again)
    page.get_by_role("heading", level=1).first.wait_for(timeout=STEP_MS * 2)
    wait_idle(page)
    dismiss_dialog(page)
    sign_in(page, "bob", PASSWORDS["bob"])
    page.get_by_role("heading", name="Review", level=1).wait_for()
    wait_idle(page)
    assert shown_document(page) == doc.text
