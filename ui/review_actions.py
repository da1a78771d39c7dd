"""The Review page's actions: button callbacks that each make one store call.

A callback runs before the page is drawn again, so the next document appears at once. What
the reviewer saw (the queue item, with its suggestion snapshot, and the id of the
document's current review when the document was first shown: ui.review_conflicts) is bound
into the callback's arguments when the button is drawn, so a review made by someone else in
between is caught as a ReviewConflict, and the reviewer chooses: keep theirs, keep mine as
a second opinion, or (with the adjudicate permission) make mine the final label.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.review_queue import QueueItem, review_decision
from core.store import UNSET, Review, ReviewConflict, StoreError
from ui.auth import can
from ui.learning import schedule_refresh
from ui.review_conflicts import BATCH_CONFLICT, batch_conflicts, forget_seen
from ui.review_format import plural
from ui.review_queue_ui import current_review_pass, flash, prediction_table
from ui.session import get_store, reviewer_name

CONFLICT = "_review_conflict"  # the review that hit a ReviewConflict, and theirs
CORRECTION = "review_correct_labels"  # the correction multiselect's key
NOTE = "review_note"  # the note / flag reason box: saved with the next review (reviews.note)


@dataclass(frozen=True)
class Displayed:
    """What the reviewer is looking at, bound into each button's callback."""

    project_id: int
    item: QueueItem
    expected_current: int | None  # id of the document's current review when displayed
    flagged: bool
    multi_label: bool
    # k > 1 reviews wanted: another reviewer's opinion saved meanwhile is expected, not a
    # conflict (the reviewer's own is a second opinion by design); adjudications still are
    independent: bool = False

    @property
    def document_id(self) -> str:
        return self.item.document_id

    @property
    def suggested(self) -> tuple[str, ...]:
        return self.item.suggestion.labels


def _advance(document_id: str) -> None:
    """The document was acted on: not again in this pass; on to the next one."""
    review_pass = current_review_pass()
    if review_pass is not None:
        review_pass.act(document_id)
        review_pass.move(+1)


def move(step: int) -> None:
    review_pass = current_review_pass()
    if review_pass is not None:
        review_pass.move(step)


def _save(view: Displayed, decision: str, labels, *, expected_current) -> bool:
    note = str(st.session_state.get(NOTE) or "").strip()  # a comment, or a flag's reason
    try:
        try:
            _write(view, decision, labels, note, expected_current)
        except ReviewConflict as exc:
            theirs = exc.current
            if not (view.independent and decision != "adjudicate" and _another_opinion(theirs)):
                raise
            # k reviews wanted: one more reviewer's opinion is what the project asked for
            assert theirs is not None
            _write(view, decision, labels, note, theirs.id)
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
        flash("error", str(exc))
        return False
    st.session_state.pop(CONFLICT, None)
    st.session_state[NOTE] = ""  # saved with this review; the next one starts empty
    if decision in ("accept", "correct", "adjudicate"):
        forget_seen()
    schedule_refresh(view.project_id)
    return True


def _another_opinion(review: Review | None) -> bool:
    """Another reviewer's plain review (not an adjudication, not this reviewer's own from
    another tab)."""
    return (
        review is not None
        and review.decision in ("accept", "correct")
        and review.reviewer != reviewer_name()
    )


def _write(view: Displayed, decision: str, labels, note: str, expected_current) -> None:
    if decision == "adjudicate":
        get_store().adjudicate(
            view.project_id,
            view.document_id,
            reviewer=reviewer_name(),
            labels=list(labels),
            note=note,
            expected_current=expected_current,
        )
    else:
        get_store().add_review(
            view.project_id,
            view.document_id,
            reviewer=reviewer_name(),
            decision=decision,
            labels=list(labels),
            shown=view.item.shown(),
            note=note,
            expected_current=expected_current,
        )


def on_accept(view: Displayed) -> None:
    if _save(view, "accept", view.suggested, expected_current=view.expected_current):
        flash("success", f"Accepted: {', '.join(view.suggested) or 'no labels'}")
        _advance(view.document_id)


def on_save_correction(view: Displayed) -> None:
    labels = list(st.session_state.get(CORRECTION) or [])
    if not view.multi_label and len(labels) != 1:
        flash("error", f"Pick exactly one label (this project is single-label); got {len(labels)}.")
        return
    decision = review_decision(labels, view.suggested)
    if _save(view, decision, labels, expected_current=view.expected_current):
        flash("success", f"Saved: {', '.join(labels) or 'no labels'}")
        _advance(view.document_id)


# Skip and flag do not change a document's labels, so they are not checked for conflicts.
def on_skip(view: Displayed) -> None:
    if _save(view, "skip", (), expected_current=UNSET):
        _advance(view.document_id)


def on_flag(view: Displayed) -> None:
    decision = "unflag" if view.flagged else "flag"
    if _save(view, decision, (), expected_current=UNSET):
        flash("success", "Flag removed" if view.flagged else "Flagged for a second look")
        if not view.flagged:
            _advance(view.document_id)


