"""Sentence embeddings of texts, computed once — per process, and for good in the store.

One project's documents are embedded by several parts of Sift: the embeddings technique, the
supervised model's training (reviewed and unreviewed documents) and its predictions, and the
review queue's diversity step. They all ask `cached_encode`, which looks in two places before
running the model:

1. this process's memory: key (model, revision, device, dtype, max_length, text digest) ->
   (dim,) float32 unit vector, least recently used dropped beyond `LIMIT` (about 150 MB of
   384-dim vectors);
2. the project's store (table `embeddings`), when the caller runs inside
   `kept_in(store, project_id)` (the engine's runs and `document_embeddings` do): key (model
   key "model|revision|dtype|max_length", text digest) -> little-endian float32 bytes. So a
   new process (a CLI `train` then `classify`, a server restart, a taxonomy edit that
   changes only label vectors) reads what an earlier one computed. Rows that are not `dim`
   finite floats are ignored and recomputed; the device is not part of the key (cuda and cpu
   vectors agree to float rounding).

Keys hold a 16-byte blake2b digest of the text, never the text itself. Label/prototype
vectors are not kept: they are cheap, and they change with every taxonomy edit.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.models.catalog import DEFAULT_EMBEDDING_MODEL
from core.models.encoder import encode
from core.models.kept_vectors import keeping_store, kept_in
from core.models.loading import LoadedModel, dtype_name, load_sentence_encoder

log = logging.getLogger(__name__)

LIMIT = 100_000

_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()
_LOCK = threading.Lock()  # Streamlit sessions and the background refresh share the cache


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _model_key(loaded: LoadedModel, max_length: int | None) -> tuple:
    return (
        loaded.model_id,
        loaded.revision,
        str(loaded.device),
        dtype_name(loaded.dtype),
        max_length,
    )


def cached_encode(
    loaded: LoadedModel,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int | None = None,
) -> np.ndarray:
    """texts -> (len(texts), dim) float32, as `core.models.encoder.encode` returns,
    encoding only the texts this process has not embedded with this model before."""
    texts = list(texts)
    model_key = _model_key(loaded, max_length)
    keys = [(*model_key, _digest(text)) for text in texts]
    found: dict[tuple, np.ndarray] = {}
    with _LOCK:
        for key in keys:
            vector = _CACHE.get(key)
            if vector is not None:
                _CACHE.move_to_end(key)
                found[key] = vector
    missing = {key: text for key, text in zip(keys, texts) if key not in found}
    kept = keeping_store()
    if missing and kept is not None:
        stored = _read_stored(kept, loaded, max_length, [key[-1] for key in missing])
        for key in [key for key in missing if key[-1] in stored]:
            found[key] = stored[key[-1]]
            del missing[key]
        _remember({key: found[key] for key in keys if key[-1] in stored})
    if missing:
        vectors = encode(
            loaded, list(missing.values()), batch_size=batch_size, max_length=max_length
        )
        computed = {}
        for key, vector in zip(missing, vectors):
            vector = np.array(vector, dtype=np.float32)
            vector.setflags(write=False)
            computed[key] = found[key] = vector
        _remember(computed)
        if kept is not None:
            _write_stored(kept, loaded, max_length, computed)
    if not texts:
        return np.zeros((0, _dimension(loaded)), dtype=np.float32)
    return np.stack([found[key] for key in keys])


def _remember(vectors: dict[tuple, np.ndarray]) -> None:
    with _LOCK:
        for key, vector in vectors.items():
            _CACHE[key] = vector
            _CACHE.move_to_end(key)
        while len(_CACHE) > LIMIT:
            _CACHE.popitem(last=False)


def _dimension(loaded: LoadedModel) -> int:
    return int(loaded.model.get_embedding_dimension())


def stored_model_key(loaded: LoadedModel, max_length: int | None = None) -> str:
    """The store's key for vectors of `loaded`: model id, revision, dtype and max length."""
    return f"{loaded.model_id}|{loaded.revision}|{dtype_name(loaded.dtype)}|{max_length}"


