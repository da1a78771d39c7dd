"""The machine's measured matmul peak (GFLOP/s, fp32 and bf16) and model FLOP counts.

`matmul_peak` times square matmuls of a few sizes with torch's own threads and keeps the
best rate: the practical ceiling that model FLOP/s are compared with ("% of peak").

FLOPs of a BART-style encoder-decoder classifier are counted analytically from its config
and the real (unpadded) token count of each input; `flop_counter_check` compares the formula
with torch.utils.flop_counter.FlopCounterMode on one forward.

    python -m bench.peak            # prints both peaks
"""

from __future__ import annotations

import time
from collections.abc import Iterable


def matmul_peak(dtype_name: str = "fp32", sizes=(1024, 2048, 4096), seconds: float = 1.5) -> dict:
    """Best GFLOP/s of an (n x n) @ (n x n) matmul over `sizes`, each timed ~`seconds`."""
    import torch

    from core.models.loading import configure_torch_threads

    configure_torch_threads()
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    rates = {}
    for n in sizes:
        a = torch.randn(n, n).to(dtype)
        b = torch.randn(n, n).to(dtype)
        for _ in range(2):
            a @ b
        flops = 2.0 * n**3
        best = 0.0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            a @ b
            best = max(best, flops / (time.perf_counter() - started))
        rates[n] = best / 1e9
    return {"dtype": dtype_name, "gflops": max(rates.values()), "by_size": rates}


# --------------------------------------------------------------------------- model FLOPs


def bart_pair_flops(config, tokens: int) -> float:
    """FLOPs of one BartForSequenceClassification forward over one unpadded input of `tokens`.

    The decoder reads the same sequence (shifted), so both stacks see `tokens` positions.
    Per layer, 2 FLOPs per multiply-add: projections 2 * params * tokens, attention
    4 * tokens^2 * d_model (scores and weighted sum, full square).
    """
    d, length = config.d_model, tokens
    encoder_layer = 2 * (4 * d * d + 2 * d * config.encoder_ffn_dim) * length + 4 * length**2 * d
    decoder_layer = (
        2 * (8 * d * d + 2 * d * config.decoder_ffn_dim) * length  # self + cross + ffn
        + 2 * 4 * length**2 * d  # self- and cross-attention
    )
    head = 2 * (d * d + d * config.num_labels)
    return float(
        config.encoder_layers * encoder_layer + config.decoder_layers * decoder_layer + head
    )


def bart_flops(config, token_counts: Iterable[int]) -> float:
    return sum(bart_pair_flops(config, tokens) for tokens in token_counts)


def bert_flops(config, token_counts: Iterable[int]) -> float:
    """FLOPs of a BERT-style encoder (e.g. MiniLM) over unpadded inputs."""
    d, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return float(
        sum(
            layers * (2 * (4 * d * d + 2 * d * ffn) * length + 4 * length**2 * d)
            for length in token_counts
        )
    )


def flop_counter_check(model, tokens: int) -> float:
    """FLOPs FlopCounterMode counts for one forward of `tokens` tokens (batch of one)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    ids = torch.full((1, tokens), 5, dtype=torch.long)
    ids[0, -1] = model.config.eos_token_id if model.config.eos_token_id is not None else 2
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(input_ids=ids, attention_mask=torch.ones_like(ids))
    return float(counter.get_total_flops())


if __name__ == "__main__":
    import json

    print(json.dumps([matmul_peak("fp32"), matmul_peak("bf16")], indent=2))
