"""The Projects page's review settings for the open project: reviews wanted per document,
whether suggestions are shown, and the guidelines (core.review_settings owns their meaning).

Saved with one button (one update_project_settings call, which takes the classify
permission, as the Classify page's settings do); the other settings keys are kept.
"""

from __future__ import annotations

import streamlit as st

from core.review_settings import (
    MAX_GUIDELINES,
    MAX_REVIEWS_WANTED,
    ReviewSettingsError,
    checked_review_settings,
    review_settings,
    with_review_settings,
)
from core.store import StoreError
from ui.markdown import md

WANTED = "projects_reviews_wanted"
SUGGESTIONS = "projects_show_suggestions"
GUIDELINES = "projects_guidelines"
SEEDED_FOR = "_projects_review_settings_for"  # the project the widgets were filled from
MESSAGE = "_projects_review_settings_message"  # ("success" | "error", text), shown once


def _seed(project) -> None:
    """Fill the widgets from the project when it changes (or Streamlit dropped them)."""
    if st.session_state.get(SEEDED_FOR) == project.id and all(
        key in st.session_state for key in (WANTED, SUGGESTIONS, GUIDELINES)
    ):
        return
    current = review_settings(project)
    st.session_state[WANTED] = current.reviews_wanted
    st.session_state[SUGGESTIONS] = current.show_suggestions
    st.session_state[GUIDELINES] = current.guidelines
    st.session_state[SEEDED_FOR] = project.id


def _save(store, project_id: int) -> None:
    try:
        checked = checked_review_settings(
            reviews_wanted=st.session_state.get(WANTED),
            show_suggestions=bool(st.session_state.get(SUGGESTIONS)),
            guidelines=st.session_state.get(GUIDELINES) or "",
        )
        current = store.get_project(project_id)  # now: another session may have changed it
        store.update_project_settings(project_id, with_review_settings(current.settings, checked))
    except (ReviewSettingsError, StoreError) as error:
        st.session_state[MESSAGE] = ("error", f"Review settings not saved: {error}")
        return
    st.session_state[MESSAGE] = (
        "success",
        f"Review settings saved: {checked.reviews_wanted} review"
        f"{'' if checked.reviews_wanted == 1 else 's'} per document, suggestions "
        f"{'shown' if checked.show_suggestions else 'hidden'}.",
    )


def render_review_settings(store, project) -> None:
    """A folded block under the project list."""
    _seed(project)
    with st.expander("Review settings", icon=":material/groups:"):
        cols = st.columns([1, 1])
        cols[0].number_input(
            "Reviews wanted per document",
            min_value=1,
            max_value=MAX_REVIEWS_WANTED,
            step=1,
            key=WANTED,
            help="1: one reviewer per document. More: each reviewer's queue holds documents "
            "they have not reviewed that have fewer reviewers than this; a document is done "
            "when it has this many (for agreement studies).",
        )
        cols[1].toggle(
            "Show suggestions",
            key=SUGGESTIONS,
            help="Off: the Review page hides the model's suggestion, its scores and the "
            "techniques' votes, so reviewers are not anchored by them.",
        )
        st.text_area(
            "Guidelines",
            key=GUIDELINES,
            max_chars=MAX_GUIDELINES,
            height=160,
            placeholder="How to decide between labels; shown on the Review page, as typed.",
        )
        st.button(
            "Save review settings",
            key="projects_review_settings_save",
            type="primary",
            on_click=_save,
            args=(store, project.id),
        )
        kind, message = st.session_state.pop(MESSAGE, (None, None))
        if kind == "success":
            st.success(md(message), icon=":material/check_circle:")
        elif kind == "error":
            st.error(md(message), icon=":material/error:")


__all__ = ["render_review_settings"]
