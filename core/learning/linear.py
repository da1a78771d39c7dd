"""The supervised model: logistic regression on sentence embeddings of reviewed documents.

Multinomial (single-label) or one-vs-rest (multi-label), fitted in two stages so that a
handful of reviews already helps:

1. Prior: the zero-shot embeddings technique is itself linear in the embedding
   (logits = label_vectors @ x / temperature), so its weights are the prior mean. The first
   fit is the maximum a posteriori estimate under a Gaussian prior around them: with no
   reviews it is the zero-shot classifier, and each review moves it away.
2. Self-training: the project's unreviewed documents, labelled by that model, join the
   reviewed ones with a small weight, and plain (zero-centred) logistic regression is fitted
   on both, twice. The documents' own cluster structure then shapes the boundaries.

Reviewed documents are class-balanced (each label's reviews weigh the same in total), and so
are the pseudo-labelled ones, scaled by PSEUDO_LABEL_WEIGHT. The solver is scipy's L-BFGS on
the penalised log-loss: scikit-learn's LogisticRegression only shrinks toward zero, it takes
no prior mean. Every stage is convex, so starting from an earlier solution (the previous
stage, the full fit for the cross-fitting folds, the previous version) changes only how long
the solver takes, never what it finds.

`fit_linear_model` also cross-fits: for each fold of the reviews it repeats the whole fit
without that fold and predicts it, giving every reviewed document an out-of-fold
probability. The learning loop stacks those (never a model's predictions on its own training
documents) to fit the ensemble and to judge the candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from core.techniques.supervised import LinearModel

C_REGULARISATION = 4.0  # inverse L2 strength of the plain fits, as LogisticRegression(C=4)
PRIOR_STRENGTH = 0.03  # L2 strength pulling the first fit toward the zero-shot weights
SELF_TRAINING_ROUNDS = 2
PSEUDO_LABEL_WEIGHT = 0.3  # weight of one pseudo-labelled document relative to a reviewed one
MAX_POOL = 5000  # unreviewed documents used for self-training (a seeded sample beyond this)
CV_MAX_POOL = 1000  # ... and inside each cross-fitting fold, to keep it cheap


class NotEnoughReviews(ValueError):
    """Raised with how many reviews exist and how many are needed."""


@dataclass(frozen=True)
class LabelPrior:
    """Zero-shot weights over embeddings: logits = features @ coef.T + intercept."""

    classes: tuple[str, ...]  # taxonomy order
    coef: np.ndarray  # (n_labels, dim): label vectors / temperature
    intercept: np.ndarray  # (n_labels,): 0 (single-label) or -threshold / temperature


def label_prior(
    taxonomy,
    *,
    multi_label: bool,
    embedding_model: str | None = None,
    device: str = "auto",
    precision: str = "fp32",
) -> LabelPrior:
    """The embeddings technique's zero-shot classifier (its default options), as weights."""
    from core.models.catalog import DEFAULT_EMBEDDING_MODEL
    from core.techniques.embeddings import Embeddings

    technique = Embeddings(
        multi_label=multi_label,
        model=embedding_model or DEFAULT_EMBEDDING_MODEL,
        device=device,
        precision=precision,
    )
    temperature = technique.options.temperature
    vectors = np.asarray(technique.label_vectors(taxonomy), dtype=np.float64)
    intercept = np.full(len(taxonomy), -technique.options.threshold / temperature)
    return LabelPrior(
        classes=tuple(taxonomy.names),
        coef=vectors / temperature,
        intercept=intercept if multi_label else np.zeros(len(taxonomy)),
    )


def _balanced_weights(targets: np.ndarray) -> np.ndarray:
    """(n, L) 0/1 targets -> (n,) weights; each present class (by first label) sums to n/k."""
    if len(targets) == 0:
        return np.zeros(0)
    first = targets.argmax(axis=1)
    counts = np.bincount(first, minlength=targets.shape[1])
    return len(first) / (np.count_nonzero(counts) * counts[first])


Weights = tuple[np.ndarray, np.ndarray]  # (coef (L, D), intercept (L,))


