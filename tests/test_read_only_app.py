"""The app in view mode on a database it cannot write (AppTest, a real SQLite project): the
pages open and show their data, and a write is refused with a message naming the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.store import connection as store_connection
from tests.page_project import build_project
from tests.rendered import as_shown

APP = str(Path(__file__).parent.parent / "app.py")


@pytest.fixture
def read_only_project(tmp_path, monkeypatch):
    """A classified project in a folder this user may not write (as the operating system
    would report it to a non-root user: root's access() says yes to everything)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    db = folder / "sift.db"
    monkeypatch.setenv("SIFT_DB", str(db))
    project = build_project(db)
    project.store.close()
    real_access = os.access

    def access(path, mode, **kwargs):
        if mode & os.W_OK and Path(path).resolve().is_relative_to(folder.resolve()):
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(store_connection.os, "access", access)
    return project, db


def open_page(project, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.project_id
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", ["pages/projects.py", "pages/review.py", "pages/evaluate.py"])
def test_pages_open_on_a_read_only_database(read_only_project, page):
    project, _ = read_only_project
    at = open_page(project, page)
    assert not at.error
    assert "pages" in "\n".join(as_shown(m.value) for m in at.sidebar.markdown)  # project name


def test_a_review_on_a_read_only_database_is_refused_naming_the_file(read_only_project):
    project, db = read_only_project
    at = open_page(project, "pages/review.py")
    at.button(key="review_accept").click().run()
    assert not at.exception, at.exception
    shown = "\n".join(as_shown(element.value) for element in at.error)
    assert f"the database {db} is read-only: its folder {db.parent} is not writable" in shown
