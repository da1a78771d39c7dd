"""Evaluate: each technique and the ensemble against reviewed or gold labels; learn from reviews."""

import pandas as pd
import streamlit as st

from core.evaluate import evaluate_project
from core.learn import (
    NotEnoughReviews,
    fit_ensemble_weights,
    learning_history,
    train_supervised,
)
from core.results import ENSEMBLE
from ui import diagnostics_ui
from ui.auth import can, require_router
from ui.charts import confusion_heatmap, learning_curve_chart, reliability_chart
from ui.markdown import md
from ui.session import get_store, require_project

LEARN_MESSAGE = "_evaluate_message"  # (kind, text) from the last fit/train, shown once

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
evaluations = evaluate_project(store, project.id, source=source)
n_truth = max((e.n_truth for e in evaluations.values()), default=0)

if not evaluations:
    if source == "reviews":
        st.info(
            "Nothing to evaluate yet: review some documents (and run techniques) first. "
            "Metrics compare each technique's suggestion with the reviewed labels."
        )
    else:
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
    percent = {"format": "percent"}
    st.dataframe(
        summary,
        key="evaluate_summary",
        hide_index=True,
        column_config={
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
st.subheader("Learn from reviews")
kind, text = st.session_state.pop(LEARN_MESSAGE, (None, None))
if kind == "info":
    st.info(md(text))
elif kind == "success":
    st.success(md(text))

may_train = can("train")
if not may_train:
    st.caption("Fitting and training need the 'train' permission (reviewer or admin role).")
fit_col, train_col = st.columns(2, gap="large")
with fit_col:
    if st.button(
        "Fit ensemble weights",
        key="evaluate_fit_weights",
        icon=":material/tune:",
        disabled=not may_train,
    ):
        try:
            with st.spinner("Fitting weights with cross-validation…"):
                result = fit_ensemble_weights(store, project.id)
        except NotEnoughReviews as exc:
            st.session_state[LEARN_MESSAGE] = ("info", str(exc))
        else:
            metrics = result["metrics"]
            st.session_state[LEARN_MESSAGE] = (
                "success",
                f"Fitted weights on {metrics['n_reviews']} reviews: cross-validated accuracy "
                f"{metrics['cv_accuracy']:.1%} (equal weights "
                f"{metrics['equal_weights_cv_accuracy']:.1%}).",
            )
        st.rerun()
    weights = store.latest_trained_model(project.id, "ensemble_weights")
    if weights is None:
        st.caption("The ensemble uses equal weights until weights are fitted.")
    else:
        st.caption(f"Fitted {weights.created_at[:16]} on {weights.n_reviews} reviews")
        st.dataframe(
            pd.DataFrame(
                sorted(weights.params.get("weights", {}).items()), columns=["technique", "weight"]
            ),
            key="evaluate_weights",
            hide_index=True,
        )
        st.json(weights.metrics, expanded=False)
with train_col:
    if st.button(
        "Train supervised model",
        key="evaluate_train",
        icon=":material/model_training:",
        disabled=not may_train,
    ):
        try:
            with st.spinner("Embedding reviewed texts and training…"):
                _, metrics = train_supervised(store, project.id)
        except NotEnoughReviews as exc:
            st.session_state[LEARN_MESSAGE] = ("info", str(exc))
        else:
            st.session_state[LEARN_MESSAGE] = (
                "success",
                f"Trained on {metrics['n_reviews']} reviews: cross-validated accuracy "
                f"{metrics['cv_accuracy']:.1%}, macro-F1 {metrics['cv_macro_f1']:.3f}. "
                "Run the 'supervised' technique on Classify to use it.",
            )
        st.rerun()
    model = store.latest_trained_model(project.id, "supervised")
    history = learning_history(store, project.id)
    if len(history) >= 2:
        st.caption("Each retrained model, cross-validated on the reviews it was trained on")
        st.altair_chart(learning_curve_chart(history), width="stretch")
    if model is None:
        st.caption("No supervised model yet.")
    else:
        st.caption(f"Trained {model.created_at[:16]} on {model.n_reviews} reviews")
        st.dataframe(
            pd.DataFrame(
                [{"metric": k, "value": v} for k, v in model.metrics.items()],
            ),
            key="evaluate_supervised_metrics",
            hide_index=True,
        )
