"""The Projects page's blocks: create (or try the example), the project list, open/rename/delete.

Every action is a button callback: it runs before the page (and the sidebar) is
drawn again, so the sidebar already names the project just created or opened.
A callback makes one core call and leaves a message for the next run: a flash
on success, or an error shown next to the widget that caused it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.examples import EXAMPLE_NAME, create_example_project
from core.store import StoreError
from ui.markdown import md
from ui.review_format import viewer_time
from ui.session import PROJECT_KEY, select_project

FLASH = "_projects_flash"  # success message shown once on the next run
ERRORS = "_projects_errors"  # action -> error message, shown beside that action's widgets
PENDING_DELETE = "_projects_pending_delete"  # id of the project whose deletion awaits a confirm

NAME = "projects_create_name"
PICK = "projects_pick"
RENAME = "projects_rename_name"
DELETE_CONFIRM = "projects_delete_confirm"


# --- messages ---------------------------------------------------------------------------


def _set_error(action: str, message: str) -> None:
    st.session_state.setdefault(ERRORS, {})[action] = message


def _clear_messages() -> None:
    st.session_state.pop(ERRORS, None)
    st.session_state.pop(FLASH, None)


def show_error(action: str) -> None:
    message = st.session_state.get(ERRORS, {}).get(action)
    if message:
        st.error(md(message), icon=":material/error:")


def show_flash() -> None:
    message = st.session_state.pop(FLASH, None)
    if message:
        st.success(md(message), icon=":material/check_circle:")


# --- callbacks --------------------------------------------------------------------------


def _create(store) -> None:
    _clear_messages()
    try:
        project = store.create_project(st.session_state.get(NAME, ""))
    except StoreError as error:
        _set_error("create", str(error))
        return
    select_project(project.id)
    st.session_state[PICK] = project.id
    st.session_state[NAME] = ""
    st.session_state[FLASH] = f"Created and opened {project.name!r}. Next: define its labels."


def _try_example(store, by: str) -> None:
    _clear_messages()
    existed = any(project.name == EXAMPLE_NAME for project in store.list_projects())
    try:
        project = create_example_project(store, by=by)
    except (StoreError, ValueError) as error:  # IngestError / TaxonomyError are ValueErrors
        _set_error("example", f"Could not create the example project: {error}")
        return
    select_project(project.id)
    st.session_state[PICK] = project.id
    st.session_state[FLASH] = (
        f"Opened {project.name!r}."
        if existed
        else f"Created {project.name!r} with {store.count_documents(project.id)} documents "
        "and its labels. Next: run Classify, then Review."
    )


def _open(project_id: int) -> None:
    _clear_messages()
    select_project(project_id)


def _rename(store, project_id: int) -> None:
    _clear_messages()
    try:
        project = store.rename_project(project_id, st.session_state.get(RENAME, ""))
    except StoreError as error:
        _set_error("rename", str(error))
        return
    st.session_state[RENAME] = ""
    st.session_state[FLASH] = f"Renamed to {project.name!r}."


def _ask_delete(project_id: int) -> None:
    _clear_messages()
    st.session_state[PENDING_DELETE] = project_id
    st.session_state[DELETE_CONFIRM] = ""


def _cancel_delete() -> None:
    st.session_state.pop(PENDING_DELETE, None)


def _confirm_delete(store, project_id: int, name: str) -> None:
    _clear_messages()
    typed = st.session_state.get(DELETE_CONFIRM, "")
    if typed.strip() != name:
        _set_error("delete", "The name typed does not match; nothing was deleted.")
        return
    try:
        store.delete_project(project_id)
    except StoreError as error:
        _set_error("delete", str(error))
        return
    st.session_state.pop(PENDING_DELETE, None)
    if st.session_state.get(PROJECT_KEY) == project_id:
        select_project(None)
    st.session_state[FLASH] = f"Deleted {name!r}."


# --- blocks -----------------------------------------------------------------------------


def render_create(store, *, by: str) -> None:
    """New project by name, or the ready-made example."""
    cols = st.columns([3, 1, 2], vertical_alignment="bottom")
    cols[0].text_input(
        "New project", key=NAME, placeholder="e.g. Support inbox 2025", max_chars=200
    )
    cols[1].button("Create", key="projects_create", type="primary", on_click=_create, args=(store,))
    cols[2].button(
        "Try it: example project",
        key="projects_try_example",
        icon=":material/science:",
        help=f"Creates (or opens) {EXAMPLE_NAME!r}: 50 support emails, tickets and memos "
        "with eight labels and some gold labels, ready to classify.",
        on_click=_try_example,
        args=(store, by),
    )
    show_error("create")
    show_error("example")


def project_table(store, projects) -> pd.DataFrame:
    """One row per project: name, documents, reviewed, created; the open one marked."""
    current = st.session_state.get(PROJECT_KEY)
    return pd.DataFrame(
        [
            {
                "Open": "●" if project.id == current else "",
                "Name": project.name,
                "Documents": store.count_documents(project.id),
                "Reviewed": store.count_reviews(project.id),
                "Created": viewer_time(project.created_at),
            }
            for project in projects
        ]
    )


def render_actions(store, projects, *, manage: bool) -> None:
    """Pick a project, open it; rename and delete (two steps) when the role may."""
    names = {project.id: project.name for project in projects}
    ids = list(names)
    current = st.session_state.get(PROJECT_KEY)
    if st.session_state.get(PICK) not in names:  # first visit, or the picked one was deleted
        st.session_state[PICK] = current if current in names else ids[0]
    cols = st.columns([3, 1], vertical_alignment="bottom")
    picked = cols[0].selectbox("Project", ids, format_func=names.get, key=PICK)
    cols[1].button(
        "Open",
        key="projects_open",
        type="primary",
        disabled=picked == current,
        on_click=_open,
        args=(picked,),
    )
    if not manage:
        return
    with st.expander("Rename or delete", icon=":material/edit:"):
        cols = st.columns([3, 1], vertical_alignment="bottom")
        cols[0].text_input("New name", key=RENAME, max_chars=200)
        cols[1].button("Rename", key="projects_rename", on_click=_rename, args=(store, picked))
        show_error("rename")
        st.divider()
        if st.session_state.get(PENDING_DELETE) != picked:
            st.button(
                "Delete project…",
                key="projects_delete",
                icon=":material/delete:",
                on_click=_ask_delete,
                args=(picked,),
            )
        else:
            _render_delete_confirmation(store, picked, names[picked])
        show_error("delete")


def _render_delete_confirmation(store, project_id: int, name: str) -> None:
    st.warning(
        "Deleting removes the project with all its documents, runs, predictions, reviews "
        f"and exports ({store.count_documents(project_id):,} documents, "
        f"{store.count_reviews(project_id):,} reviewed). This cannot be undone.",
        icon=":material/warning:",
    )
    st.text_input("Type the project's name to confirm", key=DELETE_CONFIRM, placeholder=name)
    cols = st.columns(2)
    cols[0].button(
        "Delete for good",
        key="projects_delete_confirm_button",
        type="primary",
        on_click=_confirm_delete,
        args=(store, project_id, name),
    )
    cols[1].button("Cancel", key="projects_delete_cancel", on_click=_cancel_delete)
