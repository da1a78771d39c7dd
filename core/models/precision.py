"""Which number format a model runs in, and the check that lets "auto" pick a reduced one.

    plan_precision("cpu", "auto") -> PrecisionPlan(dtype=bf16, guarded=True, reason="...")

"auto" (the default) means: bf16 on a CPU that computes it natively (AVX512_BF16 or AMX:
~3x faster than fp32 for MiniLM here) and on GPUs (fp16 where a GPU lacks bf16, fp16 on
Apple's mps); fp32 on any other CPU, where emulated bf16 is slower than fp32. A reduced
precision that auto picked is *guarded*: at load the model runs a fixed probe set in fp32 and
in the reduced precision, and keeps the reduced one only when every probe's output has a
cosine of at least MIN_PROBE_COSINE to its fp32 output (else it reloads in fp32). An explicit
"fp32"/"bf16"/"fp16" is obeyed as asked, unguarded.

Why 0.99: bf16 keeps 8 significant bits, so a healthy model's outputs move by well under 1%
(MiniLM's probe embeddings: cosine >= 0.999 to fp32; BBC accuracy unchanged, see
docs/benchmarks.md). A cosine under 0.99 means the model itself is sensitive to rounding
(overflowing activations, a layer norm near zero) — the case the fallback is for — while a
threshold nearer 1 would reject healthy models on noise.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.models.catalog import PRECISIONS

log = logging.getLogger(__name__)

MIN_PROBE_COSINE = 0.99
CPU_BF16_ENV = "SIFT_CPU_BF16"

# Varied on purpose: short and long, numbers, punctuation, other scripts, business text.
PROBE_TEXTS = (
    "Please refund the duplicate charge of $49.99 on my card.",
    "The board approved the merger after a three-hour meeting on Tuesday.",
    "ok",
    "URGENT!!! Your account has been suspended, click http://example.com/verify now",
    "Die Lieferung kam zwei Wochen zu spät und die Verpackung war beschädigt.",
    "顧客はアプリの新機能に満足していると述べた。",
    "Q3 revenue rose 12% year on year to EUR 4.2bn, beating analyst estimates; "
    "operating margin narrowed to 8.1% on higher energy costs and wage settlements.",
    "I have been waiting on hold for forty minutes and nobody has answered my question "
    "about why the transfer to my savings account has not arrived yet, which is unacceptable.",
)

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_DTYPE_NAMES = {dtype: name for name, dtype in _DTYPES.items()}


class PrecisionError(ValueError):
    """An unknown precision name."""


def cpu_supports_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX512_BF16 or AMX), so bf16 is fast.

    $SIFT_CPU_BF16=0 (or 1) overrides the detection: to keep auto on fp32 on a machine
    whose bf16 one distrusts, and so tests give the same numbers on any CI machine."""
    override = os.environ.get(CPU_BF16_ENV, "").strip()
    if override in ("0", "1"):
        return override == "1"
    return cpu_has_native_bf16()


