"""Runs techniques over a project's documents in batches, with a cache, progress and cancellation.

For every technique the engine:
  1. derives a cache key from the technique's config hash (which covers the
     taxonomy), the exact model revision it will use and the dtype it runs in
     (`technique_cache_key`);
  2. asks the store which documents already have a prediction under that key
     and computes only the rest (unchanged work is never recomputed);
  3. writes each finished batch in its own transaction, so a run that is
     cancelled or killed keeps what it finished and the next run resumes;
  4. records the run (technique, config, model id + revision, device, dtype,
     timings, counts) in the store's run log.

The ensemble is not run here like the others: it combines the stored
predictions of its component techniques (see core.techniques.ensemble).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.taxonomy import Taxonomy
from core.techniques.base import ModelInfo, Technique, TextResult


class CancelToken:
    """Cooperative cancellation: checked between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class Progress:
    technique: str
    done: int  # documents finished for this technique (cached + computed)
    total: int
    computed: int
    cached: int
    elapsed_s: float

    @property
    def docs_per_s(self) -> float:
        return self.computed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        remaining = self.total - self.done
        rate = self.docs_per_s
        return remaining / rate if rate > 0 else None


@dataclass(frozen=True)
class RunOutcome:
    technique: str
    run_id: int
    cache_key: str
    status: str  # "finished" | "cancelled" | "failed"
    n_documents: int
    n_computed: int
    n_cached: int
    seconds: float
    error: str | None = None
    dtype: str = ""  # the precision the model ran in ("" for model-free techniques)
    dtype_reason: str = ""  # and why (auto's choice, its probe check)


ProgressCallback = Callable[[Progress], None]


def cache_key(config_hash: str, model_revision: str) -> str:
    """(technique config hash, model revision) -> the key predictions are cached under."""
    return hashlib.sha256(f"{config_hash}|{model_revision}".encode()).hexdigest()[:24]


def predict_batch(technique: Technique, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
    """technique.predict, checked to give one result per text (a plug-in that drops or adds
    one would otherwise misalign every later document with its prediction)."""
    results = technique.predict(texts, taxonomy)
    if len(results) != len(texts):
        raise RuntimeError(
            f"technique {technique.name!r} returned {len(results)} results for {len(texts)} texts"
        )
    return results


def technique_cache_key(config_hash: str, info: ModelInfo) -> str:
    """The key a technique's predictions are cached under: its config hash, the exact model
    revision and the dtype the model ran in. Precision is a runtime option (not in the config
    hash) but it nudges the numbers, so the dtype that actually ran is part of the key; a
    model-free technique (dtype "") keeps the key of its config hash and revision alone."""
    revision = f"{info.revision}|{info.dtype}" if info.dtype else info.revision
    return cache_key(config_hash, revision)


def run_technique(
    store,
    project_id: int,
    technique: Technique,
    *,
    document_ids: Sequence[str] | None = None,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RunOutcome:
    taxonomy = store.load_taxonomy(project_id)
    if not taxonomy.labels:
        raise ValueError("the project has no labels yet: add labels to its taxonomy first")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    ids = list(document_ids) if document_ids is not None else store.document_ids(project_id)
    config_hash = technique.config_hash(taxonomy)
    info = technique.model_info()  # may load the model: its revision is part of the key
    key = technique_cache_key(config_hash, info)
    done_ids = store.cached_document_ids(project_id, key, ids)
    todo = [doc_id for doc_id in ids if doc_id not in done_ids]
    run_id = store.start_run(
        project_id,
        technique=technique.name,
        config_hash=config_hash,
        config=technique.config(),
        cache_key=key,
        model_id=info.model_id,
        model_revision=info.revision,
        device=info.device,
        dtype=info.dtype,
        dtype_reason=info.dtype_reason,
        n_documents=len(ids),
    )
    started = time.perf_counter()
    computed = 0
    status, error = "finished", None

    def report() -> None:
        if progress is not None:
            progress(
                Progress(
                    technique=technique.name,
                    done=len(done_ids) + computed,
                    total=len(ids),
                    computed=computed,
                    cached=len(done_ids),
                    elapsed_s=time.perf_counter() - started,
                )
            )

    report()
    from core.models.kept_vectors import kept_in  # no torch: rules runs stay light

    try:
        # Longest-first keeps each batch's lengths alike (less padding) and
        # makes the ETA pessimistic early rather than optimistic.
        documents = _documents_by_length(store, project_id, todo)
        # Sentence embeddings computed by any technique are kept in the project's store for
        # every later run, in any process (core.models.embedding_cache).
        with kept_in(store, project_id):
            for start in range(0, len(documents), batch_size):
                if cancel is not None and cancel.cancelled:
                    status = "cancelled"
                    break
                batch = documents[start : start + batch_size]
                results = predict_batch(technique, [doc.text for doc in batch], taxonomy)
                rows = [(doc.id, result.to_json()) for doc, result in zip(batch, results)]
                store.write_predictions(project_id, run_id, key, technique.name, rows)
                computed += len(batch)
                report()
    except Exception as exc:  # recorded in the run log, then re-raised for the caller
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        store.finish_run(
            run_id,
            status=status,
            n_computed=computed,
            n_cached=len(done_ids),
            seconds=time.perf_counter() - started,
            error=error,
        )
        raise
    seconds = time.perf_counter() - started
    store.finish_run(
        run_id, status=status, n_computed=computed, n_cached=len(done_ids), seconds=seconds
    )
    return RunOutcome(
        technique=technique.name,
        run_id=run_id,
        cache_key=key,
        status=status,
        n_documents=len(ids),
        n_computed=computed,
        n_cached=len(done_ids),
        seconds=seconds,
        error=error,
        dtype=info.dtype,
        dtype_reason=info.dtype_reason,
    )


def run_techniques(
    store,
    project_id: int,
    techniques: Sequence[Technique],
    *,
    document_ids: Sequence[str] | None = None,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[RunOutcome]:
    """Run each technique in turn; stops early (remaining techniques not started) on cancel.

    Runs left 'running' by a process that was killed are first marked failed (their finished
    batches are what this call resumes from)."""
    store.fail_abandoned_runs(project_id)
    outcomes = []
    for technique in techniques:
        if cancel is not None and cancel.cancelled:
            break
        outcomes.append(
            run_technique(
                store,
                project_id,
                technique,
                document_ids=document_ids,
                batch_size=batch_size,
                progress=progress,
                cancel=cancel,
            )
        )
    return outcomes


def _documents_by_length(store, project_id: int, ids: Sequence[str]) -> list:
    documents = []
    chunk = 5000  # bounded memory per store call on big projects
    for start in range(0, len(ids), chunk):
        documents.extend(store.get_documents(project_id, ids[start : start + chunk]))
    documents.sort(key=lambda doc: len(doc.text), reverse=True)
    return documents
