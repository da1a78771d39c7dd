"""Sentence embeddings: Sift's own fast path over a sentence-transformers model.

`encode` is used by the embeddings, summarize and supervised techniques, the embedding cache
(active learning, the review queue) and the benches: tokenise once, sort by token length so
batches carry little padding, cap each batch's padded tokens (`core.models.batching`, shared
with the NLI engine) so activations are reused rather than page-faulted in afresh, run the
transformer under `inference_mode`, pool and normalise as the model's own modules say,
restore the input order. Identical texts are encoded once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.models.batching import default_batch_tokens, token_budget_batches
from core.models.loading import LoadedModel, tune_allocator

_SUPPORTED_POOLING = ("mean", "cls", "max")


def encode(
    loaded: LoadedModel,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int | None = None,
) -> np.ndarray:
    """texts -> (len(texts), dim) float32 array of L2-normalised sentence embeddings.

    Equal (to ~1e-6) to `SentenceTransformer.encode(texts, normalize_embeddings=True)` for
    models made of Transformer -> Pooling(mean|cls|max) [-> Normalize]; other module stacks
    fall back to `SentenceTransformer.encode`. `max_length` (tokens) can only shorten the
    model's own limit.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    texts = list(texts)
    encoder = loaded.model
    dim = encoder.get_embedding_dimension()
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)

    # Identical texts are computed once: unique[i] is encoded, positions[j] points into it.
    index_of: dict[str, int] = {}
    positions = np.fromiter(
        (index_of.setdefault(text, len(index_of)) for text in texts), dtype=np.int64
    )
    unique = list(index_of)

    pooling_mode = _fast_path_pooling(encoder)
    if pooling_mode is None:
        vectors = encoder.encode(
            unique, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)[positions]

    vectors = _encode_fast(encoder, unique, pooling_mode, batch_size, max_length)
    return vectors[positions]


def _fast_path_pooling(encoder: Any) -> str | None:
    """The pooling mode when the model is Transformer -> Pooling [-> Normalize], else None."""
    modules = list(encoder)
    if len(modules) not in (2, 3):
        return None
    transformer, pooling = modules[0], modules[1]
    if not hasattr(transformer, "auto_model") or getattr(transformer, "tokenizer", None) is None:
        return None
    if getattr(encoder, "truncate_dim", None):
        return None
    mode = getattr(pooling, "pooling_mode", None)
    if type(pooling).__name__ != "Pooling" or mode not in _SUPPORTED_POOLING:
        return None
    if len(modules) == 3 and type(modules[2]).__name__ != "Normalize":
        return None
    return mode


def _encode_fast(
    encoder: Any, texts: list[str], pooling_mode: str, batch_size: int, max_length: int | None
) -> np.ndarray:
    import torch

    tune_allocator()
    transformer = encoder[0]
    tokenizer = transformer.tokenizer
    model = transformer.auto_model
    limit = transformer.max_seq_length or tokenizer.model_max_length
    if max_length is not None:
        limit = min(limit, max_length)
    # Tokenise once, unpadded; batches are padded by hand after sorting by length.
    token_ids: list[list[int]] = tokenizer(
        texts, truncation=True, max_length=limit, padding=False, return_attention_mask=False
    )["input_ids"]
    order = np.argsort([len(ids) for ids in token_ids], kind="stable")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    pad_left = getattr(tokenizer, "padding_side", "right") == "left"
    device = next(model.parameters()).device
    out = np.empty((len(texts), encoder.get_embedding_dimension()), dtype=np.float32)

    # Rows of the length-sorted texts, cut at batch_size texts or when the padded tokens would
    # pass the model's budget: long texts go a few at a time so activations stay small enough
    # for the allocator to reuse (see tune_allocator).
    runs = token_budget_batches(
        [len(token_ids[row]) for row in order],
        batch_size=batch_size,
        max_tokens=default_batch_tokens(model.config),
    )

    with torch.inference_mode():
        for run in runs:
            batch_rows = order[run]
            batch = [token_ids[row] for row in batch_rows]
            width = max(len(ids) for ids in batch)
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, ids in enumerate(batch):
                span = slice(width - len(ids), width) if pad_left else slice(0, len(ids))
                input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
                attention_mask[row, span] = 1
            input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
            # (batch, width, hidden), pooled in float32 even when the model runs in bf16
            tokens = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            pooled = _pool(tokens.float(), attention_mask, pooling_mode)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[batch_rows] = pooled.cpu().numpy()
    return out


def _pool(tokens, attention_mask, mode: str):
    """(batch, width, hidden) token embeddings -> (batch, hidden), ignoring padding."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
    if mode == "mean":
        return (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    if mode == "max":
        return tokens.masked_fill(mask == 0, float("-inf")).max(dim=1).values
    first = attention_mask.to(torch.int).argmax(dim=1)  # cls: first real token
    return tokens[torch.arange(tokens.shape[0], device=tokens.device), first]


__all__ = ["encode"]
