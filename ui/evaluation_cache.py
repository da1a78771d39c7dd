"""The Evaluate page's numbers, computed once per state of the project, not on every rerun.

Measuring reads every document's latest predictions and every review, so on a big project it
costs seconds; a widget change (another technique in a select box) must not pay it again.
Each result is cached by `state_key`: the prediction table's signature (documents, runs,
learned version, settings, labels: `core.predictions.table_signature`) and the newest review
(`review_watermark`: a review, an undo or an import of reviews moves it). Anything that could
change a number changes the key; a few entries per server, as copies (st.cache_data).
"""

from __future__ import annotations

import streamlit as st

from core.evaluation.diagnostics import ProjectDiagnostics, diagnose_project
from core.evaluation.metrics import evaluate_gold, evaluate_project
from core.predictions import table_signature

MAX_ENTRIES = 16


def state_key(store, project_id: int) -> tuple:
    """Changes whenever any evaluation of the project could."""
    return (
        str(store.path),
        table_signature(store, project_id),
        store.review_watermark(project_id),
    )


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner="Measuring…")
def _evaluations(_store, project_id: int, source: str, key: tuple):
    if source == "gold":
        return evaluate_gold(_store, project_id)
    return evaluate_project(_store, project_id, source=source), None


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner="Diagnosing…")
def _diagnostics(_store, project_id: int, source: str, key: tuple) -> ProjectDiagnostics:
    return diagnose_project(_store, project_id, source=source)


def evaluations(store, project_id: int, source: str):
    """(technique -> Evaluation, GoldMatch | None), as evaluate_project / evaluate_gold give."""
    return _evaluations(store, project_id, source, state_key(store, project_id))


def diagnostics(store, project_id: int, source: str) -> ProjectDiagnostics:
    return _diagnostics(store, project_id, source, state_key(store, project_id))
