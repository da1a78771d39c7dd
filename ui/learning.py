"""Keeping the learned configuration fresh while people review: the background refresh.

After every saved review (and undo) the Review page calls `schedule_refresh`;
`core.learning.loop` decides whether enough labels changed (max(3, 10%) since the last
judged candidate) and, if so, runs the one learning path on one worker thread shared by the
whole server: train a candidate, judge it out of fold, adopt it or keep the current version
and record why. The reviewer never waits: the queue's next batch uses whatever is current.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

from core.learning.loop import (
    DEFAULT_POLICY,
    RefreshPolicy,
    learning_state,
    maybe_refresh,
    refresh_in_flight,
)
from ui.background import leave_a_core_for_the_pages
from ui.review_format import plural

log = logging.getLogger(__name__)
_VISITED = "_learning_refresh_checked"  # session state: projects checked on first visit


@st.cache_resource(show_spinner=False)
def _refresh_executor() -> ThreadPoolExecutor:
    # One worker for the server: refreshes queue up rather than compete for the CPU.
    leave_a_core_for_the_pages()
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sift-refresh")


def schedule_refresh(project_id: int) -> None:
    """Start a background refresh of the project's learned configuration if one is due;
    returns at once.

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


def learning_status(store, project_id: int, policy: RefreshPolicy = DEFAULT_POLICY) -> str:
    """One sentence or three: which version the suggestions come from, what it learned from,
    whether the last candidate was kept out and why, and when the next one comes."""
    state = learning_state(store, project_id, policy)
    parts = []
    current, last = state.current, state.last
    if current is None:
        if state.n_reviews < policy.min_reviews:
            return (
                f"Sift starts learning from your reviews after {policy.min_reviews} labelled "
                "documents (in the background; you never wait for it)."
            )
        parts.append("Suggestions come from the techniques alone (nothing learned adopted yet).")
    else:
        candidate = current.metrics.get("candidate") or {}
        baseline = current.metrics.get("baseline") or {}
        pinned = " (pinned)" if store.pinned_model_version(project_id) == current.id else ""
        parts.append(
            f"Suggestions from v{current.id}{pinned}, learned from "
            f"{plural(current.n_reviews, 'review')}: "
            f"out-of-fold accuracy {candidate.get('accuracy', 0):.0%} "
            f"(zero-review baseline {baseline.get('accuracy', 0):.0%})."
        )
    if last is not None and not last.adopted and (current is None or last.id > current.id):
        parts.append(
            f"The newest candidate (v{last.id}, {plural(last.n_reviews, 'review')}) "
            f"was {last.reason}."
        )
    if refresh_in_flight(store, project_id):
        parts.append("Learning from your latest reviews in the background…")
    elif state.due:
        parts.append(f"{plural(state.changes, 'label change')} since: learning from them next.")
    elif state.changes:
        parts.append(
            f"{plural(state.changes, 'label change')} since; it learns again after "
            f"{state.needed - state.changes:,} more."
        )
    return " ".join(parts)


def render_learning_status(store, project_id: int) -> None:
    st.caption(learning_status(store, project_id))
