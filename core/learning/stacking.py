"""Fitting the ensemble's combination on reviewed documents: weights, temperature, thresholds.

Input is a stack of out-of-sample scores on the reviewed documents: the stored predictions of
the techniques that never learned from reviews, and the supervised model's out-of-fold
probabilities (`core.learning.linear.fit_linear_model`). Fitting on a model's predictions for
its own training documents would hand it every weight; here it never sees them.

- weights: w = exp(theta), minimising the mean log-loss of `core.predictions.combine_arrays`
  plus (WEIGHT_PRIOR / n) * |theta|^2, a pull toward equal weights that is strong with a
  handful of reviews and faint with hundreds; techniques that voted on none of the rows
  keep weight 1 (nothing to learn about them);
- temperature: one scalar T minimising the log-loss of the weighted ensemble plus
  (TEMPERATURE_PRIOR / n) * log(T)^2, within [1/4, 4] (single-label: p^(1/T) renormalised;
  multi-label: sigmoid(logit(p) / T)): four reviews cannot justify sharpening everything;
- thresholds (multi-label): per label, the grid value maximising F1, for labels with at
  least MIN_POSITIVES reviewed positives and negatives (else the project's threshold).

`cross_fit` repeats the recipe on each fold's training part and applies it to the held-out
part, giving every reviewed document the ensemble row it would have got without its own
review: what the guard judges and Evaluate shows. It does so for fitted and for equal
weights, each with and without the temperature, on the same folds, and keeps the variant
with the best out-of-fold accuracy + macro-F1, then the lower out-of-fold log-loss
(calibrate where it helps), then the simpler one; the others' rows stay available, so the
guard can compare with the variant the current version uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from sklearn.metrics import f1_score

from core.predictions import Combination, combine_arrays, decide

WEIGHT_PRIOR = 1.0  # strength of the pull toward equal weights, in reviews' worth
TEMPERATURE_PRIOR = 2.0  # ... and of the pull toward no calibration (T = 1)
MAX_LOG_TEMPERATURE = float(np.log(4.0))
MIN_POSITIVES = 3  # per label and side, before a multi-label threshold is fitted
THRESHOLD_GRID = np.round(np.linspace(0.05, 0.95, 19), 2)
_EPS = 1e-6


def log_loss(
    probabilities: np.ndarray, covered: np.ndarray, targets: np.ndarray, multi_label: bool
):
    """Mean negative log-likelihood of (n, L) 0/1 targets; uncovered rows count as uniform."""
    n, n_labels = targets.shape
    if n == 0:
        return 0.0
    p = np.where(covered[:, None], probabilities, 0.5 if multi_label else 1.0 / max(n_labels, 1))
    p = np.clip(p, _EPS, 1.0 - _EPS)
    if multi_label:
        return float(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)).sum(axis=1).mean())
    chosen = (p * targets).sum(axis=1) / np.maximum(targets.sum(axis=1), 1.0)
    return float(-np.log(np.clip(chosen, _EPS, 1.0)).mean())


def fit_weights(
    scores: np.ndarray,
    present: np.ndarray,
    names: Sequence[str],
    targets: np.ndarray,
    multi_label: bool,
) -> dict[str, float]:
    """(T, n, L) scores, (T, n) present, (n, L) 0/1 targets -> technique -> weight (max 1)."""
    n = targets.shape[0]
    voting = [t for t in range(len(names)) if present[t].any()]
    out = {name: 1.0 for name in names}
    if len(voting) <= 1 or n == 0:
        return out
    strength = WEIGHT_PRIOR / n
    scores, present = scores[voting], present[voting]
    voters = [names[t] for t in voting]

    def objective(theta: np.ndarray) -> float:
        combination = Combination(weights=dict(zip(voters, np.exp(theta))))
        mixed, covered = combine_arrays(scores, present, voters, combination, multi_label)
        return log_loss(mixed, covered, targets, multi_label) + strength * float(theta @ theta)

    bound = float(np.log(1.0 / 0.05))
    result = minimize(
        objective, np.zeros(len(voters)), method="L-BFGS-B", bounds=[(-bound, bound)] * len(voters)
    )
    weights = np.exp(result.x)
    out.update({name: float(w) for name, w in zip(voters, weights / weights.max())})
    return out


def fit_temperature(
    probabilities: np.ndarray, covered: np.ndarray, targets: np.ndarray, multi_label: bool
) -> float:
    """The T in [1/4, 4] minimising the log-loss of calibrate(probabilities, T)."""
    from core.predictions import calibrate

    if not covered.any():
        return 1.0
    rows, truth = probabilities[covered], targets[covered]
    ones = np.ones(len(rows), dtype=bool)
    strength = TEMPERATURE_PRIOR / len(rows)

    def objective(log_t: float) -> float:
        calibrated = calibrate(rows, float(np.exp(log_t)), multi_label)
        return log_loss(calibrated, ones, truth, multi_label) + strength * log_t**2

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
    weighted: bool = True,
) -> Combination:
    """The whole recipe on these rows: weights (if `weighted`, else equal), then (if
    `calibrated`) temperature, then (multi-label) thresholds on the calibrated ensemble."""
    weights = (
        fit_weights(scores, present, names, targets, multi_label)
        if weighted
        else {name: 1.0 for name in names}
    )
    mixed, covered = combine_arrays(
        scores, present, names, Combination(weights=weights), multi_label
    )
    temperature = fit_temperature(mixed, covered, targets, multi_label) if calibrated else 1.0
    thresholds = None
    if multi_label:
        combination = Combination(weights=weights, temperature=temperature)
        mixed, covered = combine_arrays(scores, present, names, combination, multi_label)
        thresholds = fit_thresholds(mixed[covered], targets[covered], labels, threshold) or None
    return Combination(weights=weights, temperature=temperature, thresholds=thresholds)


@dataclass(frozen=True)
class Variant:
    """One variant of the recipe, cross-fitted: its out-of-fold rows on the reviews."""

    weighted: bool  # fitted weights (else equal)
    calibrated: bool  # a fitted temperature (else none)
    probabilities: np.ndarray  # (n, L)
    covered: np.ndarray  # (n,)
    suggested: np.ndarray  # (n, L) bool

    @property
    def key(self) -> tuple[bool, bool]:
        return self.weighted, self.calibrated


@dataclass(frozen=True)
class CrossFitted:
    """Every variant's out-of-fold rows, the best one, and its recipe fitted on all rows."""

    combination: Combination  # the chosen variant, fitted on every reviewed document
    chosen: Variant
    variants: dict[tuple[bool, bool], Variant]  # (weighted, calibrated) -> its rows

    @property
    def probabilities(self) -> np.ndarray:
        return self.chosen.probabilities

    @property
    def covered(self) -> np.ndarray:
        return self.chosen.covered

    @property
    def suggested(self) -> np.ndarray:
        return self.chosen.suggested

    @property
    def weighted(self) -> bool:
        return self.chosen.weighted

    @property
    def calibrated(self) -> bool:
        return self.chosen.calibrated


