"""precision "auto": bf16 where the hardware has it, kept only if the probe set agrees with fp32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models import precision
from core.models.loading import clear_model_cache, load_model, load_sentence_encoder


@pytest.fixture(autouse=True)
def fresh_models():
    clear_model_cache()
    yield
    clear_model_cache()


def _native_bf16(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: native)


def _parameter_dtype(loaded) -> torch.dtype:
    return next(loaded.model.parameters()).dtype


def test_auto_keeps_bf16_when_the_probe_embeddings_agree_with_fp32(monkeypatch):
    _native_bf16(monkeypatch, True)
    loaded = load_sentence_encoder(device="cpu")
    assert loaded.dtype == torch.bfloat16
    assert _parameter_dtype(loaded) == torch.bfloat16
    assert loaded.dtype_reason.startswith("bf16: auto")
    cosine = float(loaded.dtype_reason.rsplit("fp32 ", 1)[1].split()[0])
    assert cosine >= precision.MIN_PROBE_COSINE


def test_auto_falls_back_to_fp32_when_the_probe_disagrees(monkeypatch):
    _native_bf16(monkeypatch, True)
    monkeypatch.setattr(precision, "MIN_PROBE_COSINE", 1.01)  # no model can pass
    loaded = load_sentence_encoder(device="cpu")
    assert loaded.dtype == torch.float32
    assert _parameter_dtype(loaded) == torch.float32
    assert "auto tried bf16" in loaded.dtype_reason and "runs in fp32" in loaded.dtype_reason


def test_auto_without_native_bf16_runs_fp32_unprobed_and_says_why(monkeypatch):
    _native_bf16(monkeypatch, False)
    loaded = load_sentence_encoder(device="cpu")
    assert loaded.dtype == torch.float32
    assert loaded.dtype_reason == ("fp32: auto on a CPU without native bf16 (AMX/AVX512_BF16)")


def test_an_explicit_precision_is_obeyed_unguarded(monkeypatch):
    _native_bf16(monkeypatch, False)
    monkeypatch.setattr(precision, "MIN_PROBE_COSINE", 1.01)
    loaded = load_sentence_encoder(device="cpu", precision="bf16")
    assert loaded.dtype == torch.bfloat16
    assert loaded.dtype_reason == "bf16: asked for"


@pytest.mark.parametrize(
    "task, fixture",
    [
        ("nli", "tiny_nli_model"),
        ("token-classification", "tiny_token_classifier"),
        ("seq2seq", "tiny_seq2seq"),
    ],
)
def test_the_guard_probes_every_kind_of_transformers_model(monkeypatch, request, task, fixture):
    folder = request.getfixturevalue(fixture)
    _native_bf16(monkeypatch, True)
    loaded = load_model(task, str(folder), device="cpu")
    # A tiny random model either passes (bf16) or falls back (fp32), but the probe ran.
    assert "probe cosine" in loaded.dtype_reason, loaded.dtype_reason
    assert _parameter_dtype(loaded) == loaded.dtype
    clear_model_cache()
    monkeypatch.setattr(precision, "MIN_PROBE_COSINE", 1.01)
    refused = load_model(task, str(folder), device="cpu")
    assert refused.dtype == torch.float32 and "runs in fp32" in refused.dtype_reason


def test_probe_cosine_is_the_worst_probe_and_refuses_overflow():
    a = [np.array([1.0, 0.0]), np.array([0.0, 2.0])]
    assert precision.probe_cosine(a, a) == pytest.approx(1.0)
    tilted = [np.array([1.0, 0.0]), np.array([1.0, 1.0])]
    assert precision.probe_cosine(a, tilted) == pytest.approx(np.sqrt(0.5))
    assert precision.probe_cosine(a, [a[0], np.array([np.inf, 1.0])]) == -1.0
    assert precision.probe_cosine(a, [a[0], np.array([1.0, 1.0, 1.0])]) == -1.0


def test_the_environment_overrides_the_hardware_detection(monkeypatch):
    monkeypatch.setenv(precision.CPU_BF16_ENV, "1")
    assert precision.cpu_supports_bf16()
    assert precision.plan_precision("cpu", "auto").dtype == torch.bfloat16
    monkeypatch.setenv(precision.CPU_BF16_ENV, "0")
    assert not precision.cpu_supports_bf16()
    assert precision.plan_precision("cpu", "auto").dtype == torch.float32
    monkeypatch.delenv(precision.CPU_BF16_ENV)
    assert precision.cpu_supports_bf16() == precision.cpu_has_native_bf16()