def _read_stored(
    kept: tuple[Any, int], loaded: LoadedModel, max_length: int | None, digests: list[bytes]
) -> dict[bytes, np.ndarray]:
    store, project_id = kept
    rows = store.stored_embeddings(project_id, stored_model_key(loaded, max_length), digests)
    size = _dimension(loaded) * 4
    vectors = {}
    for digest, blob in rows.items():
        if len(blob) != size:
            continue  # written by another model shape, or damaged: recompute
        vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        if not np.isfinite(vector).all():
            continue
        vector.setflags(write=False)
        vectors[digest] = vector
    return vectors


def _write_stored(
    kept: tuple[Any, int],
    loaded: LoadedModel,
    max_length: int | None,
    vectors: dict[tuple, np.ndarray],
) -> None:
    """Keep new vectors in the store. They are derived data: a store that will not take them
    (read-only, a role without the permission, a full disk) costs a recomputation later,
    never the caller's result."""
    store, project_id = kept
    rows = [(key[-1], vector.astype("<f4").tobytes()) for key, vector in vectors.items()]
    try:
        store.save_embeddings(project_id, stored_model_key(loaded, max_length), rows)
    except Exception as error:  # noqa: BLE001 - see the docstring
        log.warning("embeddings not kept in the store (%s: %s)", type(error).__name__, error)


def peek(
    model_id: str, texts: Sequence[str], *, store=None, project_id: int | None = None
) -> np.ndarray | None:
    """(len(texts), dim) vectors of `texts` already embedded by `model_id` in any precision or
    device (for uses where bf16 and fp32 vectors are interchangeable, such as the review
    queue's diversity), from this process's memory or else, given `store` and `project_id`,
    from the vectors kept there under one model key; None unless every text is found.
    Computes nothing."""
    if not texts:
        return None
    digests = [_digest(text) for text in texts]
    wanted = set(digests)
    by_digest: dict[bytes, np.ndarray] = {}
    with _LOCK:
        for key, vector in _CACHE.items():
            if key[0] == model_id and key[-1] in wanted:
                by_digest.setdefault(key[-1], vector)
    if len(by_digest) == len(wanted):
        return np.stack([by_digest[digest] for digest in digests])
    if store is None or project_id is None:
        return None
    for model_key in store.embedding_model_keys(project_id):
        if not model_key.startswith(f"{model_id}|"):
            continue
        rows = store.stored_embeddings(project_id, model_key, list(wanted))
        sizes = {len(blob) for blob in rows.values()}
        if len(rows) == len(wanted) and len(sizes) == 1:
            vectors = {d: np.frombuffer(blob, dtype="<f4") for d, blob in rows.items()}
            if all(np.isfinite(v).all() for v in vectors.values()):
                return np.stack([vectors[digest] for digest in digests]).astype(np.float32)
    return None


def document_embeddings(
    store,
    project_id: int,
    document_ids: Sequence[str],
    *,
    embedding_model: str | None = None,
    precision: str = "auto",
) -> np.ndarray:
    """(len(document_ids), dim) sentence embeddings of stored documents (unknown ids raise),
    each computed once and kept in the project's store."""
    loaded = load_sentence_encoder(embedding_model or DEFAULT_EMBEDDING_MODEL, precision=precision)
    documents = store.get_documents(project_id, list(document_ids))
    with kept_in(store, project_id):
        return cached_encode(loaded, [doc.text for doc in documents])


def cached_count() -> int:
    with _LOCK:
        return len(_CACHE)


def clear() -> None:
    with _LOCK:
        _CACHE.clear()


__all__ = [
    "LIMIT",
    "cached_count",
    "cached_encode",
    "clear",
    "document_embeddings",
    "kept_in",
    "peek",
    "stored_model_key",
]
