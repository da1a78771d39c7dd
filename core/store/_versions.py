"""Learned configurations (model versions) and the pin that freezes a project on one.

The current version of a project is its pinned one, else its latest adopted one; rejected
candidates are kept as a record of why the loop kept what it had.
"""

from __future__ import annotations

from typing import Any

from core.store._base import StoreBase
from core.store.connection import dumps, loads, utc_now
from core.store.errors import StoreError
from core.store.records import ModelVersion

VERSION_STATUSES = ("adopted", "rejected")
_COLUMNS = "id, project_id, created_at, status, config, metrics, reason, n_reviews, by"


class VersionsMixin(StoreBase):
    def save_model_version(
        self,
        project_id: int,
        *,
        status: str,
        config: dict,
        metrics: dict,
        reason: str,
        n_reviews: int,
        blob: bytes | None = None,
        by: str = "",
    ) -> ModelVersion:
        if status not in VERSION_STATUSES:
            raise StoreError(
                f"unknown version status {status!r}; use one of: {', '.join(VERSION_STATUSES)}"
            )
        for what, value in (("config", config), ("metrics", metrics)):
            if not isinstance(value, dict):
                raise StoreError(f"A model version's {what} must be a dict.")
        with self._write():
            self._require_project(project_id)
            version_id = self._insert_row(
                "model_versions",
                {
                    "project_id": project_id,
                    "created_at": utc_now(),
                    "status": status,
                    "config": dumps(config, allow_nan=False),
                    "metrics": dumps(metrics, allow_nan=False),
                    "reason": str(reason),
                    "n_reviews": int(n_reviews),
                    "by": str(by),
                    "blob": None if blob is None else bytes(blob),
                },
            )
        return self.get_model_version(project_id, version_id, with_blob=False)

    def get_model_version(
        self, project_id: int, version_id: int, *, with_blob: bool = True
    ) -> ModelVersion:
        columns = _COLUMNS + (", blob" if with_blob else "")
        with self._read():
            self._require_project(project_id)
            row = self._row(
                f"SELECT {columns} FROM model_versions WHERE project_id = ? AND id = ?",
                [project_id, version_id],
            )
        if row is None:
            raise StoreError(
                f"No model version {version_id!r} in this project; "
                "`python -m core versions PROJECT` lists them."
            )
        return _version(row)

    def list_model_versions(self, project_id: int) -> list[ModelVersion]:
        """Every judged configuration, oldest first (without blobs)."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                f"SELECT {_COLUMNS} FROM model_versions WHERE project_id = ? ORDER BY id",
                [project_id],
            )
        return [_version(row) for row in rows]

    def latest_model_version(
        self, project_id: int, *, adopted_only: bool = False
    ) -> ModelVersion | None:
        """The newest judged configuration (any status, or adopted only), without its blob."""
        status = "AND status = 'adopted' " if adopted_only else ""
        with self._read():
            self._require_project(project_id)
            row = self._row(
                f"SELECT {_COLUMNS} FROM model_versions WHERE project_id = ? {status}"
                "ORDER BY id DESC LIMIT 1",
                [project_id],
            )
        return None if row is None else _version(row)

    def pinned_model_version(self, project_id: int) -> int | None:
        with self._read():
            self._require_project(project_id)
            return self._scalar(
                "SELECT version_id FROM model_pins WHERE project_id = ?", [project_id]
            )

    def current_model_version(self, project_id: int) -> ModelVersion | None:
        """The configuration that drives the project's suggestions: the pinned version, else
        the latest adopted one; None before anything was learned. Without its blob."""
        with self._read():
            self._require_project(project_id)
            row = self._row(
                f"SELECT {_COLUMNS} FROM model_versions WHERE project_id = ? AND id = "
                "COALESCE((SELECT version_id FROM model_pins WHERE project_id = ?), "
                "(SELECT MAX(id) FROM model_versions WHERE project_id = ? "
                "AND status = 'adopted'))",
                [project_id, project_id, project_id],
            )
        return None if row is None else _version(row)

    def pin_model_version(self, project_id: int, version_id: int | None, *, by: str = "") -> None:
        """Freeze the project on an adopted version (None: unpin, follow the latest again)."""
        with self._write() as conn:
            self._require_project(project_id)
            if version_id is None:
                conn.execute("DELETE FROM model_pins WHERE project_id = ?", [project_id])
                return
            status = self._scalar(
                "SELECT status FROM model_versions WHERE project_id = ? AND id = ?",
                [project_id, version_id],
            )
            if status is None:
                raise StoreError(f"No model version {version_id!r} in this project to pin.")
            if status != "adopted":
                raise StoreError(
                    f"Version {version_id} was not adopted (the learning loop kept it out); "
                    "only adopted versions can be pinned."
                )
            conn.execute(
                "INSERT INTO model_pins (project_id, version_id, pinned_at, by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (project_id) DO UPDATE SET "
                "version_id = excluded.version_id, pinned_at = excluded.pinned_at, "
                "by = excluded.by",
                [project_id, version_id, utc_now(), by],
            )


def _version(row: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        **{
            **row,
            "config": loads(row["config"]),
            "metrics": loads(row["metrics"]),
            "blob": row.get("blob"),
        }
    )
