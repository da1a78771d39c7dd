"""The review queue: which document a person looks at next, in passes of stable batches.

A pass (`ReviewPass`) walks the project's documents that pass the filters, in one order,
BATCH_SIZE documents at a time. A batch is fixed once picked: its documents, their numbering
and the suggestions shown (`core.predictions.Suggestion` snapshots) stay put when a model
refresh lands mid-batch; the next batch is picked from the newest predictions. That is the
boundary the reviewer sees ("batch 4, suggestions from v7"). Documents acted on in a pass
(reviewed, skipped, flagged) or passed over in a finished batch do not come back in it; a
new pass (another order or filter, or Refresh) starts again from the top.

Orders:
- needed: active learning (`core.learning.selection`): coverage picks for labels without a
  review yet, then priority (uncertainty, disagreement, label balance) picked for diversity
  over sentence embeddings when this process has them cached, else over the ensemble's
  probability vectors (building a batch never waits for a model);
- newest: last added first; random: a seeded shuffle; by_label: taxonomy order of the
  suggested label, most confident first.

The Review page and the review-loop bench drive the same `ReviewPass` functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.learning.selection import (
    COVERAGE_TARGET,
    coverage_picks,
    coverage_window,
    diversity_window,
    needy_labels,
    priority,
    select_batch,
)
from core.predictions import PredictionTable, Suggestion
from core.review_settings import needs_review

ORDERS = ("needed", "newest", "random", "by_label")
STATUSES = ("unreviewed", "reviewed", "all")
BATCH_SIZE = 3  # = the refresh policy's fewest changes: a batch ends about when a model is due


@dataclass(frozen=True)
class QueueFilters:
    predicted_label: str | None = None  # keep documents whose suggested labels include it
    min_confidence: float = 0.0
    max_confidence: float = 1.0
    status: str = "unreviewed"  # "unreviewed" | "reviewed" | "all"
    flagged_only: bool = False
    search: str = ""  # case-insensitive substring of the text
    context_field: str | None = None  # with context_value: a meta field (From, customer, ...)
    context_value: str = ""  # case-insensitive substring of that field
    # Distribution (core.review_settings): with reviews_wanted k > 1, "unreviewed" means
    # "still needs a review from `reviewer`": not labelled by them, fewer than k reviewers,
    # not adjudicated. k = 1: unreviewed = no current review, as with one reviewer.
    reviewer: str = ""
    reviews_wanted: int = 1


@dataclass(frozen=True)
class QueueItem:
    """One document in a batch: its suggestion as picked, and why it was picked."""

    suggestion: Suggestion
    priority: float  # the needed order's score when picked (0 for other orders)
    reason: str  # "coverage" (sought for `for_label`), "priority", or the order's name
    for_label: str | None = None

    @property
    def document_id(self) -> str:
        return self.suggestion.document_id

    def shown(self, **extra) -> dict:
        """The review payload: the suggestion shown and why the queue offered the document."""
        queue = {"reason": self.reason, "label": self.for_label, "priority": self.priority}
        return self.suggestion.shown(queue=queue, **extra)


@dataclass
class ReviewPass:
    """A reviewer's walk through the queue (plain data: Streamlit keeps it in session state)."""

    order: str = "needed"
    filters: QueueFilters = QueueFilters()
    seed: int = 0
    batch_size: int = BATCH_SIZE
    batch: list[QueueItem] = field(default_factory=list)
    position: int = 0  # index into `batch`; len(batch) = the batch is finished
    number: int = 0  # batches picked so far in this pass
    seen: set[str] = field(default_factory=set)  # acted on, or in a finished batch
    previous: list[str] = field(default_factory=list)  # the last finished batch's documents
    left: int = 0  # documents of the pass not acted on when this batch was picked
    version: int | None = None  # the learned configuration the batch's suggestions came from
    finished: bool = False  # nothing was left to pick

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(
                f"unknown queue order {self.order!r}; choose one of: {', '.join(ORDERS)}"
            )

    @property
    def current(self) -> QueueItem | None:
        return self.batch[self.position] if self.position < len(self.batch) else None

    @property
    def needs_batch(self) -> bool:
        return not self.finished and self.position >= len(self.batch)

    def move(self, step: int) -> None:
        """Next/previous within the batch (len(batch): past the last one, batch finished)."""
        self.position = max(0, min(self.position + step, len(self.batch)))

    def act(self, document_id: str) -> None:
        """The reviewer reviewed, skipped or flagged this document: not again in this pass."""
        self.seen.add(document_id)

    def finish_batch(self) -> None:
        """Every document of the batch was shown: none comes back in this pass (one passed
        over with Next included: the pass moves on instead of offering it again)."""
        self.previous = [item.document_id for item in self.batch]
        self.seen.update(self.previous)

    def bring_back(self, item: QueueItem) -> None:
        """Undo: the document is shown again, here, and may come back in this pass."""
        self.seen.discard(item.document_id)
        ids = [entry.document_id for entry in self.batch]
        if item.document_id in ids:
            earlier = ids.index(item.document_id)
            item = self.batch.pop(earlier)  # its snapshot as the batch showed it
            self.position -= earlier < self.position
        self.position = min(self.position, len(self.batch))
        self.batch.insert(self.position, item)
        self.finished = False


