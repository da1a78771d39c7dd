"""Model versions: each learned configuration the loop adopted, and how to go back to one.

A version (a `model_versions` row) holds the combination (weights, temperature, thresholds),
the cache keys of the learned techniques' predictions it reads (the supervised model's run),
the id of the supervised model in `trained_models`, out-of-fold scores of the candidate, the
configuration it replaced and the zero-review baseline, and, in its blob, the reviews it
learned from with their out-of-fold predictions (`OutOfFold`): what Evaluate shows for the
learned techniques on those documents, since a model's predictions on its own training
documents are no measure of it.

Pinning freezes the project on one adopted version (the loop keeps judging candidates but
adopts none); rolling back adopts an older version's configuration again as a new version.
Either may need the older supervised model's predictions back: `ensure_scored` recomputes
them from its stored weights (the engine's cache answers when they are still there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

import io
from dataclasses import dataclass

import numpy as np

from core.predictions import SUPERVISED


@dataclass(frozen=True)
class OutOfFold:
    """The reviews a version learned from, each with the prediction it got from the fold
    that did not see its label. Rows in `document_ids` order; columns in `labels` order."""

    document_ids: tuple[str, ...]
    review_ids: np.ndarray  # (n,) the review each document's label came from
    labels: tuple[str, ...]
    ensemble: np.ndarray  # (n, L) the ensemble's calibrated probabilities
    covered: np.ndarray  # (n,) bool
    suggested: np.ndarray  # (n, L) bool: what it would have suggested
    supervised: np.ndarray  # (n, L) the supervised model's probabilities

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            document_ids=np.array(self.document_ids, dtype=str),
            review_ids=np.asarray(self.review_ids, dtype=np.int64),
            labels=np.array(self.labels, dtype=str),
            ensemble=np.asarray(self.ensemble, dtype=np.float32),
            covered=np.asarray(self.covered, dtype=bool),
            suggested=np.asarray(self.suggested, dtype=bool),
            supervised=np.asarray(self.supervised, dtype=np.float32),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> OutOfFold:
        arrays = np.load(io.BytesIO(blob), allow_pickle=False)
        return cls(
            document_ids=tuple(str(d) for d in arrays["document_ids"]),
            review_ids=arrays["review_ids"],
            labels=tuple(str(label) for label in arrays["labels"]),
            ensemble=arrays["ensemble"].astype(float),
            covered=arrays["covered"],
            suggested=arrays["suggested"],
            supervised=arrays["supervised"].astype(float),
        )

    def rows_for(self, document_ids, labels) -> tuple[np.ndarray, np.ndarray]:
        """(k,) positions in `document_ids` that this holds, and (k,) their rows here; columns
        must be re-ordered by the caller if `labels` differ (see `columns_for`)."""
        own = {doc: i for i, doc in enumerate(self.document_ids)}
        pairs = [(k, own[doc]) for k, doc in enumerate(document_ids) if doc in own]
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        positions, rows = zip(*pairs)
        return np.asarray(positions, dtype=np.int64), np.asarray(rows, dtype=np.int64)

    def columns_for(self, labels) -> np.ndarray | None:
        """Column indices giving `labels` order, or None when a label is missing here (the
        taxonomy changed since: these rows no longer answer for it)."""
        own = {name: j for j, name in enumerate(self.labels)}
        if any(name not in own for name in labels):
            return None
        return np.array([own[name] for name in labels], dtype=np.int64)


def out_of_fold(store: SiftStore, project_id: int, version) -> OutOfFold | None:
    """The out-of-fold rows of a version (None for a version without them)."""
    if version is None:
        return None
    blob = version.blob
    if blob is None:
        blob = store.get_model_version(project_id, version.id).blob
    return OutOfFold.from_bytes(blob) if blob else None


def describe_change(previous, config: dict, n_reviews: int) -> str:
    """What a candidate changes against the version it would replace, in a few words:
    "supervised model on 45 reviews (was 40); weights embeddings 1.00 -> 0.31; calibrated
    (T 1.42)"."""
    combination = config.get("combination") or {}
    old_config = previous.config if previous is not None else {}
    old = old_config.get("combination") or {}
    parts = [
        f"supervised model on {n_reviews} reviews"
        + (f" (was {previous.n_reviews})" if previous is not None else " (first)")
    ]
    weights, old_weights = combination.get("weights") or {}, old.get("weights") or {}
    moved = [
        f"{name} {old_weights.get(name, 1.0):.2f} -> {weight:.2f}"
        for name, weight in sorted(weights.items())
        if abs(weight - old_weights.get(name, 1.0)) >= 0.05
    ]
    if moved:
        parts.append("weights " + ", ".join(moved))
    temperature = float(combination.get("temperature") or 1.0)
    if abs(temperature - float(old.get("temperature") or 1.0)) >= 0.01:
        parts.append(f"calibration T {temperature:.2f}" if temperature != 1.0 else "uncalibrated")
    thresholds = combination.get("thresholds") or {}
    if thresholds != (old.get("thresholds") or {}):
        parts.append(f"{len(thresholds)} fitted label thresholds")
    return "; ".join(parts)


