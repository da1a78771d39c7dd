"""The one learning path: reviews in, a judged configuration out.

`learn` is what the app's background refresh, `python -m core train` and the review-loop
bench all run:

1. the project's labelled reviews, split into CV_FOLDS folds (stratified when every label
   has two reviews);
2. a candidate supervised model (`core.learning.linear`) fitted on every review, and
   cross-fitted for each review's out-of-fold probabilities;
3. the ensemble's combination (weights, temperature, thresholds; `core.learning.stacking`)
   cross-fitted on the stack of out-of-sample rows: the stored predictions of the techniques
   that learn nothing, and the supervised model's out-of-fold ones;
4. the guard (`core.learning.guard`): the candidate, out of fold, against the current
   configuration and the zero-review baseline on the same reviewed documents, all out of
   sample;
5. adopted: the model is stored, scores every document, and the configuration becomes the
   project's new version (with its out-of-fold rows, for honest Evaluate figures);
   refused: a rejected version records why, and the project keeps what it had.

`RefreshPolicy` says when to run it again: after max(3, 10%) label changes (accepts,
corrections, undos) since the last judged candidate; `maybe_refresh` runs it on an
executor so no reviewer waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

import logging
import math
import threading
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from core.evaluation.metrics import Scores
from core.learning.guard import Rows, judge
from core.learning.linear import (
    MAX_POOL,
    FittedLinear,
    NotEnoughReviews,
    fit_linear_model,
    label_prior,
    sample_rows,
)
from core.learning.stacking import CrossFitted, cross_fit, shift_weights
from core.learning.trained import current_supervised_model, save_supervised_model
from core.learning.versions import (
    OutOfFold,
    describe_change,
    keep_learned_predictions,
    out_of_fold,
)
from core.predictions import (
    EQUAL,
    LEARNED,
    SUPERVISED,
    PredictionTable,
    combine_arrays,
    decide,
    load_predictions,
)

log = logging.getLogger(__name__)

MIN_REVIEWS = 3  # labelled reviewed documents before the first candidate
CV_FOLDS = 5


def folds_for(targets: np.ndarray, multi_label: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs over the reviews: stratified by label (single-label, when
    every reviewed label has at least two reviews), else plain shuffled folds."""
    n = len(targets)
    if n < 2:
        return []
    if not multi_label:
        first = targets.argmax(axis=1)
        smallest = np.bincount(first)[np.unique(first)].min()
        if smallest >= 2 and len(np.unique(first)) > 1:
            splitter = StratifiedKFold(min(CV_FOLDS, int(smallest)), shuffle=True, random_state=0)
            return list(splitter.split(np.zeros(n), first))
    return list(KFold(min(CV_FOLDS, n), shuffle=True, random_state=0).split(np.zeros(n)))


@dataclass
class LearnOutcome:
    n_reviews: int
    adopted: bool = False
    reason: str = ""
    version_id: int | None = None  # the version row written (adopted or rejected)
    scores: dict[str, Scores] = field(default_factory=dict)  # candidate, current, baseline
    predicted: int = 0  # documents the adopted supervised model scored
    pruned: int = 0  # superseded supervised predictions deleted
    skipped: str | None = None  # why nothing was judged (too few reviews)


@dataclass(frozen=True)
class ReviewedRows:
    """The labelled reviews, in prediction-table order."""

    document_ids: list[str]
    review_ids: np.ndarray  # (n,)
    labels: list[tuple[str, ...]]
    targets: np.ndarray  # (n, L) 0/1 over the taxonomy
    positions: np.ndarray  # (n,) rows of the prediction table


def reviewed_rows(store: SiftStore, project_id: int, table: PredictionTable) -> ReviewedRows:
    """Current reviews with at least one label of the taxonomy (single-label: the first)."""
    index = {name: j for j, name in enumerate(table.labels)}
    reviews = store.current_reviews(project_id)
    chosen = []
    for doc_id in table.document_ids:
        review = reviews.get(doc_id)
        if review is None:
            continue
        known = [name for name in review.labels if name in index]
        if known:
            chosen.append((doc_id, review.id, tuple(known if table.multi_label else known[:1])))
    targets = np.zeros((len(chosen), len(table.labels)))
    for i, (_, _, names) in enumerate(chosen):
        targets[i, [index[name] for name in names]] = 1.0
    document_ids = [doc_id for doc_id, _, _ in chosen]
    return ReviewedRows(
        document_ids=document_ids,
        review_ids=np.array([review_id for _, review_id, _ in chosen], dtype=np.int64),
        labels=[names for _, _, names in chosen],
        targets=targets,
        positions=table.indices(document_ids),
    )


