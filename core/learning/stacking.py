"""Fitting the ensemble's combination on reviewed documents: weights, temperature, thresholds.

Input is a stack of out-of-sample scores on the reviewed documents: the stored predictions of
the techniques that never learned from reviews, and the supervised model's out-of-fold
probabilities (`core.learning.linear.fit_linear_model`). Fitting on a model's predictions for
its own training documents would hand it every weight; here it never sees them.

- weights: w = exp(theta), minimising the mean log-loss of `core.predictions.combine_arrays`
  plus (WEIGHT_PRIOR / n) * |theta|^2, a pull toward equal weights that is strong with a
  handful of reviews and faint with hundreds (n: the effective number of reviews, below);
  techniques that voted on none of the rows keep weight 1 (nothing to learn about them);
- temperature: one scalar T minimising the log-loss of the weighted ensemble plus
  (TEMPERATURE_PRIOR / n) * log(T)^2, within [1/4, 4] (single-label: p^(1/T) renormalised;
  multi-label: sigmoid(logit(p) / T)): four reviews cannot justify sharpening everything;
- thresholds (multi-label): per label, the grid value maximising F1, for labels with at
  least MIN_POSITIVES reviewed positives and negatives (else the project's threshold).

The reviewed documents are not a fair sample of the documents the suggestions are for: the
queue picks uncertain ones, on which any model is less sure and less often right. Fitted
as they are, weights and temperature would be tuned to the hard cases and the confidence
shown on the rest would be off. Because the queue selects on the scores themselves, the
chance of being right at a given confidence is the same for picked and unpicked documents;
only how often each confidence occurs differs. So every reviewed document is weighted by
how much more common its confidence is among the unreviewed documents than among the
reviewed ones (`shift_weights`: SHIFT_BINS confidence bins, smoothed, capped at
MAX_SHIFT_WEIGHT), and the weights, the temperature and the scores that pick a variant
are all fitted for the unreviewed population. Thresholds (F1) and the guard (the
reviewed documents as they are) are not weighted.

`cross_fit` repeats the recipe on each fold's training part and applies it to the held-out
part, giving every reviewed document the ensemble row it would have got without its own
review: what the guard judges and Evaluate shows. It does so with and without the
temperature and keeps the temperature only where it helps out of fold (accuracy + macro-F1,
then log-loss, both weighted as below). The weights are not chosen between fitted and
equal that way: on a few dozen hard documents that choice is a coin toss, and equal weights
are already what the prior pulls toward when the evidence is thin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from sklearn.metrics import f1_score

from core.predictions import Combination, combine_arrays, decide

WEIGHT_PRIOR = 0.1  # strength of the pull toward equal weights, in reviews' worth
TEMPERATURE_PRIOR = 2.0  # ... and of the pull toward no calibration (T = 1)
MAX_LOG_TEMPERATURE = float(np.log(4.0))
MIN_POSITIVES = 3  # per label and side, before a multi-label threshold is fitted
SHIFT_BINS = 10
MAX_SHIFT_WEIGHT = 10.0
THRESHOLD_GRID = np.round(np.linspace(0.05, 0.95, 19), 2)
_EPS = 1e-6


def shift_weights(reviewed_confidence: np.ndarray, population_confidence: np.ndarray) -> np.ndarray:
    """(n,) weights, mean 1: how much more common each reviewed document's confidence (its
    top score) is among the unreviewed documents than among the reviewed ones."""
    reviewed_confidence = np.asarray(reviewed_confidence, dtype=float)
    if not len(reviewed_confidence) or not len(population_confidence):
        return np.ones(len(reviewed_confidence))
    edges = np.linspace(0.0, 1.0, SHIFT_BINS + 1)
    reviewed = np.histogram(np.clip(reviewed_confidence, 0, 1), edges)[0] + 1.0
    population = np.histogram(np.clip(population_confidence, 0, 1), edges)[0] + 1.0
    ratio = (population / population.sum()) / (reviewed / reviewed.sum())
    which = np.clip(np.digitize(reviewed_confidence, edges[1:-1], right=True), 0, SHIFT_BINS - 1)
    weights = np.minimum(ratio[which], MAX_SHIFT_WEIGHT)
    return weights / weights.mean()


def effective_size(sample_weights: np.ndarray | None, n: int) -> float:
    """Kish's effective sample size of weighted rows: (sum w)^2 / sum w^2 (n unweighted).
    The priors pull by 1 / effective size: a few heavily weighted reviews count as few."""
    if sample_weights is None or not len(sample_weights):
        return float(n)
    weights = np.asarray(sample_weights, dtype=float)
    return float(weights.sum() ** 2 / max(float((weights**2).sum()), 1e-12))


def log_loss(
    probabilities: np.ndarray,
    covered: np.ndarray,
    targets: np.ndarray,
    multi_label: bool,
    sample_weights: np.ndarray | None = None,
):
    """Mean (weighted) negative log-likelihood of (n, L) 0/1 targets; uncovered rows count as
    uniform."""
    n, n_labels = targets.shape
    if n == 0:
        return 0.0
    p = np.where(covered[:, None], probabilities, 0.5 if multi_label else 1.0 / max(n_labels, 1))
    p = np.clip(p, _EPS, 1.0 - _EPS)
    if multi_label:
        rows = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).sum(axis=1)
    else:
        chosen = (p * targets).sum(axis=1) / np.maximum(targets.sum(axis=1), 1.0)
        rows = -np.log(np.clip(chosen, _EPS, 1.0))
    return float(np.average(rows, weights=sample_weights))


def fit_weights(
    scores: np.ndarray,
    present: np.ndarray,
    names: Sequence[str],
    targets: np.ndarray,
    multi_label: bool,
    sample_weights: np.ndarray | None = None,
) -> dict[str, float]:
    """(T, n, L) scores, (T, n) present, (n, L) 0/1 targets [, (n,) row weights] ->
    technique -> weight (max 1)."""
    n = targets.shape[0]
    voting = [t for t in range(len(names)) if present[t].any()]
    out = {name: 1.0 for name in names}
    if len(voting) <= 1 or n == 0:
        return out
    strength = WEIGHT_PRIOR / effective_size(sample_weights, n)
    scores, present = scores[voting], present[voting]
    voters = [names[t] for t in voting]

    def objective(theta: np.ndarray) -> float:
        combination = Combination(weights=dict(zip(voters, np.exp(theta))))
        mixed, covered = combine_arrays(scores, present, voters, combination, multi_label)
        fit = log_loss(mixed, covered, targets, multi_label, sample_weights)
        return fit + strength * float(theta @ theta)

    bound = float(np.log(1.0 / 0.05))
    result = minimize(
        objective, np.zeros(len(voters)), method="L-BFGS-B", bounds=[(-bound, bound)] * len(voters)
    )
    weights = np.exp(result.x)
    out.update({name: float(w) for name, w in zip(voters, weights / weights.max())})
    return out


def fit_temperature(
    probabilities: np.ndarray,
    covered: np.ndarray,
    targets: np.ndarray,
    multi_label: bool,
    sample_weights: np.ndarray | None = None,
) -> float:
    """The T in [1/4, 4] minimising the (weighted) log-loss of calibrate(probabilities, T)."""
    from core.predictions import calibrate

    if not covered.any():
        return 1.0
    rows, truth = probabilities[covered], targets[covered]
    weights = None if sample_weights is None else sample_weights[covered]
    ones = np.ones(len(rows), dtype=bool)
    strength = TEMPERATURE_PRIOR / effective_size(weights, len(rows))

    def objective(log_t: float) -> float:
        calibrated = calibrate(rows, float(np.exp(log_t)), multi_label)
        return log_loss(calibrated, ones, truth, multi_label, weights) + strength * log_t**2

    result = minimize_scalar(
        objective, bounds=(-MAX_LOG_TEMPERATURE, MAX_LOG_TEMPERATURE), method="bounded"
    )
    return float(np.exp(result.x))


def fit_thresholds(
    probabilities: np.ndarray, targets: np.ndarray, labels: Sequence[str], default: float
) -> dict[str, float]:
    """Multi-label: label -> the grid threshold with the best F1, for labels with at least
    MIN_POSITIVES positives and negatives among the rows; the others keep `default`."""
    chosen = {}
    for j, label in enumerate(labels):
        positives = int(targets[:, j].sum())
        if positives < MIN_POSITIVES or len(targets) - positives < MIN_POSITIVES:
            continue
        f1s = [
            f1_score(targets[:, j], probabilities[:, j] >= cut, zero_division=0)
            for cut in THRESHOLD_GRID
        ]
        best = float(THRESHOLD_GRID[int(np.argmax(f1s))])
        if best != default:
            chosen[label] = best
    return chosen


def fit_combination(
    scores: np.ndarray,
    present: np.ndarray,
    names: Sequence[str],
    targets: np.ndarray,
    labels: Sequence[str],
    *,
    multi_label: bool,
    threshold: float,
    calibrated: bool = True,
    sample_weights: np.ndarray | None = None,
) -> Combination:
    """The whole recipe on these rows: weights, then (if `calibrated`) temperature, then
    (multi-label) thresholds on the calibrated ensemble; `sample_weights` (n,) weigh the
    rows in the first two (see `shift_weights`)."""
    weights = fit_weights(scores, present, names, targets, multi_label, sample_weights)
    mixed, covered = combine_arrays(
        scores, present, names, Combination(weights=weights), multi_label
    )
    temperature = (
        fit_temperature(mixed, covered, targets, multi_label, sample_weights) if calibrated else 1.0
    )
    thresholds = None
    if multi_label:
        combination = Combination(weights=weights, temperature=temperature)
        mixed, covered = combine_arrays(scores, present, names, combination, multi_label)
        thresholds = fit_thresholds(mixed[covered], targets[covered], labels, threshold) or None
    return Combination(weights=weights, temperature=temperature, thresholds=thresholds)


@dataclass(frozen=True)
class CrossFitted:
    """Out-of-fold ensemble rows of the reviewed documents, and the recipe fitted on all."""

    combination: Combination  # fitted on every reviewed document
    probabilities: np.ndarray  # (n, L) out of fold
    covered: np.ndarray  # (n,)
    suggested: np.ndarray  # (n, L) bool
    calibrated: bool  # whether the temperature earned its place out of fold


def cross_fit(
    scores: np.ndarray,
    present: np.ndarray,
    names: Sequence[str],
    targets: np.ndarray,
    labels: Sequence[str],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    multi_label: bool,
    threshold: float,
    sample_weights: np.ndarray | None = None,
) -> CrossFitted:
    """The recipe fitted on each fold's training rows and applied to its held-out rows, with
    and without the temperature; the better of the two out of fold (accuracy + macro-F1,
    then log-loss, both weighted; a tie keeps T = 1) is refitted on every row.
    `sample_weights` (n,): see `shift_weights`."""
    from core.evaluation.metrics import suggestion_scores

    n, n_labels = targets.shape
    truth = targets.astype(bool)
    tried = []
    for calibrated in (False, True):
        probabilities = np.zeros((n, n_labels))
        covered = np.zeros(n, dtype=bool)
        suggested = np.zeros((n, n_labels), dtype=bool)
        for train, test in folds:
            combination = fit_combination(
                scores[:, train],
                present[:, train],
                names,
                targets[train],
                labels,
                multi_label=multi_label,
                threshold=threshold,
                calibrated=calibrated,
                sample_weights=None if sample_weights is None else sample_weights[train],
            )
            mixed, hit = combine_arrays(
                scores[:, test], present[:, test], names, combination, multi_label
            )
            cut = combination.threshold_vector(labels, threshold)
            decided, _ = decide(mixed, hit, multi_label=multi_label, thresholds=cut)
            probabilities[test], covered[test], suggested[test] = mixed, hit, decided
        measured = suggestion_scores(
            suggested, probabilities, truth, multi_label=multi_label, sample_weights=sample_weights
        )
        key = (
            round(measured.accuracy + measured.macro_f1, 9),
            -round(log_loss(probabilities, covered, targets, multi_label, sample_weights), 9),
            not calibrated,
        )
        tried.append((key, calibrated, probabilities, covered, suggested))
    _, calibrated, probabilities, covered, suggested = max(tried, key=lambda entry: entry[0])
    combination = fit_combination(
        scores,
        present,
        names,
        targets,
        labels,
        multi_label=multi_label,
        threshold=threshold,
        calibrated=calibrated,
        sample_weights=sample_weights,
    )
    return CrossFitted(combination, probabilities, covered, suggested, calibrated)
