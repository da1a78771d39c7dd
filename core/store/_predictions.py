"""Runs (the log of every classification) and the predictions they computed.

Predictions are keyed by (project, cache_key, document) and never rewritten:
a later run with the same cache key reads them instead of computing again.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import psutil

from core.store._base import StoreBase
from core.store.connection import dumps, loads, utc_now
from core.store.errors import RunNotFound, StoreError
from core.store.records import RunRecord

RUN_STATUSES = ("running", "finished", "cancelled", "failed")
FINAL_RUN_STATUSES = ("finished", "cancelled", "failed")

_INSERT_PREDICTION = """
    INSERT INTO predictions (project_id, cache_key, document_id, run_id, technique,
                             scores, evidence, summary, estimated)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (project_id, cache_key, document_id) DO NOTHING
"""


def process_identity() -> str:
    """This process as "host:pid:start time" (the start time tells a reused pid apart)."""
    process = psutil.Process()
    return f"{socket.gethostname()}:{process.pid}:{process.create_time():.2f}"


def process_ended(owner: str) -> bool:
    """Whether the process named by `process_identity()`'s string has ended. False when it
    cannot be known: another host, or an empty/unknown owner."""
    try:
        host, pid, started = owner.rsplit(":", 2)
        pid_number, start_time = int(pid), float(started)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    try:
        process = psutil.Process(pid_number)
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            return True
        return abs(process.create_time() - start_time) > 0.05  # the pid now names another
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # e.g. access denied: it exists
        return False


class PredictionsMixin(StoreBase):
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
    ) -> int:
        """Log a run as 'running'; returns its id (pass it to write_predictions and finish_run).
        dtype_reason says why the model runs in that precision (e.g. bf16 chosen by auto)."""
        if not technique:
            raise StoreError("start_run needs the technique's name.")
        try:
            config_json = dumps(config)
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"The {technique} run's config is not JSON-serialisable: {exc}"
            ) from exc
        with self._write():
            self._require_project(project_id)
            return self._insert_row(
                "runs",
                {
                    "project_id": project_id,
                    "technique": technique,
                    "config_hash": config_hash,
                    "config": config_json,
                    "cache_key": cache_key,
                    "model_id": model_id,
                    "model_revision": model_revision,
                    "device": device,
                    "dtype": dtype,
                    "dtype_reason": dtype_reason,
                    "status": "running",
                    "owner": process_identity(),
                    "started_at": utc_now(),
                    "n_documents": n_documents,
                },
            )

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        n_computed: int,
        n_cached: int,
        seconds: float,
        error: str | None = None,
    ) -> None:
        if status not in FINAL_RUN_STATUSES:
            raise StoreError(
                f"Run status {status!r} is not a final status; use one of "
                f"{', '.join(FINAL_RUN_STATUSES)}."
            )
        with self._write():
            run = self.get_run(run_id)
            if run.status != "running":
                raise StoreError(
                    f"Run {run_id} ({run.technique}) already ended as {run.status!r} at "
                    f"{run.finished_at}; start a new run instead."
                )
            self._db.table("runs").update(
                run_id,
                {
                    "status": status,
                    "finished_at": utc_now(),
                    "n_computed": n_computed,
                    "n_cached": n_cached,
                    "seconds": float(seconds),
                    "error": error,
                },
            )

    def abandoned_run_ids(self, project_id: int) -> list[int]:
        """Runs still marked 'running' whose process, on this machine, has ended (killed or
        crashed before it could finish the run). Runs started on another machine, or before
        runs recorded their process, are never called abandoned."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT id, owner FROM runs WHERE project_id = ? AND status = 'running' "
                "ORDER BY id",
                [project_id],
            )
        return [row["id"] for row in rows if process_ended(row["owner"])]

    def fail_abandoned_runs(self, project_id: int) -> list[int]:
        """Mark `abandoned_run_ids` as failed (their finished batches stay: a new run with the
        same settings resumes from them); returns their ids."""
        failed = []
        for run_id in self.abandoned_run_ids(project_id):
            run = self.get_run(run_id)
            try:
                self.finish_run(
                    run_id,
                    status="failed",
                    n_computed=len(self.cached_document_ids(project_id, run.cache_key)),
                    n_cached=0,
                    seconds=0.0,
                    error=(
                        f"interrupted: the process that ran it ({run.owner}) ended without "
                        "finishing it (killed or crashed); its finished batches are kept and "
                        "the next run with the same settings resumes from them"
                    ),
                )
            except StoreError:  # finished by someone else in between
                continue
            failed.append(run_id)
        return failed

    def prune_predictions(
        self, project_id: int, technique: str, *, keep_cache_keys: Sequence[str]
    ) -> int:
        """Delete `technique`'s predictions except those under `keep_cache_keys`; returns how
        many rows went. The run log stays whole.

        For techniques whose every rerun has a new cache key and whose old predictions are
        never read again (the supervised model, retrained as reviews arrive): without pruning
        each retrain would add a prediction per document for good. What a reviewer was shown
        is kept in the review itself (`Review.shown`), not here."""
        with self._write() as conn:
            self._require_project(project_id)
            cursor = conn.execute(
                "DELETE FROM predictions WHERE project_id = ? AND technique = ? "
                "AND cache_key NOT IN (SELECT value FROM json_each(?))",
                [project_id, technique, dumps(list(keep_cache_keys))],
            )
            return cursor.rowcount

    def get_run(self, run_id: int) -> RunRecord:
        row = self._row("SELECT * FROM runs WHERE id = ?", [run_id])
        if row is None:
            raise RunNotFound(f"No run with id {run_id!r}; list_runs(project_id) shows the runs.")
        return _run(row)

    def list_runs(self, project_id: int) -> list[RunRecord]:
        """Runs in the order they started."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows("SELECT * FROM runs WHERE project_id = ? ORDER BY id", [project_id])
        return [_run(row) for row in rows]

    def cached_document_ids(
        self, project_id: int, cache_key: str, document_ids: Sequence[str] | None = None
    ) -> set[str]:
        """Which documents (of `document_ids`, or all) already have a prediction for cache_key."""
        with self._read():
            self._require_project(project_id)
            if document_ids is None:
                rows = self._rows(
                    "SELECT document_id FROM predictions WHERE project_id = ? AND cache_key = ?",
                    [project_id, cache_key],
                )
            else:  # one JSON array parameter instead of 100k placeholders
                rows = self._rows(
                    "SELECT document_id FROM predictions WHERE project_id = ? AND cache_key = ? "
                    "AND document_id IN (SELECT value FROM json_each(?))",
                    [project_id, cache_key, dumps(list(document_ids))],
                )
        return {row["document_id"] for row in rows}

    def write_predictions(
        self,
        project_id: int,
        run_id: int,
        cache_key: str,
        technique: str,
        rows: Sequence[tuple[str, Any]],
    ) -> int:
        """Store one batch of (document_id, TextResult.to_json()) in one transaction.

        Predictions already stored under the cache key are left as they are.
        Returns how many rows were new.
        """
        run = self.get_run(run_id)
        if (run.project_id, run.technique, run.cache_key) != (project_id, technique, cache_key):
            raise StoreError(
                f"Run {run_id} is {run.technique!r} with cache key {run.cache_key!r} in project "
                f"{run.project_id}; it cannot write {technique!r} predictions with cache key "
                f"{cache_key!r} to project {project_id}."
            )
        try:
            with self._write() as conn:
                prepared = _prediction_rows(project_id, run_id, cache_key, technique, rows)
                return conn.executemany(_INSERT_PREDICTION, prepared).rowcount
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" not in str(exc):
                raise
            ids = [document_id for document_id, _ in rows]
            missing = [doc_id for doc_id in ids if not self._has_document(project_id, doc_id)]
            raise StoreError(
                f"Cannot store {technique} predictions: {len(missing)} document id(s) are not in "
                f"project {project_id}, e.g. {', '.join(map(repr, missing[:3]))}. "
                "Nothing from this batch was stored."
            ) from exc

    def get_predictions(
        self, project_id: int, cache_key: str, document_ids: Sequence[str] | None = None
    ) -> dict[str, dict]:
        """document_id -> {"scores": {label: score} | None, "evidence": [span dict], "summary"}
        and, when some labels were scored by a cheaper technique, "estimated": [label]."""
        sql = (
            "SELECT document_id, scores, evidence, summary, estimated FROM predictions "
            "WHERE project_id = ? AND cache_key = ?"
        )
        params: list[Any] = [project_id, cache_key]
        if document_ids is not None:
            sql += " AND document_id IN (SELECT value FROM json_each(?))"
            params.append(dumps(list(document_ids)))
        with self._read():
            self._require_project(project_id)
            rows = self._rows(sql, params)
        return {row["document_id"]: _prediction(row) for row in rows}

    def get_scores(
        self, project_id: int, cache_key: str, document_ids: Sequence[str] | None = None
    ) -> dict[str, dict | None]:
        """document_id -> {label: score} | None (abstained): scores only, no evidence decoding.

        The review queue reads every document's scores; evidence is read per document shown.
        """
        sql = "SELECT document_id, scores FROM predictions WHERE project_id = ? AND cache_key = ?"
        params: list[Any] = [project_id, cache_key]
        if document_ids is not None:
            sql += " AND document_id IN (SELECT value FROM json_each(?))"
            params.append(dumps(list(document_ids)))
        with self._read():
            self._require_project(project_id)
            rows = self._rows(sql, params)
        return {row["document_id"]: loads(row["scores"]) for row in rows}

    def latest_cache_keys(self, project_id: int) -> dict[str, str]:
        """technique -> cache key of its latest run that left predictions.

        That is a finished run, or a cancelled one that computed or reused some.
        """
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT technique, cache_key FROM runs WHERE project_id = ? "
                "AND (status = 'finished' OR (status = 'cancelled' AND n_computed + n_cached > 0)) "
                "ORDER BY id",
                [project_id],
            )
        return {row["technique"]: row["cache_key"] for row in rows}  # later runs win


def _prediction_rows(
    project_id: int, run_id: int, cache_key: str, technique: str, rows: Sequence[tuple[str, Any]]
) -> Iterator[tuple]:
    for document_id, result in rows:
        data = result.to_json() if hasattr(result, "to_json") else result
        scores = data.get("scores")
        try:
            scores_json = None if scores is None else dumps(scores, allow_nan=False)
            evidence_json = dumps(data.get("evidence") or [])
            estimated_json = dumps([str(name) for name in data.get("estimated") or []])
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"Cannot store the {technique} prediction for document {document_id!r}: {exc} "
                "(scores must be finite numbers, evidence JSON-serialisable). "
                "Nothing from this batch was stored."
            ) from exc
        yield (
            project_id,
            cache_key,
            document_id,
            run_id,
            technique,
            scores_json,
            evidence_json,
            data.get("summary"),
            estimated_json,
        )


def _prediction(row: dict) -> dict:
    """A stored prediction in TextResult.to_json's shape ("estimated" only when non-empty)."""
    data = {
        "scores": loads(row["scores"]),
        "evidence": loads(row["evidence"]),
        "summary": row["summary"],
    }
    estimated = loads(row["estimated"])
    if estimated:
        data["estimated"] = estimated
    return data


def _run(row: dict) -> RunRecord:
    return RunRecord(**{**row, "config": loads(row["config"])})
