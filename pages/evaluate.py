"""Evaluate: each technique and the ensemble against reviewed or gold labels (learned ones out
of fold); the versions Sift learned from reviews, with pin and roll back; agreement between
reviewers and each reviewer's progress (ui.agreement_ui)."""

import pandas as pd
import streamlit as st

from core.ingest.gold import MAX_LISTED, documents
from core.predictions import ENSEMBLE
from ui import agreement_ui, diagnostics_ui, evaluation_cache, versions_ui
from ui.auth import can, require_router
from ui.charts import confusion_heatmap, reliability_chart
from ui.markdown import md
from ui.session import get_store, require_project

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Evaluate")
project = require_project()
store = get_store()

source = st.segmented_control(
    "Truth",
    ["reviews", "gold"],
    format_func={"reviews": "Reviewed labels", "gold": "Uploaded gold labels"}.get,
    default="reviews",
    key="evaluate_source",
)
source = source or "reviews"
truth_name = {"reviews": "reviewed", "gold": "gold"}[source]
evaluations, gold = evaluation_cache.evaluations(store, project.id, source)
n_truth = max((e.n_truth for e in evaluations.values()), default=0)
if gold is not None and gold.n_documents and not gold.n_matched_documents:
    names = ", ".join(gold.label_names[:MAX_LISTED]) or "(none yet)"
    if len(gold.label_names) > MAX_LISTED:
        names += f" and {len(gold.label_names) - MAX_LISTED:,} more"
    st.warning(
        f"None of the {gold.n_documents:,} documents with uploaded gold labels has a label "
        "that matches the taxonomy (even ignoring case), so there is nothing to measure. "
        f"Gold labels: {md(gold.unknown_text())}. Taxonomy labels: {md(names)}. Name the "
        "taxonomy's labels like the gold labels on Taxonomy to evaluate against them.",
        icon=":material/warning:",
    )
elif gold is not None and gold.n_documents:
    if gold.mapped:
        lines = gold.mapping_lines()
        more = f"; and {len(lines) - MAX_LISTED:,} more" if len(lines) > MAX_LISTED else ""
        st.caption(
            "Gold labels matched to taxonomy labels ignoring case: "
            + md("; ".join(lines[:MAX_LISTED]) + more)
        )
    if gold.unknown:
        left_out = gold.n_unmatched_documents
        st.warning(
            f"Ignored gold labels that match no taxonomy label: {md(gold.unknown_text())}."
            + (
                f" Left out: {documents(left_out)} with no gold label from the taxonomy."
                if left_out
                else ""
            ),
            icon=":material/info:",
        )

if not evaluations:
    if source == "reviews":
        st.info(
            "Nothing to evaluate yet: review some documents (and run techniques) first. "
            "Metrics compare each technique's suggestion with the reviewed labels."
        )
    elif gold is not None and gold.n_matched_documents:
        st.info(
            f"{gold.n_matched_documents:,} documents have gold labels from the taxonomy, but "
            "no technique has scored them yet: run some on Classify."
        )
    elif gold is None or not gold.n_documents:
        st.info(
            "No uploaded gold labels with predictions. Upload a CSV with a label column "
            "(choose it as the gold-label column) and classify it."
        )
else:
    st.caption(f"{n_truth:,} documents with {truth_name} labels")
    names = [ENSEMBLE, *sorted(name for name in evaluations if name != ENSEMBLE)]
    summary = pd.DataFrame(
        [
            {
                "technique": name,
                "measured": "out of fold" if evaluations[name].learned else "as run",
                "coverage": evaluations[name].coverage,
                "covered": evaluations[name].n_covered,
                "accuracy": evaluations[name].accuracy,
                "macro-F1": evaluations[name].macro_f1,
                "ECE": evaluations[name].ece,
            }
            for name in names
            if name in evaluations
        ]
    )
    held_out = max((e.n_out_of_fold for e in evaluations.values() if e.learned), default=0)
    if held_out:
        st.caption(
            "Learned techniques are measured out of fold: on the "
            f"{held_out:,} documents the current version learned from, each row is the "
            "prediction the document got while its label was held out of training; on the "
            "others, the live suggestion (it never saw their labels)."
        )
    percent = {"format": "percent"}
    st.dataframe(
        summary,
        key="evaluate_summary",
        hide_index=True,
        column_config={
            "measured": st.column_config.TextColumn(
                help="out of fold: never scored on the documents it was trained on"
            ),
            "coverage": st.column_config.NumberColumn(help="share not abstained", **percent),
            "accuracy": st.column_config.NumberColumn(**percent),
            "macro-F1": st.column_config.NumberColumn(format="%.3f"),
            "ECE": st.column_config.NumberColumn(
                format="%.3f", help="expected calibration error: lower is better"
            ),
        },
    )

    chosen = st.selectbox(
        "Technique", [name for name in names if name in evaluations], key="evaluate_technique"
    )
    evaluation = evaluations[chosen]
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Per label")
        st.dataframe(
            pd.DataFrame(
                evaluation.per_label, columns=["label", "precision", "recall", "f1", "support"]
            ),
            key="evaluate_per_label",
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(format="%.2f")
                for name in ("precision", "recall", "f1")
            },
        )
        st.subheader("Calibration")
        if evaluation.reliability:
            st.caption(f"ECE {evaluation.ece:.3f}: the dashed line is perfect calibration.")
            st.altair_chart(reliability_chart(evaluation.reliability), width="stretch")
        else:
            st.caption("No covered documents to calibrate on.")
    with right:
        st.subheader("Confusion matrix")
        if evaluation.confusion:
            st.altair_chart(confusion_heatmap(evaluation.labels, evaluation.confusion))
        else:
            st.caption("Multi-label projects have per-label scores instead (left).")

st.divider()
st.subheader("Diagnostics per technique")
st.caption(
    "Coverage, overlap and conflict are shares of all documents; accuracy, macro-F1 and "
    f"calibration are on the documents with {truth_name} labels each technique voted on."
)
diagnostics = diagnostics_ui.render_technique_diagnostics(store, project.id, source)
st.subheader("Patterns and keywords most often wrong")
diagnostics_ui.render_evidence_record(store, project.id, diagnostics)
st.subheader("Suggested keywords")
diagnostics_ui.render_rule_suggestions(store, project.id, may_edit=can("edit_taxonomy"))

st.divider()
st.subheader("Learning from reviews")
versions_ui.render_learning(store, project.id, may_train=can("train"))

st.divider()
agreement_ui.render(store, project.id)  # agreement between reviewers; each reviewer's numbers