def baseline_rows(table: PredictionTable, positions: np.ndarray):
    """The zero-review suggestion on these rows: equal weights over the techniques that learn
    nothing, the project's threshold. -> (probabilities, covered, suggested)."""
    base = [name for name in table.techniques if name not in LEARNED]
    scores, present = table.technique_rows(base)
    mixed, covered = combine_arrays(
        scores[:, positions], present[:, positions], base, EQUAL, table.multi_label
    )
    suggested, _ = decide(mixed, covered, multi_label=table.multi_label, thresholds=table.threshold)
    return mixed, covered, suggested


def current_rows(store: SiftStore, project_id: int, table: PredictionTable, document_ids, version):
    """What the current configuration says about these reviewed documents, out of sample:
    the out-of-fold rows stored with it where it learned from the document, its live
    suggestion elsewhere (it never saw those labels). -> (probabilities, suggested), the
    zero-review rows before anything was learned, or None when it cannot say (it was
    learned under other labels: its rows do not cover today's taxonomy)."""
    positions = table.indices(document_ids)
    if version is None:
        mixed, _, decided = baseline_rows(table, positions)
        return mixed, decided
    held_out = out_of_fold(store, project_id, version)
    if held_out is None:
        return None
    columns = held_out.columns_for(table.labels)
    if columns is None:
        return None
    probabilities = table.ensemble[positions].copy()
    suggested = table.suggested[positions].copy()
    mine, rows = held_out.rows_for(document_ids, table.labels)
    probabilities[mine] = held_out.ensemble[np.ix_(rows, columns)]
    suggested[mine] = held_out.suggested[np.ix_(rows, columns)]
    return probabilities, suggested


def unreviewed_pool(table: PredictionTable, reviewed) -> list[str]:
    """The unreviewed documents self-training may use (`sample_rows`: a seeded sample of
    MAX_POOL at most, the same documents on every retrain); only these are embedded."""
    skip = set(reviewed)
    pool = np.array([doc_id for doc_id in table.document_ids if doc_id not in skip], dtype=object)
    return [str(doc_id) for doc_id in sample_rows(pool, MAX_POOL)]


def population_weights(table, stack, present, names, pool, model, unlabelled) -> np.ndarray:
    """(n,) `core.learning.stacking.shift_weights` of the reviewed documents: their
    confidence under the equal-weight ensemble (supervised out of fold) against that of the
    unreviewed pool (supervised: the candidate model)."""
    reviewed, _ = combine_arrays(stack, present, names, EQUAL, table.multi_label)
    if not pool:
        return np.ones(len(reviewed))
    positions = table.indices(pool)
    base_scores, base_present = table.technique_rows(names[:-1])
    population_stack = np.concatenate(
        [base_scores[:, positions], model.probabilities(unlabelled)[None]], axis=0
    )
    population_present = np.concatenate(
        [base_present[:, positions], np.ones((1, len(pool)), dtype=bool)], axis=0
    )
    population, _ = combine_arrays(
        population_stack, population_present, names, EQUAL, table.multi_label
    )
    return shift_weights(reviewed.max(axis=1), population.max(axis=1))


@dataclass(frozen=True)
class Candidate:
    """A supervised model and the ensemble's combination, fitted and cross-fitted."""

    fitted: FittedLinear  # the supervised model, and its out-of-fold probabilities
    crossed: CrossFitted  # the combination, and the ensemble's out-of-fold rows
    names: list[str]  # the stack's techniques: those that learn nothing, then supervised


