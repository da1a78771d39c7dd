"""What the project produced: exports written and models trained from reviews."""

from __future__ import annotations

from typing import Any

from core.store._base import StoreBase
from core.store.connection import dumps, loads, utc_now
from core.store.errors import StoreError
from core.store.records import TrainedModel


class ArtifactsMixin(StoreBase):
    def record_export(
        self,
        project_id: int,
        *,
        format: str,
        n_rows: int,
        options: dict,
        sha256: str,
        by: str = "",
    ) -> int:
        """Log an export (the file itself lives wherever it was written); returns its id."""
        options_json = _json_field("export options", options)
        with self._write():
            self._require_project(project_id)
            return self._insert_row(
                "exports",
                {
                    "project_id": project_id,
                    "created_at": utc_now(),
                    "format": format,
                    "n_rows": n_rows,
                    "options": options_json,
                    "sha256": sha256,
                    "by": by,
                },
            )

    def list_exports(self, project_id: int) -> list[dict[str, Any]]:
        """Exports, oldest first: {"id", "project_id", "created_at", "format", "n_rows", "options",
        "sha256", "by"}."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT * FROM exports WHERE project_id = ? ORDER BY id", [project_id]
            )
        return [{**row, "options": loads(row["options"])} for row in rows]

    def save_trained_model(
        self,
        project_id: int,
        *,
        kind: str,
        params: dict,
        metrics: dict,
        blob: bytes | None,
        n_reviews: int,
    ) -> int:
        if not kind:
            raise StoreError("save_trained_model needs a kind, e.g. 'ensemble_weights'.")
        if blob is not None and not isinstance(blob, bytes | bytearray | memoryview):
            raise StoreError(f"A trained model's blob must be bytes, not {type(blob).__name__}.")
        params_json = _json_field(f"{kind} params", params)
        metrics_json = _json_field(f"{kind} metrics", metrics)
        with self._write():
            self._require_project(project_id)
            return self._insert_row(
                "trained_models",
                {
                    "project_id": project_id,
                    "kind": kind,
                    "created_at": utc_now(),
                    "params": params_json,
                    "metrics": metrics_json,
                    "blob": None if blob is None else bytes(blob),
                    "n_reviews": n_reviews,
                },
            )

    def latest_trained_model(self, project_id: int, kind: str) -> TrainedModel | None:
        with self._read():
            self._require_project(project_id)
            row = self._row(
                "SELECT * FROM trained_models WHERE project_id = ? AND kind = ? "
                "ORDER BY id DESC LIMIT 1",
                [project_id, kind],
            )
        if row is None:
            return None
        return TrainedModel(
            **{**row, "params": loads(row["params"]), "metrics": loads(row["metrics"])}
        )

    def get_trained_model(self, project_id: int, model_id: int) -> TrainedModel:
        with self._read():
            self._require_project(project_id)
            row = self._row(
                "SELECT * FROM trained_models WHERE project_id = ? AND id = ?",
                [project_id, model_id],
            )
        if row is None:
            raise StoreError(f"No trained model {model_id!r} in this project.")
        return TrainedModel(
            **{**row, "params": loads(row["params"]), "metrics": loads(row["metrics"])}
        )

    def trained_model_history(self, project_id: int, kind: str) -> list[dict[str, Any]]:
        """Every model of `kind` trained for the project, oldest first, without its blob:
        [{"id", "created_at", "n_reviews", "metrics"}]."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT id, created_at, n_reviews, metrics FROM trained_models "
                "WHERE project_id = ? AND kind = ? ORDER BY id",
                [project_id, kind],
            )
        return [{**row, "metrics": loads(row["metrics"])} for row in rows]


def _json_field(what: str, value: Any) -> str:
    if not isinstance(value, dict):
        raise StoreError(f"The {what} must be a dict, not {type(value).__name__}.")
    try:
        return dumps(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"The {what} are not JSON-serialisable: {exc}") from exc