def _penalised_fit(
    features: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    mean: Weights,
    strength: float,
    multi_label: bool,
    start: Weights | None = None,
) -> Weights:
    """argmin sum_i w_i * logloss_i + strength/2 * |theta - mean|^2 over theta = (coef, intercept).

    features (n, D); targets (n, L) 0/1; softmax over labels (single-label) or independent
    sigmoids (multi-label). Starts at `start` (default the mean; no data returns the mean).
    """
    mean_coef, mean_intercept = mean
    n_labels, dim = mean_coef.shape
    centre = np.concatenate([mean_coef.ravel(), mean_intercept])
    initial = centre if start is None else np.concatenate([start[0].ravel(), start[1]])

    def loss_and_gradient(theta: np.ndarray):
        coef, intercept = theta[: n_labels * dim].reshape(n_labels, dim), theta[n_labels * dim :]
        logits = features @ coef.T + intercept  # (n, L)
        if multi_label:
            log_p = -np.logaddexp(0.0, -logits)  # log sigmoid
            log_not_p = -np.logaddexp(0.0, logits)
            nll = -(targets * log_p + (1 - targets) * log_not_p).sum(axis=1)
            residual = np.exp(log_p) - targets
        else:
            logits = logits - logits.max(axis=1, keepdims=True)
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            nll = -(targets * log_p).sum(axis=1)
            residual = np.exp(log_p) * targets.sum(axis=1, keepdims=True) - targets
        residual *= weights[:, None]
        difference = theta - centre
        loss = float(weights @ nll) + 0.5 * strength * float(difference @ difference)
        gradient = np.concatenate([(residual.T @ features).ravel(), residual.sum(axis=0)])
        return loss, gradient + strength * difference

    # The matrices are small: BLAS threads only add contention (10x slower on a busy 2-core box).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            loss_and_gradient,
            initial.copy(),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 500},
        )
    theta = result.x
    return theta[: n_labels * dim].reshape(n_labels, dim), theta[n_labels * dim :]


def _pseudo_targets(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """(m, L) logits -> (m, L) 0/1: the top label, or every label with probability >= 0.5."""
    if multi_label:
        return (logits >= 0.0).astype(float)
    targets = np.zeros_like(logits)
    targets[np.arange(len(logits)), logits.argmax(axis=1)] = 1.0
    return targets


def fit_weights_with_prior(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    multi_label: bool,
    prior: LabelPrior | None = None,
    unlabelled: np.ndarray | None = None,
    rounds: int = SELF_TRAINING_ROUNDS,
    pseudo_weight: float = PSEUDO_LABEL_WEIGHT,
    start: Weights | None = None,
) -> Weights:
    """Reviewed features (n, D) with 0/1 targets (n, L) [+ unlabelled (m, D)] -> (coef, intercept).

    The two-stage fit described above; without a prior the first stage is plain logistic
    regression, without unlabelled documents there is no second stage. `start`: a solution
    to start the solver from (a close one makes it fast; the result is the same).
    """
    n_labels, dim = targets.shape[1], features.shape[1]
    plain = 1.0 / C_REGULARISATION
    zeros = np.zeros((n_labels, dim)), np.zeros(n_labels)
    weights = np.ones(len(targets)) if multi_label else _balanced_weights(targets)
    if prior is not None:
        first_start = None if start is None or unlabelled is not None else start
        coef, intercept = _penalised_fit(
            features,
            targets,
            weights,
            (prior.coef, prior.intercept),
            PRIOR_STRENGTH,
            multi_label,
            first_start,
        )
    else:
        coef, intercept = _penalised_fit(features, targets, weights, zeros, plain, multi_label)
    if unlabelled is None or len(unlabelled) == 0 or pseudo_weight <= 0:
        return coef, intercept
    both = np.vstack([features, unlabelled])
    for round_ in range(rounds):
        pseudo = _pseudo_targets(unlabelled @ coef.T + intercept, multi_label)
        pseudo_weights = pseudo_weight * (
            np.ones(len(pseudo)) if multi_label else _balanced_weights(pseudo)
        )
        begin = (coef, intercept) if start is None or round_ else start
        coef, intercept = _penalised_fit(
            both,
            np.vstack([targets, pseudo]),
            np.concatenate([weights, pseudo_weights]),
            zeros,
            plain,
            multi_label,
            begin,
        )
    return coef, intercept


@overload
def sample_rows(rows: np.ndarray, limit: int, seed: int = 0) -> np.ndarray: ...
@overload
def sample_rows(rows: None, limit: int, seed: int = 0) -> None: ...
@overload
def sample_rows(rows: np.ndarray | None, limit: int, seed: int = 0) -> np.ndarray | None: ...


def sample_rows(rows: np.ndarray | None, limit: int, seed: int = 0) -> np.ndarray | None:
    """At most `limit` rows of `rows`, a seeded sample in their original order."""
    if rows is None or len(rows) <= limit:
        return rows
    return rows[np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))]


