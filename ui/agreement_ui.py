"""The Evaluate page's sections on people: agreement between reviewers, and each reviewer's
progress, throughput, agreement with the others and activity.

The numbers are core.evaluation.agreement / core.evaluation.reviewers; computed once per
state of the reviews (`review_watermark` moves on every review and undo) and of the
taxonomy and settings, not on every rerun. User text (reviewer names, labels, document
texts, notes) is shown in dataframes, which render it as text, or escaped with ui.markdown.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from core.evaluation.agreement import NO_LABEL, OVERALL, Agreement, project_agreement
from core.evaluation.reviewers import (
    ACTIVE_GAP,
    activity_log,
    documents_done,
    project_reviewer_stats,
)
from core.review_settings import review_settings
from ui.markdown import md

MAX_ENTRIES = 16
MAX_DOCUMENTS = 200  # rows of the disagreement table (the CLI's --json lists them all)
MAX_TEXT = 300  # characters of a document's text in that table
LOG_ROWS = 50
REVIEW_PAGE = "review"  # st.navigation's url_path of pages/review.py


def _state_key(store, project_id: int) -> tuple:
    project = store.get_project(project_id)
    return (
        str(store.path),
        store.review_watermark(project_id),
        tuple(store.load_taxonomy(project_id).names),
        review_settings(project).reviews_wanted,
        store.count_documents(project_id),
    )


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner="Comparing reviewers…")
def _agreement(_store, project_id: int, key: tuple) -> Agreement:
    return project_agreement(_store, project_id)


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _reviewers(_store, project_id: int, key: tuple) -> list:
    return project_reviewer_stats(_store, project_id, _agreement(_store, project_id, key))


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _done(_store, project_id: int, key: tuple) -> int:
    wanted = key[3]
    return documents_done(
        _store.review_history(project_id), _store.document_ids(project_id), wanted
    )


def _document_link(project_id: int, document_id: str) -> str:
    """The Review page opened on this document (ui.deep_links reads these parameters)."""
    return f"{REVIEW_PAGE}?{urlencode({'project': project_id, 'doc': document_id})}"


def _labels(labels) -> str:
    return ", ".join(labels) if labels else NO_LABEL


def render_agreement(store, project_id: int) -> Agreement:
    """Per-label and overall kappa/alpha, the pairs, and the documents behind a chosen
    row's disagreements."""
    result = _agreement(store, project_id, _state_key(store, project_id))
    if not result.n_multi:
        st.info(
            "No document has reviews from two reviewers yet, so there is no agreement to "
            "measure. Ask for 2 or more reviews per document in the project's review "
            "settings, so that each reviewer's queue holds documents others reviewed too."
        )
        return result
    st.caption(
        f"{result.n_multi:,} of {result.n_reviewed:,} reviewed documents have reviews from "
        f"two or more reviewers ({md(', '.join(result.reviewers))}). Each reviewer's latest "
        "accept or correction counts (adjudications do not). Per label, each review says "
        "present or absent; *overall* compares whole label sets. Kappa: Cohen's, the mean "
        "over pairs of reviewers; alpha: Krippendorff's (nominal), all reviewers at once. "
        "Empty: undefined (no variation to agree on)."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "label": row.label,
                    "kappa": row.kappa,
                    "alpha": row.alpha,
                    "agreement": row.percent,
                    "documents": row.n_documents,
                    "disagreements": row.n_disagreements,
                }
                for row in result.rows()
            ]
        ),
        key="agreement_table",
        hide_index=True,
        column_config={
            "kappa": st.column_config.NumberColumn(format="%.3f", help="Cohen's kappa"),
            "alpha": st.column_config.NumberColumn(format="%.3f", help="Krippendorff's alpha"),
            "agreement": st.column_config.NumberColumn(
                format="percent", help="documents where all their reviewers agree"
            ),
        },
    )
    if result.pairs:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "reviewer": pair.reviewer_a,
                        "with": pair.reviewer_b,
                        "documents": pair.n_documents,
                        "same labels": pair.percent,
                        "kappa": pair.kappa,
                    }
                    for pair in result.pairs
                ]
            ),
            key="agreement_pairs",
            hide_index=True,
            column_config={
                "same labels": st.column_config.NumberColumn(format="percent"),
                "kappa": st.column_config.NumberColumn(format="%.3f"),
            },
        )
    render_disagreements(store, project_id, result)
    return result