def ensure_scored(store: SiftStore, project_id: int, version) -> int:
    """Make sure the version's supervised predictions are stored (recomputed from its stored
    model if they were pruned); returns how many documents were computed."""
    from core.engine import run_techniques
    from core.learning.trained import load_supervised_model
    from core.predictions import project_settings
    from core.techniques import create_technique

    model_id = version.config.get("supervised_model_id")
    if model_id is None:
        return 0
    model = load_supervised_model(store, project_id, model_id)
    multi_label = project_settings(store.get_project(project_id))["multi_label"]
    technique = create_technique(SUPERVISED, multi_label=multi_label, trained=model)
    (run,) = run_techniques(store, project_id, [technique])
    if run.status != "finished":
        raise RuntimeError(f"scoring with version {version.id}'s model {run.status}: {run.error}")
    return run.n_computed


def keep_learned_predictions(store: SiftStore, project_id: int) -> int:
    """Delete supervised predictions no version needs now (the current one's and the newest
    adopted one's are kept, so unpinning is instant); returns how many rows went."""
    keep: set[str] = set()
    for version in (
        store.current_model_version(project_id),
        store.latest_model_version(project_id, adopted_only=True),
    ):
        if version is not None:
            keep.update((version.config.get("learned_cache_keys") or {}).values())
    return store.prune_predictions(project_id, SUPERVISED, keep_cache_keys=sorted(keep))


def pin(store: SiftStore, project_id: int, version_id: int | None, *, by: str = "") -> None:
    """Freeze the project on an adopted version (None: unpin); its predictions are restored
    first, so suggestions never point at missing predictions."""
    if version_id is not None:
        version = store.get_model_version(project_id, version_id, with_blob=False)
        if version.adopted:
            ensure_scored(store, project_id, version)
    store.pin_model_version(project_id, version_id, by=by)
    current = store.current_model_version(project_id)
    if current is not None:
        ensure_scored(store, project_id, current)
    keep_learned_predictions(store, project_id)


def rollback(store: SiftStore, project_id: int, version_id: int, *, by: str = ""):
    """Adopt an older version's configuration again, as a new version; the loop may replace
    it after later label changes, as any version. Returns the new version. A pin is lifted."""
    old = store.get_model_version(project_id, version_id)
    if not old.adopted:
        raise ValueError(
            f"version {version_id} was never adopted (the learning loop kept it out); "
            "roll back to an adopted version"
        )
    ensure_scored(store, project_id, old)
    current = store.current_model_version(project_id)
    version = store.save_model_version(
        project_id,
        status="adopted",
        # The loop judges its next candidate after new label changes, not at once.
        config={
            **old.config,
            "origin": f"rollback to v{old.id}",
            "changes": f"v{old.id}'s configuration again",
            "review_watermark": store.review_watermark(project_id),
        },
        metrics=old.metrics,
        reason=f"rolled back to v{old.id}"
        + (f" (was v{current.id})" if current is not None else ""),
        n_reviews=old.n_reviews,
        blob=old.blob,
        by=by,
    )
    store.pin_model_version(project_id, None, by=by)
    keep_learned_predictions(store, project_id)
    return version


def history(store: SiftStore, project_id: int) -> list[dict]:
    """Every judged configuration, oldest first, as plain rows (Evaluate, `versions` CLI):
    {"id", "created_at", "status", "n_reviews", "reason", "by", "current", "pinned",
    "candidate"|"previous"|"baseline": out-of-fold scores or None, "weights", "temperature",
    "changes": what it changed against the version before it}."""
    current = store.current_model_version(project_id)
    pinned = store.pinned_model_version(project_id)
    rows = []
    for version in store.list_model_versions(project_id):
        combination = version.config.get("combination") or {}
        rows.append(
            {
                "id": version.id,
                "created_at": version.created_at,
                "status": version.status,
                "n_reviews": version.n_reviews,
                "reason": version.reason,
                "by": version.by,
                "current": current is not None and version.id == current.id,
                "pinned": version.id == pinned,
                "candidate": version.metrics.get("candidate"),
                "previous": version.metrics.get("current"),
                "baseline": version.metrics.get("baseline"),
                "weights": combination.get("weights"),
                "temperature": combination.get("temperature"),
                "changes": version.config.get("changes", ""),
            }
        )
    return rows
