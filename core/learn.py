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
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer

from core.results import latest_results, project_settings
from core.techniques.base import TextResult
from core.techniques.supervised import LinearModel

MIN_REVIEWS_FOR_ENSEMBLE_FIT = 20
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


# --- supervised -------------------------------------------------------------


def _classifier(multi_label: bool, c: float = 4.0):
    base = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    return OneVsRestClassifier(base) if multi_label else base


def _folds(y_single: list[str] | None, n: int):
    if y_single is not None:
        smallest = min(Counter(y_single).values())
        if smallest >= 2:
            return StratifiedKFold(n_splits=min(CV_FOLDS, smallest), shuffle=True, random_state=0)
    return KFold(n_splits=min(CV_FOLDS, n), shuffle=True, random_state=0)


def fit_linear_model(
    features: np.ndarray, labels: list[list[str]], *, multi_label: bool, embedding_model: str
) -> tuple[LinearModel, dict]:
    """Fit on all data and cross-validate; returns the model and its CV metrics."""
    if multi_label:
        binarizer = MultiLabelBinarizer()
        y = binarizer.fit_transform(labels)  # (n, n_classes) 0/1
        classes = [str(c) for c in binarizer.classes_]
    else:
        y = np.array([items[0] for items in labels], dtype=object)  # (n,) label names
        classes = sorted(set(y))
    if len(classes) < 2:
        raise NotEnoughReviews(
            f"reviews cover only {classes or 'no labels'}; review documents of at least two "
            "labels before training"
        )
    metrics = {"n_reviews": len(labels), "n_labels": len(classes)}
    folds = _folds(None if multi_label else list(y), len(labels))
    predicted = np.zeros_like(y) if multi_label else np.empty(len(y), dtype=object)
    for train, test in folds.split(features, None if multi_label else list(y)):
        if not multi_label and len(set(y[train])) < 2:
            predicted[test] = y[train][0]  # a fold with one class: predict it
            continue
        predicted[test] = (
            _classifier(multi_label).fit(features[train], y[train]).predict(features[test])
        )
    if not multi_label:
        y, predicted = list(y), list(predicted)
    metrics["cv_accuracy"] = float(accuracy_score(y, predicted))
    metrics["cv_macro_f1"] = float(f1_score(y, predicted, average="macro", zero_division=0))

    final = _classifier(multi_label).fit(
        features, np.asarray(y, dtype=object) if not multi_label else y
    )
    if multi_label:
        coef = np.vstack([est.coef_ for est in final.estimators_])
        intercept = np.concatenate([est.intercept_ for est in final.estimators_])
    else:
        coef, intercept = final.coef_, final.intercept_
        classes = [str(c) for c in final.classes_]
    model = LinearModel(
        classes=tuple(classes),
        coef=coef.astype(np.float32),
        intercept=intercept.astype(np.float32),
        multi_label=multi_label,
        embedding_model=embedding_model,
    )
    return model, metrics


def train_supervised(store, project_id: int, *, embedding_model: str | None = None):
    """Train on current reviews, cross-validate, store; returns (LinearModel, metrics)."""
    from core.models import DEFAULT_EMBEDDING_MODEL, load_sentence_encoder
    from core.techniques.embeddings import encode

    settings = project_settings(store.get_project(project_id))
    data = training_data(store, project_id)
    if len(data.texts) < MIN_REVIEWS_FOR_SUPERVISED:
        raise NotEnoughReviews(
            f"{len(data.texts)} reviewed documents with labels; at least "
            f"{MIN_REVIEWS_FOR_SUPERVISED} are needed to train the supervised model"
        )
    embedding_model = embedding_model or DEFAULT_EMBEDDING_MODEL
    features = encode(load_sentence_encoder(embedding_model), data.texts)
    model, metrics = fit_linear_model(
        features, data.labels, multi_label=settings["multi_label"], embedding_model=embedding_model
    )
    store.save_trained_model(
        project_id,
        kind="supervised",
        params={
            "classes": list(model.classes),
            "multi_label": model.multi_label,
            "embedding_model": embedding_model,
            "fingerprint": model.fingerprint,
        },
        metrics=metrics,
        blob=model.to_bytes(),
        n_reviews=len(data.texts),
    )
    return model, metrics


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


def _stack(
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


def _combine(weights: np.ndarray, scores: np.ndarray, present: np.ndarray, multi_label: bool):
    w = weights[:, None] * present  # (T, N)
    total = w.sum(axis=0)  # (N,)
    mixed = (w[:, :, None] * scores).sum(axis=0) / np.maximum(total, 1e-12)[:, None]
    if not multi_label:
        mixed = mixed / np.maximum(mixed.sum(axis=1, keepdims=True), 1e-12)
    return mixed, total > 0


def _fit_weights(scores, present, y, multi_label: bool) -> np.ndarray:
    """Minimise log-loss of the weighted average over non-negative weights (L-BFGS-B)."""
    n_techniques = scores.shape[0]

    def loss(weights):
        mixed, covered = _combine(weights, scores, present, multi_label)
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
    names, scores, present = _stack(per_technique, doc_ids, labels)
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
        weights = _fit_weights(scores[:, train], present[:, train], y[train], multi_label)
        thresholds = None
        if multi_label:
            mixed_train, _ = _combine(weights, scores[:, train], present[:, train], True)
            thresholds = _fit_thresholds(mixed_train, y[train], labels)
        mixed, covered = _combine(weights, scores[:, test], present[:, test], multi_label)
        fitted_scores.append(_score(y[test], mixed, covered, labels, multi_label, thresholds))
        mixed, covered = _combine(
            np.ones(len(names)), scores[:, test], present[:, test], multi_label
        )
        equal_scores.append(_score(y[test], mixed, covered, labels, multi_label))

    weights = _fit_weights(scores, present, y, multi_label)
    params = {"weights": {name: float(w) for name, w in zip(names, weights)}}
    if multi_label:
        mixed, _ = _combine(weights, scores, present, True)
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
