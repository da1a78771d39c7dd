"""The Review page's table view: the whole queue a page at a time, editable labels, and bulk
accept above a confidence, confirmed in a dialog that lists what it will save."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import streamlit as st

from core.predictions import PredictionTable
from core.review_queue import QueueFilters, review_decision, whole_queue
from ui.markdown import md
from ui.review_actions import (
    on_batch_cancel,
    on_batch_second_opinions,
    on_batch_take_theirs,
    save_many,
)
from ui.review_conflicts import BATCH_CONFLICT, table_seen
from ui.review_format import plural, viewer_time
from ui.review_queue_ui import SEED

TABLE_VERSION = "_review_table_version"  # bumped to clear the data editor's edits
TABLE_PAGE_SIZE = 50
BULK_THRESHOLD = "review_bulk_threshold"  # the bulk-accept slider's key
BULK_DEFAULT = 0.9
BULK_OPEN = "_review_bulk_open"  # the confirmation dialog is open
BULK_PREVIEW = 20  # documents listed in the confirmation


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
    _render_batch_conflict(store, project.id)
    _render_bulk_accept(store, project.id, table, ranked)
    if not len(ranked):
        st.info("Nothing in the queue with these filters.")
        return
    pages = max(1, -(-len(ranked) // TABLE_PAGE_SIZE))
    page = (
        st.number_input("Page", 1, pages, 1, key="review_table_page", help=plural(pages, "page"))
        - 1
    )
    version = st.session_state.get(TABLE_VERSION, 0)
    # This page's rows and each row's current review as the page was first drawn: the rows
    # stay put while the reviewer edits, and edits save against the reviews they were drawn
    # with, so a review someone made since is never overwritten silently.
    drawn = table_seen(
        (project.id, version, page, order, filters, st.session_state.get(SEED, 0)),
        reviewed,
        [
            table.document_ids[int(i)]
            for i in ranked[page * TABLE_PAGE_SIZE : (page + 1) * TABLE_PAGE_SIZE]
        ],
    )
    seen = drawn["current"]
    shown = [table.suggestion_for(doc_id) for doc_id in drawn["rows"] if doc_id in table]
    documents = store.get_documents(project.id, [s.document_id for s in shown])
    start = [
        drawn["labels"][s.document_id]
        if drawn["labels"][s.document_id] is not None
        else list(s.labels)
        for s in shown
    ]
    frame = pd.DataFrame(
        {
            "text": [_snippet(doc.text) for doc in documents],
            "suggested": [", ".join(s.labels) for s in shown],
            "confidence": [s.confidence for s in shown],
            "reviewed": [seen[s.document_id] is not None for s in shown],
            "labels": start if settings["multi_label"] else [s[0] if s else None for s in start],
        }
    )
    labels_column = (
        st.column_config.MultiselectColumn("labels", options=taxonomy.names)
        if settings["multi_label"]
        else st.column_config.SelectboxColumn("labels", options=taxonomy.names)
    )
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
                    "expected_current": seen.get(suggestion.document_id),
                }
            )
    if st.button(
        f"Save {plural(len(changes), 'edited row')}",
        key="review_table_save",
        disabled=not changes,
        type="primary",
    ):
        save_many(store, project.id, changes, what="edited")
        st.session_state[TABLE_VERSION] = version + 1
        st.rerun()


def _render_batch_conflict(store, project_id: int) -> None:
    """A table or bulk save refused because documents changed since they were shown: which,
    by whom, when, which labels; the reviewer chooses."""
    pending = st.session_state.get(BATCH_CONFLICT)
    if not pending or pending["project_id"] != project_id:
        return
    lines = []
    for item, now in pending["conflicts"][:BULK_PREVIEW]:
        doc_id = item["document_id"]
        theirs = (
            "its review was undone"
            if now is None
            else f"**{md(now.reviewer)}** at {md(viewer_time(now.created_at))}: {now.decision}"
            f" → {md(', '.join(now.labels)) or 'no labels'}"
        )
        lines.append(
            f"`{doc_id[:10]}` — {theirs}; yours → {md(', '.join(item['labels'])) or 'no labels'}"
        )
    more = len(pending["conflicts"]) - len(lines)
    if more > 0:
        lines.append(f"and {plural(more, 'more document')}")
    with st.container(border=True):
        st.warning(
            f"**Nothing was saved:** {plural(len(pending['conflicts']), 'document')} of the "
            f"{plural(len(pending['items']), 'row')} changed after you opened them.  \n"
            + "  \n".join(lines)
        )
        row = st.container(horizontal=True, gap="small")
        row.button(
            "Take theirs, save the rest",
            key="review_batch_take_theirs",
            on_click=on_batch_take_theirs,
            args=(store,),
        )
        row.button(
            "Save all, mine as second opinions",
            key="review_batch_second_opinions",
            type="primary",
            on_click=on_batch_second_opinions,
            args=(store,),
        )
        row.button("Cancel", key="review_batch_cancel", on_click=on_batch_cancel)


def _as_labels(value) -> list[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _snippet(text: str, length: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def bulk_selection(table: PredictionTable, ranked, reviewed, threshold: float) -> list[int]:
    """Rows of `table` bulk accept saves, in queue order: in `ranked` (the filtered queue),
    nobody's review yet, a suggestion at or above `threshold` that reaches its label's own
    threshold (a top label below it is never bulk-accepted)."""
    unreviewed = ~table.mask(reviewed)
    return [
        int(i)
        for i in ranked
        if table.confidence[i] >= threshold
        and table.suggested[i].any()
        and not table.below_threshold[i]
        and unreviewed[i]
    ]


def bulk_items(table: PredictionTable, rows: list[int]) -> list[dict]:
    """The reviews bulk accept writes for `rows` (only documents nobody has reviewed)."""
    items = []
    for i in rows:
        suggestion = table.suggestion(i)
        items.append(
            {
                "document_id": suggestion.document_id,
                "decision": "accept",
                "labels": list(suggestion.labels),
                "shown": suggestion.shown(view="bulk"),
                "expected_current": None,
            }
        )
    return items


def bulk_preview(
    table: PredictionTable, rows: list[int], texts: dict[str, str], limit: int = BULK_PREVIEW
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the confirmation lists: documents per suggested label (taxonomy order), and the
    first `limit` documents with their suggestion. `texts`: document id -> text."""
    counts = Counter(label for i in rows for label in table.suggested_labels(i))
    per_label = pd.DataFrame(
        {
            "label": [name for name in table.labels if counts[name]],
            "documents": [counts[name] for name in table.labels if counts[name]],
        }
    )
    first = rows[:limit]
    ids = [table.document_ids[i] for i in first]
    documents = pd.DataFrame(
        {
            "text": [_snippet(texts.get(doc_id, ""), 120) for doc_id in ids],
            "suggested": [", ".join(table.suggested_labels(i)) for i in first],
            "confidence": [float(table.confidence[i]) for i in first],
        }
    )
    return per_label, documents


