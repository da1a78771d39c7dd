"""The Review page's blocks: queue controls, the one-document view and the table view.

Every action is a button callback (it runs before the page is drawn again, so
the next document appears at once) that makes one store call. What the
reviewer saw — the suggestion and the id of the document's current review —
is bound into the callback's arguments when the button is drawn, so a review
made by someone else in between is caught as a ReviewConflict.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.active_learning import diversity_vectors, diversity_window
from core.results import latest_results, suggested_labels
from core.review_queue import (
    ORDERS,
    PredictionTable,
    QueueFilters,
    QueueItem,
    filter_mask,
    load_predictions,
    needed_priority,
    order_queue,
    reviewed_label_counts,
    shown_payload,
    table_signature,
)
from core.store import UNSET, ReviewConflict, StoreError
from core.techniques.ensemble import combine
from ui.charts import technique_scores_chart
from ui.highlight import label_colours, render_highlighted_text
from ui.learning import schedule_refresh
from ui.markdown import md
from ui.session import get_store, reviewer_name

# Session-state keys the page keeps for itself (widget keys are the review_* literals below).
QUEUE = "_review_queue"  # {"key": ..., "items": [QueueItem]}
POSITION = "_review_position"  # index into the queue
FLASH = "_review_flash"  # (kind, message) shown once on the next run
CONFLICT = "_review_conflict"  # the review that hit a ReviewConflict, and theirs
FORM_DOCUMENT = "_review_form_document"  # the document the correction widget was filled for
TABLE_VERSION = "_review_table_version"  # bumped to clear the data editor's edits
SEED = "_review_seed"
CORRECTION = "review_correct_labels"
ORDER_NAMES = {
    "needed": "Most needed next",
    "newest": "Newest first",
    "random": "Random",
    "by_label": "By suggested label",
}
STATUS_NAMES = {"unreviewed": "Unreviewed", "reviewed": "Reviewed", "all": "All"}
TABLE_PAGE_SIZE = 50
SHORTCUT_LABELS = 9  # "1".."9" toggle the first nine labels


# --- data ------------------------------------------------------------------------------


@st.cache_resource(max_entries=8, show_spinner="Loading predictions…")
def _cached_table(_store, db_path: str, project_id: int, signature: tuple) -> PredictionTable:
    # Shared between sessions: project data, read-only; a new run/import changes the signature.
    return load_predictions(_store, project_id)


def prediction_table(store, project_id: int) -> tuple[PredictionTable, tuple]:
    signature = table_signature(store, project_id)
    return _cached_table(store, str(store.path), project_id, signature), signature


def queue_controls(table: PredictionTable) -> tuple[str, QueueFilters]:
    """The queue selector: order and filters, folded away while reviewing. Returns both."""
    with st.expander("Queue: order and filters", icon=":material/filter_list:"):
        return _queue_controls(table)


def _queue_controls(table: PredictionTable) -> tuple[str, QueueFilters]:
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
    if cols[2].button("Refresh", key="review_refresh", help="Rebuild the queue from the store"):
        st.session_state.pop(QUEUE, None)
        st.session_state[SEED] = st.session_state.get(SEED, 0) + 1
    filters = QueueFilters(
        predicted_label=label,
        min_confidence=low,
        max_confidence=high,
        status=status,
        flagged_only=flagged,
        search=search,
    )
    return order, filters


def current_queue(
    store, project_id: int, table: PredictionTable, signature: tuple, order: str, filters
) -> list[QueueItem]:
    """The queue for these settings, built once and kept while the reviewer works through it."""
    key = (signature, order, filters, st.session_state.get(SEED, 0))
    state = st.session_state.get(QUEUE)
    if state is not None and state["key"] == key:
        return state["items"]
    previous = _current_document_id()
    keep = filter_mask(store, project_id, table, filters)
    vectors = counts = None
    if order == "needed":
        counts = reviewed_label_counts(store, project_id, table.labels)
        # Sentence embeddings for diversity only when already cached (the embeddings or
        # supervised technique, or a refresh, computed them): building the queue never waits
        # for a model. Otherwise the ensemble's probability vectors stand in.
        window = diversity_window(needed_priority(table, counts), keep)
        vectors = diversity_vectors(store, project_id, table, window, compute=False)
    items = order_queue(
        table,
        order=order,
        keep=keep,
        seed=st.session_state.get(SEED, 0),
        vectors=vectors,
        label_counts=counts,
    )
    st.session_state[QUEUE] = {"key": key, "items": items}
    ids = [item.document_id for item in items]
    # Stay on the same document when it is still in the rebuilt queue.
    st.session_state[POSITION] = ids.index(previous) if previous in ids else 0
    return items


def _current_document_id() -> str | None:
    state = st.session_state.get(QUEUE)
    if not state or not state["items"]:
        return None
    position = min(st.session_state.get(POSITION, 0), len(state["items"]) - 1)
    return state["items"][position].document_id


# --- actions (button callbacks) --------------------------------------------------------


def _flash(kind: str, message: str) -> None:
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(FLASH, (None, None))
    if kind == "success":
        st.toast(md(message), icon=":material/check:")
    elif kind == "error":
        st.error(md(message))
    elif kind == "info":
        st.info(md(message))


def _move(step: int) -> None:
    items = st.session_state.get(QUEUE, {}).get("items", [])
    position = st.session_state.get(POSITION, 0) + step
    st.session_state[POSITION] = max(0, min(position, len(items)))  # len(items): the end


@dataclass(frozen=True)
class Displayed:
    """What the reviewer is looking at, bound into each button's callback."""

    project_id: int
    document_id: str
    suggested: tuple[str, ...]
    shown: dict
    expected_current: int | None  # id of the current review when displayed
    flagged: bool
    multi_label: bool


