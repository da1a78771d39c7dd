"""Classify: run techniques over the project's documents, with progress, cancel and a cache."""

import pandas as pd
import streamlit as st

from core.learning.trained import current_supervised_model
from core.models.catalog import (
    DEVICES,
    PRECISIONS,
)
from core.models.loading import ModelLoadError, choose_device
from core.models.precision import PrecisionError, dtype_name, plan_precision
from core.predictions import project_settings
from core.techniques import DEFAULT_TECHNIQUES, get_technique, known_techniques
from ui import classify_ui, technique_options_ui
from ui.auth import require, require_router
from ui.markdown import md
from ui.session import get_store, require_project, require_taxonomy

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Classify")
require("classify")  # checked on every run, server-side
project = require_project()
store = get_store()
taxonomy = require_taxonomy(store, project)
n_documents = store.count_documents(project.id)
if not n_documents:
    st.info("No documents yet. Upload some first.")
    st.page_link("pages/upload.py", label="Go to Upload", icon=":material/upload_file:")
    st.stop()

job = classify_ui.current_job(store, project.id)
running = job is not None and job.running


# --- settings saved with the project ------------------------------------------------------


def _save_settings() -> None:
    current = store.get_project(project.id)
    store.update_project_settings(
        project.id,
        {
            **current.settings,
            "multi_label": bool(st.session_state[classify_ui.MULTI_LABEL]),
            "threshold": float(st.session_state[classify_ui.THRESHOLD]),
        },
    )


# Seeded from the project when it changes, or when Streamlit dropped the widget state
# (it does when another page was shown in between).
if st.session_state.get(classify_ui.SETTINGS_FOR) != project.id or any(
    key not in st.session_state for key in (classify_ui.MULTI_LABEL, classify_ui.THRESHOLD)
):
    settings = project_settings(project)
    st.session_state[classify_ui.MULTI_LABEL] = bool(settings["multi_label"])
    st.session_state[classify_ui.THRESHOLD] = min(max(float(settings["threshold"]), 0.05), 0.95)
    st.session_state[classify_ui.SETTINGS_FOR] = project.id

cols = st.columns([1, 2])
multi_label = cols[0].toggle(
    "Multi-label",
    key=classify_ui.MULTI_LABEL,
    on_change=_save_settings,
    disabled=running,
    help="Off: each document gets one label. On: every label whose score reaches the threshold.",
)
cols[1].slider(
    "Threshold",
    0.05,
    0.95,
    step=0.05,
    key=classify_ui.THRESHOLD,
    on_change=_save_settings,
    disabled=running or not multi_label,
    help="Multi-label only: a label is suggested when its score is at least this.",
)

# --- techniques and their options ---------------------------------------------------------

available = [name for name in known_techniques() if name != "ensemble"]
trained = current_supervised_model(store, project.id)
if trained is None:
    available.remove("supervised")
if running:  # come back mid-run (or from another tab): show what is running
    st.session_state["classify_techniques"] = [n for n in job.techniques if n in available]
chosen = st.multiselect(
    "Techniques",
    available,
    default=[name for name in DEFAULT_TECHNIQUES if name in available],
    key="classify_techniques",
    disabled=running,
    help="The ensemble combines whichever of these have run; Review and Evaluate show it.",
)
with st.expander("What each technique does", icon=":material/help:"):
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Technique": name,
                    "What it does": get_technique(name).description,
                    "Needs a model": "yes" if get_technique(name).needs_model else "no",
                }
                for name in available
            ]
        ),
        hide_index=True,
    )
    if trained is None:
        st.caption(
            "supervised appears once Sift has learned from reviews (it does so on its own as "
            "you review; Evaluate lists the versions)."
        )

options: dict[str, dict] = {}
for name in chosen:  # each technique's form is drawn from its typed Options
    if not technique_options_ui.form_options(name):
        continue
    with st.expander(f"{name} options", expanded=name == "zero_shot", icon=":material/tune:"):
        options[name] = technique_options_ui.option_form(name, disabled=running)

cols = st.columns(3)
device_preference = cols[0].selectbox("Device", DEVICES, key="classify_device", disabled=running)
precision = cols[1].selectbox(
    "Precision",
    PRECISIONS,
    index=PRECISIONS.index("auto"),
    key="classify_precision",
    disabled=running,
    help=(
        "auto: bf16 on a GPU or on a CPU with native bf16 (AMX/AVX512_BF16), fp32 elsewhere; "
        "a model that disagrees with fp32 on a probe set at load runs in fp32. "
        "The run's table says which precision each technique ran in, and why."
    ),
)
batch_size = cols[2].number_input(
    "Batch size",
    min_value=1,
    max_value=1024,
    value=32,
    step=8,
    key="classify_batch_size",
    disabled=running,
)
try:
    device = choose_device(device_preference)
    plan = plan_precision(device, precision)
except (ModelLoadError, PrecisionError) as error:
    device = None
    st.error(md(error), icon=":material/memory:")
else:
    checked = " if it agrees with fp32 on a probe set at load" if plan.guarded else ""
    st.caption(
        f"Models run on **{device}** in **{dtype_name(plan.dtype)}**{checked} "
        f"({md(plan.reason)}). {n_documents:,} documents to classify."
    )

# --- run ----------------------------------------------------------------------------------

if st.button(
    "Run",
    key="classify_run",
    type="primary",
    icon=":material/play_arrow:",
    disabled=running or not chosen or device is None,
):
    started = classify_ui.start_from_choices(
        store,
        project.id,
        chosen,
        multi_label=multi_label,
        options=options,
        device=device_preference,
        precision=precision,
        batch_size=int(batch_size),
    )
    if started:
        st.rerun()  # draw the page again with the settings and Run disabled while it runs
classify_ui.show_start_error()

if job is not None and running:

    @st.fragment(run_every=classify_ui.POLL_SECONDS)
    def _poll() -> None:
        if job.done:
            st.rerun()  # the whole page: outcomes shown, Run enabled again
        classify_ui.render_running(job)

    _poll()
elif job is not None:
    classify_ui.render_finished(job, store)
