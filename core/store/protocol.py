"""What Sift needs from storage: the contract `Store` (SQLite) meets, and a second backend
(a team server on Postgres) would have to.

Callers annotate their store parameter with `SiftStore`; mypy (run on core/ in CI) checks
them against this, and `tests/test_store_protocol.py` checks that `Store` and the
permission-checking `core.auth.GuardedStore` offer every method. Grouped by concern as the
store's own modules are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from core.documents import Document
from core.store.records import (
    ImportRecord,
    ImportSummary,
    ModelVersion,
    Project,
    Review,
    RunRecord,
    StoredDocument,
    TrainedModel,
)
from core.taxonomy import Taxonomy


class SiftStore(Protocol):
    path: Path

    # --- projects and their labels -------------------------------------------------------------
    def create_project(self, name: str, *, settings: dict | None = None) -> Project: ...
    def get_project(self, name_or_id: str | int) -> Project: ...
    def list_projects(self) -> list[Project]: ...
    def rename_project(self, project_id: int, new_name: str) -> Project: ...
    def update_project_settings(self, project_id: int, settings: dict) -> Project: ...
    def delete_project(self, project_id: int) -> None: ...
    def save_taxonomy(self, project_id: int, taxonomy: Taxonomy) -> None: ...
    def load_taxonomy(self, project_id: int) -> Taxonomy: ...

    # --- documents ------------------------------------------------------------------------------
    def add_documents(
        self,
        project_id: int,
        documents: Sequence[Document],
        *,
        filename: str,
        format: str,
        encoding: str | None,
        sha256: str,
        by: str = "",
    ) -> ImportSummary: ...
    def count_documents(self, project_id: int) -> int: ...
    def get_documents(
        self,
        project_id: int,
        ids: Sequence[str] | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredDocument]: ...
    def document_ids(self, project_id: int, *, import_id: int | None = None) -> list[str]: ...
    def list_imports(self, project_id: int) -> list[ImportRecord]: ...
    def search_documents(self, project_id: int, query: str, *, limit: int = 1000) -> list[str]: ...
    def context_fields(self, project_id: int, *, limit: int = 50) -> list[str]: ...
    def search_context(
        self, project_id: int, field: str, query: str, *, limit: int = 1000
    ) -> list[str]: ...

    # --- runs and predictions -------------------------------------------------------------------
    def start_run(
        self,
        project_id: int,
        *,
        technique: str,
        config_hash: str,
        config: dict,
        cache_key: str,
        model_id: str,
        model_revision: str,
        device: str,
        dtype: str,
        n_documents: int,
        dtype_reason: str = "",
    ) -> int: ...
    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        n_computed: int,
        n_cached: int,
        seconds: float,
        error: str | None = None,
    ) -> None: ...
    def abandoned_run_ids(self, project_id: int) -> list[int]: ...
    def fail_abandoned_runs(self, project_id: int) -> list[int]: ...
    def get_run(self, run_id: int) -> RunRecord: ...
    def list_runs(self, project_id: int) -> list[RunRecord]: ...
    def cached_document_ids(
        self, project_id: int, cache_key: str, document_ids: Sequence[str] | None = None
    ) -> set[str]: ...
    def write_predictions(
        self,
        project_id: int,
        run_id: int,
        cache_key: str,
        technique: str,
        rows: Sequence[tuple[str, Any]],
    ) -> int: ...
    def get_predictions(
        self, project_id: int, cache_key: str, document_ids: Sequence[str] | None = None
    ) -> dict[str, dict]: ...
    def get_scores(
        self, project_id: int, cache_key: str, document_ids: Sequence[str] | None = None
    ) -> dict[str, dict | None]: ...
    def latest_cache_keys(self, project_id: int) -> dict[str, str]: ...
    def prune_predictions(
        self, project_id: int, technique: str, *, keep_cache_keys: Sequence[str]
    ) -> int: ...

    # --- embeddings -----------------------------------------------------------------------------
    def stored_embeddings(
        self, project_id: int, model_key: str, digests: Sequence[bytes]
    ) -> dict[bytes, bytes]: ...
    def save_embeddings(
        self, project_id: int, model_key: str, rows: Sequence[tuple[bytes, bytes]]
    ) -> int: ...
    def embedding_model_keys(self, project_id: int) -> list[str]: ...

    # --- reviews --------------------------------------------------------------------------------
    def add_review(
        self,
        project_id: int,
        document_id: str,
        *,
        reviewer: str,
        decision: str,
        labels: Sequence[str] = (),
        shown: dict | None = None,
        note: str = "",
        expected_current: Any = ...,
    ) -> Review: ...
    def add_reviews(
        self, project_id: int, items: Sequence[dict], *, reviewer: str
    ) -> list[Review]: ...
    def undo_review(
        self,
        project_id: int,
        review_id: int,
        *,
        reviewer: str,
        note: str = "",
        action: str | None = None,
    ) -> Review: ...
    def undo_last_review(self, project_id: int, reviewer: str) -> Review | None: ...
    def undo_last_action(self, project_id: int, reviewer: str) -> list[Review]: ...
    def current_reviews(self, project_id: int) -> dict[str, Review]: ...
    def current_review(self, project_id: int, document_id: str) -> Review | None: ...
    def reviewer_opinions(
        self, project_id: int, document_id: str | None = None
    ) -> dict[str, dict[str, Review]]: ...
    def disputed_document_ids(self, project_id: int) -> set[str]: ...
    def adjudicate(
        self,
        project_id: int,
        document_id: str,
        *,
        reviewer: str,
        labels: Sequence[str],
        note: str = "",
        expected_current: Any = ...,
    ) -> Review: ...
    def review_history(self, project_id: int, document_id: str | None = None) -> list[Review]: ...
    def flagged_document_ids(
        self, project_id: int, document_ids: Sequence[str] | None = None
    ) -> set[str]: ...
    def count_labelled_reviews(self, project_id: int) -> int: ...
    def count_reviews(self, project_id: int) -> int: ...
    def review_watermark(self, project_id: int) -> int: ...
    def count_label_changes(self, project_id: int, since_review_id: int) -> int: ...
    # reviews brought in from a file, with the documents they need (_review_imports.py)
    def lookup_documents(self, project_id: int, keys: Sequence[str]) -> dict[str, list[str]]: ...
    def import_reviews(
        self,
        project_id: int,
        documents: Sequence[Document],
        reviews: Sequence[tuple[str, Sequence[dict]]],
        *,
        filename: str,
        format: str,
        sha256: str,
        by: str = "",
    ) -> tuple[ImportSummary | None, list[Review]]: ...

    # --- what the project produced: exports, trained models, learned versions --------------
    def record_export(
        self,
        project_id: int,
        *,
        format: str,
        n_rows: int,
        options: dict,
        sha256: str,
        by: str = "",
    ) -> int: ...
    def list_exports(self, project_id: int) -> list[dict[str, Any]]: ...
    def save_trained_model(
        self,
        project_id: int,
        *,
        kind: str,
        params: dict,
        metrics: dict,
        blob: bytes | None,
        n_reviews: int,
    ) -> int: ...
    def get_trained_model(self, project_id: int, model_id: int) -> TrainedModel: ...
    def latest_trained_model(self, project_id: int, kind: str) -> TrainedModel | None: ...
    def trained_model_history(self, project_id: int, kind: str) -> list[dict[str, Any]]: ...
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
    ) -> ModelVersion: ...
    def get_model_version(
        self, project_id: int, version_id: int, *, with_blob: bool = True
    ) -> ModelVersion: ...
    def list_model_versions(self, project_id: int) -> list[ModelVersion]: ...
    def latest_model_version(
        self, project_id: int, *, adopted_only: bool = False
    ) -> ModelVersion | None: ...
    def pinned_model_version(self, project_id: int) -> int | None: ...
    def current_model_version(self, project_id: int) -> ModelVersion | None: ...
    def pin_model_version(
        self, project_id: int, version_id: int | None, *, by: str = ""
    ) -> None: ...

    # --- the file ------------------------------------------------------------------------------
    def applied_migrations(self) -> list[str]: ...
    def integrity_check(self) -> str: ...
    def backup(self, dest_path: str | Path) -> Path: ...
