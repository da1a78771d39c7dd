"""How NliEngine cuts length-sorted pairs into mini-batches (token budget, padding limit)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.models.batching import default_batch_tokens
from core.models.loading import load_model
from core.models.nli import _MAX_PADDING, NliEngine
from tests.fixtures.tiny_models import CORPUS

HYPOTHESES = ["This text is about money.", "This text is about computers and servers."]
# From 2 to ~60 tokens, so the pair lengths spread over the tiny model's 64 positions.
TEXTS = [
    "ok",
    "server down",
    *CORPUS[:6],
    CORPUS[6] + " " + CORPUS[7],
    " ".join(CORPUS[8:11]),
    " ".join(CORPUS),
]


@pytest.fixture(scope="module")
def loaded(tiny_nli_model):
    return load_model("nli", str(tiny_nli_model), device="cpu")


class ShapeRecorder:
    """Forward pre-hook: (rows, width, real tokens) of every forward pass."""

    def __init__(self, model):
        self.batches: list[tuple[int, int, int]] = []
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        rows, width = kwargs["input_ids"].shape
        self.batches.append((rows, width, int(kwargs["attention_mask"].sum())))


@pytest.fixture
def recorded(loaded):
    recorder = ShapeRecorder(loaded.model)
    yield recorder
    recorder.handle.remove()


def test_no_forward_pass_exceeds_the_token_budget(loaded, recorded):
    engine = NliEngine(loaded, batch_size=64, max_batch_tokens=120)
    engine.entailment_logits(TEXTS, HYPOTHESES)
    assert len(recorded.batches) > 1
    for rows, width, _ in recorded.batches:
        assert rows * width <= 120 or rows == 1


def test_no_forward_pass_is_mostly_padding(loaded, recorded):
    engine = NliEngine(loaded, batch_size=64, max_batch_tokens=100_000)
    engine.entailment_logits(TEXTS, HYPOTHESES)
    for rows, width, real in recorded.batches:
        assert (rows * width - real) <= _MAX_PADDING * rows * width


def test_short_pairs_share_a_forward_pass(loaded, recorded):
    engine = NliEngine(loaded, batch_size=64, max_batch_tokens=100_000)
    engine.entailment_logits(["ok", "no", "hi", "yes"], HYPOTHESES[:1])
    assert [rows for rows, _, _ in recorded.batches] == [4]


def test_a_pair_longer_than_the_budget_still_runs_alone(loaded, recorded):
    engine = NliEngine(loaded, batch_size=8, max_batch_tokens=1)
    logits = engine.entailment_logits(TEXTS[:3], HYPOTHESES[:1])
    assert logits.shape == (3, 1, 3)
    assert [rows for rows, _, _ in recorded.batches] == [1, 1, 1]


def test_the_budget_does_not_change_the_logits(loaded):
    small = NliEngine(loaded, batch_size=64, max_batch_tokens=40).entailment_logits(
        TEXTS, HYPOTHESES
    )
    large = NliEngine(loaded, batch_size=64, max_batch_tokens=100_000).entailment_logits(
        TEXTS, HYPOTHESES
    )
    np.testing.assert_allclose(small, large, atol=1e-5)


def test_a_budget_below_one_token_is_refused(loaded):
    with pytest.raises(ValueError, match="max_batch_tokens"):
        NliEngine(loaded, max_batch_tokens=0)


def test_default_budget_keeps_bart_large_activations_within_32_mib():
    from transformers import BartConfig

    config = BartConfig(d_model=1024, encoder_ffn_dim=4096, decoder_ffn_dim=4096)
    tokens = default_batch_tokens(config)
    assert tokens * 4096 * 4 <= 32 * 1024 * 1024
    assert tokens >= 1024  # room for a full-length pair


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 300), min_size=1, max_size=80),
    batch_size=st.integers(1, 40),
    budget=st.integers(1, 4000),
)
def test_mini_batches_partition_the_sorted_pairs_within_every_limit(
    loaded, lengths, batch_size, budget
):
    engine = NliEngine(loaded, batch_size=batch_size, max_batch_tokens=budget)
    order = sorted((length, index, 0) for index, length in enumerate(lengths))
    batches = list(engine._mini_batches(order))
    assert [pair for batch in batches for pair in batch] == order
    for batch in batches:
        padded = len(batch) * batch[-1][0]
        real = sum(length for length, _, _ in batch)
        assert len(batch) <= batch_size
        if len(batch) > 1:
            assert padded <= budget
            assert padded - real <= _MAX_PADDING * padded
