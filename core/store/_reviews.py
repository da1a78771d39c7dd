"""Reviews: an append-only log of what people decided about each document.

Nothing here updates or deletes a review (the database refuses to, see
migrations.py). The state of a document is computed from its log:

- current review: its latest 'adjudicate' that no 'undo' retracts, else its latest
  'accept'/'correct' that no 'undo' retracts (an adjudication is the final word: later
  ordinary reviews are second opinions, they do not replace it);
- a reviewer's opinion: their latest unretracted 'accept'/'correct' of the document;
- disputed: two reviewers' opinions differ (as label sets) and no unretracted
  adjudication came after all of them;
- flagged: its latest unretracted 'flag'/'unflag' is a 'flag'.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from core.store._base import StoreBase
from core.store.connection import dumps, loads, utc_now
from core.store.errors import DocumentNotFound, ReviewConflict, StoreError
from core.store.records import UNSET, Review, _Unset

DECISIONS = ("accept", "correct", "skip", "flag", "unflag", "undo", "adjudicate")
# the ones that give a document its labels
LABELLING_DECISIONS = ("accept", "correct", "adjudicate")
OPINION_DECISIONS = ("accept", "correct")  # one reviewer's own opinion of a document
_ITEM_KEYS = {"document_id", "decision", "labels", "shown", "note", "expected_current"}

_NOT_RETRACTED = "NOT EXISTS (SELECT 1 FROM reviews AS u WHERE u.undoes = r.id)"

# The current review of each document (alias r): adjudications rank before every other
# labelling review, then newest first. Used with "row_number() OVER (PARTITION BY
# document_id ORDER BY {_CURRENT_ORDER})".
_CURRENT_ORDER = "(decision = 'adjudicate') DESC, id DESC"
_LABELLING = "decision IN ('accept', 'correct', 'adjudicate')"

_INSERT_REVIEW = """
    INSERT INTO reviews (project_id, document_id, reviewer, created_at, decision, labels,
                         shown, undoes, note, action)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def _new_action() -> str:
    """The id shared by every review one call writes (one click, one bulk save)."""
    return uuid.uuid4().hex