def on_undo(project_id: int) -> None:
    """Take back the reviewer's last action: one review, or a whole bulk save. The documents
    may come back in this pass, and the models learn again without those labels."""
    store = get_store()
    try:
        undos = store.undo_last_action(project_id, reviewer_name())
    except StoreError as exc:
        flash("error", str(exc))
        return
    if not undos:
        flash("info", f"Nothing to undo: {reviewer_name()} has no review left to take back.")
        return
    forget_seen()
    schedule_refresh(project_id)
    review_pass = current_review_pass()
    if len(undos) > 1:
        flash("success", f"Undid the last bulk action: {plural(len(undos), 'review')} taken back")
        if review_pass is not None:
            review_pass.seen.difference_update(undo.document_id for undo in undos)
        return
    (undo,) = undos
    undone = next(
        (r for r in store.review_history(project_id, undo.document_id) if r.id == undo.undoes),
        None,
    )
    flash("success", f"Undid {undone.decision if undone else 'the last review'}")
    table = prediction_table(store, project_id)
    if review_pass is not None and undo.document_id in table:
        review_pass.bring_back(QueueItem(table.suggestion_for(undo.document_id), 0.0, "undo"))


def on_toggle_label(label: str, multi_label: bool) -> None:
    chosen = list(st.session_state.get(CORRECTION) or [])
    if not multi_label:
        st.session_state[CORRECTION] = [label]
    elif label in chosen:
        st.session_state[CORRECTION] = [name for name in chosen if name != label]
    else:
        st.session_state[CORRECTION] = [*chosen, label]


def on_conflict_keep() -> None:
    """Take theirs: save nothing, move on."""
    conflict = st.session_state.pop(CONFLICT, None)
    forget_seen()
    flash("info", "Kept the other reviewer's decision; yours was not saved.")
    if conflict:
        _advance(conflict["document_id"])


def on_conflict_overwrite(view: Displayed) -> None:
    """Keep mine as a second opinion: saved against the review that is current now (it
    becomes the current review unless that one is an adjudication; both stay in the history,
    and differing opinions show on the Adjudicate page)."""
    conflict = st.session_state.get(CONFLICT)
    if not conflict:
        return
    theirs = conflict["theirs"]
    decision = conflict["decision"]
    if decision == "adjudicate":  # an adjudication that conflicted: saved as an opinion
        decision = review_decision(conflict["labels"], view.suggested)
    if _save(
        view,
        decision,
        conflict["labels"],
        expected_current=theirs.id if theirs is not None else None,
    ):
        flash("success", f"Saved yours too: {', '.join(conflict['labels']) or 'no labels'}")
        _advance(view.document_id)


def on_conflict_adjudicate(view: Displayed) -> None:
    """Make mine the final label (an adjudication), against the review current now."""
    conflict = st.session_state.get(CONFLICT)
    if not conflict or not can("adjudicate"):
        return
    theirs = conflict["theirs"]
    if _save(
        view,
        "adjudicate",
        conflict["labels"],
        expected_current=theirs.id if theirs is not None else None,
    ):
        flash("success", f"Final label: {', '.join(conflict['labels']) or 'no labels'}")
        _advance(view.document_id)


def save_many(store, project_id: int, items: list[dict], *, what: str) -> bool:
    """One add_reviews call: one transaction, all or nothing. When a document's review
    changed since the reviewer saw it, nothing is saved and the batch waits (BATCH_CONFLICT)
    for the reviewer's choice (ui.review_table draws it)."""
    try:
        store.add_reviews(project_id, items, reviewer=reviewer_name())
    except ReviewConflict as exc:
        conflicts = batch_conflicts(store, project_id, items)
        if not conflicts:  # changed back in between: report what the store said
            flash("error", f"Nothing was saved: {exc} Try again.")
            return False
        st.session_state[BATCH_CONFLICT] = {
            "project_id": project_id,
            "items": items,
            "what": what,
            "conflicts": conflicts,
        }
        return False
    except StoreError as exc:
        flash("error", f"Nothing was saved: {exc}")
        return False
    st.session_state.pop(BATCH_CONFLICT, None)
    flash("success", f"{plural(len(items), 'document')} {what}")
    schedule_refresh(project_id)
    review_pass = current_review_pass()
    if review_pass is not None:
        review_pass.seen.update(item["document_id"] for item in items)
    return True


def on_batch_second_opinions(store) -> None:
    """Save the whole batch, the conflicting documents' reviews as second opinions (each
    against the review current now)."""
    pending = st.session_state.get(BATCH_CONFLICT)
    if not pending:
        return
    now = {item["document_id"]: review for item, review in pending["conflicts"]}
    items = [
        {
            **item,
            "expected_current": now[item["document_id"]].id if now[item["document_id"]] else None,
        }
        if item["document_id"] in now
        else item
        for item in pending["items"]
    ]
    save_many(store, pending["project_id"], items, what=pending["what"])


def on_batch_take_theirs(store) -> None:
    """Keep the other reviewers' decisions on the conflicting documents; save the rest."""
    pending = st.session_state.pop(BATCH_CONFLICT, None)
    if not pending:
        return
    conflicting = {item["document_id"] for item, _ in pending["conflicts"]}
    rest = [item for item in pending["items"] if item["document_id"] not in conflicting]
    if rest:
        save_many(store, pending["project_id"], rest, what=pending["what"])
    else:
        flash("info", "Kept the other reviewers' decisions; nothing of yours was saved.")


def on_batch_cancel() -> None:
    st.session_state.pop(BATCH_CONFLICT, None)
    flash("info", "Nothing was saved.")
