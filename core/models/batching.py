"""Token-budget batching: how many padded tokens go through a model in one forward pass.

Both batched engines (`core.models.nli` for NLI pairs, `core.models.encoder` for sentence
embeddings) sort their inputs by token length and cut the sorted run into mini-batches here:
at most `batch_size` inputs and at most a budget of padded tokens (inputs x the batch's
longest), optionally also at most a share of those tokens padding. Short inputs go many to a
forward pass (per-call overhead and weight reads are shared), long inputs few (activations stay
small enough to be reused by the allocator instead of being page-faulted in afresh every
layer; see `core.models.loading.tune_allocator`).

Plain Python: no torch import.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

# Padded tokens per forward pass, such that the widest activation (tokens x the feed-forward
# width, fp32) stays within glibc's largest heap-reusable block (32 MiB, see tune_allocator):
# bigger tensors are mmapped and page-faulted in afresh on every layer. bart-large: 2048.
_ACTIVATION_BUDGET = 8 * 1024 * 1024  # elements
_MIN_BATCH_TOKENS = 512


def default_batch_tokens(config) -> int:
    """Padded tokens per forward pass for a model config (see _ACTIVATION_BUDGET)."""
    width = max(
        int(getattr(config, name, 0) or 0)
        for name in ("encoder_ffn_dim", "decoder_ffn_dim", "intermediate_size", "d_model",
                     "hidden_size", "dim", "hidden_dim")
    )  # fmt: skip
    return max(_MIN_BATCH_TOKENS, _ACTIVATION_BUDGET // max(width, 1))


def token_budget_batches(
    lengths: Sequence[int],
    *,
    batch_size: int,
    max_tokens: int,
    max_padding: float | None = None,
) -> Iterator[slice]:
    """Consecutive runs of length-sorted inputs (`lengths` in token counts, shortest first),
    as slices into that sorted order: at most batch_size inputs, at most max_tokens padded
    tokens (inputs x the run's longest, which is its last), and, when max_padding is given,
    at most that share of the padded tokens padding. An input longer than max_tokens still
    runs, alone."""
    start = 0
    while start < len(lengths):
        end, real = start + 1, lengths[start]
        while end < len(lengths) and end - start < batch_size:
            longest = lengths[end]
            padded = (end - start + 1) * longest
            if padded > max_tokens:
                break
            if max_padding is not None and padded - (real + longest) > max_padding * padded:
                break
            real += longest
            end += 1
        yield slice(start, end)
        start = end


__all__ = ["default_batch_tokens", "token_budget_batches"]