def _save(view: Displayed, decision: str, labels, *, expected_current) -> bool:
    try:
        get_store().add_review(
            view.project_id,
            view.document_id,
            reviewer=reviewer_name(),
            decision=decision,
            labels=list(labels),
            shown=view.shown,
            expected_current=expected_current,
        )
    except ReviewConflict as exc:
        st.session_state[CONFLICT] = {
            "document_id": view.document_id,
            "decision": decision,
            "labels": list(labels),
            "theirs": exc.current,
            "message": str(exc),
        }
        return False
    except StoreError as exc:
        _flash("error", str(exc))
        return False
    st.session_state.pop(CONFLICT, None)
    schedule_refresh(view.project_id)
    return True


def on_accept(view: Displayed) -> None:
    if _save(view, "accept", view.suggested, expected_current=view.expected_current):
        _flash("success", f"Accepted: {', '.join(view.suggested) or 'no labels'}")
        _move(+1)


def on_save_correction(view: Displayed) -> None:
    labels = list(st.session_state.get(CORRECTION) or [])
    if not view.multi_label and len(labels) != 1:
        _flash(
            "error", f"Pick exactly one label (this project is single-label); got {len(labels)}."
        )
        return
    decision = "accept" if set(labels) == set(view.suggested) else "correct"
    if _save(view, decision, labels, expected_current=view.expected_current):
        _flash("success", f"Saved: {', '.join(labels) or 'no labels'}")
        _move(+1)


# Skip and flag do not change a document's labels, so they are not checked for conflicts.
def on_skip(view: Displayed) -> None:
    if _save(view, "skip", (), expected_current=UNSET):
        _move(+1)


def on_flag(view: Displayed) -> None:
    decision = "unflag" if view.flagged else "flag"
    if _save(view, decision, (), expected_current=UNSET):
        _flash("success", "Flag removed" if view.flagged else "Flagged for a second look")
        if not view.flagged:
            _move(+1)


def on_undo(project_id: int, table: PredictionTable) -> None:
    """Take back the reviewer's last action: one review, or a whole bulk save."""
    store = get_store()
    try:
        undos = store.undo_last_action(project_id, reviewer_name())
    except StoreError as exc:
        _flash("error", str(exc))
        return
    if not undos:
        _flash("info", f"Nothing to undo: {reviewer_name()} has no review left to take back.")
        return
    if len(undos) > 1:
        _flash("success", f"Undid the last bulk action: {len(undos):,} reviews taken back")
        st.session_state.pop(QUEUE, None)  # many documents changed status: rebuild the queue
        return
    (undo,) = undos
    undone = next(
        (r for r in store.review_history(project_id, undo.document_id) if r.id == undo.undoes),
        None,
    )
    _flash("success", f"Undid {undone.decision if undone else 'the last review'}")
    state = st.session_state.get(QUEUE)
    if state is None:
        return
    ids = [item.document_id for item in state["items"]]
    if undo.document_id in ids:
        st.session_state[POSITION] = ids.index(undo.document_id)
    else:  # e.g. it left an "unreviewed" queue: bring it back where the reviewer is
        if undo.document_id in table:
            position = st.session_state.get(POSITION, 0)
            state["items"].insert(position, table.item(table.index_of(undo.document_id)))


