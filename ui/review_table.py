"""The Review page's table view: the whole queue a page at a time, editable labels, and bulk
accept above a confidence."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.predictions import PredictionTable
from core.review_queue import QueueFilters, review_decision, whole_queue
from ui.review_actions import save_many
from ui.review_queue_ui import SEED

TABLE_VERSION = "_review_table_version"  # bumped to clear the data editor's edits
TABLE_PAGE_SIZE = 50


def render_table_view(
    store, project, taxonomy, settings, table: PredictionTable, order: str, filters: QueueFilters
) -> None:
    reviewed = store.current_reviews(project.id)
    ranked = whole_queue(
        store,
        project.id,
        table,
        order=order,
        filters=filters,
        seed=st.session_state.get(SEED, 0),
    )
    _render_bulk_accept(store, project.id, table, ranked, reviewed)
    if not len(ranked):
        st.info("Nothing in the queue with these filters.")
        return
    pages = max(1, -(-len(ranked) // TABLE_PAGE_SIZE))
    page = st.number_input("Page", 1, pages, 1, key="review_table_page", help=f"{pages} pages") - 1
    shown = [
        table.suggestion(int(i))
        for i in ranked[page * TABLE_PAGE_SIZE : (page + 1) * TABLE_PAGE_SIZE]
    ]
    documents = store.get_documents(project.id, [s.document_id for s in shown])
    start = [
        list(reviewed[s.document_id].labels) if s.document_id in reviewed else list(s.labels)
        for s in shown
    ]
    frame = pd.DataFrame(
        {
            "text": [_snippet(doc.text) for doc in documents],
            "suggested": [", ".join(s.labels) for s in shown],
            "confidence": [s.confidence for s in shown],
            "reviewed": [s.document_id in reviewed for s in shown],
            "labels": start if settings["multi_label"] else [s[0] if s else None for s in start],
        }
    )
    labels_column = (
        st.column_config.MultiselectColumn("labels", options=taxonomy.names)
        if settings["multi_label"]
        else st.column_config.SelectboxColumn("labels", options=taxonomy.names)
    )
    version = st.session_state.get(TABLE_VERSION, 0)
    edited = st.data_editor(
        frame,
        key=f"review_table_{version}_{page}",
        hide_index=True,
        disabled=["text", "suggested", "confidence", "reviewed"],
        column_config={
            "text": st.column_config.TextColumn("text", width="large"),
            "confidence": st.column_config.ProgressColumn(
                "confidence", min_value=0.0, max_value=1.0, format="percent"
            ),
            "labels": labels_column,
        },
    )
    changes = []
    for row, suggestion in enumerate(shown):
        labels = _as_labels(edited["labels"].iloc[row])
        if labels != _as_labels(frame["labels"].iloc[row]):
            changes.append(
                {
                    "document_id": suggestion.document_id,
                    "decision": review_decision(labels, suggestion.labels),
                    "labels": labels,
                    "shown": suggestion.shown(view="table"),
                }
            )
    if st.button(
        f"Save {len(changes)} edited row{'s' if len(changes) != 1 else ''}",
        key="review_table_save",
        disabled=not changes,
        type="primary",
    ):
        save_many(store, project.id, changes, what="edited")
        st.session_state[TABLE_VERSION] = version + 1
        st.rerun()


def _as_labels(value) -> list[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _snippet(text: str, length: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def _render_bulk_accept(store, project_id: int, table: PredictionTable, ranked, reviewed) -> None:
    with st.container(border=True):
        cols = st.columns([3, 2], vertical_alignment="bottom")
        threshold = cols[0].slider(
            "Accept all suggestions at or above confidence",
            0.0,
            1.0,
            0.9,
            step=0.01,
            key="review_bulk_threshold",
        )
        unreviewed = ~table.mask(reviewed)
        eligible = [
            int(i)
            for i in ranked
            if table.confidence[i] >= threshold
            and table.suggested[i].any()
            and not table.below_threshold[i]
            and unreviewed[i]
        ]
        clicked = cols[1].button(
            f"Accept {len(eligible):,} unreviewed",
            key="review_bulk_accept",
            disabled=not eligible,
            type="primary",
            width="stretch",
            help="Suggestions below a label's threshold are never bulk-accepted.",
        )
    if clicked:
        items = []
        for i in eligible:
            suggestion = table.suggestion(i)
            items.append(
                {
                    "document_id": suggestion.document_id,
                    "decision": "accept",
                    "labels": list(suggestion.labels),
                    "shown": suggestion.shown(view="bulk"),
                    "expected_current": None,  # only documents nobody has reviewed
                }
            )
        if save_many(store, project_id, items, what="accepted"):
            st.rerun()