def _render_bulk_accept(store, project_id: int, table: PredictionTable, ranked) -> None:
    with st.container(border=True):
        cols = st.columns([3, 2], vertical_alignment="bottom")
        cols[0].slider(
            "Accept all unreviewed suggestions at or above confidence",
            0.0,
            1.0,
            BULK_DEFAULT,
            step=0.01,
            key=BULK_THRESHOLD,
        )
        cols[1].button(
            "Preview and accept…",
            key="review_bulk_accept",
            icon=":material/done_all:",
            type="primary",
            width="stretch",
            on_click=_set_bulk_open,
            args=(True,),
            help="Lists what would be accepted, and asks before saving. Suggestions below a "
            "label's threshold are never bulk-accepted.",
        )
    if st.session_state.get(BULK_OPEN):
        _confirm_bulk_accept(store, project_id, table, ranked)


def _set_bulk_open(value: bool) -> None:
    st.session_state[BULK_OPEN] = value


def _close_bulk() -> None:
    st.session_state[BULK_OPEN] = False


@st.dialog("Accept suggestions", width="large", on_dismiss=_close_bulk)
def _confirm_bulk_accept(store, project_id: int, table: PredictionTable, ranked) -> None:
    if not st.session_state.get(BULK_OPEN):  # confirmed or cancelled: close the dialog
        st.rerun()
    # Read as the dialog draws, from the slider's current value: what it lists is exactly
    # what the confirm button saves (the rows are bound into its callback).
    threshold = float(st.session_state.get(BULK_THRESHOLD, BULK_DEFAULT))
    rows = bulk_selection(table, ranked, store.current_reviews(project_id), threshold)
    render_bulk_confirmation(store, project_id, table, rows, threshold)
    buttons = st.container(horizontal=True, gap="small")
    if rows:
        buttons.button(
            f"Accept {plural(len(rows), 'document')}",
            key="review_bulk_confirm",
            type="primary",
            icon=":material/check:",
            on_click=_on_bulk_confirm,
            args=(store, project_id, table, tuple(rows)),
        )
    buttons.button("Cancel" if rows else "Close", key="review_bulk_cancel", on_click=_close_bulk)


def _on_bulk_confirm(store, project_id: int, table: PredictionTable, rows: tuple[int, ...]):
    st.session_state[BULK_OPEN] = False
    save_many(store, project_id, bulk_items(table, list(rows)), what="accepted")


def render_bulk_confirmation(
    store, project_id: int, table: PredictionTable, rows: list[int], threshold: float
) -> None:
    """The dialog's body: how many, per label, and the first documents."""
    if not rows:
        st.info(
            f"No unreviewed document in this queue has a suggestion at or above "
            f"{threshold:.0%} confidence. Lower the threshold or widen the filters."
        )
        return
    st.markdown(
        f"**{plural(len(rows), 'unreviewed document')}** in this queue have a suggestion at "
        f"or above **{threshold:.0%}** confidence. Accepting saves each suggestion as your "
        "review (Undo takes the whole action back)."
        if len(rows) != 1
        else f"**1 unreviewed document** in this queue has a suggestion at or above "
        f"**{threshold:.0%}** confidence. Accepting saves it as your review."
    )
    first = rows[:BULK_PREVIEW]
    documents = store.get_documents(project_id, [table.document_ids[i] for i in first])
    per_label, listed = bulk_preview(table, rows, {doc.id: doc.text for doc in documents})
    st.dataframe(per_label, hide_index=True, width="content", key="review_bulk_per_label")
    st.caption(
        f"The first {plural(len(first), 'document')}, in queue order:"
        if len(rows) > len(first)
        else "The documents, in queue order:"
    )
    st.dataframe(
        listed,
        hide_index=True,
        key="review_bulk_listed",
        column_config={
            "text": st.column_config.TextColumn("text", width="large"),
            "confidence": st.column_config.ProgressColumn(
                "confidence", min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )
