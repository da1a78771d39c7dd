"""Learning from reviews: the supervised model and fitted ensemble weights.

Both read the project's current reviews as training data, report
cross-validated metrics, and store their parameters (plain arrays/JSON, never
pickle) in the store's `trained_models` table, so they can be shown and reused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import MultiLabelBinarizer
from threadpoolctl import threadpool_limits

from core.results import latest_results, project_settings
from core.techniques.base import TextResult
from core.techniques.supervised import LinearModel

MIN_REVIEWS_FOR_ENSEMBLE_FIT = 10
MIN_REVIEWS_FOR_SUPERVISED = 4
CV_FOLDS = 5


class NotEnoughReviews(ValueError):
    """Raised with how many reviews exist and how many are needed."""


@dataclass(frozen=True)
class TrainingData:
    document_ids: list[str]
    texts: list[str]
    labels: list[list[str]]  # reviewed labels per document


def training_data(store, project_id: int) -> TrainingData:
    reviews = store.current_reviews(project_id)
    documents = store.get_documents(project_id, list(reviews)) if reviews else []
    documents = [doc for doc in documents if reviews[doc.id].labels]
    return TrainingData(
        document_ids=[doc.id for doc in documents],
        texts=[doc.text for doc in documents],
        labels=[list(reviews[doc.id].labels) for doc in documents],
    )


# --- supervised -------------------------------------------------------------------------
#
# The model is multinomial (single-label) or one-vs-rest (multi-label) logistic regression on
# sentence embeddings, fitted in two stages so that a handful of reviews already helps:
#
# 1. Prior: the zero-shot embeddings technique is itself linear in the embedding
#    (logits = label_vectors @ x / temperature), so its weights are the prior mean. The
#    first fit is the maximum a posteriori estimate under a Gaussian prior around them:
#    with no reviews it is the zero-shot classifier, and each review moves it away.
# 2. Self-training: the project's unreviewed documents, labelled by that model, join the
#    reviewed ones with a small weight, and plain (zero-centred) logistic regression is fitted
#    on both, twice. The documents' own cluster structure then shapes the boundaries.
#
# Reviewed documents are class-balanced (each label's reviews weigh the same in total), and so
# are the pseudo-labelled ones, scaled by PSEUDO_LABEL_WEIGHT. The solver is scipy's L-BFGS on
# the penalised log-loss: scikit-learn's LogisticRegression only shrinks toward zero, it takes
# no prior mean. Defaults were chosen once for all data sets with bench/learning_curve.py.

C_REGULARISATION = 4.0  # inverse L2 strength of the plain fits, as LogisticRegression(C=4)
PRIOR_STRENGTH = 0.03  # L2 strength pulling the first fit toward the zero-shot weights
SELF_TRAINING_ROUNDS = 2
PSEUDO_LABEL_WEIGHT = 0.3  # weight of one pseudo-labelled document relative to a reviewed one
MAX_POOL = 5000  # unreviewed documents used for self-training (a seeded sample beyond this)
CV_MAX_POOL = 1000  # ... and inside each cross-validation fold, to keep metrics cheap


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
    from core.models import DEFAULT_EMBEDDING_MODEL
    from core.techniques.embeddings import Embeddings

    technique = Embeddings(
        multi_label=multi_label,
        model=embedding_model or DEFAULT_EMBEDDING_MODEL,
        device=device,
        precision=precision,
    )
    temperature = technique.options["temperature"]
    vectors = np.asarray(technique.label_vectors(taxonomy), dtype=np.float64)
    intercept = np.full(len(taxonomy), -technique.options["threshold"] / temperature)
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


def _penalised_fit(
    features: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    mean_coef: np.ndarray,
    mean_intercept: np.ndarray,
    strength: float,
    multi_label: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """argmin sum_i w_i * logloss_i + strength/2 * |theta - mean|^2 over theta = (coef, intercept).

    features (n, D); targets (n, L) 0/1; softmax over labels (single-label) or independent
    sigmoids (multi-label). Starts at the mean, so no data returns the mean.
    """
    n_labels, dim = mean_coef.shape
    mean = np.concatenate([mean_coef.ravel(), mean_intercept])

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
        difference = theta - mean
        loss = float(weights @ nll) + 0.5 * strength * float(difference @ difference)
        gradient = np.concatenate([(residual.T @ features).ravel(), residual.sum(axis=0)])
        return loss, gradient + strength * difference

    # The matrices are small: BLAS threads only add contention (10x slower on a busy 2-core box).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            loss_and_gradient, mean.copy(), jac=True, method="L-BFGS-B", options={"maxiter": 500}
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
) -> tuple[np.ndarray, np.ndarray]:
    """Reviewed features (n, D) with 0/1 targets (n, L) [+ unlabelled (m, D)] -> (coef, intercept).

    The two-stage fit described above; without a prior the first stage is plain logistic
    regression, without unlabelled documents there is no second stage.
    """
    n_labels, dim = targets.shape[1], features.shape[1]
    plain = 1.0 / C_REGULARISATION
    weights = np.ones(len(targets)) if multi_label else _balanced_weights(targets)
    if prior is not None:
        coef, intercept = _penalised_fit(
            features, targets, weights, prior.coef, prior.intercept, PRIOR_STRENGTH, multi_label
        )
    else:
        zeros = np.zeros((n_labels, dim)), np.zeros(n_labels)
        coef, intercept = _penalised_fit(features, targets, weights, *zeros, plain, multi_label)
    if unlabelled is None or len(unlabelled) == 0 or pseudo_weight <= 0:
        return coef, intercept
    both = np.vstack([features, unlabelled])
    for _ in range(rounds):
        pseudo = _pseudo_targets(unlabelled @ coef.T + intercept, multi_label)
        pseudo_weights = pseudo_weight * (
            np.ones(len(pseudo)) if multi_label else _balanced_weights(pseudo)
        )
        coef, intercept = _penalised_fit(
            both,
            np.vstack([targets, pseudo]),
            np.concatenate([weights, pseudo_weights]),
            np.zeros((n_labels, dim)),
            np.zeros(n_labels),
            plain,
            multi_label,
        )
    return coef, intercept


def _folds(y_single: list[str] | None, n: int):
    if y_single is not None:
        smallest = min(Counter(y_single).values())
        if smallest >= 2:
            return StratifiedKFold(n_splits=min(CV_FOLDS, smallest), shuffle=True, random_state=0)
    return KFold(n_splits=min(CV_FOLDS, n), shuffle=True, random_state=0)


def _sample(rows: np.ndarray | None, limit: int, seed: int = 0) -> np.ndarray | None:
    if rows is None or len(rows) <= limit:
        return rows
    return rows[np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))]


def _predicted_sets(logits: np.ndarray, classes: list[str], multi_label: bool) -> list:
    decided = _pseudo_targets(logits, multi_label).astype(bool)
    return [tuple(c for c, on in zip(classes, row) if on) for row in decided]


def fit_linear_model(
    features: np.ndarray,
    labels: list[list[str]],
    *,
    multi_label: bool,
    embedding_model: str,
    prior: LabelPrior | None = None,
    unlabelled: np.ndarray | None = None,
    cross_validate: bool = True,
) -> tuple[LinearModel, dict]:
    """Fit on all reviews (and unlabelled documents); returns the model and its metrics.

    features (n, D) of the reviewed documents, labels their reviewed labels; prior: the
    zero-shot weights (its classes become the model's, so labels nobody reviewed yet keep
    their zero-shot scores); unlabelled (m, D): unreviewed documents for self-training.
    Metrics hold cross-validated accuracy and macro-F1 over the reviews when
    `cross_validate` (each fold repeats the whole fit, with at most CV_MAX_POOL unlabelled).
    """
    if prior is not None:
        classes = list(prior.classes)
        known = set(classes)
        labels = [[name for name in items if name in known] for items in labels]
    elif multi_label:
        classes = sorted({name for items in labels for name in items})
    else:
        classes = sorted({items[0] for items in labels if items})
    if prior is None and len(classes) < 2:
        raise NotEnoughReviews(
            f"reviews cover only {classes or 'no labels'}; review documents of at least two "
            "labels before training"
        )
    keep = [i for i, items in enumerate(labels) if items]  # single-label: first label counts
    features = np.asarray(features, dtype=np.float64)[keep]
    labels = [labels[i] for i in keep]
    index = {name: j for j, name in enumerate(classes)}
    targets = np.zeros((len(labels), len(classes)))
    for i, items in enumerate(labels):
        for name in items if multi_label else items[:1]:
            targets[i, index[name]] = 1.0
    unlabelled = None if unlabelled is None else np.asarray(unlabelled, dtype=np.float64)
    unlabelled = _sample(unlabelled, MAX_POOL)

    metrics: dict = {
        "n_reviews": len(labels),
        "n_labels": len(classes),
        "n_unlabelled": 0 if unlabelled is None else len(unlabelled),
    }
    truth = [tuple(sorted(items if multi_label else items[:1])) for items in labels]
    if cross_validate and len(labels) >= 2:
        single = None if multi_label else [items[0] for items in labels]
        predicted: list = [()] * len(labels)
        cv_pool = _sample(unlabelled, CV_MAX_POOL)
        for train, test in _folds(single, len(labels)).split(features, single):
            pool = features[test] if cv_pool is None else np.vstack([cv_pool, features[test]])
            coef, intercept = fit_weights_with_prior(
                features[train],
                targets[train],
                multi_label=multi_label,
                prior=prior,
                unlabelled=pool,
            )
            for i, decided in zip(
                test, _predicted_sets(features[test] @ coef.T + intercept, classes, multi_label)
            ):
                predicted[i] = tuple(sorted(decided))
        if multi_label:
            binarizer = MultiLabelBinarizer(classes=classes)
            y_true, y_pred = binarizer.fit_transform(truth), binarizer.transform(predicted)
        else:
            y_true = [items[0] for items in truth]
            y_pred = [items[0] if items else "" for items in predicted]
        metrics["cv_accuracy"] = float(accuracy_score(y_true, y_pred))
        metrics["cv_macro_f1"] = float(f1_score(y_true, y_pred, average="macro", zero_division=0))

    coef, intercept = fit_weights_with_prior(
        features, targets, multi_label=multi_label, prior=prior, unlabelled=unlabelled
    )
    model = LinearModel(
        classes=tuple(classes),
        coef=coef.astype(np.float32),
        intercept=intercept.astype(np.float32),
        multi_label=multi_label,
        embedding_model=embedding_model,
    )
    return model, metrics


# --- document embeddings -------------------------------------------------------------


def document_embeddings(
    store,
    project_id: int,
    document_ids: list[str],
    *,
    embedding_model: str | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """(len(document_ids), dim) sentence embeddings of stored documents, each computed once
    per process (`core.embedding_cache`, shared with the embeddings and supervised techniques)."""
    from core.embedding_cache import cached_encode
    from core.models import DEFAULT_EMBEDDING_MODEL, load_sentence_encoder

    loaded = load_sentence_encoder(embedding_model or DEFAULT_EMBEDDING_MODEL, precision=precision)
    documents = store.get_documents(project_id, document_ids)  # unknown ids raise
    return cached_encode(loaded, [doc.text for doc in documents])


def train_supervised(
    store, project_id: int, *, embedding_model: str | None = None, self_training: bool = True
):
    """Train on current reviews (with the zero-shot prior and, when `self_training`, the
    project's unreviewed documents), cross-validate, store; returns (LinearModel, metrics)."""
    from core.models import DEFAULT_EMBEDDING_MODEL

    settings = project_settings(store.get_project(project_id))
    multi_label = settings["multi_label"]
    data = training_data(store, project_id)
    if len(data.texts) < MIN_REVIEWS_FOR_SUPERVISED:
        raise NotEnoughReviews(
            f"{len(data.texts)} reviewed documents with labels; at least "
            f"{MIN_REVIEWS_FOR_SUPERVISED} are needed to train the supervised model"
        )
    embedding_model = embedding_model or DEFAULT_EMBEDDING_MODEL
    features = document_embeddings(
        store, project_id, data.document_ids, embedding_model=embedding_model
    )
    unlabelled = None
    if self_training:
        reviewed = set(data.document_ids)
        pool_ids = [doc for doc in store.document_ids(project_id) if doc not in reviewed]
        if len(pool_ids) > MAX_POOL:  # a seeded sample: the same documents every retrain
            picked = np.random.default_rng(0).choice(len(pool_ids), MAX_POOL, replace=False)
            pool_ids = [pool_ids[i] for i in sorted(picked)]
        unlabelled = document_embeddings(
            store, project_id, pool_ids, embedding_model=embedding_model
        )
    prior = label_prior(
        store.load_taxonomy(project_id), multi_label=multi_label, embedding_model=embedding_model
    )
    model, metrics = fit_linear_model(
        features,
        data.labels,
        multi_label=multi_label,
        embedding_model=embedding_model,
        prior=prior,
        unlabelled=unlabelled,
    )
    store.save_trained_model(
        project_id,
        kind="supervised",
        params={
            "classes": list(model.classes),
            "multi_label": model.multi_label,
            "embedding_model": embedding_model,
            "fingerprint": model.fingerprint,
            "self_training": self_training,
        },
        metrics=metrics,
        blob=model.to_bytes(),
        n_reviews=len(data.texts),
    )
    return model, metrics


def learning_history(store, project_id: int) -> list[dict]:
    """How the supervised model improved as reviews arrived: one row per trained model that was
    cross-validated, oldest first: {"n_reviews", "accuracy", "macro_f1", "created_at"}."""
    return [
        {
            "n_reviews": record["n_reviews"],
            "accuracy": float(record["metrics"]["cv_accuracy"]),
            "macro_f1": float(record["metrics"].get("cv_macro_f1", 0.0)),
            "created_at": record["created_at"],
        }
        for record in store.trained_model_history(project_id, "supervised")
        if "cv_accuracy" in record["metrics"]
    ]


def load_supervised(store, project_id: int) -> LinearModel | None:
    record = store.latest_trained_model(project_id, "supervised")
    if record is None or record.blob is None:
        return None
    return LinearModel.from_bytes(
        record.blob,
        classes=record.params["classes"],
        multi_label=record.params["multi_label"],
        embedding_model=record.params["embedding_model"],
    )


# --- ensemble weights (stacking) --------------------------------------------


def stack_results(
    per_technique: Mapping[str, Mapping[str, TextResult]], doc_ids: list[str], labels: list[str]
):
    """-> names, scores (T, N, L), present (T, N) bool: technique had a non-abstaining result."""
    names = sorted(name for name in per_technique if name != "ensemble")
    scores = np.zeros((len(names), len(doc_ids), len(labels)))
    present = np.zeros((len(names), len(doc_ids)), dtype=bool)
    for t, name in enumerate(names):
        results = per_technique[name]
        for n, doc in enumerate(doc_ids):
            result = results.get(doc)
            if result is not None and result.scores is not None:
                present[t, n] = True
                scores[t, n] = [result.scores.get(label, 0.0) for label in labels]
    return names, scores, present


def weighted_average(
    weights: np.ndarray, scores: np.ndarray, present: np.ndarray, multi_label: bool
):
    """(T,) weights, (T, N, L) scores, (T, N) present -> (N, L) mixture, (N,) covered: the
    array form of `core.techniques.ensemble.combine`."""
    w = weights[:, None] * present  # (T, N)
    total = w.sum(axis=0)  # (N,)
    mixed = (w[:, :, None] * scores).sum(axis=0) / np.maximum(total, 1e-12)[:, None]
    if not multi_label:
        mixed = mixed / np.maximum(mixed.sum(axis=1, keepdims=True), 1e-12)
    return mixed, total > 0


def fit_technique_weights(scores, present, y, multi_label: bool) -> np.ndarray:
    """Minimise log-loss of the weighted average over non-negative weights (L-BFGS-B)."""
    n_techniques = scores.shape[0]

    def loss(weights):
        mixed, covered = weighted_average(weights, scores, present, multi_label)
        mixed = np.clip(mixed[covered], 1e-6, 1 - 1e-6)
        target = y[covered]
        if multi_label:
            nll = -(target * np.log(mixed) + (1 - target) * np.log(1 - mixed)).mean()
        else:
            nll = -np.log((mixed * target).sum(axis=1)).mean()
        return nll + 1e-3 * ((weights - 1.0) ** 2).sum()  # gentle pull toward equal weights

    result = minimize(
        loss, np.ones(n_techniques), method="L-BFGS-B", bounds=[(0.0, 10.0)] * n_techniques
    )
    weights = np.asarray(result.x)
    return weights / weights.max() if weights.max() > 0 else np.ones(n_techniques)


def _decisions(mixed, covered, labels, multi_label, thresholds=None):
    if multi_label:
        cut = np.array([thresholds.get(label, 0.5) if thresholds else 0.5 for label in labels])
        return (mixed >= cut).astype(int)
    return mixed.argmax(axis=1)


def _score(y, mixed, covered, labels, multi_label, thresholds=None) -> tuple[float, float]:
    pred = _decisions(mixed, covered, labels, multi_label, thresholds)
    if multi_label:
        return float(accuracy_score(y, pred)), float(
            f1_score(y, pred, average="macro", zero_division=0)
        )
    truth = y.argmax(axis=1)
    return float(accuracy_score(truth, pred)), float(
        f1_score(truth, pred, average="macro", zero_division=0)
    )


def _fit_thresholds(mixed, y, labels) -> dict[str, float]:
    grid = np.linspace(0.05, 0.95, 19)
    thresholds = {}
    for j, label in enumerate(labels):
        if y[:, j].sum() == 0:
            thresholds[label] = 0.5
            continue
        f1s = [f1_score(y[:, j], mixed[:, j] >= cut, zero_division=0) for cut in grid]
        thresholds[label] = float(grid[int(np.argmax(f1s))])
    return thresholds


def fit_ensemble_weights(store, project_id: int) -> dict:
    """Fit per-technique weights (and multi-label thresholds) on reviews; store and return them."""
    settings = project_settings(store.get_project(project_id))
    multi_label = settings["multi_label"]
    labels = store.load_taxonomy(project_id).names
    reviews = {d: r for d, r in store.current_reviews(project_id).items() if r.labels}
    if len(reviews) < MIN_REVIEWS_FOR_ENSEMBLE_FIT:
        raise NotEnoughReviews(
            f"{len(reviews)} reviewed documents; fitting ensemble weights needs at least "
            f"{MIN_REVIEWS_FOR_ENSEMBLE_FIT}"
        )
    doc_ids = sorted(reviews)
    per_technique = latest_results(store, project_id, doc_ids)
    names, scores, present = stack_results(per_technique, doc_ids, labels)
    if not names:
        raise NotEnoughReviews("no technique has been run on the reviewed documents yet")
    y = np.array(
        [[1.0 if label in reviews[d].labels else 0.0 for label in labels] for d in doc_ids]
    )

    # Cross-validated comparison of fitted vs equal weights.
    fitted_scores, equal_scores = [], []
    for train, test in KFold(
        n_splits=min(CV_FOLDS, len(doc_ids)), shuffle=True, random_state=0
    ).split(doc_ids):
        weights = fit_technique_weights(scores[:, train], present[:, train], y[train], multi_label)
        thresholds = None
        if multi_label:
            mixed_train, _ = weighted_average(weights, scores[:, train], present[:, train], True)
            thresholds = _fit_thresholds(mixed_train, y[train], labels)
        mixed, covered = weighted_average(weights, scores[:, test], present[:, test], multi_label)
        fitted_scores.append(_score(y[test], mixed, covered, labels, multi_label, thresholds))
        mixed, covered = weighted_average(
            np.ones(len(names)), scores[:, test], present[:, test], multi_label
        )
        equal_scores.append(_score(y[test], mixed, covered, labels, multi_label))

    weights = fit_technique_weights(scores, present, y, multi_label)
    params = {"weights": {name: float(w) for name, w in zip(names, weights)}}
    if multi_label:
        mixed, _ = weighted_average(weights, scores, present, True)
        params["thresholds"] = _fit_thresholds(mixed, y, labels)
    metrics = {
        "n_reviews": len(doc_ids),
        "cv_accuracy": float(np.mean([s[0] for s in fitted_scores])),
        "cv_macro_f1": float(np.mean([s[1] for s in fitted_scores])),
        "equal_weights_cv_accuracy": float(np.mean([s[0] for s in equal_scores])),
        "equal_weights_cv_macro_f1": float(np.mean([s[1] for s in equal_scores])),
    }
    store.save_trained_model(
        project_id,
        kind="ensemble_weights",
        params=params,
        metrics=metrics,
        blob=None,
        n_reviews=len(doc_ids),
    )
    return {"params": params, "metrics": metrics}