def train_candidate(
    store: SiftStore,
    project_id: int,
    table: PredictionTable,
    reviewed: ReviewedRows,
    folds,
    version,
) -> Candidate:
    """Steps 2 and 3: the supervised model, then the combination on out-of-sample rows."""
    from core.models.catalog import DEFAULT_EMBEDDING_MODEL
    from core.models.embedding_cache import document_embeddings

    features = document_embeddings(store, project_id, reviewed.document_ids)
    pool = unreviewed_pool(table, reviewed.document_ids)
    unlabelled = document_embeddings(store, project_id, pool) if pool else None
    fitted = fit_linear_model(
        features,
        reviewed.labels,
        multi_label=table.multi_label,
        embedding_model=DEFAULT_EMBEDDING_MODEL,
        prior=label_prior(store.load_taxonomy(project_id), multi_label=table.multi_label),
        unlabelled=unlabelled,
        folds=folds,
        start=current_supervised_model(store, project_id, version),
    )
    base = [name for name in table.techniques if name not in LEARNED]
    base_scores, base_present = table.technique_rows(base)
    names = [*base, SUPERVISED]
    # learn() calls this with MIN_REVIEWS or more reviews, so `folds` is never empty and
    # fit_linear_model cross-fitted
    assert fitted.out_of_fold is not None
    stack = np.concatenate([base_scores[:, reviewed.positions], fitted.out_of_fold[None]], axis=0)
    present = np.concatenate(
        [base_present[:, reviewed.positions], np.ones((1, len(reviewed.targets)), dtype=bool)],
        axis=0,
    )
    crossed = cross_fit(
        stack,
        present,
        names,
        reviewed.targets,
        table.labels,
        folds,
        multi_label=table.multi_label,
        threshold=table.threshold,
        sample_weights=population_weights(
            table, stack, present, names, pool, fitted.model, unlabelled
        ),
    )
    return Candidate(fitted=fitted, crossed=crossed, names=names)


def learn(store: SiftStore, project_id: int, *, by: str = "system") -> LearnOutcome:
    """Train a candidate from the current reviews, judge it, adopt it or say why not.

    Blocking (seconds to a minute); see `maybe_refresh` for the background form.
    """
    watermark = store.review_watermark(project_id)
    table = load_predictions(store, project_id)
    reviewed = reviewed_rows(store, project_id, table)
    outcome = LearnOutcome(n_reviews=len(reviewed.document_ids))
    if outcome.n_reviews < MIN_REVIEWS:
        outcome.skipped = (
            f"{outcome.n_reviews} reviewed documents with labels; at least {MIN_REVIEWS} are "
            "needed before Sift learns from them"
        )
        return outcome
    folds = folds_for(reviewed.targets, table.multi_label)
    version = store.current_model_version(project_id)
    candidate = train_candidate(store, project_id, table, reviewed, folds, version)
    crossed = candidate.crossed

    # 4. the guard: the candidate against zero reviews and against what the project shows
    # now, each out of sample on every reviewed document
    truth = reviewed.targets.astype(bool)
    mine = Rows(crossed.suggested, crossed.probabilities)
    mixed, _, decided = baseline_rows(table, reviewed.positions)
    baseline = Rows(decided, mixed)
    shown_now = current_rows(store, project_id, table, reviewed.document_ids, version)
    # A version learned under other labels cannot be measured out of sample: the baseline
    # stands in for it (the candidate must still beat what zero reviews would show).
    current = baseline if shown_now is None else Rows(shown_now[1], shown_now[0])
    pinned = store.pinned_model_version(project_id)
    verdict = judge(
        mine,
        current,
        baseline,
        truth,
        multi_label=table.multi_label,
        current_name=f"v{version.id}" if version else "the zero-review baseline",
        pinned=f"v{pinned}" if pinned is not None else None,
    )
    outcome.adopted, outcome.reason = verdict.adopt, verdict.reason
    outcome.scores = {
        name: rows.scores(truth, table.multi_label)
        for name, rows in (("candidate", mine), ("current", current), ("baseline", baseline))
    }
    config = {
        "combination": crossed.combination.to_json(),
        "calibrated": crossed.calibrated,
        "techniques": candidate.names,
        "base_cache_keys": {name: table.cache_keys[name] for name in candidate.names[:-1]},
        "review_watermark": watermark,
    }
    config["changes"] = describe_change(version, config, outcome.n_reviews)
    metrics = {
        **{name: scores.to_json() for name, scores in outcome.scores.items()},
        "current_version": version.id if version else None,
        "folds": len(folds),
    }
    if verdict.adopt:
        adopt(store, project_id, table, reviewed, candidate, config, metrics, outcome, by=by)
    else:
        outcome.version_id = store.save_model_version(
            project_id,
            status="rejected",
            config=config,
            metrics=metrics,
            reason=verdict.reason,
            n_reviews=outcome.n_reviews,
            by=by,
        ).id
    return outcome