@dataclass(frozen=True)
class FittedLinear:
    model: LinearModel  # fitted on every review
    out_of_fold: np.ndarray | None  # (n, L) each review's probabilities from the fold without it


def fit_linear_model(
    features: np.ndarray,
    labels: Sequence[Sequence[str]],
    *,
    multi_label: bool,
    embedding_model: str,
    prior: LabelPrior,
    unlabelled: np.ndarray | None = None,
    folds: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    start: LinearModel | None = None,
) -> FittedLinear:
    """Fit on all reviews (and unlabelled documents) and cross-fit over `folds`.

    features (n, D) of the reviewed documents, labels their reviewed labels (single-label: the
    first counts); the prior's classes (the taxonomy) become the model's, so labels nobody
    reviewed yet keep their zero-shot scores; unlabelled (m, D): unreviewed documents for
    self-training (at most MAX_POOL, and CV_MAX_POOL inside each fold, are used); folds:
    (train, test) index arrays into the reviews; start: an earlier model of the same classes
    to start the solver from.
    """
    classes = list(prior.classes)
    index = {name: j for j, name in enumerate(classes)}
    features = np.asarray(features, dtype=np.float64)
    targets = np.zeros((len(labels), len(classes)))
    for i, items in enumerate(labels):
        chosen = [name for name in items if name in index]
        for name in chosen if multi_label else chosen[:1]:
            targets[i, index[name]] = 1.0
    if len(labels) and not targets.any(axis=1).all():
        raise ValueError("every review given to fit_linear_model needs a label of the taxonomy")
    unlabelled = None if unlabelled is None else np.asarray(unlabelled, dtype=np.float64)
    pool = sample_rows(unlabelled, MAX_POOL)
    begin = None
    if start is not None and tuple(start.classes) == tuple(classes):
        begin = (np.asarray(start.coef, np.float64), np.asarray(start.intercept, np.float64))
    coef, intercept = fit_weights_with_prior(
        features, targets, multi_label=multi_label, prior=prior, unlabelled=pool, start=begin
    )
    model = LinearModel(
        classes=tuple(classes),
        coef=coef.astype(np.float32),
        intercept=intercept.astype(np.float32),
        multi_label=multi_label,
        embedding_model=embedding_model,
    )
    if not folds:
        return FittedLinear(model=model, out_of_fold=None)
    out_of_fold = np.zeros((len(labels), len(classes)))
    fold_pool = sample_rows(unlabelled, CV_MAX_POOL)
    for train, test in folds:
        # The held-out reviews join the unlabelled pool: self-training may see their text,
        # never their labels (as a not-yet-reviewed document is seen).
        held_out = features[test] if fold_pool is None else np.vstack([fold_pool, features[test]])
        fold_coef, fold_intercept = fit_weights_with_prior(
            features[train],
            targets[train],
            multi_label=multi_label,
            prior=prior,
            unlabelled=held_out,
            start=(coef, intercept),
        )
        fold_model = LinearModel(
            classes=tuple(classes),
            coef=fold_coef,
            intercept=fold_intercept,
            multi_label=multi_label,
            embedding_model=embedding_model,
        )
        out_of_fold[test] = fold_model.probabilities(features[test])
    return FittedLinear(model=model, out_of_fold=out_of_fold)
