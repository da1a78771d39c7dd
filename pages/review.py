"""Review: work through the queue — accept, correct, skip, flag — by keyboard or mouse."""

import streamlit as st

from core.predictions import project_settings
from ui.auth import require, require_router
from ui.learning import refresh_on_first_visit, render_learning_status
from ui.review_document import render_document_view
from ui.review_format import plural
from ui.review_queue_ui import current_pass, prediction_table, queue_controls, show_flash
from ui.review_table import render_table_view
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

table = prediction_table(store, project.id)
if not table.techniques:
    st.caption("No technique has been run yet: documents come without suggestions.")
refresh_on_first_visit(project.id)
render_learning_status(store, project.id)
order, filters = queue_controls(store, project.id, table)
review_pass = current_pass(store, project.id, table, order, filters)
if review_pass.version != table.version and table.version is not None:
    st.caption(
        f"v{table.version} is ready: it orders and suggests from the next batch "
        f"({plural(len(review_pass.batch) - review_pass.position, 'document')} left in this one)."
    )
show_flash()

mode = st.segmented_control(
    "View",
    ["Document", "Table"],
    default="Document",
    key="review_mode",
    label_visibility="collapsed",
)
if mode == "Table":
    render_table_view(store, project, taxonomy, settings, table, order, filters)
else:
    render_document_view(store, project, taxonomy, settings, review_pass)
