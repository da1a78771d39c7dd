"""Sentence embeddings of texts, computed once per process.

One project's documents are embedded by several parts of Sift: the embeddings technique, the
supervised model's training (reviewed and unreviewed documents) and its predictions, and the
review queue's diversity step. They all ask `cached_encode`, so each text is run through the
model once per (model, revision, device, dtype, max_length) while the process lives (the
Streamlit server, a CLI run, a Ray worker).

Entries: key -> (dim,) float32 unit vector, least recently used dropped beyond `LIMIT`
(about 150 MB of 384-dim vectors). Keys hold a 16-byte blake2b digest of the text, not the
text itself.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from core.models.catalog import DEFAULT_EMBEDDING_MODEL
from core.models.encoder import encode
from core.models.loading import LoadedModel, dtype_name, load_sentence_encoder

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
    if missing:
        vectors = encode(
            loaded, list(missing.values()), batch_size=batch_size, max_length=max_length
        )
        with _LOCK:
            for key, vector in zip(missing, vectors):
                vector = np.array(vector, dtype=np.float32)
                vector.setflags(write=False)
                found[key] = vector
                _CACHE[key] = vector
            while len(_CACHE) > LIMIT:
                _CACHE.popitem(last=False)
    if not texts:
        return np.zeros((0, loaded.model.get_embedding_dimension()), dtype=np.float32)
    return np.stack([found[key] for key in keys])


def peek(model_id: str, texts: Sequence[str]) -> np.ndarray | None:
    """(len(texts), dim) vectors of `texts` already embedded by `model_id` in any precision or
    device (for uses where bf16 and fp32 vectors are interchangeable, such as the review
    queue's diversity), or None unless every text is cached. Computes nothing."""
    wanted = {_digest(text) for text in texts}
    by_digest: dict[bytes, np.ndarray] = {}
    with _LOCK:
        for key, vector in _CACHE.items():
            if key[0] == model_id and key[-1] in wanted:
                by_digest.setdefault(key[-1], vector)
    if len(by_digest) < len(wanted) or not texts:
        return None
    return np.stack([by_digest[_digest(text)] for text in texts])


def document_embeddings(
    store,
    project_id: int,
    document_ids: Sequence[str],
    *,
    embedding_model: str | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """(len(document_ids), dim) sentence embeddings of stored documents (unknown ids raise),
    each computed once per process."""
    loaded = load_sentence_encoder(embedding_model or DEFAULT_EMBEDDING_MODEL, precision=precision)
    documents = store.get_documents(project_id, list(document_ids))
    return cached_encode(loaded, [doc.text for doc in documents])


def cached_count() -> int:
    with _LOCK:
        return len(_CACHE)


def clear() -> None:
    with _LOCK:
        _CACHE.clear()


__all__ = ["LIMIT", "cached_count", "cached_encode", "clear", "document_embeddings", "peek"]
