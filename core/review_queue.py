"""The review queue: which document a person should look at next.

"Most needed next" is the active-learning order of `core.active_learning`: priority =
uncertainty of the ensemble + DISAGREEMENT_WEIGHT * disagreement of the techniques with it
(+ BALANCE_WEIGHT * label balance: labels with few reviews so far come sooner),
the leading documents picked for diversity (not twenty near-duplicates in a row) when
sentence-embedding vectors are given, otherwise over the ensemble's probability vectors.

- uncertainty, single-label: 1 - (top score - second score), the margin;
  multi-label: the closest any label comes to the threshold,
  1 - |score - threshold| / max(threshold, 1 - threshold);
  a document no technique scored (the ensemble abstains) counts as 1.
- disagreement: the share of non-abstaining techniques whose decision (top
  label, or label set when multi-label) differs from the ensemble's.

Everything is computed with numpy over a `PredictionTable` (every document's
scores from every technique's latest run, fetched in one query per
technique), so a 20,000-document project is ranked in milliseconds.
The ensemble here is `core.techniques.ensemble.combine`, vectorised: the same
weights, the same skipped abstentions, the same renormalisation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.active_learning import (
    BALANCE_WEIGHT,
    DISAGREEMENT_WEIGHT,
    decisions,
    disagreement,
    diverse_order,
    label_balance,
    uncertainty,
)
from core.results import ENSEMBLE, project_settings

ORDERS = ("needed", "newest", "random", "by_label")
STATUSES = ("unreviewed", "reviewed", "all")


@dataclass(frozen=True)
class QueueFilters:
    predicted_label: str | None = None  # keep documents whose suggested labels include it
    min_confidence: float = 0.0
    max_confidence: float = 1.0
    status: str = "unreviewed"  # "unreviewed" | "reviewed" | "all"
    flagged_only: bool = False
    search: str = ""  # case-insensitive substring of the text


@dataclass(frozen=True)
class QueueItem:
    document_id: str
    confidence: float  # the ensemble's top score; 0.0 when it abstains
    suggested_labels: tuple[str, ...]  # what Accept would save
    disagreement: float  # [0, 1]
    uncertainty: float  # [0, 1]
    priority: float  # uncertainty + DISAGREEMENT_WEIGHT * disagreement


@dataclass
class PredictionTable:
    """Every document's scores from every technique's latest run, as arrays.

    T techniques, N documents (in the order they were added), L labels.
    """

    document_ids: list[str]
    labels: list[str]
    techniques: list[str]
    scores: np.ndarray  # (T, N, L) float; zeros where the technique abstained / has no result
    present: np.ndarray  # (T, N) bool: the technique scored the document
    multi_label: bool = False
    threshold: float = 0.5
    weights: dict[str, float] | None = None  # fitted ensemble weights; None = equal
    cache_keys: dict[str, str] = field(default_factory=dict)  # technique -> cache key read
    # derived in __post_init__
    ensemble: np.ndarray = field(init=False)  # (N, L)
    covered: np.ndarray = field(init=False)  # (N,) bool: the ensemble did not abstain
    confidence: np.ndarray = field(init=False)  # (N,)
    suggested: np.ndarray = field(init=False)  # (N, L) bool: labels Accept would save
    top: np.ndarray = field(init=False)  # (N,) int, -1 when not covered
    uncertainty: np.ndarray = field(init=False)  # (N,)
    disagreement: np.ndarray = field(init=False)  # (N,)

    def __post_init__(self) -> None:
        n_docs, n_labels = len(self.document_ids), len(self.labels)
        self.scores = np.asarray(self.scores, dtype=float).reshape(
            len(self.techniques), n_docs, n_labels
        )
        self.present = np.asarray(self.present, dtype=bool).reshape(len(self.techniques), n_docs)
        self.ensemble, self.covered = combine_arrays(
            self.scores, self.present, self.techniques, self.weights, self.multi_label
        )
        self.confidence = np.where(self.covered, self.ensemble.max(axis=1, initial=0.0), 0.0)
        self.top = (
            np.where(self.covered, _argmax(self.ensemble), -1) if n_labels else np.full(n_docs, -1)
        )
        self.suggested = (
            decisions(self.ensemble, self.multi_label, self.threshold) & (self.covered[:, None])
        )
        self.uncertainty = uncertainty(
            self.ensemble,
            multi_label=self.multi_label,
            threshold=self.threshold,
            covered=self.covered,
        )
        self.disagreement = disagreement(
            self.scores,
            self.present,
            self.ensemble,
            multi_label=self.multi_label,
            threshold=self.threshold,
        )
        self._index = {doc_id: i for i, doc_id in enumerate(self.document_ids)}

    @property
    def priority(self) -> np.ndarray:
        return self.uncertainty + DISAGREEMENT_WEIGHT * self.disagreement

    def index_of(self, document_id: str) -> int:
        return self._index[document_id]

    def __contains__(self, document_id: str) -> bool:
        return document_id in self._index

    def suggested_labels(self, i: int) -> tuple[str, ...]:
        return tuple(self.labels[j] for j in np.flatnonzero(self.suggested[i]))

    def item(self, i: int) -> QueueItem:
        return QueueItem(
            document_id=self.document_ids[i],
            confidence=float(self.confidence[i]),
            suggested_labels=self.suggested_labels(i),
            disagreement=float(self.disagreement[i]),
            uncertainty=float(self.uncertainty[i]),
            priority=float(self.uncertainty[i] + DISAGREEMENT_WEIGHT * self.disagreement[i]),
        )

    def shown(self, document_id: str) -> dict:
        """The suggestion as a reviewer sees it, for Review.shown (the `shown_payload` shape)."""
        i = self._index[document_id]
        ensemble = self._scores_dict(self.ensemble[i]) if self.covered[i] else None
        techniques = {
            name: self._scores_dict(self.scores[t, i]) if self.present[t, i] else None
            for t, name in enumerate(self.techniques)
        }
        return shown_payload(
            list(self.suggested_labels(i)), ensemble, techniques, cache_keys=self.cache_keys
        )

    def _scores_dict(self, row: np.ndarray) -> dict[str, float]:
        return {name: float(value) for name, value in zip(self.labels, row)}


def shown_payload(
    labels: Sequence[str],
    ensemble_scores: Mapping[str, float] | None,
    technique_scores: Mapping[str, Mapping[str, float] | None],
    *,
    cache_keys: Mapping[str, str] | None = None,
) -> dict:
    """What a review records as "the suggestion shown": labels, ensemble scores, each technique's
    scores (None = abstained) and the cache keys of the runs they came from."""
    return {
        "labels": list(labels),
        "scores": dict(ensemble_scores) if ensemble_scores is not None else None,
        "techniques": {
            name: dict(scores) if scores is not None else None
            for name, scores in technique_scores.items()
            if name != ENSEMBLE
        },
        "cache_keys": dict(cache_keys or {}),
    }


# --- the arithmetic (pure, on arrays) -----------------------------------------------------


def combine_arrays(
    scores: np.ndarray,
    present: np.ndarray,
    techniques: Sequence[str],
    weights: Mapping[str, float] | None,
    multi_label: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, L) scores + (T, N) present -> ensemble (N, L) and covered (N,), as `combine` does."""
    n_techniques, n_docs, n_labels = scores.shape
    w = np.array(
        [1.0 if weights is None else float(weights.get(name, 0.0)) for name in techniques],
        dtype=float,
    ).reshape(n_techniques)
    w = np.where(w > 0, w, 0.0)
    effective = w[:, None] * present  # (T, N)
    weight_sum = effective.sum(axis=0)  # (N,)
    covered = weight_sum > 0
    total = (
        np.einsum("tn,tnl->nl", effective, scores) if n_techniques else np.zeros((n_docs, n_labels))
    )
    averaged = np.clip(total / np.where(covered, weight_sum, 1.0)[:, None], 0.0, 1.0)
    if not multi_label and n_labels:
        sums = averaged.sum(axis=1, keepdims=True)
        averaged = np.where(sums > 0, averaged / np.where(sums > 0, sums, 1.0), 1.0 / n_labels)
    averaged[~covered] = 0.0
    return averaged, covered