def on_toggle_label(label: str, multi_label: bool) -> None:
    chosen = list(st.session_state.get(CORRECTION) or [])
    if not multi_label:
        st.session_state[CORRECTION] = [label]
    elif label in chosen:
        st.session_state[CORRECTION] = [name for name in chosen if name != label]
    else:
        st.session_state[CORRECTION] = [*chosen, label]


def on_conflict_keep() -> None:
    st.session_state.pop(CONFLICT, None)
    _flash("info", "Kept the other reviewer's decision.")
    _move(+1)


def on_conflict_overwrite(view: Displayed) -> None:
    conflict = st.session_state.get(CONFLICT)
    if not conflict:
        return
    theirs = conflict["theirs"]
    if _save(
        view,
        conflict["decision"],
        conflict["labels"],
        expected_current=theirs.id if theirs is not None else None,
    ):
        _flash("success", f"Saved yours: {', '.join(conflict['labels']) or 'no labels'}")
        _move(+1)


# --- the one-document view -------------------------------------------------------------


def render_document_view(store, project, taxonomy, settings, table, queue) -> None:
    if not queue:
        st.info("Nothing in the queue with these filters. Widen them, or pick another status.")
        return
    position = min(st.session_state.get(POSITION, 0), len(queue))
    st.session_state[POSITION] = position
    if position == len(queue):
        st.success(
            f"End of the queue ({len(queue):,} documents). Refresh it to pick up what is left, "
            "or go back."
        )
        st.button("Previous", key="review_prev", shortcut="k", on_click=_move, args=(-1,))
        return
    item = queue[position]
    doc = store.get_documents(project.id, [item.document_id])[0]
    per_technique = latest_results(store, project.id, [doc.id])
    results = {name: rows[doc.id] for name, rows in per_technique.items() if doc.id in rows}
    ensemble = combine(
        results, taxonomy.names, weights=table.weights, multi_label=settings["multi_label"]
    )
    suggested = tuple(
        suggested_labels(
            ensemble.scores, multi_label=settings["multi_label"], threshold=settings["threshold"]
        )
    )
    current = store.current_review(project.id, doc.id)
    history = store.review_history(project.id, doc.id)
    view = Displayed(
        project_id=project.id,
        document_id=doc.id,
        suggested=suggested,
        shown=shown_payload(
            suggested,
            ensemble.scores,
            {name: result.scores for name, result in results.items()},
            cache_keys=table.cache_keys,
        ),
        expected_current=current.id if current else None,
        flagged=_is_flagged(history),
        multi_label=settings["multi_label"],
    )
    # A new document (or the widget was not drawn last run, so its state is gone): fill it.
    if st.session_state.get(FORM_DOCUMENT) != doc.id or CORRECTION not in st.session_state:
        st.session_state[FORM_DOCUMENT] = doc.id
        st.session_state[CORRECTION] = list(current.labels if current else suggested)

    colours = label_colours(taxonomy)
    left, right = st.columns([3, 2], gap="large")
    with left:
        where = " · ".join(part for part in (doc.source, doc.location, doc.external_id) if part)
        st.caption(f"Document {position + 1:,} of {len(queue):,} in the queue · {md(where)}")
        _render_status(current, view.flagged)
        _render_conflict(view)
        render_highlighted_text(doc.text, ensemble.evidence, colours)
        if ensemble.summary:
            with st.container(border=True):
                st.markdown("**Summary**")
                st.write(ensemble.summary)
        _render_history(history)
    with right:
        _render_suggestion(view, ensemble.scores, item)
        _render_actions(view, table)
        _render_correction(view, taxonomy.names)
        st.altair_chart(
            technique_scores_chart(
                taxonomy.names,
                ensemble.scores,
                {name: result.scores for name, result in results.items()},
            ),
            width="stretch",
        )


