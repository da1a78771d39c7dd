"""Per-reviewer numbers from the review log: progress, throughput, agreement, activity.

- Progress: the documents a reviewer gave an opinion on (latest accept/correct not undone,
  as in core.evaluation.agreement) out of all the project's documents, and the documents
  still open to them: the ones their queue holds under the project's "reviews wanted per
  document" (core.review_settings.needs_review: not reviewed by them, fewer than k
  reviewers, not adjudicated).
- Throughput: reviews per hour of active time. A reviewer's actions (every decision but
  'undo') sorted by time; the gaps between consecutive ones up to ACTIVE_GAP (30 minutes)
  are active time, longer gaps are breaks. The rate counts the actions that end an active
  gap (the first action after a break starts a session and has no measured duration), so
  one lone review gives no rate (None) rather than an infinite one. A bulk save writes many
  reviews at once: they count, with gaps of about zero.
- Agreement with others: for each other reviewer, the documents both gave an opinion on,
  the share with exactly the same labels, and Cohen's kappa on whole label sets (from the
  Agreement's pairs); the reviewer's row gives the share over all those shared documents.
- Activity log: the latest actions, newest first, with time, document, decision, labels
  and note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.evaluation.agreement import Agreement, compute_agreement, opinions_of
from core.review_settings import needs_review, review_settings

if TYPE_CHECKING:
    from core.store.protocol import SiftStore
    from core.store.records import Review

ACTIVE_GAP = timedelta(minutes=30)  # a longer pause between two actions is a break


@dataclass(frozen=True)
class ReviewerStats:
    reviewer: str
    n_actions: int  # every decision but 'undo' (accept, correct, skip, flag, ...)
    n_reviewed: int  # documents with their opinion (latest accept/correct not undone)
    share: float | None  # n_reviewed / documents in the project
    n_open: int  # documents their queue holds: not reviewed by them, still wanting reviews
    active_hours: float
    sessions: int  # runs of actions with no break over ACTIVE_GAP
    per_hour: float | None  # actions per active hour; None without any active time
    n_shared: int  # documents they and at least one other reviewer gave opinions on
    agreement: float | None  # share of (document, other reviewer) pairs with the same labels
    kappa: dict[str, float | None]  # other reviewer -> Cohen's kappa on label sets
    first_at: str
    last_at: str


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def throughput(stamps: Sequence[str]) -> tuple[float, int, int]:
    """(active hours, sessions, actions that end an active gap) of one reviewer's action
    times (ISO-8601, any order)."""
    times = sorted(_time(stamp) for stamp in stamps)
    if not times:
        return 0.0, 0, 0
    active = timedelta(0)
    sessions, counted = 1, 0
    for before, after in zip(times, times[1:]):
        gap = after - before
        if gap > ACTIVE_GAP:
            sessions += 1
        else:
            active += gap
            counted += 1
    return active.total_seconds() / 3600, sessions, counted


def reviewer_stats(
    reviews: Iterable[Review],
    *,
    document_ids: Sequence[str],
    reviews_wanted: int = 1,
    agreement: Agreement | None = None,
) -> list[ReviewerStats]:
    """One row per reviewer who did anything, by name. `reviews`: the project's log, oldest
    first; `document_ids`: all its documents."""
    reviews = list(reviews)
    agreement = agreement or compute_agreement(reviews)
    found, adjudications = opinions_of(reviews)
    reviewed_by: dict[str, set[str]] = {}
    for doc, by in found.items():
        for reviewer in by:
            reviewed_by.setdefault(reviewer, set()).add(doc)
    stamps: dict[str, list[str]] = {}
    for review in reviews:
        if review.decision != "undo":
            stamps.setdefault(review.reviewer, []).append(review.created_at)

    rows = []
    for reviewer in sorted(stamps):
        mine = reviewed_by.get(reviewer, set())
        hours, sessions, counted = throughput(stamps[reviewer])
        same = pairs = 0
        shared_docs: set[str] = set()
        for doc, labels_by in agreement.opinions.items():
            if reviewer not in labels_by:
                continue
            for other, labels in labels_by.items():
                if other != reviewer:
                    pairs += 1
                    same += labels == labels_by[reviewer]
                    shared_docs.add(doc)
        kappas = {}
        for pair in agreement.pairs:
            if reviewer in (pair.reviewer_a, pair.reviewer_b):
                other = pair.reviewer_b if pair.reviewer_a == reviewer else pair.reviewer_a
                kappas[other] = pair.kappa
        rows.append(
            ReviewerStats(
                reviewer=reviewer,
                n_actions=len(stamps[reviewer]),
                n_reviewed=len(mine),
                share=len(mine) / len(document_ids) if document_ids else None,
                n_open=sum(
                    needs_review(
                        set(found.get(doc, ())),
                        reviewer,
                        reviews_wanted,
                        adjudicated=doc in adjudications,
                    )
                    for doc in document_ids
                ),
                active_hours=hours,
                sessions=sessions,
                per_hour=counted / hours if hours > 0 else None,
                n_shared=len(shared_docs),
                agreement=same / pairs if pairs else None,
                kappa=kappas,
                first_at=min(stamps[reviewer]),
                last_at=max(stamps[reviewer]),
            )
        )
    return rows


def documents_done(reviews: Iterable[Review], document_ids: Sequence[str], wanted: int) -> int:
    """Documents with opinions from `wanted` reviewers or more, or adjudicated: done."""
    found, adjudications = opinions_of(reviews)
    return sum(len(found.get(doc, ())) >= wanted or doc in adjudications for doc in document_ids)


def activity_log(
    reviews: Iterable[Review], *, limit: int = 50, reviewer: str | None = None
) -> list[dict[str, Any]]:
    """The latest `limit` actions (of `reviewer`, or everyone), newest first."""
    chosen = [r for r in reviews if reviewer is None or r.reviewer == reviewer]
    chosen.sort(key=lambda r: r.id, reverse=True)
    return [
        {
            "time": review.created_at,
            "reviewer": review.reviewer,
            "document": review.document_id,
            "decision": review.decision,
            "labels": ", ".join(review.labels),
            "note": review.note,
            "undoes": review.undoes,
        }
        for review in chosen[: max(0, limit)]
    ]


def project_reviewer_stats(
    store: SiftStore, project_id: int, agreement: Agreement | None = None
) -> list[ReviewerStats]:
    """reviewer_stats of a stored project."""
    reviews = store.review_history(project_id)
    project = store.get_project(project_id)
    return reviewer_stats(
        reviews,
        document_ids=store.document_ids(project_id),
        reviews_wanted=review_settings(project).reviews_wanted,
        agreement=agreement or compute_agreement(reviews, store.load_taxonomy(project_id).names),
    )


__all__ = [
    "ACTIVE_GAP",
    "ReviewerStats",
    "activity_log",
    "documents_done",
    "project_reviewer_stats",
    "reviewer_stats",
    "throughput",
]
