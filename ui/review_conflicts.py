"""What each reviewer saw, so no save overwrites a newer review silently.

A save passes `expected_current`: the id of the document's current review when the document
was *shown* to this reviewer, not when the page last ran (a key press reruns the page, and
re-reading then would bless whatever someone else saved in between). The store refuses a
save against a newer state (ReviewConflict); the page then shows what changed and the
reviewer chooses. Session state shapes:

- SEEN: {"project_id", "document_id", "current": review id | None}: the Document view's
  snapshot, taken when a document is first drawn, dropped when the reviewer's own action
  changes its state (a save, an undo) so the next drawing takes it again.
- TABLE_SEEN: {"key": (project id, table version, page, order, filters, seed), "rows":
  [document id, ...], "current": {document id: review id | None}, "labels": {document id:
  [label, ...] | None (no review)}}: the Table view's page as first drawn for that key. The
  rows stay put while the reviewer edits (the data editor keeps edits by row position, so
  rows moving because someone else reviewed one would shift the edits onto other
  documents), and edits save against the reviews they were drawn with.
- BATCH_CONFLICT: {"items": [review items], "what": str, "conflicts": [(item, Review|None)]}:
  a table or bulk save the store refused, waiting for the reviewer's choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from core.store import Review

SEEN = "_review_seen"
TABLE_SEEN = "_review_table_seen"
BATCH_CONFLICT = "_review_batch_conflict"


def seen_current(project_id: int, document_id: str, current: Review | None) -> int | None:
    """The id of the document's current review as this reviewer first saw it on screen."""
    seen = st.session_state.get(SEEN)
    if not seen or (seen["project_id"], seen["document_id"]) != (project_id, document_id):
        seen = {
            "project_id": project_id,
            "document_id": document_id,
            "current": current.id if current else None,
        }
        st.session_state[SEEN] = seen
    return seen["current"]


def forget_seen() -> None:
    """The reviewer's own action changed the document: take the snapshot again when drawn."""
    st.session_state.pop(SEEN, None)


def table_seen(key: tuple, reviewed: Mapping[str, Review], document_ids: Sequence[str]) -> dict:
    """The table page as first drawn for `key` (see TABLE_SEEN); `reviewed` and
    `document_ids` (the rows in order) are used only when it is drawn first."""
    seen = st.session_state.get(TABLE_SEEN)
    if not seen or seen["key"] != key:
        seen = {
            "key": key,
            "rows": list(document_ids),
            "current": {
                doc_id: (reviewed[doc_id].id if doc_id in reviewed else None)
                for doc_id in document_ids
            },
            "labels": {
                doc_id: (list(reviewed[doc_id].labels) if doc_id in reviewed else None)
                for doc_id in document_ids
            },
        }
        st.session_state[TABLE_SEEN] = seen
    return seen


def changed_since(history: Sequence[Review], seen_id: int | None) -> list[Review]:
    """The labelling reviews and undos of a document's history after the one the reviewer
    saw (all of them when they saw none): who changed what while they looked."""
    after = seen_id or 0
    return [
        review
        for review in history
        if review.id > after and review.decision in ("accept", "correct", "adjudicate", "undo")
    ]


def batch_conflicts(store, project_id: int, items: Sequence[dict]) -> list[tuple[dict, Review]]:
    """The items of a batch save whose document's current review is no longer the one the
    reviewer saw (item["expected_current"]), each with the review that is current now."""
    reviews = store.current_reviews(project_id)
    found = []
    for item in items:
        if "expected_current" not in item:
            continue
        now = reviews.get(item["document_id"])
        if (now.id if now else None) != item["expected_current"]:
            found.append((item, now))
    return found