class ReviewsMixin(StoreBase):
    def add_review(
        self,
        project_id: int,
        document_id: str,
        *,
        reviewer: str,
        decision: str,
        labels: Sequence[str] = (),
        shown: dict | None = None,
        note: str = "",
        expected_current: int | None | _Unset = UNSET,
    ) -> Review:
        """Append one review.

        expected_current: the id of the current review the reviewer saw (None:
        they saw none). If the document's current review is another one by
        now, ReviewConflict is raised and nothing is written.
        """
        item = {
            "document_id": document_id,
            "decision": decision,
            "labels": labels,
            "shown": shown,
            "note": note,
            "expected_current": expected_current,
        }
        with self._write():
            label_names = set(self._label_names_of(project_id))
            return self._append_review(
                project_id, item, reviewer, label_names, where="", action=_new_action()
            )

    def add_reviews(self, project_id: int, items: Sequence[dict], *, reviewer: str) -> list[Review]:
        """Append many reviews in one transaction: all of them, or none if any is invalid.

        Each item: {"document_id", "decision", "labels"?, "shown"?, "note"?, "expected_current"?}.
        """
        with self._write():
            label_names = set(self._label_names_of(project_id))
            action = _new_action()  # one bulk save: undone together by undo_last_action
            reviews = []
            for index, item in enumerate(items):
                where = f"Item {index + 1}: "
                unknown = set(item) - _ITEM_KEYS
                if unknown:
                    raise StoreError(
                        f"{where}unknown key(s) {', '.join(sorted(unknown))}; "
                        f"allowed keys are {', '.join(sorted(_ITEM_KEYS))}. Nothing was saved."
                    )
                if "document_id" not in item or "decision" not in item:
                    raise StoreError(
                        f"{where}needs 'document_id' and 'decision'. Nothing was saved."
                    )
                reviews.append(
                    self._append_review(
                        project_id, item, reviewer, label_names, where=where, action=action
                    )
                )
            return reviews

    def undo_review(
        self,
        project_id: int,
        review_id: int,
        *,
        reviewer: str,
        note: str = "",
        action: str | None = None,
    ) -> Review:
        """Append an 'undo' that retracts review `review_id`; returns the 'undo' review."""
        _check_reviewer(reviewer)
        with self._write() as conn:
            self._require_project(project_id)
            row = self._row(
                "SELECT * FROM reviews WHERE project_id = ? AND id = ?", [project_id, review_id]
            )
            if row is None:
                raise StoreError(f"Project {project_id} has no review with id {review_id!r}.")
            if row["decision"] == "undo":
                raise StoreError(f"Review {review_id} is itself an undo; it cannot be undone.")
            if self._scalar("SELECT id FROM reviews WHERE undoes = ?", [review_id]) is not None:
                raise StoreError(f"Review {review_id} has already been undone.")
            return self._insert_review(
                conn,
                project_id,
                row["document_id"],
                reviewer,
                "undo",
                [],
                None,
                review_id,
                note,
                action or _new_action(),
            )

    def undo_last_review(self, project_id: int, reviewer: str) -> Review | None:
        """Retract `reviewer`'s latest review that is not yet undone; None if there is none."""
        _check_reviewer(reviewer)
        with self._write():
            self._require_project(project_id)
            target = self._scalar(
                f"SELECT id FROM reviews AS r WHERE project_id = ? AND reviewer = ? "
                f"AND decision != 'undo' AND {_NOT_RETRACTED} ORDER BY id DESC LIMIT 1",
                [project_id, reviewer],
            )
            if target is None:
                return None
            return self.undo_review(project_id, target, reviewer=reviewer)

    def undo_last_action(self, project_id: int, reviewer: str) -> list[Review]:
        """Retract everything `reviewer`'s latest action wrote (one review, or a whole bulk
        save) that is not yet undone, in one transaction; returns the 'undo' reviews (empty
        when there is nothing to undo). Reviews from before actions were recorded count as
        one action each."""
        _check_reviewer(reviewer)
        with self._write():
            self._require_project(project_id)
            latest = self._row(
                f"SELECT id, action FROM reviews AS r WHERE project_id = ? AND reviewer = ? "
                f"AND decision != 'undo' AND {_NOT_RETRACTED} ORDER BY id DESC LIMIT 1",
                [project_id, reviewer],
            )
            if latest is None:
                return []
            if latest["action"]:
                targets = [
                    row["id"]
                    for row in self._rows(
                        f"SELECT id FROM reviews AS r WHERE project_id = ? AND reviewer = ? "
                        f"AND action = ? AND decision != 'undo' AND {_NOT_RETRACTED} ORDER BY id",
                        [project_id, reviewer, latest["action"]],
                    )
                ]
            else:
                targets = [latest["id"]]
            action = _new_action()
            return [
                self.undo_review(project_id, target, reviewer=reviewer, action=action)
                for target in targets
            ]

    def current_reviews(self, project_id: int) -> dict[str, Review]:
        """document_id -> its current review (latest adjudication not undone, else latest
        accept/correct not undone)."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT * FROM ("
                "  SELECT r.*, row_number() OVER"
                f"   (PARTITION BY document_id ORDER BY {_CURRENT_ORDER}) AS nth"
                f"  FROM reviews AS r WHERE project_id = ? AND {_LABELLING}"
                f" AND {_NOT_RETRACTED}"
                ") WHERE nth = 1 ORDER BY id",
                [project_id],
            )
        return {row["document_id"]: _review(row) for row in rows}

    def current_review(self, project_id: int, document_id: str) -> Review | None:
        """The document's current review, or None if it has none."""
        row = self._row(
            "SELECT * FROM reviews AS r WHERE project_id = ? AND document_id = ? "
            f"AND {_LABELLING} AND {_NOT_RETRACTED} ORDER BY {_CURRENT_ORDER} LIMIT 1",
            [project_id, document_id],
        )
        return None if row is None else _review(row)

    def reviewer_opinions(
        self, project_id: int, document_id: str | None = None
    ) -> dict[str, dict[str, Review]]:
        """{document_id: {reviewer: their opinion}}: each reviewer's latest accept/correct of
        each document (of one document, or of the project) that no undo retracts.
        Adjudications are not opinions; documents nobody labelled are absent."""
        only = ""
        params: list[Any] = [project_id]
        if document_id is not None:
            only = " AND document_id = ?"
            params.append(document_id)
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT * FROM ("
                "  SELECT r.*, row_number() OVER"
                "   (PARTITION BY document_id, reviewer ORDER BY id DESC) AS nth"
                "  FROM reviews AS r WHERE project_id = ?"
                f"  AND decision IN ('accept', 'correct') AND {_NOT_RETRACTED}{only}"
                ") WHERE nth = 1 ORDER BY id",
                params,
            )
        opinions: dict[str, dict[str, Review]] = {}
        for row in rows:
            opinions.setdefault(row["document_id"], {})[row["reviewer"]] = _review(row)
        return opinions

    def disputed_document_ids(self, project_id: int) -> set[str]:
        """Documents whose reviewers' opinions differ (compared as label sets) with no
        unretracted adjudication after the newest of those opinions."""
        with self._read():
            opinions = self.reviewer_opinions(project_id)
            settled = {
                row["document_id"]: row["last"]
                for row in self._rows(
                    "SELECT document_id, max(id) AS last FROM reviews AS r WHERE project_id = ?"
                    f" AND decision = 'adjudicate' AND {_NOT_RETRACTED} GROUP BY document_id",
                    [project_id],
                )
            }
        disputed = set()
        for document_id, by_reviewer in opinions.items():
            if len({frozenset(review.labels) for review in by_reviewer.values()}) < 2:
                continue
            newest = max(review.id for review in by_reviewer.values())
            if settled.get(document_id, 0) < newest:
                disputed.add(document_id)
        return disputed

    def adjudicate(
        self,
        project_id: int,
        document_id: str,
        *,
        reviewer: str,
        labels: Sequence[str],
        note: str = "",
        expected_current: int | None | _Unset = UNSET,
    ) -> Review:
        """Record the final label(s) of a document (an 'adjudicate' review): from now on its
        current review, whatever plain reviews come later, until undone or adjudicated again.

        A method of its own (not add_review's decision) so it takes its own permission.
        expected_current: as add_review's (ReviewConflict when the current review changed)."""
        item = {
            "document_id": document_id,
            "decision": "adjudicate",
            "labels": labels,
            "note": note,
            "expected_current": expected_current,
        }
        with self._write():
            label_names = set(self._label_names_of(project_id))
            return self._append_review(
                project_id,
                item,
                reviewer,
                label_names,
                where="",
                action=_new_action(),
                adjudicating=True,
            )

    def review_history(self, project_id: int, document_id: str | None = None) -> list[Review]:
        """Every review (of one document, or of the project), oldest first."""
        with self._read():
            self._require_project(project_id)
            if document_id is None:
                rows = self._rows(
                    "SELECT * FROM reviews WHERE project_id = ? ORDER BY id", [project_id]
                )
            else:
                rows = self._rows(
                    "SELECT * FROM reviews WHERE project_id = ? AND document_id = ? ORDER BY id",
                    [project_id, document_id],
                )
        return [_review(row) for row in rows]

    def flagged_document_ids(
        self, project_id: int, document_ids: Sequence[str] | None = None
    ) -> set[str]:
        """Documents (of `document_ids`, default all) whose latest unretracted flag/unflag
        is a flag."""
        only = ""
        params: list[Any] = [project_id]
        if document_ids is not None:
            only = " AND document_id IN (SELECT value FROM json_each(?))"
            params.append(dumps(list(document_ids)))
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT document_id, decision FROM ("
                "  SELECT document_id, decision,"
                "    row_number() OVER (PARTITION BY document_id ORDER BY id DESC) AS nth"
                "  FROM reviews AS r WHERE project_id = ? AND decision IN ('flag', 'unflag')"
                f" AND {_NOT_RETRACTED}{only}"
                ") WHERE nth = 1 AND decision = 'flag'",
                params,
            )
        return {row["document_id"] for row in rows}

    def count_labelled_reviews(self, project_id: int) -> int:
        """How many documents have a current review that gives them at least one label (what
        training learns from); one SQL count, cheap enough to run after every review."""
        with self._read():
            self._require_project(project_id)
            return self._scalar(
                "SELECT count(*) FROM ("
                "  SELECT labels,"
                f"    row_number() OVER (PARTITION BY document_id ORDER BY {_CURRENT_ORDER}) AS nth"
                f"  FROM reviews AS r WHERE project_id = ? AND {_LABELLING}"
                f"  AND {_NOT_RETRACTED}"
                ") WHERE nth = 1 AND labels != '[]'",
                [project_id],
            )

    def review_watermark(self, project_id: int) -> int:
        """The id of the project's newest review (0 when none): reviews after it are new."""
        with self._read():
            self._require_project(project_id)
            return int(
                self._scalar("SELECT max(id) FROM reviews WHERE project_id = ?", [project_id]) or 0
            )

    def count_label_changes(self, project_id: int, since_review_id: int) -> int:
        """Reviews after `since_review_id` that changed some document's labels: accepts,
        corrections, and undos of either (what a learned model has not seen yet)."""
        with self._read():
            self._require_project(project_id)
            return self._scalar(
                "SELECT count(*) FROM reviews AS r WHERE project_id = ? AND id > ? AND ("
                f"{_LABELLING} OR (decision = 'undo' AND EXISTS ("
                "SELECT 1 FROM reviews AS o WHERE o.id = r.undoes "
                "AND o.decision IN ('accept', 'correct', 'adjudicate'))))",
                [project_id, since_review_id],
            )

    def count_reviews(self, project_id: int) -> int:
        """How many documents have a current review (accept/correct not undone)."""
        with self._read():
            self._require_project(project_id)
            return self._scalar(
                "SELECT count(DISTINCT document_id) FROM reviews AS r WHERE project_id = ? "
                f"AND {_LABELLING} AND {_NOT_RETRACTED}",
                [project_id],
            )

    # --- internals ------------------------------------------------------------------------

    def _label_names_of(self, project_id: int) -> list[str]:
        self._require_project(project_id)
        rows = self._rows(
            "SELECT name FROM labels WHERE project_id = ? ORDER BY position", [project_id]
        )
        return [row["name"] for row in rows]

    def _append_review(
        self,
        project_id: int,
        item: dict,
        reviewer: str,
        label_names: set[str],
        *,
        where: str,
        action: str,
        adjudicating: bool = False,
    ) -> Review:
        """Validate one review and insert it; must run inside a write transaction."""
        _check_reviewer(reviewer)
        document_id = item["document_id"]
        decision = item["decision"]
        given_labels = item.get("labels") or ()
        if isinstance(given_labels, str) or not all(isinstance(x, str) for x in given_labels):
            raise StoreError(f"{where}labels must be a list of label names, not {given_labels!r}.")
        labels = list(dict.fromkeys(given_labels))  # de-duplicated, order kept
        shown = item.get("shown")
        note = item.get("note") or ""
        if decision == "undo":
            raise StoreError(f"{where}to undo a review use undo_review() or undo_last_review().")
        if decision == "adjudicate" and not adjudicating:
            raise StoreError(
                f"{where}record an adjudication with adjudicate(): it takes its own permission."
            )
        if decision not in DECISIONS:
            raise StoreError(
                f"{where}unknown decision {decision!r}; use one of "
                f"{', '.join(d for d in DECISIONS if d not in ('undo', 'adjudicate'))}."
            )
        if not self._has_document(project_id, document_id):
            raise DocumentNotFound(f"{where}project {project_id} has no document {document_id!r}.")
        unknown = [label for label in labels if label not in label_names]
        if unknown:
            known = ", ".join(sorted(label_names)) or "(none: the taxonomy is empty)"
            raise StoreError(
                f"{where}label(s) {', '.join(map(repr, unknown))} for document {document_id!r} "
                f"are not in the project's taxonomy; known labels: {known}. "
                "Add them to the taxonomy first."
            )
        if shown is not None and not isinstance(shown, dict):
            raise StoreError(f"{where}'shown' must be a dict or None, not {type(shown).__name__}.")
        expected = item.get("expected_current", UNSET)
        if not isinstance(expected, _Unset):
            current = self.current_review(project_id, document_id)
            current_id = None if current is None else current.id
            if current_id != expected:
                raise ReviewConflict(_conflict_message(document_id, current), current=current)
        conn = self._connection()
        return self._insert_review(
            conn, project_id, document_id, reviewer, decision, labels, shown, None, note, action
        )

    def _insert_review(
        self,
        conn: sqlite3.Connection,
        project_id: int,
        document_id: str,
        reviewer: str,
        decision: str,
        labels: list[str],
        shown: dict | None,
        undoes: int | None,
        note: str,
        action: str,
    ) -> Review:
        created_at = utc_now()
        try:
            shown_json = None if shown is None else dumps(shown)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"'shown' for document {document_id!r} is not JSON: {exc}") from exc
        cursor = conn.execute(
            _INSERT_REVIEW,
            [
                project_id,
                document_id,
                reviewer,
                created_at,
                decision,
                dumps(labels),
                shown_json,
                undoes,
                note,
                action,
            ],
        )
        # lastrowid is None only when no row was inserted; this INSERT either adds one or raises.
        assert cursor.lastrowid is not None
        return Review(
            id=cursor.lastrowid,
            project_id=project_id,
            document_id=document_id,
            reviewer=reviewer,
            created_at=created_at,
            decision=decision,
            labels=tuple(labels),
            shown=loads(shown_json),  # as it will read back: a copy, tuples as lists
            undoes=undoes,
            note=note,
            action=action,
        )


def _check_reviewer(reviewer: Any) -> None:
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise StoreError(f"Reviewer {reviewer!r} is empty; say who made the review.")


def _conflict_message(document_id: str, current: Review | None) -> str:
    if current is None:
        return (
            f"Document {document_id!r} no longer has the review you saw (it was undone); "
            "reload it and review again."
        )
    return (
        f"Document {document_id!r} was reviewed by {current.reviewer} at {current.created_at} "
        f"({current.decision}: {', '.join(current.labels) or 'no labels'}) after you opened it; "
        "reload it to see that review before changing it."
    )


def _review(row: dict) -> Review:
    return Review(
        id=row["id"],
        project_id=row["project_id"],
        document_id=row["document_id"],
        reviewer=row["reviewer"],
        created_at=row["created_at"],
        decision=row["decision"],
        labels=tuple(loads(row["labels"])),
        shown=loads(row["shown"]),
        undoes=row["undoes"],
        note=row["note"],
        action=row.get("action", ""),
    )
