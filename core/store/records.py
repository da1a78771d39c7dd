"""Plain rows read from the store. JSON columns arrive decoded; timestamps are UTC ISO-8601."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.documents import Document


class _Unset:
    """Marks an argument that was not passed, where None is a meaningful value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    created_at: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportSummary:
    """What one imported file did: documents in it, new ones stored, ones already there."""

    import_id: int
    n_documents: int
    n_added: int
    n_duplicates: int  # already in the project, or repeated within the file


@dataclass(frozen=True)
class ImportRecord:
    """One imported file (an upload batch), as logged."""

    id: int
    project_id: int
    filename: str
    format: str
    encoding: str | None
    sha256: str  # of the file's bytes
    n_documents: int
    n_added: int
    n_duplicates: int
    created_at: str
    by: str


@dataclass(frozen=True)
class StoredDocument:
    id: str  # content hash of the text (core.documents.document_id)
    text: str
    source: str
    location: str
    external_id: str | None
    gold_labels: tuple[str, ...]
    meta: dict[str, Any]
    import_id: int  # the upload batch that first brought this text in
    added_at: str
    n_chars: int  # len(text), for length-sorted batching without loading texts

    def to_document(self) -> Document:
        return Document(
            text=self.text,
            id=self.id,
            source=self.source,
            location=self.location,
            external_id=self.external_id,
            gold_labels=tuple(self.gold_labels),
            meta=dict(self.meta or {}),
        )


@dataclass(frozen=True)
class RunRecord:
    id: int
    project_id: int
    technique: str
    config_hash: str
    config: dict[str, Any]
    cache_key: str  # hash of (config hash, model revision): which predictions this run reads/writes
    model_id: str
    model_revision: str
    device: str
    dtype: str
    status: str  # "running" | "finished" | "cancelled" | "failed"
    started_at: str
    finished_at: str | None
    n_documents: int
    n_computed: int
    n_cached: int
    seconds: float | None
    error: str | None
    owner: str = ""  # "host:pid:process start time" of the process that started it
    dtype_reason: str = ""  # why that precision ran (auto's choice and its probe check)


@dataclass(frozen=True)
class Review:
    """One reviewer action; never changed: later reviews supersede or retract earlier ones."""

    id: int
    project_id: int
    document_id: str
    reviewer: str
    created_at: str
    decision: str  # "accept" | "correct" | "skip" | "flag" | "unflag" | "undo" | "adjudicate"
    labels: tuple[str, ...]
    # the suggestion the reviewer saw, e.g. {"labels": [...], "scores": {...}, "run_ids": [...]}
    shown: dict[str, Any] | None
    undoes: int | None  # for "undo": the id of the review it retracts
    note: str
    action: str = ""  # shared by the reviews one call wrote (a bulk save); "" before m005


@dataclass(frozen=True)
class TrainedModel:
    id: int
    project_id: int
    kind: str  # "ensemble_weights" | "supervised" | ...
    created_at: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    blob: bytes | None  # serialised model, when it is not plain JSON params
    n_reviews: int  # reviews it was fitted on


@dataclass(frozen=True)
class ModelVersion:
    """One learned configuration the learning loop judged (core.learning.versions)."""

    id: int
    project_id: int
    created_at: str
    status: str  # "adopted" | "rejected"
    config: dict[str, Any]  # combination, learned techniques' cache keys, supervised model id
    metrics: dict[str, Any]  # out-of-fold scores of the candidate, the current and the baseline
    reason: str  # what changed, or why it was not adopted
    n_reviews: int  # labelled reviews it learned from
    by: str
    blob: bytes | None = None  # npz; read only by get_model_version

    @property
    def adopted(self) -> bool:
        return self.status == "adopted"