def _is_flagged(history) -> bool:
    retracted = {r.undoes for r in history if r.decision == "undo"}
    for review in reversed(history):
        if review.id in retracted:
            continue
        if review.decision in ("flag", "unflag"):
            return review.decision == "flag"
    return False


def _render_status(current, flagged: bool) -> None:
    badges = []
    if current is not None:
        badges.append(
            f":green-badge[:material/check: {current.decision} by {current.reviewer}: "
            f"{', '.join(current.labels) or 'no labels'}]"
        )
    if flagged:
        badges.append(":orange-badge[:material/flag: flagged]")
    if badges:
        st.markdown(" ".join(badges))


def _render_conflict(view: Displayed) -> None:
    conflict = st.session_state.get(CONFLICT)
    if not conflict or conflict["document_id"] != view.document_id:
        return
    theirs = conflict["theirs"]
    if theirs is None:
        st.warning(
            "The review you saw on this document was undone in the meantime. "
            f"Yours: {md(', '.join(conflict['labels'])) or 'no labels'}."
        )
    else:
        st.warning(
            f"**{md(theirs.reviewer)}** reviewed this document at {theirs.created_at} after "
            f"you opened it: {theirs.decision} → {md(', '.join(theirs.labels)) or 'no labels'}. "
            f"Yours: {conflict['decision']} → {md(', '.join(conflict['labels'])) or 'no labels'}."
        )
    cols = st.columns(2)
    cols[0].button(
        "Keep theirs", key="review_conflict_keep", on_click=on_conflict_keep, width="stretch"
    )
    cols[1].button(
        "Overwrite with mine",
        key="review_conflict_overwrite",
        on_click=on_conflict_overwrite,
        args=(view,),
        type="primary",
        width="stretch",
    )


def _render_history(history) -> None:
    if not history:
        return
    with st.expander(f"History ({len(history)})"):
        for review in reversed(history):
            labels = f": {md(', '.join(review.labels))}" if review.labels else ""
            st.caption(f"{review.created_at} · {md(review.reviewer)} · {review.decision}{labels}")


def _render_suggestion(view: Displayed, scores, item: QueueItem) -> None:
    confidence = max(scores.values()) if scores else 0.0
    if view.suggested:
        suggestion = md(", ".join(view.suggested))
    else:
        suggestion = "no label reaches the threshold" if scores else "no suggestion yet"
    st.markdown(f"**Suggested:** {suggestion}")
    st.caption(
        f"confidence {confidence:.0%} · uncertainty {item.uncertainty:.2f} · "
        f"disagreement {item.disagreement:.2f}"
    )


def _render_actions(view: Displayed, table: PredictionTable) -> None:
    row = st.container(horizontal=True, gap="small")
    row.button(
        "Accept",
        key="review_accept",
        shortcut="a",
        type="primary",
        icon=":material/check:",
        on_click=on_accept,
        args=(view,),
        disabled=not view.suggested,
        help="Save the suggested labels (A)",
    )
    row.button("Skip", key="review_skip", shortcut="s", on_click=on_skip, args=(view,), help="(S)")
    row.button(
        "Unflag" if view.flagged else "Flag",
        key="review_flag",
        shortcut="f",
        icon=":material/flag:",
        on_click=on_flag,
        args=(view,),
        help="Mark for a second look (F)",
    )
    row.button(
        "Undo",
        key="review_undo",
        shortcut="u",
        icon=":material/undo:",
        on_click=on_undo,
        args=(view.project_id, table),
        help="Take back your last review (U)",
    )
    nav = st.container(horizontal=True, gap="small")
    nav.button(
        "Previous",
        key="review_prev",
        shortcut="k",
        icon=":material/arrow_back:",
        on_click=_move,
        args=(-1,),
        help="(K)",
    )
    nav.button(
        "Next",
        key="review_next",
        shortcut="j",
        icon=":material/arrow_forward:",
        on_click=_move,
        args=(+1,),
        help="(J)",
    )