def review_decision(labels, suggested) -> str:
    """What saving `labels` for a document means: "accept" when they are exactly the labels
    suggested to the reviewer, else "correct"."""
    return "accept" if set(labels) == set(suggested) else "correct"


# --- picking ---------------------------------------------------------------------------------


def filter_mask(
    store: SiftStore, project_id: int, table: PredictionTable, filters: QueueFilters
) -> np.ndarray:
    """(N,) bool: documents of `table` that pass `filters` (a few bulk store calls)."""
    if filters.status not in STATUSES:
        raise ValueError(
            f"unknown review status filter {filters.status!r}; choose one of: {', '.join(STATUSES)}"
        )
    keep = (table.confidence >= filters.min_confidence - 1e-9) & (
        table.confidence <= filters.max_confidence + 1e-9
    )
    if filters.predicted_label:
        if filters.predicted_label not in table.labels:
            raise ValueError(
                f"label {filters.predicted_label!r} is not in the taxonomy; labels are: "
                f"{', '.join(table.labels)}"
            )
        keep &= table.suggested[:, table.labels.index(filters.predicted_label)]
    if filters.status == "unreviewed" and filters.reviews_wanted > 1:
        keep &= ~table.mask(not_needing_review(store, project_id, filters))
    elif filters.status != "all":
        reviewed = table.mask(store.current_reviews(project_id))
        keep &= reviewed if filters.status == "reviewed" else ~reviewed
    if filters.flagged_only:
        keep &= table.mask(store.flagged_document_ids(project_id))
    if filters.search.strip():
        found = store.search_documents(
            project_id, filters.search.strip(), limit=max(len(table.document_ids), 1)
        )
        keep &= table.mask(found)
    if filters.context_field and filters.context_value.strip():
        found = store.search_context(
            project_id,
            filters.context_field,
            filters.context_value.strip(),
            limit=max(len(table.document_ids), 1),
        )
        keep &= table.mask(found)
    return keep


def not_needing_review(store: SiftStore, project_id: int, filters: QueueFilters) -> set[str]:
    """Documents that are out of `filters.reviewer`'s queue when `filters.reviews_wanted`
    reviews are wanted: labelled by them already, done (k reviewers), or adjudicated.
    Two bulk reads: every reviewer's opinion, and the current reviews (an adjudication is
    the current review of the document it settles)."""
    opinions = store.reviewer_opinions(project_id)
    out = {
        document_id
        for document_id, by_reviewer in opinions.items()
        if not needs_review(
            set(by_reviewer), filters.reviewer, filters.reviews_wanted, adjudicated=False
        )
    }
    out.update(
        document_id
        for document_id, review in store.current_reviews(project_id).items()
        if review.decision == "adjudicate"
    )
    return out


