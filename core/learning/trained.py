"""Supervised models in the store: saved as plain arrays (never pickle) in `trained_models`,
read back by id, and the one the current learned configuration uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

from core.techniques.supervised import LinearModel

KIND = "supervised"


def save_supervised_model(
    store: SiftStore, project_id: int, model: LinearModel, *, metrics: dict, n_reviews: int
) -> int:
    return store.save_trained_model(
        project_id,
        kind=KIND,
        params={
            "classes": list(model.classes),
            "multi_label": model.multi_label,
            "embedding_model": model.embedding_model,
            "fingerprint": model.fingerprint,
        },
        metrics=metrics,
        blob=model.to_bytes(),
        n_reviews=n_reviews,
    )


def load_supervised_model(store: SiftStore, project_id: int, model_id: int) -> LinearModel:
    record = store.get_trained_model(project_id, model_id)
    if record.kind != KIND or record.blob is None:
        raise ValueError(f"trained model {model_id} is not a supervised model")
    return LinearModel.from_bytes(
        record.blob,
        classes=record.params["classes"],
        multi_label=record.params["multi_label"],
        embedding_model=record.params["embedding_model"],
    )


def current_supervised_model(store: SiftStore, project_id: int, version=None) -> LinearModel | None:
    """The supervised model of the project's current learned configuration, if it has one."""
    version = store.current_model_version(project_id) if version is None else version
    model_id = None if version is None else version.config.get("supervised_model_id")
    return None if model_id is None else load_supervised_model(store, project_id, model_id)
