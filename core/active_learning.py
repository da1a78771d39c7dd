"""Active learning: which documents a reviewer should label next, and keeping the learned
models fresh as reviews arrive.

Selection (pure functions over arrays, N documents, L labels, T techniques):

- uncertainty of the current model (the ensemble, which includes the supervised model once
  one exists): single-label 1 - (top - second probability), the margin; multi-label the
  closest any label comes to the threshold. In [0, 1].
- disagreement between techniques: the share of non-abstaining techniques whose decision
  (top label, or label set) differs from the model's. In [0, 1].
- label balance: 1 - L * (p . s) for a document's label distribution p and the reviews'
  label shares s, in [-1, 1]: documents likely in labels with few reviews so far come sooner
  (rare classes, topics the reviewer has not met yet).
- priority = uncertainty + `disagreement_weight` * disagreement
  (+ `balance_weight` * label balance, given the reviewed labels' counts).
- diversity: documents are picked greedily from the `window` highest-priority candidates,
  each pick's priority lowered by `redundancy` times its cosine similarity to the most
  similar document already picked (maximal marginal relevance). A batch is then not twenty
  near-duplicates of one confusing email: the next near-duplicate only comes up once the
  rest of the window has been offered.

Refresh: `maybe_refresh` retrains the supervised model and refits the ensemble weights in a
background thread when the number of reviewed documents grew by max(5, 10%) since the last
trained model, so the reviewer never waits for it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

DISAGREEMENT_WEIGHT = 0.5
BALANCE_WEIGHT = 0.5  # priority for documents likely in labels with few reviews so far
REDUNDANCY = 0.5  # priority lost per unit of cosine similarity to an already-picked document
WINDOW = 10  # candidates considered per pick: WINDOW * batch size (at least MIN_WINDOW)
MIN_WINDOW = 50
DIVERSE_HEAD = 20  # diverse_order diversifies this many leading documents, then plain priority


# --- scores (pure) ------------------------------------------------------------------------------


def uncertainty(
    probabilities: np.ndarray,
    *,
    multi_label: bool = False,
    threshold: float = 0.5,
    covered: np.ndarray | None = None,
) -> np.ndarray:
    """(N, L) probabilities -> (N,) uncertainty in [0, 1]; 1 where not `covered` (no model
    output: nothing is known about the document)."""
    probabilities = np.asarray(probabilities, dtype=float)
    n_docs, n_labels = probabilities.shape
    if n_labels == 0:
        return np.ones(n_docs)
    if multi_label:
        spread = max(threshold, 1.0 - threshold)
        value = (1.0 - np.abs(probabilities - threshold) / spread).max(axis=1)
    elif n_labels == 1:
        value = 1.0 - probabilities[:, 0]
    else:
        ordered = np.sort(probabilities, axis=1)
        value = 1.0 - (ordered[:, -1] - ordered[:, -2])
    value = np.clip(value, 0.0, 1.0)
    if covered is not None:
        value = np.where(np.asarray(covered, dtype=bool), value, 1.0)
    return value


def decisions(scores: np.ndarray, multi_label: bool, threshold: float) -> np.ndarray:
    """(..., L) scores -> (..., L) bool: the top label, or every label >= threshold."""
    if multi_label:
        return scores >= threshold
    out = np.zeros(scores.shape, dtype=bool)
    if scores.shape[-1]:
        np.put_along_axis(out, scores.argmax(axis=-1)[..., None], True, axis=-1)
    return out


def disagreement(
    technique_scores: np.ndarray,
    present: np.ndarray,
    probabilities: np.ndarray,
    *,
    multi_label: bool = False,
    threshold: float = 0.5,
) -> np.ndarray:
    """(T, N, L) technique scores, (T, N) present, (N, L) model probabilities -> (N,) share of
    the techniques that scored a document whose decision differs from the model's."""
    technique_scores = np.asarray(technique_scores, dtype=float)
    present = np.asarray(present, dtype=bool)
    n_docs = probabilities.shape[0]
    if technique_scores.shape[0] == 0:
        return np.zeros(n_docs)
    reference = decisions(np.asarray(probabilities, dtype=float), multi_label, threshold)
    differs = (decisions(technique_scores, multi_label, threshold) != reference[None]).any(axis=2)
    differs &= present
    voters = present.sum(axis=0)
    return np.where(voters > 0, differs.sum(axis=0) / np.maximum(voters, 1), 0.0)


