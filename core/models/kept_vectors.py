"""Which project's store keeps the sentence embeddings computed in this context.

    with kept_in(store, project_id):   # the engine around a run; document_embeddings
        ...                            # core.models.embedding_cache reads and writes there

Apart from embedding_cache so that setting it costs no torch import: the engine sets it around
every run, model-free techniques (rules, lexicon) included. A context variable, so each thread
(a Streamlit session, a background job) has its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_STORE: ContextVar[tuple[Any, int] | None] = ContextVar("sift_embedding_store", default=None)


@contextmanager
def kept_in(store, project_id: int) -> Iterator[None]:
    """Within this block, embeddings are also read from and written to `project_id`'s store."""
    token = _STORE.set((store, project_id))
    try:
        yield
    finally:
        _STORE.reset(token)


def keeping_store() -> tuple[Any, int] | None:
    """(store, project id) set by the innermost kept_in, else None."""
    return _STORE.get()


__all__ = ["keeping_store", "kept_in"]
