"""Upload: files in, documents out — each file imported whole or not at all; a file whose text
column does not look like text waits for "Import anyway"."""

import streamlit as st

from core.ingest import SUPPORTED_EXTENSIONS, IngestLimits, IngestOptions
from ui import annotations_ui, upload_ui
from ui.auth import can, require, require_router
from ui.markdown import md
from ui.review_format import plural
from ui.session import get_store, require_project, reviewer_name

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Upload")
require("upload")  # checked on every run, server-side
project = require_project()
store = get_store()
limit_mb = IngestLimits().max_file_bytes // (1024 * 1024)

st.caption(
    f"Up to {limit_mb} MB per file. Each file is imported whole or not at all, and texts "
    "already in the project are not added twice."
)
uploaded = st.file_uploader(
    "Files",
    type=[extension.lstrip(".") for extension in SUPPORTED_EXTENSIONS],
    accept_multiple_files=True,
    key="upload_files",
)

files = []  # (name, bytes, IngestOptions) for the import
if uploaded:
    if any(not upload_ui.is_tabular(file.name) for file in uploaded):
        split = st.toggle(
            "Split .txt/.md files into paragraphs",
            key=upload_ui.SPLIT_PARAGRAPHS,
            help="One document per blank-line-separated paragraph, instead of one per file",
        )
    else:
        split = False
    for file in uploaded:
        data = file.getvalue()
        if upload_ui.is_tabular(file.name):
            with st.expander(f"{file.name} — columns", expanded=True, icon=":material/table:"):
                options = upload_ui.render_tabular_options(file.name, data)
            if options is None:  # preview failed: import it anyway so the result names why
                options = IngestOptions()
        else:
            options = IngestOptions(split_paragraphs=split)
        files.append((file.name, data, options))

    if st.button(
        f"Import {plural(len(files), 'file')}",
        key="upload_import",
        type="primary",
        icon=":material/upload:",
    ):
        with st.spinner("Importing…"):
            outcomes = upload_ui.import_files(store, project.id, files, by=reviewer_name())
        st.session_state[upload_ui.RESULTS] = (project.id, outcomes)
        st.session_state[upload_ui.PENDING] = (
            project.id,
            upload_ui.pending_confirmations(files, outcomes),
        )
        st.rerun()  # the sidebar's document count includes the new documents

last_project, outcomes = st.session_state.get(upload_ui.RESULTS, (None, []))
if outcomes and last_project == project.id:
    added = sum(outcome.n_added for outcome in outcomes)
    rejected = [outcome for outcome in outcomes if outcome.status in ("rejected", "not_stored")]
    unconfirmed = [outcome for outcome in outcomes if outcome.status == "unconfirmed"]
    if rejected or unconfirmed:
        problems = []
        if rejected:
            problems.append(
                f"{len(rejected)} of {len(outcomes)} file(s) rejected; nothing from them was "
                "stored."
            )
        if unconfirmed:
            problems.append(
                f"{len(unconfirmed)} of {len(outcomes)} file(s) wait for your confirmation "
                "below; nothing from them is stored yet."
            )
        st.warning(
            " ".join(problems) + f" {added:,} new document(s) from the others.",
            icon=":material/warning:",
        )
    else:
        st.success(f"{added:,} new document(s) imported.", icon=":material/check_circle:")
    st.dataframe(upload_ui.outcomes_table(outcomes), hide_index=True, key="upload_results")
    for outcome in rejected:
        st.error(md(outcome.message), icon=":material/error:")
    upload_ui.render_confirmations(store, project.id, files, by=reviewer_name())
    for outcome in outcomes:
        for note in outcome.gold_notes:
            st.info(f"{md(outcome.filename)}: {md(note)}", icon=":material/label:")
    if added:
        st.page_link("pages/classify.py", label="Next: classify", icon=":material/bolt:")

if can("review"):  # reviews made elsewhere (Label Studio, Prodigy, a spreadsheet)
    st.divider()
    annotations_ui.render(store, project.id, by=reviewer_name())
