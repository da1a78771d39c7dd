"""Review: work through the queue — accept, correct, skip, flag — by keyboard or mouse."""

from dataclasses import replace

import streamlit as st

from core.predictions import project_settings
from core.review_queue import distribution_progress
from core.review_settings import review_settings
from ui import deep_links
from ui.auth import require, require_router
from ui.learning import refresh_on_first_visit, render_learning_status
from ui.review_document import render_document_view
from ui.review_format import plural
from ui.review_guidelines import render_guidelines
from ui.review_queue_ui import current_pass, prediction_table, queue_controls, show_flash
from ui.review_table import render_table_view
from ui.session import get_store, require_project, require_taxonomy, reviewer_name

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Review")
require("review")  # checked on every run, server-side
project = require_project()
store = get_store()
taxonomy = require_taxonomy(store, project)
reviewing = review_settings(project)  # k reviews per document, suggestions shown, guidelines
settings = {**project_settings(project), **reviewing.as_settings()}

total = store.count_documents(project.id)
if reviewing.distributed:
    spread = distribution_progress(store, project.id, reviewer_name(), reviewing.reviews_wanted)
    st.progress(
        spread.done / total if total else 0.0,
        text=f"{spread.done:,} of {total:,} done ({reviewing.reviews_wanted} reviews each) · "
        f"you reviewed {spread.mine:,}",
    )
else:
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
deep_links.restore_review_filters(
    project.id, table.labels, lambda: store.context_fields(project.id)
)
order, filters = queue_controls(store, project.id, table)
# k > 1: "unreviewed" is this reviewer's queue (core.review_queue.not_needing_review)
filters = replace(filters, reviewer=reviewer_name(), reviews_wanted=reviewing.reviews_wanted)
review_pass = current_pass(store, project.id, table, order, filters)
deep_links.open_linked_document(review_pass, table)
deep_links.show_notes()  # what the link asked for that is not here
if review_pass.version != table.version and table.version is not None:
    st.caption(
        f"v{table.version} is ready: it orders and suggests from the next batch "
        f"({plural(len(review_pass.batch) - review_pass.position, 'document')} left in this one)."
    )
show_flash()
if reviewing.distributed:
    st.caption(
        f"{reviewing.reviews_wanted} independent reviews wanted per document: your queue "
        "(status Unreviewed) holds the documents you have not reviewed that still need one."
    )
render_guidelines(store, project.id, taxonomy, reviewing.guidelines)
shown = review_pass.current
deep_links.render_copy_link(
    deep_links.write_review(project.id, order, filters, shown.document_id if shown else None)
)

mode = st.segmented_control(
    "View",
    ["Document", "Table"],
    default="Document",
    key="review_mode",
    label_visibility="collapsed",
    disabled=not reviewing.show_suggestions,  # the table is the suggestions, for bulk accept
)
if mode == "Table" and reviewing.show_suggestions:
    render_table_view(store, project, taxonomy, settings, table, order, filters)
else:
    render_document_view(store, project, taxonomy, settings, review_pass)