@dataclass(frozen=True)
class DistributionProgress:
    """How far a project with k reviews wanted per document is (the Review page's bar)."""

    documents: int  # in the project
    done: int  # with k reviewers, or adjudicated
    reviews: int  # current opinions, all reviewers together
    mine: int  # documents `reviewer` labelled
    wanted: int  # k

    @property
    def needed(self) -> int:
        """Reviews still wanted before every document is done."""
        return max(self.documents * self.wanted - self.reviews, 0)


def distribution_progress(
    store: SiftStore, project_id: int, reviewer: str, wanted: int
) -> DistributionProgress:
    opinions = store.reviewer_opinions(project_id)
    adjudicated = {
        document_id
        for document_id, review in store.current_reviews(project_id).items()
        if review.decision == "adjudicate"
    }
    done = adjudicated | {d for d, by in opinions.items() if len(by) >= wanted}
    return DistributionProgress(
        documents=store.count_documents(project_id),
        done=len(done),
        # reviews that count towards k (extra ones do not); an adjudicated document is done
        reviews=wanted * len(adjudicated)
        + sum(min(len(by), wanted) for d, by in opinions.items() if d not in adjudicated),
        mine=sum(reviewer in by for by in opinions.values()),
        wanted=wanted,
    )


@dataclass(frozen=True)
class LabelReviewState:
    counts: np.ndarray  # (L,) current reviews carrying each label
    attempts: np.ndarray  # (L,) coverage picks for each label that came back as other labels
    examples: list[list[str]]  # per label: the documents reviewed with it


def label_review_state(
    store: SiftStore, project_id: int, labels: Sequence[str]
) -> LabelReviewState:
    """Per label: how many current reviews carry it, and how many documents the queue picked
    to find it (recorded in Review.shown) were reviewed as something else."""
    index = {name: i for i, name in enumerate(labels)}
    counts = np.zeros(len(labels))
    attempts = np.zeros(len(labels))
    examples: list[list[str]] = [[] for _ in labels]
    for document_id, review in store.current_reviews(project_id).items():
        for name in review.labels:
            if name in index:
                counts[index[name]] += 1
                examples[index[name]].append(document_id)
        sought = ((review.shown or {}).get("queue") or {}).get("label")
        if sought in index and sought not in review.labels:
            attempts[index[sought]] += 1
    return LabelReviewState(counts=counts, attempts=attempts, examples=examples)


def needed_priority(table: PredictionTable, label_counts: np.ndarray | None = None) -> np.ndarray:
    """(N,) the needed order's score (`core.learning.selection.priority`)."""
    return priority(table.uncertainty, table.disagreement, table.ensemble, label_counts)