def priority(
    probabilities: np.ndarray,
    technique_scores: np.ndarray | None = None,
    present: np.ndarray | None = None,
    *,
    multi_label: bool = False,
    threshold: float = 0.5,
    covered: np.ndarray | None = None,
    disagreement_weight: float = DISAGREEMENT_WEIGHT,
    label_counts: np.ndarray | None = None,
    balance_weight: float = BALANCE_WEIGHT,
) -> np.ndarray:
    """(N,) uncertainty + disagreement_weight * disagreement + balance_weight * label_balance
    (the last only given `label_counts`, reviewed documents per label): higher = review sooner."""
    value = uncertainty(
        probabilities, multi_label=multi_label, threshold=threshold, covered=covered
    )
    if label_counts is not None and balance_weight:
        value = value + balance_weight * label_balance(probabilities, label_counts)
    if technique_scores is not None and len(technique_scores):
        if present is None:
            present = np.ones(np.asarray(technique_scores).shape[:2], dtype=bool)
        value = value + disagreement_weight * disagreement(
            technique_scores, present, probabilities, multi_label=multi_label, threshold=threshold
        )
    return value


def label_balance(probabilities: np.ndarray, label_counts: np.ndarray | None) -> np.ndarray:
    """(N,) in [-1, 1]: how under-reviewed a document's likely labels are.

    label_counts (L,): reviewed documents per label so far. With the reviews' label shares
    s and a document's label distribution p (its probabilities, normalised to sum 1), the
    value is 1 - L * (p . s), clipped: 0 when the document's labels have had their fair
    share (1/L) of reviews, up to 1 when none, negative when they have had more. It steers
    the queue toward labels the reviewer has barely seen (rare classes, missed topics).
    All zeros before any review."""
    probabilities = np.asarray(probabilities, dtype=float)
    n_docs, n_labels = probabilities.shape
    if label_counts is None or n_labels == 0:
        return np.zeros(n_docs)
    counts = np.asarray(label_counts, dtype=float).reshape(n_labels)
    if counts.sum() <= 0:
        return np.zeros(n_docs)
    share = counts / counts.sum()
    totals = probabilities.sum(axis=1, keepdims=True)
    distribution = np.divide(
        probabilities, totals, out=np.full_like(probabilities, 1.0 / n_labels), where=totals > 0
    )
    return np.clip(1.0 - n_labels * (distribution @ share), -1.0, 1.0)


# --- diverse selection (pure) -------------------------------------------------------------------


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def select_batch(
    priorities: np.ndarray,
    embeddings: np.ndarray | None,
    k: int,
    *,
    candidates: np.ndarray | None = None,
    already_selected: Sequence[int] = (),
    window: int | None = None,
    redundancy: float = REDUNDANCY,
) -> np.ndarray:
    """Indices of `k` documents to review next, best first.

    priorities: (N,); embeddings: (N, D) (any scale: rows are normalised) or None for no
    diversity; candidates: (N,) bool, documents that may be picked (default all);
    already_selected: indices picked before (e.g. the previous batch) that new picks should
    not repeat. Greedy maximal marginal relevance over the top `window` candidates
    (default max(WINDOW * k, MIN_WINDOW)); ties go to the lower index.
    """
    priorities = np.asarray(priorities, dtype=float)
    n_docs = priorities.shape[0]
    allowed = np.ones(n_docs, dtype=bool) if candidates is None else np.asarray(candidates, bool)
    allowed = allowed.copy()
    allowed[list(already_selected)] = False
    pool = np.flatnonzero(allowed)
    k = min(int(k), len(pool))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    ranked = pool[np.lexsort((pool, -priorities[pool]))]
    if embeddings is None or redundancy <= 0:
        return ranked[:k]
    window = max(WINDOW * k, MIN_WINDOW) if window is None else max(int(window), k)
    head = ranked[:window]
    vectors = _unit_rows(np.asarray(embeddings)[head])  # (W, D)
    nearest = np.zeros(len(head))  # highest cosine similarity to anything picked so far
    if len(already_selected):
        previous = _unit_rows(np.asarray(embeddings)[list(already_selected)])
        nearest = np.clip((vectors @ previous.T).max(axis=1), 0.0, None)
    taken = np.zeros(len(head), dtype=bool)
    picks = []
    for _ in range(k):
        gain = np.where(taken, -np.inf, priorities[head] - redundancy * nearest)
        best = int(np.argmax(gain))  # first maximum: head is in priority order
        picks.append(head[best])
        taken[best] = True
        nearest = np.maximum(nearest, np.clip(vectors @ vectors[best], 0.0, None))
    return np.asarray(picks, dtype=np.int64)


