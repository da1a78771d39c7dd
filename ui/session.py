"""Shared Streamlit plumbing for pages: the store, the current project, the reviewer.

`ui/` is the only place besides `pages/` and `app.py` that imports streamlit;
everything it does is a thin call into `core`.
"""

from __future__ import annotations

import os

import streamlit as st

from core.store import Store

PROJECT_KEY = "sift_project_id"
REVIEWER_KEY = "sift_reviewer"


@st.cache_resource(show_spinner=False)
def _store_for(path: str) -> Store:
    # One Store (one SQLite connection, thread-safe) per DB path for the whole server.
    return Store(path or None)


def get_store() -> Store:
    """The shared store for $SIFT_DB (read on every run so tests can point it elsewhere)."""
    return _store_for(os.environ.get("SIFT_DB", ""))


def current_project():
    """The selected project, or None (pages then ask the user to pick one on Projects)."""
    project_id = st.session_state.get(PROJECT_KEY)
    if project_id is None:
        return None
    try:
        return get_store().get_project(project_id)
    except Exception:  # deleted in another session
        st.session_state.pop(PROJECT_KEY, None)
        return None


def select_project(project_id: int | None) -> None:
    if project_id is None:
        st.session_state.pop(PROJECT_KEY, None)
    else:
        st.session_state[PROJECT_KEY] = project_id


def require_project():
    """The current project, or stop the page with a pointer to Projects."""
    project = current_project()
    if project is None:
        st.info("Open or create a project first.")
        st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder:")
        st.stop()
    return project


def reviewer_name() -> str:
    """Who is reviewing: the signed-in identity when auth is on, else the name typed in the sidebar."""
    return st.session_state.get(REVIEWER_KEY) or os.environ.get("USER", "") or "local"


def render_sidebar() -> None:
    store = get_store()
    with st.sidebar:
        project = current_project()
        if project is not None:
            st.caption("Project")
            st.markdown(f"**{project.name}**")
            st.caption(f"{store.count_documents(project.id):,} documents")
        st.text_input("Reviewer", key=REVIEWER_KEY, placeholder="your name")