# The recipe's variants, simplest first: (fitted weights?, temperature?)
VARIANTS = ((False, False), (False, True), (True, False), (True, True))


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
) -> CrossFitted:
    """Each variant of the recipe fitted on each fold's training rows and applied to its
    held-out rows; the best variant out of fold (accuracy + macro-F1, then log-loss, then
    simplest) is refitted on every row."""
    from core.evaluate import suggestion_scores

    n, n_labels = targets.shape
    truth = targets.astype(bool)
    variants, ranking = {}, []
    for rank, (weighted, calibrated) in enumerate(VARIANTS):
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
                weighted=weighted,
            )
            mixed, hit = combine_arrays(
                scores[:, test], present[:, test], names, combination, multi_label
            )
            cut = combination.threshold_vector(labels, threshold)
            decided, _ = decide(mixed, hit, multi_label=multi_label, thresholds=cut)
            probabilities[test], covered[test], suggested[test] = mixed, hit, decided
        variant = Variant(weighted, calibrated, probabilities, covered, suggested)
        variants[variant.key] = variant
        measured = suggestion_scores(suggested, probabilities, truth, multi_label=multi_label)
        ranking.append(
            (
                round(measured.accuracy + measured.macro_f1, 9),
                -round(log_loss(probabilities, covered, targets, multi_label), 9),
                -rank,
                variant.key,
            )
        )
    chosen = variants[max(ranking)[-1]]
    combination = fit_combination(
        scores,
        present,
        names,
        targets,
        labels,
        multi_label=multi_label,
        threshold=threshold,
        calibrated=chosen.calibrated,
        weighted=chosen.weighted,
    )
    return CrossFitted(combination, chosen, variants)
