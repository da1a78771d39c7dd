"""Projects: create one (or try the example), open, rename and delete."""

import streamlit as st

from ui import projects_ui
from ui.auth import can, current_identity, require_router
from ui.pages import page
from ui.review_settings_ui import render_review_settings
from ui.session import current_project, get_store

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Projects")
st.caption("Turn piles of unstructured business text into trustworthy labels.")
store = get_store()
manage = can("manage_projects")

projects_ui.show_flash()
if manage:
    identity = current_identity()
    projects_ui.render_create(store, by=identity.name if identity else "")

projects = store.list_projects()
if not projects:
    st.info(
        "No projects yet. Create one above, or try the example project to see Sift at work."
        if manage
        else "No projects yet. Ask an admin to create one."
    )
    st.stop()

st.subheader("Your projects")
st.dataframe(projects_ui.project_table(store, projects), hide_index=True, key="projects_table")
projects_ui.render_actions(store, projects, manage=manage)

project = current_project()
if project is not None:
    st.caption("Next steps for the open project")
    # Only pages this role may open are registered: linking to others would raise.
    next_steps = [
        spec
        for spec in map(page, ("taxonomy", "upload", "classify", "review"))
        if can(spec.permission)
    ]
    for col, spec in zip(st.columns(4), next_steps):
        col.page_link(spec.path, label=spec.title, icon=spec.icon)
    if can("classify"):  # what update_project_settings takes (core.auth)
        render_review_settings(store, project)
