"""Document embeddings kept for good (table `embeddings`, migration m007).

The store keeps bytes and knows nothing of numpy or models: `core.models.embedding_cache`
decides the model key and the vectors' format. Rows are (project, model key, 16-byte text
digest) -> vector bytes; a project's rows go with the project.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.store._base import StoreBase
from core.store.errors import StoreError

_CHUNK = 500  # digests per query: under SQLite's bound-parameter limit


class EmbeddingsMixin(StoreBase):
    def stored_embeddings(
        self, project_id: int, model_key: str, digests: Sequence[bytes]
    ) -> dict[bytes, bytes]:
        """digest -> vector bytes, for those of `digests` stored under `model_key`."""
        found: dict[bytes, bytes] = {}
        unique = list(dict.fromkeys(digests))
        with self._read() as conn:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    "SELECT digest, vector FROM embeddings "
                    f"WHERE project_id = ? AND model_key = ? AND digest IN ({marks})",
                    [project_id, model_key, *chunk],
                )
                found.update((bytes(digest), bytes(vector)) for digest, vector in rows)
        return found

    def embedding_model_keys(self, project_id: int) -> list[str]:
        """The model keys the project has vectors under (one per model, revision, dtype)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT model_key FROM embeddings WHERE project_id = ? ORDER BY 1",
                [project_id],
            )
            return [row[0] for row in rows]

    def save_embeddings(
        self, project_id: int, model_key: str, rows: Sequence[tuple[bytes, bytes]]
    ) -> int:
        """Store (digest, vector bytes) rows under `model_key` in one transaction; rows already
        stored are kept as they are (a text's vector under one model key never changes).
        Returns how many were new."""
        if not model_key:
            raise StoreError("save_embeddings needs a model key.")
        for digest, vector in rows:
            if len(digest) != 16 or not vector:
                raise StoreError(
                    "save_embeddings takes (16-byte digest, non-empty vector bytes) rows; "
                    f"got a {len(digest)}-byte digest and {len(vector)} vector bytes"
                )
        with self._write() as conn:
            self._require_project(project_id)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO embeddings (project_id, model_key, digest, vector) "
                "VALUES (?, ?, ?, ?)",
                [(project_id, model_key, digest, vector) for digest, vector in rows],
            )
            return conn.total_changes - before
