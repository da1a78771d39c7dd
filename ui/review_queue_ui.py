"""The Review page's queue state: the prediction table, the queue controls and the pass.

The pass (`core.review_queue.ReviewPass`) lives in session state. It is started again (from
the top) when the order, the filters or the Refresh seed change; its next batch is picked
from the newest prediction table only when the current batch is finished, so a model
refresh never moves the queue under the reviewer.
"""

from __future__ import annotations

import streamlit as st

from core.predictions import PredictionTable, load_predictions, table_signature
from core.review_queue import ORDERS, QueueFilters, ReviewPass, next_batch

WALK = "_review_walk"  # the ReviewPass: a walk through the queue
WALK_KEY = "_review_walk_key"  # (project id, order, filters, seed) it was started for
FLASH = "_review_flash"  # (kind, message) shown once on the next run
SEED = "_review_seed"  # bumped by Refresh / "Start a new pass"
ORDER_NAMES = {
    "needed": "Most needed next",
    "newest": "Newest first",
    "random": "Random",
    "by_label": "By suggested label",
}
STATUS_NAMES = {"unreviewed": "Unreviewed", "reviewed": "Reviewed", "all": "All"}


@st.cache_resource(max_entries=8, show_spinner="Loading predictions…")
def _cached_table(_store, db_path: str, project_id: int, signature: tuple) -> PredictionTable:
    # Shared between sessions: project data, read-only; a new run, import or learned
    # version changes the signature.
    return load_predictions(_store, project_id)


def prediction_table(store, project_id: int) -> PredictionTable:
    return _cached_table(store, str(store.path), project_id, table_signature(store, project_id))


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    from ui.markdown import md

    kind, message = st.session_state.pop(FLASH, (None, None))
    if kind == "success":
        st.toast(md(message), icon=":material/check:")
    elif kind == "error":
        st.error(md(message))
    elif kind == "info":
        st.info(md(message))


def new_pass() -> None:
    """Start the queue again from the top (skipped and flagged documents come back)."""
    st.session_state[SEED] = st.session_state.get(SEED, 0) + 1


@st.cache_data(ttl=30, show_spinner=False)
def _context_fields(_store, db_path: str, project_id: int, n_documents: int) -> list[str]:
    # read again when an import changes the document count (or after 30 s)
    return _store.context_fields(project_id)


def queue_controls(store, project_id: int, table: PredictionTable) -> tuple[str, QueueFilters]:
    """The queue selector: order and filters, folded away while reviewing. Returns both."""
    fields = _context_fields(store, str(store.path), project_id, len(table))
    with st.expander("Queue: order and filters", icon=":material/filter_list:"):
        cols = st.columns([2, 2, 2, 3])
        order = cols[0].selectbox("Order", ORDERS, format_func=ORDER_NAMES.get, key="review_order")
        label = cols[1].selectbox(
            "Suggested label",
            [None, *table.labels],
            format_func=lambda name: "Any" if name is None else name,
            key="review_filter_label",
        )
        status = cols[2].selectbox(
            "Status", list(STATUS_NAMES), format_func=STATUS_NAMES.get, key="review_status"
        )
        low, high = cols[3].slider(
            "Confidence", 0.0, 1.0, (0.0, 1.0), step=0.05, key="review_confidence"
        )
        cols = st.columns([5, 2, 1], vertical_alignment="bottom")
        search = cols[0].text_input(
            "Search text", key="review_search", placeholder="words in the document"
        )
        flagged = cols[1].toggle("Flagged only", key="review_flagged_only")
        field, value = None, ""
        if fields:  # a table's other columns, e-mail headers: filter on them too
            context = st.columns([2, 3])
            field = context[0].selectbox("Context field", fields, key="review_context_field")
            value = context[1].text_input(
                "Context contains", key="review_context_value", placeholder=f"in {field}"
            )
        cols[2].button(
            "Refresh",
            key="review_refresh",
            on_click=new_pass,
            help="Start the queue again from the top, with the newest suggestions",
        )
    filters = QueueFilters(
        predicted_label=label,
        min_confidence=low,
        max_confidence=high,
        status=status,
        flagged_only=flagged,
        search=search,
        context_field=field,
        context_value=value,
    )
    return order, filters


def current_pass(
    store, project_id: int, table: PredictionTable, order: str, filters: QueueFilters
) -> ReviewPass:
    """The reviewer's pass for these settings; its next batch picked when the last is done."""
    seed = st.session_state.get(SEED, 0)
    key = (project_id, order, filters, seed)
    review_pass = st.session_state.get(WALK)
    if review_pass is None or st.session_state.get(WALK_KEY) != key:
        review_pass = ReviewPass(order=order, filters=filters, seed=seed)
        st.session_state[WALK], st.session_state[WALK_KEY] = review_pass, key
    if review_pass.needs_batch:
        previous = review_pass.version if review_pass.number else table.version
        next_batch(store, project_id, table, review_pass)
        if review_pass.number > 1 and review_pass.version != previous:
            flash(
                "success",
                f"Batch {review_pass.number}: suggestions from the newly learned "
                f"v{review_pass.version}",
            )
    return review_pass


def current_review_pass() -> ReviewPass | None:
    return st.session_state.get(WALK)