def priority_order(
    probabilities: np.ndarray,
    technique_scores: np.ndarray | None = None,
    present: np.ndarray | None = None,
    embeddings: np.ndarray | None = None,
    *,
    multi_label: bool = False,
    threshold: float = 0.5,
    covered: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    disagreement_weight: float = DISAGREEMENT_WEIGHT,
    redundancy: float = REDUNDANCY,
    diverse_head: int = DIVERSE_HEAD,
) -> np.ndarray:
    """Every candidate document's index in review order: the first `diverse_head` picked by
    `select_batch` (priority with diversity), the rest by priority alone (ties by index)."""
    scores = priority(
        probabilities,
        technique_scores,
        present,
        multi_label=multi_label,
        threshold=threshold,
        covered=covered,
        disagreement_weight=disagreement_weight,
    )
    return diverse_order(
        scores, embeddings, candidates=candidates, redundancy=redundancy, diverse_head=diverse_head
    )


def diverse_order(
    priorities: np.ndarray,
    embeddings: np.ndarray | None,
    *,
    candidates: np.ndarray | None = None,
    redundancy: float = REDUNDANCY,
    diverse_head: int = DIVERSE_HEAD,
) -> np.ndarray:
    """Candidate indices in review order: the first `diverse_head` picked by `select_batch`
    (priority with diversity over `embeddings`, (N, D) or None), the rest by priority alone
    (ties by index)."""
    scores = np.asarray(priorities, dtype=float)
    n_docs = scores.shape[0]
    allowed = np.ones(n_docs, dtype=bool) if candidates is None else np.asarray(candidates, bool)
    head = select_batch(
        scores,
        embeddings,
        min(diverse_head, int(allowed.sum())),
        candidates=allowed,
        redundancy=redundancy,
    )
    rest_mask = allowed.copy()
    rest_mask[head] = False
    rest = np.flatnonzero(rest_mask)
    rest = rest[np.lexsort((rest, -scores[rest]))]
    return np.concatenate([head, rest]).astype(np.int64)


def diversity_window(
    priorities: np.ndarray,
    candidates: np.ndarray | None = None,
    diverse_head: int = DIVERSE_HEAD,
) -> np.ndarray:
    """The candidate indices `diverse_order` compares by embedding (the highest priorities,
    WINDOW * diverse_head of them, at least MIN_WINDOW): only these need vectors."""
    scores = np.asarray(priorities, dtype=float)
    allowed = np.ones(len(scores), dtype=bool) if candidates is None else np.asarray(candidates)
    pool = np.flatnonzero(allowed)
    return pool[np.lexsort((pool, -scores[pool]))][: max(WINDOW * diverse_head, MIN_WINDOW)]


# --- from the store -----------------------------------------------------------------------------


def diversity_vectors(
    store,
    project_id: int,
    table,
    window: np.ndarray,
    *,
    compute: bool = True,
) -> np.ndarray | None:
    """(N, D) vectors for `diverse_order`, filled for the documents in `window` (zeros
    elsewhere): their sentence embeddings (the supervised model's embedding model, from the
    process-wide cache, embedding what is missing when `compute`), else None (no model, or
    not cached and not `compute`): callers then use the ensemble's probability vectors."""
    from core import embedding_cache
    from core.models import DEFAULT_EMBEDDING_MODEL

    if not len(window):
        return None
    ids = [table.document_ids[i] for i in window]
    try:
        if compute:
            from core.learn import document_embeddings

            embedded = document_embeddings(store, project_id, ids)
        else:
            texts = [doc.text for doc in store.get_documents(project_id, ids)]
            embedded = embedding_cache.peek(DEFAULT_EMBEDDING_MODEL, texts)
            if embedded is None:
                return None
    except Exception as error:  # a missing model must not break the review queue
        log.warning("active learning: embeddings unavailable (%s); using scores", error)
        return None
    vectors = np.zeros((len(table.document_ids), embedded.shape[1]), dtype=np.float32)
    vectors[window] = embedded
    return vectors


def active_queue(
    store,
    project_id: int,
    *,
    limit: int | None = None,
    use_embeddings: bool = True,
) -> list[str]:
    """The project's unreviewed documents, most worth reviewing first (ids): the review
    queue's "needed" order (`core.review_queue.order_queue`), diversified by the sentence
    embeddings of its leading candidates (computed if need be) unless `use_embeddings` is
    False, when the ensemble's probability vectors stand in for them."""
    from core.review_queue import (
        load_predictions,
        needed_priority,
        order_queue,
        reviewed_label_counts,
    )

    table = load_predictions(store, project_id)
    reviewed = set(store.current_reviews(project_id))
    candidates = np.array([doc not in reviewed for doc in table.document_ids], dtype=bool)
    counts = reviewed_label_counts(store, project_id, table.labels)
    vectors = None
    if use_embeddings:
        window = diversity_window(needed_priority(table, counts), candidates)
        vectors = diversity_vectors(store, project_id, table, window)
    items = order_queue(
        table, order="needed", keep=candidates, vectors=vectors, label_counts=counts
    )
    ids = [item.document_id for item in items]
    return ids if limit is None else ids[:limit]


