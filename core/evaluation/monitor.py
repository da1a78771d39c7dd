"""Monitoring: the run log, labels and confidence over time, reviewer-model agreement, drift.

Pure functions over plain data (`psi`, `label_distribution_by`,
`mean_confidence_by`, `agreement_over_time`) plus `project_snapshot`, which
gathers what they need from the store in a few bulk queries.

Drift is the population stability index (PSI) of a batch (an import) against a
baseline batch, over the predicted-label distribution and over confidence
bins: PSI = sum((actual - expected) * ln(actual / expected)) over categories,
with shares floored at `eps` so an empty category does not divide by zero.
Rule of thumb: below 0.1 stable, 0.1-0.2 a moderate shift, above 0.2 a
significant one.

Small batches make PSI noisy: with K categories and n1, n2 documents, two samples of the
same population already show PSI of about (K - 1) * (1/n1 + 1/n2) by chance (PSI is the
symmetrised KL divergence, whose plug-in estimate is chi-square-like under no shift). A
comparison is judged only when that chance level is below half the "moderate" threshold
and each side has at least MIN_DRIFT_DOCUMENTS; otherwise the report says there is too
little data, and how many documents per side would be enough.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.predictions import PredictionTable, load_predictions

MODERATE_PSI = 0.1
SIGNIFICANT_PSI = 0.2
MIN_DRIFT_DOCUMENTS = 30  # per side, whatever the chance level says
TOO_LITTLE_DATA = "too little data"
NO_PREDICTION = "(no prediction)"
CONFIDENCE_BINS = 10
PERIODS = ("day", "batch")
LABELLING_DECISIONS = ("accept", "correct")


# --- pure functions ---------------------------------------------------------------------


def psi(
    expected_counts: Sequence[float] | Mapping[str, float],
    actual_counts: Sequence[float] | Mapping[str, float],
    eps: float = 1e-4,
) -> float:
    """Population stability index of `actual` against `expected` (counts per category).

    Sequences are aligned by position; mappings by key (a key missing on one side counts 0).
    """
    if isinstance(expected_counts, Mapping) or isinstance(actual_counts, Mapping):
        if not (isinstance(expected_counts, Mapping) and isinstance(actual_counts, Mapping)):
            raise TypeError("pass both counts as mappings (category -> count) or both as lists")
        keys = list(dict.fromkeys([*expected_counts, *actual_counts]))
        expected = np.array([expected_counts.get(k, 0) for k in keys], dtype=float)
        actual = np.array([actual_counts.get(k, 0) for k in keys], dtype=float)
    else:
        expected = np.asarray(expected_counts, dtype=float)
        actual = np.asarray(actual_counts, dtype=float)
        if expected.shape != actual.shape:
            raise ValueError(
                f"expected and actual counts must have one entry per category each; got "
                f"{expected.size} and {actual.size}"
            )
    if (expected < 0).any() or (actual < 0).any():
        raise ValueError("counts must not be negative")
    if expected.sum() == 0 or actual.sum() == 0:
        raise ValueError("PSI needs documents on both sides; the baseline or the batch has none")
    e = np.maximum(expected / expected.sum(), eps)
    a = np.maximum(actual / actual.sum(), eps)
    return float(((a - e) * np.log(a / e)).sum())


def chance_psi(n_categories: int, n_expected: int, n_actual: int) -> float:
    """PSI two samples of one population show by chance: (K - 1) * (1/n1 + 1/n2)."""
    if n_expected <= 0 or n_actual <= 0:
        return float("inf")
    return max(n_categories - 1, 1) * (1 / n_expected + 1 / n_actual)


def documents_needed(n_categories: int) -> int:
    """Documents per side (equal sides) for the chance PSI to fall below MODERATE_PSI / 2."""
    return max(MIN_DRIFT_DOCUMENTS, math.ceil(4 * max(n_categories - 1, 1) / MODERATE_PSI))


def psi_level(value: float) -> str:
    """'stable' (< 0.1), 'moderate' (0.1-0.2) or 'significant' (> 0.2)."""
    if value > SIGNIFICANT_PSI:
        return "significant"
    if value >= MODERATE_PSI:
        return "moderate"
    return "stable"


def label_distribution_by(
    periods: Sequence, labels_per_document: Sequence[Sequence[str]], label_names: Sequence[str]
) -> list[dict]:
    """Per period and label: {period, label, count, share} (share of the period's documents).

    Every label appears in every period (count 0 when absent), periods in sorted order.
    Multi-label documents count once per label, so shares may add up to more than 1.
    """
    if len(periods) != len(labels_per_document):
        raise ValueError(
            f"one period per document needed: {len(periods)} periods, "
            f"{len(labels_per_document)} documents"
        )
    documents: Counter = Counter(periods)
    counts: dict = defaultdict(Counter)
    for period, labels in zip(periods, labels_per_document):
        counts[period].update(set(labels))
    return [
        {
            "period": period,
            "label": label,
            "count": counts[period][label],
            "share": counts[period][label] / documents[period],
        }
        for period in sorted(documents)
        for label in label_names
    ]


def mean_confidence_by(periods: Sequence, confidences: Sequence[float | None]) -> list[dict]:
    """Per period: {period, mean_confidence, n}; None confidences (abstained) are left out."""
    values: dict = defaultdict(list)
    for period, value in zip(periods, confidences, strict=True):
        if value is not None:
            values[period].append(float(value))
    return [
        {"period": period, "mean_confidence": float(np.mean(v)), "n": len(v)}
        for period, v in sorted(values.items())
    ]


def agreement_over_time(
    reviews: Iterable, *, by: str = "day", batch_of: Mapping[str, object] | None = None
) -> list[dict]:
    """Per period: {period, agreement, n}: the share of labelling reviews whose labels equal
    the suggestion shown at review time (Review.shown["labels"], compared as sets).

    reviews: Review records (a project's history; undo entries retract what they undo).
    by: "day" (the review's date) or "batch" (batch_of[document_id], e.g. the import id).
    """
    if by not in PERIODS:
        raise ValueError(f"unknown period {by!r}; choose one of: {', '.join(PERIODS)}")
    if by == "batch" and batch_of is None:
        raise ValueError("by='batch' needs batch_of: document_id -> batch")
    reviews = list(reviews)
    retracted = {r.undoes for r in reviews if r.decision == "undo" and r.undoes is not None}
    outcomes: dict = defaultdict(list)
    for review in reviews:
        if review.decision not in LABELLING_DECISIONS or review.id in retracted:
            continue
        shown = review.shown or {}
        if "labels" not in shown:  # nothing was suggested: nothing to agree with
            continue
        if by == "day":
            period = review.created_at[:10]
        else:
            assert batch_of is not None  # checked above: by="batch" raises without it
            period = batch_of.get(review.document_id)
        if period is None:
            continue
        outcomes[period].append(set(review.labels) == set(shown["labels"] or ()))
    return [
        {"period": period, "agreement": sum(hits) / len(hits), "n": len(hits)}
        for period, hits in sorted(outcomes.items())
    ]


def confidence_histogram(confidences: Sequence[float], bins: int = CONFIDENCE_BINS) -> list[int]:
    """Counts of confidences in `bins` equal bins over [0, 1]."""
    counts, _ = np.histogram(np.clip(np.asarray(confidences, dtype=float), 0, 1), bins, (0.0, 1.0))
    return [int(c) for c in counts]


# --- gathered from the store -------------------------------------------------------------


@dataclass
class ProjectSnapshot:
    """What the monitor charts need, per document (N documents in added order)."""

    table: PredictionTable  # scores and suggestions
    import_ids: np.ndarray  # (N,) the batch that brought each document in
    days: list[str]  # (N,) the day (UTC, YYYY-MM-DD) the document was imported
    reviewed_labels: dict[str, tuple[str, ...]]  # document_id -> current review's labels
    imports: dict[int, str]  # import id -> "#id filename"

    def current_labels(self) -> list[tuple[str, ...]]:
        """Per document: the reviewed labels, else the suggested ones."""
        return [
            self.reviewed_labels.get(doc_id, self.table.suggested_labels(i))
            for i, doc_id in enumerate(self.table.document_ids)
        ]

    def periods(self, by: str) -> list:
        if by not in PERIODS:
            raise ValueError(f"unknown period {by!r}; choose one of: {', '.join(PERIODS)}")
        return list(self.days) if by == "day" else [int(i) for i in self.import_ids]

    def predicted_label_counts(self, import_id: int) -> dict[str, int]:
        """Suggested labels of one batch's documents; unscored ones as NO_PREDICTION."""
        counts = Counter({label: 0 for label in self.table.labels})
        for i in np.flatnonzero(self.import_ids == import_id):
            labels = self.table.suggested_labels(int(i))
            counts.update(labels or (NO_PREDICTION,))
        return dict(counts)

    def confidences(self, import_id: int) -> list[float]:
        mask = (self.import_ids == import_id) & self.table.covered
        return [float(c) for c in self.table.confidence[mask]]


def project_snapshot(
    store: SiftStore, project_id: int, table: PredictionTable | None = None
) -> ProjectSnapshot:
    table = table if table is not None else load_predictions(store, project_id)
    index = {doc_id: i for i, doc_id in enumerate(table.document_ids)}
    import_ids = np.zeros(len(table.document_ids), dtype=int)
    days = [""] * len(table.document_ids)
    imports = {}
    for record in store.list_imports(project_id):
        imports[record.id] = f"#{record.id} {record.filename}"
        for doc_id in store.document_ids(project_id, import_id=record.id):
            i = index.get(doc_id)
            if i is not None:
                import_ids[i] = record.id
                days[i] = record.created_at[:10]
    reviewed = {doc: tuple(r.labels) for doc, r in store.current_reviews(project_id).items()}
    return ProjectSnapshot(
        table=table, import_ids=import_ids, days=days, reviewed_labels=reviewed, imports=imports
    )


@dataclass(frozen=True)
class DriftReport:
    label_psi: float
    confidence_psi: float | None  # None when a side has no scored documents
    level: str  # psi_level of the larger of the two, or "too little data"
    baseline_counts: dict[str, int]
    batch_counts: dict[str, int]
    n_baseline: int
    n_batch: int
    chance_psi: float  # what PSI shows by chance at these sizes (labels)
    documents_needed: int  # per side, for a judgement

    @property
    def enough_data(self) -> bool:
        return self.level != TOO_LITTLE_DATA


def drift(snapshot: ProjectSnapshot, baseline_import: int, batch_import: int) -> DriftReport:
    """PSI of `batch_import` against `baseline_import` (labels and confidence bins)."""
    n_baseline = int((snapshot.import_ids == baseline_import).sum())
    n_batch = int((snapshot.import_ids == batch_import).sum())
    for import_id, n in ((baseline_import, n_baseline), (batch_import, n_batch)):
        if n == 0:
            name = snapshot.imports.get(import_id, f"#{import_id}")
            raise ValueError(
                f"import {name} brought no new documents into the project; pick another batch"
            )
    baseline_counts = snapshot.predicted_label_counts(baseline_import)
    batch_counts = snapshot.predicted_label_counts(batch_import)
    label_psi = psi(baseline_counts, batch_counts)
    base_conf, batch_conf = (
        snapshot.confidences(baseline_import),
        snapshot.confidences(batch_import),
    )
    confidence_psi = (
        psi(confidence_histogram(base_conf), confidence_histogram(batch_conf))
        if base_conf and batch_conf
        else None
    )
    worst = max(label_psi, confidence_psi or 0.0)
    categories = len({*baseline_counts, *batch_counts})
    chance = chance_psi(categories, n_baseline, n_batch)
    enough = min(n_baseline, n_batch) >= MIN_DRIFT_DOCUMENTS and chance < MODERATE_PSI / 2
    return DriftReport(
        label_psi=label_psi,
        confidence_psi=confidence_psi,
        level=psi_level(worst) if enough else TOO_LITTLE_DATA,
        baseline_counts=baseline_counts,
        batch_counts=batch_counts,
        n_baseline=n_baseline,
        n_batch=n_batch,
        chance_psi=chance,
        documents_needed=documents_needed(categories),
    )


def runs_table(runs: Iterable, abandoned: Iterable[int] = ()) -> list[dict]:
    """The run log as table rows, newest first; `abandoned` run ids (still 'running' but their
    process has ended: `Store.abandoned_run_ids`) show as "interrupted"."""
    abandoned = set(abandoned)
    rows = []
    for run in runs:
        rows.append(
            {
                "run": run.id,
                "technique": run.technique,
                "model": run.model_id or "—",
                "revision": (run.model_revision or "")[:12],
                "device": run.device,
                "dtype": run.dtype or "—",
                "why this dtype": run.dtype_reason or "—",
                "started": run.started_at,
                "seconds": run.seconds,
                "documents": run.n_documents,
                "computed": run.n_computed,
                "cached": run.n_cached,
                "status": "interrupted" if run.id in abandoned else run.status,
                "error": (
                    "the process running it ended without finishing it"
                    if run.id in abandoned
                    else run.error or ""
                ),
            }
        )
    return rows[::-1]
