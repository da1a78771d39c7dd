"""The Projects page (AppTest) against a real SQLite file: create, open, rename, delete, try it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.examples import EXAMPLE_NAME
from core.store import Store
from tests.signed_in import signed_in_app

APP = str(Path(__file__).parent.parent / "app.py")
PROJECT = "sift_project_id"


@pytest.fixture
def store(db_path):
    return Store(db_path)


def open_projects(project_id: int | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if project_id is not None:
        at.session_state[PROJECT] = project_id
    at.switch_page("pages/projects.py").run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> str:
    return "\n".join(element.value for element in at.error)


def create(at: AppTest, name: str) -> AppTest:
    at.text_input(key="projects_create_name").input(name)
    at.button(key="projects_create").click().run()
    assert not at.exception, at.exception
    return at


def test_page_loads_without_projects_and_offers_the_example(store):
    at = open_projects()
    assert at.button(key="projects_try_example")
    assert "No projects yet" in at.info[0].value


def test_creating_a_project_stores_and_opens_it(store):
    at = create(open_projects(), "Support inbox")
    [project] = store.list_projects()
    assert project.name == "Support inbox"
    assert at.session_state[PROJECT] == project.id


def test_an_empty_name_is_refused_inline_and_nothing_is_created(store):
    at = create(open_projects(), "   ")
    assert "empty" in errors(at)
    assert store.list_projects() == []


def test_a_duplicate_name_is_refused_inline(store):
    store.create_project("Support inbox")
    at = create(open_projects(), "Support inbox")
    assert "already exists" in errors(at)
    assert len(store.list_projects()) == 1


def test_the_list_shows_documents_and_reviews_per_project(store):
    store.create_project("Empty")
    at = open_projects()
    table = at.dataframe[0].value
    assert table[["Name", "Documents", "Reviewed"]].values.tolist() == [["Empty", 0, 0]]


def test_open_makes_the_picked_project_current(store):
    first = store.create_project("First")
    second = store.create_project("Second")
    at = open_projects(first.id)
    at.selectbox(key="projects_pick").set_value(second.id).run()
    at.button(key="projects_open").click().run()
    assert at.session_state[PROJECT] == second.id


def test_rename_changes_the_name_in_the_store(store):
    project = store.create_project("Old name")
    at = open_projects(project.id)
    at.text_input(key="projects_rename_name").input("New name")
    at.button(key="projects_rename").click().run()
    assert not at.exception, at.exception
    assert store.get_project(project.id).name == "New name"


def test_rename_to_a_taken_name_is_refused_inline(store):
    store.create_project("Taken")
    project = store.create_project("Mine")
    at = open_projects(project.id)
    at.text_input(key="projects_rename_name").input("Taken")
    at.button(key="projects_rename").click().run()
    assert "already exists" in errors(at)
    assert store.get_project(project.id).name == "Mine"


def ask_to_delete(project_id: int) -> AppTest:
    at = open_projects(project_id)
    at.button(key="projects_delete").click().run()
    assert not at.exception, at.exception
    return at


def test_delete_asks_for_confirmation_first(store):
    project = store.create_project("Doomed")
    at = ask_to_delete(project.id)
    assert at.text_input(key="projects_delete_confirm")
    assert [p.id for p in store.list_projects()] == [project.id]


def test_delete_with_the_wrong_name_deletes_nothing(store):
    project = store.create_project("Doomed")
    at = ask_to_delete(project.id)
    at.text_input(key="projects_delete_confirm").input("Doom")
    at.button(key="projects_delete_confirm_button").click().run()
    assert "does not match" in errors(at)
    assert [p.id for p in store.list_projects()] == [project.id]


def test_delete_with_the_typed_name_removes_and_closes_the_project(store):
    keep = store.create_project("Keep")
    project = store.create_project("Doomed")
    at = ask_to_delete(project.id)
    at.text_input(key="projects_delete_confirm").input("Doomed")
    at.button(key="projects_delete_confirm_button").click().run()
    assert not at.exception, at.exception
    assert [p.id for p in store.list_projects()] == [keep.id]
    assert PROJECT not in at.session_state


def test_cancel_leaves_the_project_alone(store):
    project = store.create_project("Doomed")
    at = ask_to_delete(project.id)
    at.button(key="projects_delete_cancel").click().run()
    assert not _has(at, "projects_delete_confirm")
    assert at.button(key="projects_delete")
    assert [p.id for p in store.list_projects()] == [project.id]


def _has(at: AppTest, key: str) -> bool:
    return any(widget.key == key for widget in at.text_input)


def test_try_it_creates_and_opens_the_example_project(store):
    at = open_projects()
    at.button(key="projects_try_example").click().run()
    assert not at.exception, at.exception
    project = store.get_project(EXAMPLE_NAME)
    assert at.session_state[PROJECT] == project.id
    assert store.count_documents(project.id) >= 40
    assert len(store.load_taxonomy(project.id)) >= 6


def test_try_it_again_opens_the_same_example(store):
    at = open_projects()
    at.button(key="projects_try_example").click().run()
    at.button(key="projects_try_example").click().run()
    assert not at.exception, at.exception
    assert [p.name for p in store.list_projects()] == [EXAMPLE_NAME]


def test_a_viewer_sees_the_list_but_cannot_create_rename_or_delete(store):
    project = store.create_project("Shared")
    at = signed_in_app("vera", "viewer")
    at.session_state[PROJECT] = project.id
    at.switch_page("pages/projects.py").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["Name"].tolist() == ["Shared"]
    keys = {button.key for button in at.button}
    assert "projects_open" in keys
    assert not keys & {"projects_create", "projects_try_example", "projects_delete"}