def adopt(
    store: SiftStore, project_id, table, reviewed, candidate, config, metrics, outcome, *, by
) -> None:
    """Step 5: store the model, score every document with it, record the version with its
    out-of-fold rows, drop the supervised predictions no version needs any more."""
    from core.engine import run_techniques
    from core.techniques import create_technique

    fitted, crossed = candidate.fitted, candidate.crossed
    model_id = save_supervised_model(
        store,
        project_id,
        fitted.model,
        metrics={
            "cv_accuracy": outcome.scores["candidate"].accuracy,
            "cv_macro_f1": outcome.scores["candidate"].macro_f1,
        },
        n_reviews=outcome.n_reviews,
    )
    technique = create_technique(SUPERVISED, multi_label=table.multi_label, trained=fitted.model)
    (run,) = run_techniques(store, project_id, [technique])
    if run.status != "finished":
        raise RuntimeError(f"scoring the documents with the new model {run.status}: {run.error}")
    outcome.predicted = run.n_computed
    held_out = OutOfFold(
        document_ids=tuple(reviewed.document_ids),
        review_ids=reviewed.review_ids,
        labels=tuple(table.labels),
        ensemble=crossed.probabilities,
        covered=crossed.covered,
        suggested=crossed.suggested,
        supervised=fitted.out_of_fold,
    )
    outcome.version_id = store.save_model_version(
        project_id,
        status="adopted",
        config={
            **config,
            "learned_cache_keys": {SUPERVISED: run.cache_key},
            "supervised_model_id": model_id,
        },
        metrics=metrics,
        reason=outcome.reason,
        n_reviews=outcome.n_reviews,
        blob=held_out.to_bytes(),
        by=by,
    ).id
    outcome.pruned = keep_learned_predictions(store, project_id)


# --- when to learn again ---------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshPolicy:
    """When to judge a new candidate: after max(min_changes, min_growth x the reviews the
    last candidate learned from) label changes (accepts, corrections, undos) since it."""

    min_changes: int = 3
    min_growth: float = 0.10
    min_reviews: int = MIN_REVIEWS

    def changes_needed(self, n_reviews_last: int) -> int:
        return max(self.min_changes, math.ceil(self.min_growth * n_reviews_last))


DEFAULT_POLICY = RefreshPolicy()


@dataclass(frozen=True)
class LearningState:
    """Where the project's learning stands, for captions and the refresh decision."""

    n_reviews: int  # labelled reviews now
    last: object | None  # the newest judged candidate (ModelVersion), any status
    current: object | None  # the version driving suggestions
    changes: int  # label changes since the last candidate
    needed: int  # changes that make the next candidate due

    @property
    def due(self) -> bool:
        if self.last is None:
            return self.n_reviews >= MIN_REVIEWS
        return self.changes >= self.needed


def learning_state(
    store: SiftStore, project_id: int, policy: RefreshPolicy = DEFAULT_POLICY
) -> LearningState:
    last = store.latest_model_version(project_id)
    since = 0 if last is None else int(last.config.get("review_watermark", 0))
    return LearningState(
        n_reviews=store.count_labelled_reviews(project_id),
        last=last,
        current=store.current_model_version(project_id),
        changes=store.count_label_changes(project_id, since),
        needed=policy.changes_needed(0 if last is None else last.n_reviews),
    )


def refresh_due(store: SiftStore, project_id: int, policy: RefreshPolicy = DEFAULT_POLICY) -> bool:
    return learning_state(store, project_id, policy).due


# (database file, project id) -> the refresh running for it; one at a time per project
_IN_FLIGHT: dict[tuple[str, int], Future] = {}
_IN_FLIGHT_LOCK = threading.Lock()


def refresh_in_flight(store: SiftStore, project_id: int) -> bool:
    """Whether a `maybe_refresh` of this project is running (or queued) in this process."""
    with _IN_FLIGHT_LOCK:
        running = _IN_FLIGHT.get((str(store.path), project_id))
    return running is not None and not running.done()


def maybe_refresh(
    store: SiftStore, project_id: int, executor: Executor, *, policy: RefreshPolicy = DEFAULT_POLICY
) -> Future | None:
    """Start `learn` on `executor` when `policy` says it is due; returns at once.

    Returns the Future of the refresh started (or of the one already running for this
    project), or None when nothing is due. The Future's result is a LearnOutcome; an error
    inside is logged and raised from `Future.result()`.
    """
    key = (str(store.path), project_id)
    with _IN_FLIGHT_LOCK:
        running = _IN_FLIGHT.get(key)
        if running is not None and not running.done():
            return running
        if not refresh_due(store, project_id, policy):
            return None
        future = executor.submit(learn, store, project_id)
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
    "CV_FOLDS",
    "DEFAULT_POLICY",
    "MIN_REVIEWS",
    "LearnOutcome",
    "LearningState",
    "NotEnoughReviews",
    "RefreshPolicy",
    "folds_for",
    "learn",
    "learning_state",
    "maybe_refresh",
    "refresh_due",
    "refresh_in_flight",
]
