"""Shared Streamlit plumbing for pages: the store, the current project, the reviewer.

`ui/` is the only place besides `pages/` and `app.py` that imports streamlit;
everything it does is a thin call into `core`.
"""

from __future__ import annotations

import os

import streamlit as st

from core.auth import GuardedStore
from core.store import Store
from ui.auth import (
    current_identity,
    identity_as_configured,
    render_account,
    require_current_page,
)
from ui.markdown import md

PROJECT_KEY = "sift_project_id"
REVIEWER_KEY = "sift_reviewer"


@st.cache_resource(show_spinner=False)
def _store_for(path: str) -> Store:
    # One Store (one SQLite connection, thread-safe) per DB path for the whole server.
    return Store(path or None)


def get_store() -> GuardedStore:
    """The shared store for $SIFT_DB, as the signed-in user may use it.

    Checks, on every call, that someone is signed in and may open the running page
    (stopping the page with the sign-in form or a refusal otherwise); each store
    method then checks its own permission (core.auth.STORE_PERMISSIONS). Pages get
    this protection even when run without app.py's router. Before every call the store
    also re-reads the configuration (ui.auth.identity_as_configured): a user removed or
    downgraded while a page or a button's callback holds this store is refused at once.
    """
    identity = require_current_page()
    return GuardedStore(
        _store_for(os.environ.get("SIFT_DB", "")),
        identity,
        current=lambda: identity_as_configured(identity),
    )


def system_store() -> Store:
    """The shared store without a user's permission checks: only for Sift's own background
    jobs (the model refresh after reviews), never for anything a user asked for."""
    return _store_for(os.environ.get("SIFT_DB", ""))


def current_project():
    """The selected project, or None (pages then ask the user to pick one on Projects)."""
    project_id = st.session_state.get(PROJECT_KEY)
    if project_id is None:
        return None
    store = get_store()
    try:
        return store.get_project(project_id)
    except Exception:  # deleted in another session
        st.session_state.pop(PROJECT_KEY, None)
        return None


def select_project(project_id: int | None) -> None:
    if project_id is None:
        st.session_state.pop(PROJECT_KEY, None)
    else:
        st.session_state[PROJECT_KEY] = project_id


def require_project():
    """The current project, or stop the page with a pointer to Projects.

    Signs-in and checks the running page's permission first: a page script reached without
    the router (Streamlit's pages/ fallback) still shows only the sign-in form.
    """
    from ui.auth import require_current_page

    require_current_page()
    project = current_project()
    if project is None:
        st.info("Open or create a project first.")
        st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder:")
        st.stop()
    return project


def require_taxonomy(store, project):
    """The project's taxonomy, or stop the page with a pointer to Taxonomy when it has no labels."""
    taxonomy = store.load_taxonomy(project.id)
    if not taxonomy.labels:
        st.info("This project has no labels yet. Define them on the Taxonomy page.")
        st.page_link("pages/taxonomy.py", label="Go to Taxonomy", icon=":material/sell:")
        st.stop()
    return taxonomy


def reviewer_name() -> str:
    """Who is reviewing: the signed-in identity when auth is on, else the sidebar's name."""
    identity = current_identity()
    if identity is None:
        raise PermissionError("Nobody is signed in; sign in before reviewing.")
    if identity.method != "local":
        return identity.name
    return st.session_state.get(REVIEWER_KEY) or identity.name


def render_sidebar() -> None:
    from ui import deep_links

    store = get_store()
    identity = store.identity
    deep_links.restore_project(store, select_project)  # a link's or F5's ?project=, once
    with st.sidebar:
        project = current_project()
        deep_links.write_project(project)
        deep_links.show_notes()
        if project is not None:
            st.caption("Project")
            st.markdown(f"**{md(project.name)}**")
            count = store.count_documents(project.id)
            st.caption(f"{count:,} document{'' if count == 1 else 's'}")
        if identity.method == "local":
            # No sign-in configured: reviews carry the name typed here (default: the OS user).
            st.text_input(
                "Reviewer",
                key=REVIEWER_KEY,
                placeholder=identity.name,
                help="Without sign-in this is free text: reviews are recorded under whatever "
                "name is typed here, and anyone at this machine may type any name. Fine for "
                "one person; for a team, configure sign-in (README) and each review carries "
                "the signed-in name instead.",
            )
        else:
            render_account(identity)