# --- keeping the models fresh -------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshPolicy:
    """When the learned models are stale: reviews grew by max(min_new, min_growth * last)."""

    min_new_reviews: int = 5
    min_growth: float = 0.10
    min_reviews: int = 4  # the first model needs this many reviewed documents

    def due(self, n_reviews: int, n_reviews_at_last_model: int | None) -> bool:
        if n_reviews_at_last_model is None:
            return n_reviews >= self.min_reviews
        grown = n_reviews - n_reviews_at_last_model
        return grown >= max(
            self.min_new_reviews, math.ceil(self.min_growth * n_reviews_at_last_model)
        )


@dataclass
class RefreshOutcome:
    n_reviews: int
    supervised: dict | None = None  # the supervised model's metrics, when it was trained
    ensemble: dict | None = None  # fitted weights and metrics, when there were enough reviews
    predicted: int = 0  # documents the new supervised model scored
    pruned: int = 0  # predictions of the previous supervised models deleted
    skipped: list[str] = field(default_factory=list)  # why a part did not run


def labelled_review_count(store, project_id: int) -> int:
    """Reviewed documents that carry labels (what training uses)."""
    return store.count_labelled_reviews(project_id)


def refresh_due(store, project_id: int, policy: RefreshPolicy = RefreshPolicy()) -> bool:
    last = store.latest_trained_model(project_id, "supervised")
    return policy.due(
        labelled_review_count(store, project_id), None if last is None else last.n_reviews
    )


def refresh(store, project_id: int, *, predict: bool = True) -> RefreshOutcome:
    """Retrain the supervised model, score the project's documents with it (so the ensemble
    and the queue use it) and refit the ensemble weights. Blocking; see `maybe_refresh`."""
    from core import learn
    from core.engine import run_techniques
    from core.results import project_settings
    from core.techniques import create_technique

    outcome = RefreshOutcome(n_reviews=labelled_review_count(store, project_id))
    try:
        model, outcome.supervised = learn.train_supervised(store, project_id)
    except learn.NotEnoughReviews as reason:
        outcome.skipped.append(f"supervised: {reason}")
        return outcome
    if predict:
        multi_label = project_settings(store.get_project(project_id))["multi_label"]
        technique = create_technique("supervised", multi_label=multi_label, trained=model)
        (run,) = run_techniques(store, project_id, [technique])
        outcome.predicted = run.n_documents
        # Each retrain has a new cache key; the last model's predictions are never read again.
        outcome.pruned = store.prune_superseded_predictions(project_id, "supervised")
    try:
        outcome.ensemble = learn.fit_ensemble_weights(store, project_id)
    except learn.NotEnoughReviews as reason:
        outcome.skipped.append(f"ensemble weights: {reason}")
    return outcome


# (database file, project id) -> the refresh running for it; one at a time per project
_IN_FLIGHT: dict[tuple[str, int], Future] = {}
_IN_FLIGHT_LOCK = threading.Lock()


def refresh_in_flight(store, project_id: int) -> bool:
    """Whether a `maybe_refresh` of this project is running (or queued) in this process."""
    with _IN_FLIGHT_LOCK:
        running = _IN_FLIGHT.get((str(store.path), project_id))
    return running is not None and not running.done()


def maybe_refresh(
    store,
    project_id: int,
    executor: Executor,
    *,
    policy: RefreshPolicy = RefreshPolicy(),
    predict: bool = True,
) -> Future | None:
    """Start `refresh` on `executor` when `policy` says the models are stale; returns at once.

    Returns the Future of the refresh started (or of the one already running for this
    project), or None when nothing is due. The Future's result is a RefreshOutcome; an
    error inside the refresh is logged and raised from `Future.result()`.
    """
    key = (str(store.path), project_id)
    with _IN_FLIGHT_LOCK:
        running = _IN_FLIGHT.get(key)
        if running is not None and not running.done():
            return running
        if not refresh_due(store, project_id, policy):
            return None
        future = executor.submit(refresh, store, project_id, predict=predict)
        _IN_FLIGHT[key] = future

    def _finished(done: Future) -> None:
        with _IN_FLIGHT_LOCK:
            if _IN_FLIGHT.get(key) is done:
                del _IN_FLIGHT[key]
        if done.exception() is not None:
            log.error("refresh of project %s failed: %s", project_id, done.exception())

    future.add_done_callback(_finished)
    return future


__all__ = [
    "RefreshOutcome",
    "RefreshPolicy",
    "active_queue",
    "decisions",
    "disagreement",
    "diverse_order",
    "diversity_vectors",
    "diversity_window",
    "label_balance",
    "labelled_review_count",
    "maybe_refresh",
    "priority",
    "priority_order",
    "refresh",
    "refresh_due",
    "refresh_in_flight",
    "select_batch",
    "uncertainty",
]