def ranked(
    table: PredictionTable,
    order: str,
    keep: np.ndarray,
    *,
    seed: int = 0,
    label_counts: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the `keep` documents of `table` in `order` (needed: by priority alone)."""
    if order not in ORDERS:
        raise ValueError(f"unknown queue order {order!r}; choose one of: {', '.join(ORDERS)}")
    n_docs = len(table.document_ids)
    position = np.arange(n_docs)  # added order: the stable tie-break
    if order == "needed":
        scores = needed_priority(table, label_counts)
        order_ = np.lexsort((position, -scores))
    elif order == "newest":
        order_ = position[::-1]
    elif order == "random":
        order_ = np.random.default_rng(seed).permutation(n_docs)
    else:  # by_label: taxonomy order, unscored documents last; most confident first
        group = np.where(table.top >= 0, table.top, len(table.labels))
        order_ = np.lexsort((position, -table.confidence, group))
    return order_[np.asarray(keep, dtype=bool)[order_]]


def diversity_vectors(
    store: SiftStore, project_id: int, table: PredictionTable, wanted
) -> np.ndarray | None:
    """(N, D) sentence embeddings for the documents at `wanted` (zeros elsewhere) when this
    process or the project's store already has them all (`core.models.embedding_cache.peek`),
    else None. Computes nothing."""
    from core.models import embedding_cache
    from core.models.catalog import DEFAULT_EMBEDDING_MODEL

    wanted = np.asarray(wanted, dtype=np.int64)
    if not len(wanted):
        return None
    ids = [table.document_ids[i] for i in wanted]
    texts = [doc.text for doc in store.get_documents(project_id, ids)]
    embedded = embedding_cache.peek(
        DEFAULT_EMBEDDING_MODEL, texts, store=store, project_id=project_id
    )
    if embedded is None:
        return None
    vectors = np.zeros((len(table.document_ids), embedded.shape[1]), dtype=np.float32)
    vectors[wanted] = embedded
    return vectors


def pick_batch(
    store: SiftStore, project_id: int, table: PredictionTable, review_pass: ReviewPass
) -> list[QueueItem]:
    """The next batch of `review_pass` from `table` (its documents not acted on in the pass)."""
    keep = filter_mask(store, project_id, table, review_pass.filters)
    keep &= ~table.mask(review_pass.seen)
    review_pass.left = int(keep.sum())
    k = review_pass.batch_size
    if review_pass.order != "needed":
        picked = ranked(table, review_pass.order, keep, seed=review_pass.seed)[:k]
        return [QueueItem(table.suggestion(int(i)), 0.0, review_pass.order) for i in picked]
    state = label_review_state(store, project_id, table.labels)
    scores = needed_priority(table, state.counts)
    needy = needy_labels(state.counts, state.attempts, k)
    examples = {
        j: [int(i) for i in table.indices([d for d in state.examples[j] if d in table])]
        for j in needy
    }
    # The previous batch counts as picked too: consecutive batches under one model do not
    # serve near-duplicates of what was just reviewed.
    previous = [int(i) for i in table.indices([d for d in review_pass.previous if d in table])]
    wanted: list[np.ndarray | list[int]] = [
        coverage_window(table.ensemble, keep, needy),
        *(np.asarray(rows, dtype=np.int64) for rows in examples.values()),
        previous,
        diversity_window(scores, keep, k),
    ]
    vectors = diversity_vectors(
        store, project_id, table, np.unique(np.concatenate(wanted).astype(np.int64))
    )
    diverse = table.ensemble if vectors is None else vectors
    coverage = coverage_picks(
        table.ensemble,
        keep,
        state.counts,
        state.attempts,
        k,
        embeddings=diverse,
        examples=examples,
    )
    chosen = [i for i, _ in coverage]
    rest = keep.copy()
    rest[chosen] = False
    more = select_batch(
        scores, diverse, k - len(chosen), candidates=rest, already_selected=chosen + previous
    )
    items = [
        QueueItem(table.suggestion(i), float(scores[i]), "coverage", table.labels[j])
        for i, j in coverage
    ]
    items += [QueueItem(table.suggestion(int(i)), float(scores[i]), "priority") for i in more]
    return items


def next_batch(
    store: SiftStore, project_id: int, table: PredictionTable, review_pass: ReviewPass
) -> None:
    """Start the pass's next batch from `table` (the newest predictions)."""
    review_pass.finish_batch()
    review_pass.batch = pick_batch(store, project_id, table, review_pass)
    review_pass.position = 0
    review_pass.version = table.version
    review_pass.finished = not review_pass.batch
    if review_pass.batch:
        review_pass.number += 1


def whole_queue(
    store: SiftStore,
    project_id: int,
    table: PredictionTable,
    *,
    order: str = "needed",
    filters: QueueFilters = QueueFilters(),
    seed: int = 0,
) -> np.ndarray:
    """Every document passing `filters`, ranked (the table view, bulk accept): indices."""
    keep = filter_mask(store, project_id, table, filters)
    counts = (
        label_review_state(store, project_id, table.labels).counts if order == "needed" else None
    )
    return ranked(table, order, keep, seed=seed, label_counts=counts)


__all__ = [
    "BATCH_SIZE",
    "COVERAGE_TARGET",
    "DistributionProgress",
    "ORDERS",
    "STATUSES",
    "LabelReviewState",
    "QueueFilters",
    "QueueItem",
    "ReviewPass",
    "filter_mask",
    "distribution_progress",
    "label_review_state",
    "needed_priority",
    "next_batch",
    "not_needing_review",
    "pick_batch",
    "ranked",
    "review_decision",
    "whole_queue",
]
