"""Review: work through the queue — accept, correct, skip, flag — by keyboard or mouse."""

import streamlit as st

from core.results import project_settings
from ui import review_ui
from ui.auth import require, require_router
from ui.learning import refresh_on_first_visit, render_learning_status
from ui.session import get_store, require_project, require_taxonomy

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Review")
require("review")  # checked on every run, server-side
project = require_project()
store = get_store()
taxonomy = require_taxonomy(store, project)
settings = project_settings(project)

total = store.count_documents(project.id)
reviewed = store.count_reviews(project.id)
st.progress(reviewed / total if total else 0.0, text=f"{reviewed:,} of {total:,} reviewed")
if not total:
    st.info("No documents yet. Upload some first.")
    st.page_link("pages/upload.py", label="Go to Upload", icon=":material/upload_file:")
    st.stop()

table, signature = review_ui.prediction_table(store, project.id)
if not table.techniques:
    st.caption("No technique has been run yet: documents come without suggestions.")
refresh_on_first_visit(project.id)
render_learning_status(store, project.id)
order, filters = review_ui.queue_controls(table)
queue = review_ui.current_queue(store, project.id, table, signature, order, filters)
review_ui.show_flash()

mode = st.segmented_control(
    "View",
    ["Document", "Table"],
    default="Document",
    key="review_mode",
    label_visibility="collapsed",
)
if mode == "Table":
    review_ui.render_table_view(store, project, taxonomy, settings, table, queue)
else:
    review_ui.render_document_view(store, project, taxonomy, settings, table, queue)
