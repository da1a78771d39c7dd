"""Projects: create one (or try the example), open, rename and delete."""

import streamlit as st

from ui import projects_ui
from ui.auth import can, current_identity
from ui.session import current_project, get_store

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
    cols = st.columns(4)
    cols[0].page_link("pages/taxonomy.py", label="Taxonomy", icon=":material/sell:")
    cols[1].page_link("pages/upload.py", label="Upload", icon=":material/upload_file:")
    cols[2].page_link("pages/classify.py", label="Classify", icon=":material/bolt:")
    cols[3].page_link("pages/review.py", label="Review", icon=":material/fact_check:")