def _render_correction(view: Displayed, labels: list[str]) -> None:
    st.multiselect(
        "Correct labels",
        labels,
        key=CORRECTION,
        max_selections=None if view.multi_label else 1,
        help="Or press 1–9 to toggle the first nine labels",
    )
    chosen = set(st.session_state.get(CORRECTION) or [])
    toggles = st.container(horizontal=True, gap="small")
    for number, label in enumerate(labels[:SHORTCUT_LABELS], start=1):
        toggles.button(
            f"{number} {md(label)}",
            key=f"review_toggle_{number}",
            shortcut=str(number),
            type="primary" if label in chosen else "tertiary",
            on_click=on_toggle_label,
            args=(label, view.multi_label),
        )
    st.button(
        "Save correction",
        key="review_save",
        shortcut="Ctrl+Enter",
        icon=":material/save:",
        on_click=on_save_correction,
        args=(view,),
    )


# --- the table view --------------------------------------------------------------------


def render_table_view(store, project, taxonomy, settings, table, queue) -> None:
    reviewed = store.current_reviews(project.id)
    _render_bulk_accept(project.id, table, queue, reviewed)
    if not queue:
        st.info("Nothing in the queue with these filters.")
        return
    pages = max(1, -(-len(queue) // TABLE_PAGE_SIZE))
    page = st.number_input("Page", 1, pages, 1, key="review_table_page", help=f"{pages} pages") - 1
    items = queue[page * TABLE_PAGE_SIZE : (page + 1) * TABLE_PAGE_SIZE]
    documents = store.get_documents(project.id, [item.document_id for item in items])
    start = [
        list(reviewed[item.document_id].labels)
        if item.document_id in reviewed
        else list(item.suggested_labels)
        for item in items
    ]
    frame = pd.DataFrame(
        {
            "text": [_snippet(doc.text) for doc in documents],
            "suggested": [", ".join(item.suggested_labels) for item in items],
            "confidence": [item.confidence for item in items],
            "reviewed": [item.document_id in reviewed for item in items],
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
    for row, item in enumerate(items):
        value = edited["labels"].iloc[row]
        labels = _as_labels(value)
        if labels != _as_labels(frame["labels"].iloc[row]):
            decision = "accept" if set(labels) == set(item.suggested_labels) else "correct"
            changes.append(
                {
                    "document_id": item.document_id,
                    "decision": decision,
                    "labels": labels,
                    "shown": {**table.shown(item.document_id), "view": "table"},
                }
            )
    if st.button(
        f"Save {len(changes)} edited row{'s' if len(changes) != 1 else ''}",
        key="review_table_save",
        disabled=not changes,
        type="primary",
    ):
        _save_many(store, project.id, changes, what="edited")
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


def _render_bulk_accept(project_id: int, table, queue, reviewed) -> None:
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
        eligible = [
            item
            for item in queue
            if item.confidence >= threshold
            and item.suggested_labels
            and item.document_id not in reviewed
        ]
        clicked = cols[1].button(
            f"Accept {len(eligible):,} unreviewed",
            key="review_bulk_accept",
            disabled=not eligible,
            type="primary",
            width="stretch",
        )
    if clicked:
        items = [
            {
                "document_id": item.document_id,
                "decision": "accept",
                "labels": list(item.suggested_labels),
                "shown": {**table.shown(item.document_id), "view": "bulk"},
                "expected_current": None,  # only documents nobody has reviewed
            }
            for item in eligible
        ]
        if _save_many(get_store(), project_id, items, what="accepted"):
            st.session_state.pop(QUEUE, None)
            st.rerun()


def _save_many(store, project_id: int, items: list[dict], *, what: str) -> bool:
    """One add_reviews call: one transaction, all or nothing."""
    try:
        store.add_reviews(project_id, items, reviewer=reviewer_name())
    except ReviewConflict as exc:
        _flash(
            "error",
            f"Nothing was saved: {exc} Refresh the queue and try again.",
        )
        return False
    except StoreError as exc:
        _flash("error", f"Nothing was saved: {exc}")
        return False
    _flash("success", f"{len(items):,} document{'s' if len(items) != 1 else ''} {what}")
    schedule_refresh(project_id)
    return True
