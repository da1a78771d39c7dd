"""Taxonomy: the project's labels — descriptions, keywords, patterns, entity hints, colours."""

import streamlit as st

from ui import taxonomy_ui
from ui.auth import can, require_router
from ui.session import get_store, require_project

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Taxonomy")
project = require_project()
store = get_store()
editable = can("edit_taxonomy")
taxonomy = store.load_taxonomy(project.id)

taxonomy_ui.show_flash()
with st.expander("How to fill in the table", icon=":material/help:"):
    st.markdown(taxonomy_ui.HELP)
if not editable:
    st.caption("You can read the labels; only admins may change them.")
elif not taxonomy.labels:
    st.info("No labels yet: add a row per label below, or import a YAML/JSON taxonomy file.")

rows = taxonomy_ui.render_editor(project.id, taxonomy, editable=editable)
if editable:
    st.caption(
        "Saving a changed taxonomy makes the next Classify run compute afresh "
        "(cached results belong to the taxonomy they were made with)."
    )
    saved = st.button("Save", key="taxonomy_save", type="primary", icon=":material/save:")
    if saved and taxonomy_ui.save_rows(store, project.id, rows):
        st.rerun()

st.subheader("Import and export")
taxonomy_ui.render_downloads(project.name, taxonomy)
if editable:
    uploaded = st.file_uploader(
        "Import a taxonomy file (replaces the labels above)",
        type=sorted(taxonomy_ui.IMPORT_EXTENSIONS),
        key=taxonomy_ui.IMPORT_FILE,
    )
    replace = uploaded is not None and st.button(
        f"Replace the labels with {uploaded.name}",
        key="taxonomy_import",
        icon=":material/upload:",
    )
    if replace and taxonomy_ui.import_file(store, project.id, uploaded.name, uploaded.getvalue()):
        st.rerun()