def render_disagreements(store, project_id: int, result: Agreement) -> None:
    rows = [row for row in result.rows() if row.n_disagreements]
    if not rows:
        st.success("The reviewers agree on every document they share.")
        return
    chosen = st.selectbox(
        "Documents behind the disagreements",
        [row.label for row in rows],
        format_func=lambda label: (
            f"{'all labels' if label == OVERALL else label}: "
            f"{_documents(result.row(label).n_disagreements)}"
        ),
        key="agreement_label",
    )
    row = result.row(chosen or OVERALL)
    shown = list(row.disagreements[:MAX_DOCUMENTS])
    texts = {doc.id: doc.text for doc in store.get_documents(project_id, shown)}
    table = []
    for doc_id in shown:
        entry = {
            "open": _document_link(project_id, doc_id),
            "text": texts[doc_id][:MAX_TEXT] + ("…" if len(texts[doc_id]) > MAX_TEXT else ""),
        }
        for reviewer in result.reviewers:
            labels = result.opinions[doc_id].get(reviewer)
            entry[reviewer] = None if labels is None else _labels(labels)
        adjudicated = result.adjudicated.get(doc_id)
        entry["adjudicated"] = None if adjudicated is None else _labels(adjudicated)
        table.append(entry)
    if len(row.disagreements) > MAX_DOCUMENTS:
        st.caption(
            f"The first {MAX_DOCUMENTS:,} of {len(row.disagreements):,}; "
            "`python -m core agreement PROJECT --json` lists them all."
        )
    st.dataframe(
        pd.DataFrame(table),
        key="agreement_documents",
        hide_index=True,
        column_config={
            "open": st.column_config.LinkColumn(
                "open", display_text="Review", help="open this document on the Review page"
            ),
            "adjudicated": st.column_config.TextColumn(help="the final label, when recorded"),
        },
    )


def render_reviewers(store, project_id: int) -> None:
    """Each reviewer's progress, throughput and agreement, then the activity log."""
    key = _state_key(store, project_id)
    rows = _reviewers(store, project_id, key)
    if not rows:
        st.info("Nobody has reviewed anything yet.")
        return
    wanted = key[3]
    gap = int(ACTIVE_GAP.total_seconds() // 60)
    done = _done(store, project_id, key)
    st.markdown(
        f"**{done:,} of {_documents(key[4])} done** ({wanted} review"
        f"{'s' if wanted != 1 else ''} wanted per document, or adjudicated)."
    )
    st.caption(
        f"Reviewed: documents with the reviewer's accept or correction, of {key[4]:,}. "
        f"Open to them: what their queue still holds ({wanted} review"
        f"{'s' if wanted != 1 else ''} wanted per document). Reviews/hour: actions over active "
        f"time, the gaps between a reviewer's consecutive actions up to {gap} minutes "
        "(longer ones are breaks; the first action after a break starts a session). "
        "Agreement: the share of their documents shared with another reviewer where both "
        "chose the same labels; kappa per other reviewer."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "reviewer": row.reviewer,
                    "reviewed": row.n_reviewed,
                    "of documents": row.share,
                    "open to them": row.n_open,
                    "actions": row.n_actions,
                    "reviews/hour": row.per_hour,
                    "active hours": row.active_hours,
                    "sessions": row.sessions,
                    "shared documents": row.n_shared,
                    "agreement": row.agreement,
                    "kappa with": "; ".join(
                        f"{other} {'n/a' if value is None else f'{value:.2f}'}"
                        for other, value in row.kappa.items()
                    ),
                    "last active": _when(row.last_at),
                }
                for row in rows
            ]
        ),
        key="reviewers_table",
        hide_index=True,
        column_config={
            "of documents": st.column_config.NumberColumn(format="percent"),
            "reviews/hour": st.column_config.NumberColumn(format="%.1f"),
            "active hours": st.column_config.NumberColumn(format="%.2f"),
            "agreement": st.column_config.NumberColumn(format="percent"),
        },
    )
    who = st.selectbox(
        "Activity of",
        [None, *(row.reviewer for row in rows)],
        format_func=lambda name: "everyone" if name is None else name,
        key="reviewers_activity_of",
    )
    log = activity_log(store.review_history(project_id), limit=LOG_ROWS, reviewer=who)
    st.dataframe(
        pd.DataFrame(
            [{**entry, "time": _when(entry["time"])} for entry in log],
            columns=["time", "reviewer", "document", "decision", "labels", "note", "undoes"],
        ),
        key="reviewers_activity",
        hide_index=True,
    )
    st.caption(f"The latest {LOG_ROWS} actions, newest first (times in UTC).")


def _documents(n: int) -> str:
    return f"{n:,} document{'' if n == 1 else 's'}"


def _when(stamp: str) -> str:
    """'2026-01-01 09:30' from the store's UTC ISO-8601 stamps."""
    return stamp[:16].replace("T", " ")


def render(store, project_id: int) -> None:
    """Both sections, as the Evaluate page shows them."""
    st.subheader("Agreement between reviewers")
    render_agreement(store, project_id)
    st.subheader("Reviewers")
    render_reviewers(store, project_id)


__all__ = ["render", "render_agreement", "render_disagreements", "render_reviewers"]
