"""The Evaluate page's diagnostics blocks: which technique to trust, which rules to fix, which
keywords to add.

Thin over `core.evaluation.diagnostics` (Snorkel-style coverage/overlap/conflict, accuracy,
calibration, the track record of each pattern and keyword) and
`core.learning.rule_suggestions`. User text (labels, patterns, keywords, documents) is only
shown through dataframes and `st.text`, never as markdown or HTML.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.evaluation.diagnostics import ProjectDiagnostics
from core.learning.rule_suggestions import apply_suggestion, suggest_for_project
from core.store import StoreError
from core.taxonomy import TaxonomyError
from ui import evaluation_cache
from ui.markdown import md

MAX_EVIDENCE_ROWS = 50
SNIPPET = 200  # characters of a wrong document shown
SUGGESTION_FLASH = "_diagnostics_flash"  # (kind, text) after adding a keyword


def render_technique_diagnostics(store, project_id: int, source: str) -> ProjectDiagnostics:
    diagnostics = evaluation_cache.diagnostics(store, project_id, source)
    if not diagnostics.techniques:
        st.caption("Run some techniques on Classify to diagnose them.")
        return diagnostics
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "technique": d.technique,
                    "coverage": d.coverage,
                    "overlap": d.overlap,
                    "conflict": d.conflict,
                    "reviewed covered": d.n_covered_truth,
                    "accuracy": d.accuracy if d.n_covered_truth else None,
                    "macro-F1": d.macro_f1 if d.n_covered_truth else None,
                    "ECE": d.ece if d.n_covered_truth else None,
                }
                for d in diagnostics.techniques
            ]
        ),
        key="diagnostics_techniques",
        hide_index=True,
        column_config={
            "coverage": st.column_config.NumberColumn(
                format="percent", help="share of all documents the technique voted on"
            ),
            "overlap": st.column_config.NumberColumn(
                format="percent", help="voted, and another technique voted too"
            ),
            "conflict": st.column_config.NumberColumn(
                format="percent", help="voted, and another voting technique decided otherwise"
            ),
            "accuracy": st.column_config.NumberColumn(format="percent"),
            "macro-F1": st.column_config.NumberColumn(format="%.3f"),
            "ECE": st.column_config.NumberColumn(
                format="%.3f", help="expected calibration error: lower is better"
            ),
        },
    )
    return diagnostics


def render_evidence_record(store, project_id: int, diagnostics: ProjectDiagnostics) -> None:
    """Patterns and keywords most often wrong on reviewed documents, and those documents."""
    wrong = [e for e in diagnostics.evidence if e.n_wrong > 0][:MAX_EVIDENCE_ROWS]
    if not wrong:
        fired = any(e.n_fired for e in diagnostics.evidence)
        st.caption(
            "No pattern or keyword has been wrong on a reviewed document."
            if fired
            else "No rule or keyword has fired on a reviewed document yet."
        )
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "technique": e.technique,
                    "kind": e.kind,
                    "label": e.label,
                    "pattern or keyword": e.detail,
                    "fired": e.n_fired,
                    "wrong": e.n_wrong,
                    "precision": e.n_correct / e.n_fired,
                }
                for e in wrong
            ]
        ),
        key="diagnostics_evidence",
        hide_index=True,
        column_config={"precision": st.column_config.NumberColumn(format="percent")},
    )
    index = st.selectbox(
        "Show the documents it was wrong on",
        range(len(wrong)),
        format_func=lambda i: f"{wrong[i].kind} {wrong[i].detail!r} for {wrong[i].label}",
        key="diagnostics_evidence_pick",
    )
    chosen = wrong[index]
    documents = store.get_documents(project_id, list(chosen.wrong_documents))
    reviews = store.current_reviews(project_id)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "reviewed labels": ", ".join(reviews[d.id].labels) if d.id in reviews else "",
                    "text": _snippet(d.text),
                }
                for d in documents
            ]
        ),
        key="diagnostics_wrong_documents",
        hide_index=True,
        column_config={"text": st.column_config.TextColumn(width="large")},
    )


def render_rule_suggestions(store, project_id: int, *, may_edit: bool) -> None:
    """Keywords that separate a label from the others on reviewed documents; Add puts one in
    the label's keywords (the lexicon technique uses it on its next run)."""
    kind, text = st.session_state.pop(SUGGESTION_FLASH, (None, None))
    if kind == "success":
        st.success(md(text))
    elif kind == "error":
        st.error(md(text))
    suggestions = {
        label: items for label, items in suggest_for_project(store, project_id).items() if items
    }
    if not suggestions:
        st.caption(
            "No suggestions yet: they need at least two reviewed documents of a label sharing "
            "a word or phrase that other labels' documents rarely use."
        )
        return
    if not may_edit:
        st.caption("Adding keywords needs the 'edit_taxonomy' permission (admin role).")
    label = st.selectbox("Label", list(suggestions), key="diagnostics_suggest_label")
    header = st.columns([4, 2, 2, 1])
    for column, title in zip(header, ["keyword", "precision", "matched", ""]):
        column.caption(title)
    for i, suggestion in enumerate(suggestions[label]):
        cols = st.columns([4, 2, 2, 1], vertical_alignment="center")
        cols[0].text(suggestion.term)
        cols[1].text(f"{suggestion.precision:.0%}")
        cols[2].text(f"{suggestion.support} of {suggestion.n_matched} reviewed")
        cols[3].button(
            "Add",
            key=f"diagnostics_add_{i}",
            on_click=_add_keyword,
            args=(store, project_id, label, suggestion.term),
            disabled=not may_edit,
            help="Add this keyword to the label in the taxonomy",
        )


def _add_keyword(store, project_id: int, label: str, term: str) -> None:
    try:
        taxonomy = store.load_taxonomy(project_id)
        store.save_taxonomy(project_id, apply_suggestion(taxonomy, label, term))
    except (StoreError, TaxonomyError, ValueError, KeyError, PermissionError) as exc:
        st.session_state[SUGGESTION_FLASH] = ("error", f"Could not add {term!r}: {exc}")
        return
    st.session_state[SUGGESTION_FLASH] = (
        "success",
        f"Added the keyword {term!r} to {label!r}. Run the lexicon technique again on Classify "
        "to use it.",
    )


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"