def _argmax(scores: np.ndarray) -> np.ndarray:
    # First maximum wins, as max(dict, key=...) does in core.results.suggested_labels.
    return scores.argmax(axis=-1)


# --- from the store ----------------------------------------------------------------------


def load_predictions(store, project_id: int) -> PredictionTable:
    """Every document and the latest scores of every technique: one query per technique."""
    settings = project_settings(store.get_project(project_id))
    labels = store.load_taxonomy(project_id).names
    document_ids = store.document_ids(project_id)
    index = {doc_id: i for i, doc_id in enumerate(document_ids)}
    cache_keys = {
        name: key for name, key in store.latest_cache_keys(project_id).items() if name != ENSEMBLE
    }
    techniques = sorted(cache_keys)
    scores = np.zeros((len(techniques), len(document_ids), len(labels)))
    present = np.zeros((len(techniques), len(document_ids)), dtype=bool)
    for t, name in enumerate(techniques):
        for doc_id, doc_scores in store.get_scores(project_id, cache_keys[name]).items():
            i = index.get(doc_id)
            if i is None or doc_scores is None:
                continue
            present[t, i] = True
            scores[t, i] = [float(doc_scores.get(label, 0.0)) for label in labels]
    weights_model = store.latest_trained_model(project_id, "ensemble_weights")
    return PredictionTable(
        document_ids=document_ids,
        labels=labels,
        techniques=techniques,
        scores=scores,
        present=present,
        multi_label=bool(settings["multi_label"]),
        threshold=float(settings["threshold"]),
        weights=weights_model.params.get("weights") if weights_model else None,
        cache_keys={name: cache_keys[name] for name in techniques},
    )


