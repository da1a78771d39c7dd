"""Keeping the learned models fresh while people review: the background refresh.

After every saved review the Review page calls `schedule_refresh`; `core.active_learning`
decides whether enough new reviews arrived (max(5, 10%) since the last model) and, if so,
retrains the supervised model, scores the project with it and refits the ensemble weights on
one worker thread shared by the whole server. The reviewer never waits: the next queue
rebuild (its signature changes with the new run) simply uses the new model.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

from core.active_learning import (
    RefreshPolicy,
    labelled_review_count,
    maybe_refresh,
    refresh_in_flight,
)

log = logging.getLogger(__name__)
_VISITED = "_learning_refresh_checked"  # session state: projects checked on first visit


@st.cache_resource(show_spinner=False)
def _refresh_executor() -> ThreadPoolExecutor:
    # One worker for the server: refreshes queue up rather than compete for the CPU.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sift-refresh")


def schedule_refresh(project_id: int) -> None:
    """Start a background refresh of the project's models if one is due; returns at once.

    A review is already saved when this runs, so nothing here may fail the reviewer's action:
    errors are logged (and the refresh is tried again after the next review).
    """
    from ui.session import system_store

    try:
        maybe_refresh(system_store(), project_id, _refresh_executor())
    except Exception:
        log.exception("could not schedule the model refresh of project %s", project_id)


def refresh_on_first_visit(project_id: int) -> None:
    """Once per session and project: start a refresh if one is due, for reviews that arrived
    another way (the command line, another server process, an import)."""
    visited = st.session_state.setdefault(_VISITED, set())
    if project_id not in visited:
        visited.add(project_id)
        schedule_refresh(project_id)


def render_learning_status(store, project_id: int) -> None:
    """One caption: what the supervised model was trained on, and whether it is retraining."""
    model = store.latest_trained_model(project_id, "supervised")
    policy = RefreshPolicy()
    if refresh_in_flight(store, project_id):
        text = "Learning from your reviews: retraining in the background…"
    elif model is None and labelled_review_count(store, project_id) >= policy.min_reviews:
        text = (
            "Sift learns from your reviews with your next one (a model trained in the background)."
        )
    elif model is None:
        text = (
            f"Sift starts learning from your reviews after {policy.min_reviews} labelled "
            "documents (a model trained in the background; you never wait for it)."
        )
    else:
        text = (
            f"Learned from {model.n_reviews:,} reviews; retrains in the background after "
            f"{policy.min_new_reviews} more (or 10% more)."
        )
    st.caption(text)