@functools.cache
def cpu_has_native_bf16() -> bool:
    """What the hardware says: AVX512_BF16 or AMX tiles (torch's probes, else /proc/cpuinfo)."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, probe, None)
        if check is not None:
            try:
                if check():
                    return True
            except RuntimeError:  # pragma: no cover - probe unsupported on this build
                pass
    if platform.system() != "Linux":
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    flags = {
        flag
        for line in cpuinfo.splitlines()
        if line.startswith("flags")
        for flag in line.split(":", 1)[-1].split()
    }
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def dtype_name(dtype: torch.dtype) -> str:
    """torch.float32 -> "fp32", torch.bfloat16 -> "bf16", torch.float16 -> "fp16"."""
    try:
        return _DTYPE_NAMES[dtype]
    except KeyError:
        return str(dtype).removeprefix("torch.")


@dataclass(frozen=True)
class PrecisionPlan:
    dtype: torch.dtype  # what to run in (before the guard's verdict)
    guarded: bool  # auto picked a reduced precision: probe it against fp32 at load
    reason: str  # why, in words (shown on the Classify page and kept in the run log)
    requested: str  # "auto" | "fp32" | "bf16" | "fp16"


def _normalise(precision: str | None) -> str:
    wanted = (precision or "auto").strip().lower()
    if wanted not in PRECISIONS:
        raise PrecisionError(
            f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}"
        )
    return wanted


def plan_precision(device: str, precision: str | None = "auto") -> PrecisionPlan:
    """The dtype for `device` and why; see the module docstring for what auto picks."""
    wanted = _normalise(precision)
    if wanted != "auto":
        if device == "cpu" and wanted == "bf16" and not cpu_supports_bf16():
            log.warning("bf16 on a CPU without native bf16 support: correct results, but slow")
        if device == "cpu" and wanted == "fp16":
            log.warning("fp16 on CPU is emulated and slow; bf16 or fp32 is usually faster")
        return PrecisionPlan(_DTYPES[wanted], False, f"{wanted}: asked for", wanted)
    if device == "cuda":
        if torch.cuda.is_bf16_supported():
            return PrecisionPlan(torch.bfloat16, True, "bf16: auto on a GPU with bf16", wanted)
        return PrecisionPlan(torch.float16, True, "fp16: auto on a GPU without bf16", wanted)
    if device == "mps":
        return PrecisionPlan(torch.float16, True, "fp16: auto on Apple's mps", wanted)
    if cpu_supports_bf16():
        return PrecisionPlan(
            torch.bfloat16, True, "bf16: auto on a CPU with native bf16 (AMX/AVX512_BF16)", wanted
        )
    return PrecisionPlan(
        torch.float32, False, "fp32: auto on a CPU without native bf16 (AMX/AVX512_BF16)", wanted
    )


def choose_dtype(device: str, precision: str | None = "auto") -> torch.dtype:
    """The dtype plan_precision picks (before any guard fallback)."""
    return plan_precision(device, precision).dtype


def probe_cosine(reference: list[np.ndarray], candidate: list[np.ndarray]) -> float:
    """The smallest cosine between each probe's fp32 output and its reduced-precision output
    (outputs flattened; 1.0 when both are all zeros)."""
    worst = 1.0
    for a, b in zip(reference, candidate, strict=True):
        a = np.asarray(a, dtype=np.float64).ravel()
        b = np.asarray(b, dtype=np.float64).ravel()
        if a.shape != b.shape:
            return -1.0
        norms = float(np.linalg.norm(a) * np.linalg.norm(b))
        if norms == 0.0:
            cosine = 1.0 if not a.any() and not b.any() else 0.0
        elif not (np.isfinite(a).all() and np.isfinite(b).all()):
            cosine = -1.0  # an overflow in the reduced precision: never acceptable
        else:
            cosine = float(a @ b) / norms
        worst = min(worst, cosine)
    return worst


def guard_verdict(plan: PrecisionPlan, cosine: float) -> tuple[bool, str]:
    """(keep the reduced precision?, the reason to record)."""
    name = dtype_name(plan.dtype)
    if cosine >= MIN_PROBE_COSINE:
        return True, f"{plan.reason}; probe cosine to fp32 {cosine:.4f} >= {MIN_PROBE_COSINE}"
    return False, (
        f"fp32: auto tried {name}, but its probe cosine to fp32 was {cosine:.4f} "
        f"< {MIN_PROBE_COSINE}, so this model runs in fp32"
    )


__all__ = [
    "CPU_BF16_ENV",
    "MIN_PROBE_COSINE",
    "PROBE_TEXTS",
    "PrecisionError",
    "PrecisionPlan",
    "choose_dtype",
    "cpu_has_native_bf16",
    "cpu_supports_bf16",
    "dtype_name",
    "guard_verdict",
    "plan_precision",
    "probe_cosine",
]
