"""Export: the labelled dataset as CSV, JSONL, Parquet or a Hugging Face datasets folder."""

import pandas as pd
import streamlit as st

from core.export import FORMATS, TEST_SPLIT_HELP, ExportOptions, prepare_export, split_summary
from ui.auth import require, require_router
from ui.session import get_store, require_project, reviewer_name

PREPARED = "_export_prepared"  # {"settings", "data", "file_name", "mime", "rows", "split", ...}
PREVIEW_ROWS = 20

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Export")
require("export")  # checked on every run, server-side
project = require_project()
store = get_store()

cols = st.columns([2, 1, 1])
fmt = cols[0].selectbox(
    "Format", list(FORMATS), format_func=lambda f: FORMATS[f].title, key="export_format"
)
reviewed_only = cols[1].toggle(
    "Reviewed only", key="export_reviewed_only", help="Leave out documents nobody reviewed"
)
include_scores = cols[2].toggle(
    "Per-technique scores",
    key="export_include_scores",
    help="Add each technique's and the ensemble's scores (soft labels)",
)
cols = st.columns(2)
test_fraction = cols[0].slider(
    "Test split", 0.0, 0.5, 0.0, step=0.05, key="export_test_fraction", help=TEST_SPLIT_HELP
)
seed = cols[1].number_input(
    "Split seed", min_value=0, value=0, step=1, key="export_seed", disabled=test_fraction == 0
)
if test_fraction > 0:
    st.caption(
        "The test split takes reviewed documents only; machine-labelled ones go to train "
        "(the `label_source` column says which is which)."
    )
options = ExportOptions(
    reviewed_only=reviewed_only,
    include_scores=include_scores,
    test_fraction=test_fraction,
    seed=int(seed),
)
settings = (project.id, fmt, options)

if st.button("Prepare export", key="export_prepare", type="primary", icon=":material/build:"):
    with st.spinner("Building the dataset…"):
        rows, rendered = prepare_export(store, project.id, fmt, options, by=reviewer_name())
    st.session_state[PREPARED] = {
        "settings": settings,
        "data": rendered.data,
        "file_name": f"{project.name}.{FORMATS[fmt].extension}",
        "mime": FORMATS[fmt].mime,
        "rows": len(rows),
        "split": split_summary(rows, options.test_fraction),
        "preview": rows[:PREVIEW_ROWS],
    }

prepared = st.session_state.get(PREPARED)
if prepared is not None and prepared["settings"] != settings:
    st.caption("The options changed: prepare the export again.")
elif prepared is not None:
    st.success(f"{prepared['rows']:,} rows, {len(prepared['data']):,} bytes")
    split = prepared["split"]
    if split is not None and split.short:  # fewer reviewed documents than the test split asks
        st.warning(split.note(), icon=":material/rule:")
    elif split is not None:
        st.caption(split.note())
    st.download_button(
        f"Download {prepared['file_name']}",
        data=prepared["data"],
        file_name=prepared["file_name"],
        mime=prepared["mime"],
        key="export_download",
        on_click="ignore",
        icon=":material/download:",
    )
    st.caption(f"First {min(PREVIEW_ROWS, prepared['rows'])} rows")
    preview = pd.DataFrame(prepared["preview"])
    for column in preview.columns:  # lists and score dicts as readable text
        if preview[column].map(lambda v: isinstance(v, list | dict)).any():
            preview[column] = preview[column].map(
                lambda v: "; ".join(map(str, v)) if isinstance(v, list) else str(v)
            )
    st.dataframe(preview, key="export_preview", hide_index=True)

exports = store.list_exports(project.id)
if exports:
    with st.expander(f"Previous exports ({len(exports)})"):
        st.dataframe(
            pd.DataFrame(exports)[["created_at", "format", "n_rows", "by", "sha256"]].iloc[::-1],
            hide_index=True,
        )