def table_signature(store, project_id: int) -> tuple:
    """Changes whenever `load_predictions` would return something else (cheap: two small queries).

    New documents, a new run, new ensemble weights or changed settings change it.
    """
    project = store.get_project(project_id)
    settings = project_settings(project)
    weights_model = store.latest_trained_model(project_id, "ensemble_weights")
    return (
        project_id,
        store.count_documents(project_id),
        tuple(sorted(store.latest_cache_keys(project_id).items())),
        weights_model.id if weights_model else None,
        bool(settings["multi_label"]),
        float(settings["threshold"]),
        tuple(store.load_taxonomy(project_id).names),
    )


def reviewed_label_counts(store, project_id: int, labels: Sequence[str]) -> np.ndarray:
    """(L,) how many current reviews carry each of `labels` (what label balance needs)."""
    index = {name: i for i, name in enumerate(labels)}
    counts = np.zeros(len(labels))
    for review in store.current_reviews(project_id).values():
        for name in review.labels:
            if name in index:
                counts[index[name]] += 1
    return counts


def needed_priority(table: PredictionTable, label_counts: np.ndarray | None = None) -> np.ndarray:
    """(N,) the "needed" order's score: the table's priority plus, given the reviewed labels'
    counts, `core.active_learning.label_balance` (labels seen little so far come sooner)."""
    if label_counts is None:
        return table.priority
    return table.priority + BALANCE_WEIGHT * label_balance(table.ensemble, label_counts)


def order_queue(
    table: PredictionTable,
    *,
    order: str = "needed",
    keep: np.ndarray | None = None,
    seed: int = 0,
    vectors: np.ndarray | None = None,
    label_counts: np.ndarray | None = None,
) -> list[QueueItem]:
    """Rank the documents of `table` (only those where `keep` is True) by `order`.

    For "needed": `vectors` (N, D) are what diversity compares (sentence embeddings of at
    least the `core.active_learning.diversity_window`; default the ensemble's probabilities)
    and `label_counts` (L,) the reviews per label so far (`reviewed_label_counts`).
    """
    if order not in ORDERS:
        raise ValueError(f"unknown queue order {order!r}; choose one of: {', '.join(ORDERS)}")
    n_docs = len(table.document_ids)
    position = np.arange(n_docs)  # added order: the stable tie-break
    if order == "needed":
        ranked = diverse_order(
            needed_priority(table, label_counts),
            table.ensemble if vectors is None else vectors,
            candidates=keep,
        )
        return [table.item(int(i)) for i in ranked]
    if order == "newest":
        ranked = position[::-1]
    elif order == "random":
        ranked = np.random.default_rng(seed).permutation(n_docs)
    else:  # by_label: taxonomy order, unscored documents last; most confident first
        group = np.where(table.top >= 0, table.top, len(table.labels))
        ranked = np.lexsort((position, -table.confidence, group))
    if keep is not None:
        ranked = ranked[np.asarray(keep, dtype=bool)[ranked]]
    return [table.item(int(i)) for i in ranked]


def filter_mask(
    store, project_id: int, table: PredictionTable, filters: QueueFilters
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
    if filters.status != "all":
        reviewed = _mask(table, store.current_reviews(project_id))
        keep &= reviewed if filters.status == "reviewed" else ~reviewed
    if filters.flagged_only:
        keep &= _mask(table, store.flagged_document_ids(project_id))
    if filters.search.strip():
        found = store.search_documents(
            project_id, filters.search.strip(), limit=max(len(table.document_ids), 1)
        )
        keep &= _mask(table, found)
    return keep


def _mask(table: PredictionTable, document_ids) -> np.ndarray:
    mask = np.zeros(len(table.document_ids), dtype=bool)
    for doc_id in document_ids:
        if doc_id in table:
            mask[table.index_of(doc_id)] = True
    return mask


def build_queue(
    store,
    project_id: int,
    *,
    order: str = "needed",
    filters: QueueFilters = QueueFilters(),
    seed: int = 0,
) -> list[QueueItem]:
    """The project's documents that pass `filters`, in review order."""
    table = load_predictions(store, project_id)
    return order_queue(
        table, order=order, keep=filter_mask(store, project_id, table, filters), seed=seed
    )
