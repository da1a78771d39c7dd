"""Classify: run techniques over the project's documents, with progress, cancel and a cache."""

import pandas as pd
import streamlit as st

from core.entities import DEFAULT_BACKEND
from core.learning.trained import current_supervised_model
from core.models import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_NLI_MODEL,
    DEVICES,
    KNOWN_NLI_MODELS,
    PRECISIONS,
    ModelLoadError,
    choose_device,
    choose_dtype,
    dtype_name,
)
from core.predictions import project_settings
from core.summaries import METHODS as SUMMARY_METHODS
from core.techniques import DEFAULT_TECHNIQUES, get_technique, known_techniques
from core.techniques.zero_shot import DEFAULT_TEMPLATE
from ui import classify_ui
from ui.auth import require, require_router
from ui.markdown import md
from ui.session import get_store, require_project, require_taxonomy

NER_BACKENDS = ("spacy+patterns", "patterns", "spacy", "transformers+patterns", "transformers")

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

job = classify_ui.current_job(project.id)
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
if "zero_shot" in chosen:
    with st.expander("zero_shot options", expanded=True, icon=":material/tune:"):
        cols = st.columns(2)
        known = cols[0].selectbox(
            "NLI model",
            list(dict.fromkeys([DEFAULT_NLI_MODEL, *KNOWN_NLI_MODELS.values()])),
            key="classify_zero_shot_model",
            help="Hugging Face ids: they need internet, or a copy in the Hugging Face cache.",
        )
        other = cols[1].text_input(
            "…or another model: a local folder or a hub id",
            key="classify_zero_shot_other",
            placeholder="/models/deberta-v3-base-mnli",
            help="Air-gapped? Copy an NLI model folder to this machine and give its path. "
            "Used instead of the list when filled in.",
        )
        model = other.strip() or known
        template = st.text_input(
            "Hypothesis template",
            value=DEFAULT_TEMPLATE,
            key="classify_zero_shot_template",
            help="{} is replaced by each label's description (or its name).",
        )
        options["zero_shot"] = {"model": model, "template": template}
if "embeddings" in chosen:
    with st.expander("embeddings options", expanded=False, icon=":material/tune:"):
        model = st.text_input(
            "Sentence-embedding model",
            value=DEFAULT_EMBEDDING_MODEL,
            key="classify_embeddings_model",
            help="packaged:all-MiniLM-L6-v2 ships with Sift and works offline; or a hub id / "
            "local folder of a sentence-transformers model.",
        )
        options["embeddings"] = {"model": model}
if "ner" in chosen:
    with st.expander("ner options", expanded=False, icon=":material/tune:"):
        backend = st.selectbox(
            "Entity backend",
            NER_BACKENDS,
            index=NER_BACKENDS.index(DEFAULT_BACKEND) if DEFAULT_BACKEND in NER_BACKENDS else 0,
            key="classify_ner_backend",
            help="spaCy's small English model and the business patterns work offline.",
        )
        options["ner"] = {"backend": backend}
if "summarize" in chosen:
    with st.expander("summarize options", expanded=False, icon=":material/tune:"):
        cols = st.columns(2)
        method = cols[0].selectbox("Summary", SUMMARY_METHODS, key="classify_summarize_method")
        then = cols[1].selectbox(
            "Then classify the summary with",
            [name for name in available if name not in ("summarize", "supervised")],
            index=0,
            key="classify_summarize_then",
        )
        options["summarize"] = {"method": method, "then": then}

cols = st.columns(3)
device_preference = cols[0].selectbox("Device", DEVICES, key="classify_device", disabled=running)
precision = cols[1].selectbox(
    "Precision",
    PRECISIONS,
    index=PRECISIONS.index("fp32"),
    key="classify_precision",
    disabled=running,
    help="auto: bf16/fp16 on a GPU, fp32 on a CPU. bf16 on a CPU is opt-in.",
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
    dtype = dtype_name(choose_dtype(device, precision))
except ModelLoadError as error:
    device = None
    st.error(md(error), icon=":material/memory:")
else:
    st.caption(f"Models run on **{device}** in **{dtype}**. {n_documents:,} documents to classify.")

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
    classify_ui.render_finished(job)
