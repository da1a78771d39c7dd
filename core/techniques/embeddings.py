"""Embeddings: cosine similarity of each text to each label's prototype, as probabilities.

A label's vector is the normalised mean sentence embedding of its prototype (description,
optionally plus its keywords) placed in a few sentence templates ("This text is about {}."
...), optionally blended with the mean embedding of reviewed examples.
Similarities become probabilities with a temperature T:
single-label  p = softmax(cos / T) over the labels;
multi-label   p = sigmoid((cos - threshold) / T), independently per label.

`encode` is Sift's own fast path over a sentence-transformers model (used here and by
summarize, supervised, active learning and the benches): tokenise once, sort by token
length so batches carry little padding, cap each batch's padded tokens so activations are
reused rather than page-faulted in afresh, run the transformer under `inference_mode`,
pool and normalise as the model's own modules say, restore the input order. Identical
texts are encoded once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.models import (
    DEFAULT_EMBEDDING_MODEL,
    LoadedModel,
    dtype_name,
    load_sentence_encoder,
    tune_allocator,
)
from core.nli import default_batch_tokens
from core.taxonomy import Label, Taxonomy
from core.techniques import register
from core.techniques.base import ModelInfo, Technique, TextResult

_SUPPORTED_POOLING = ("mean", "cls", "max")
# A label's vector is the mean of its prototype embedded in each of these sentences ("{}" is
# the prototype). Averaging a few phrasings smooths out the quirks of any single one; one set
# for every taxonomy (measured in bench/learning_curve.py: BBC 0.786 -> 0.844, SMS spam 0.615 ->
# 0.652, banking77 0.621 -> 0.614 zero-shot accuracy against the bare description).
DEFAULT_TEMPLATES = (
    "This text is about {}.",
    "This document is about {}.",
    "This message is about {}.",
)


# --- encoding -------------------------------------------------------------------------------


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

    with torch.inference_mode():
        for batch_rows in _batches(
            order, token_ids, batch_size, default_batch_tokens(model.config)
        ):
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


def _batches(order: np.ndarray, token_ids: list[list[int]], batch_size: int, max_tokens: int):
    """Rows of the length-sorted texts, cut at batch_size texts or when the padded tokens
    (texts x the longest, which is the last) would pass max_tokens: long texts go a few at a
    time so activations stay small enough for the allocator to reuse (see tune_allocator)."""
    start = 0
    while start < len(order):
        end = start + 1
        while (
            end < len(order)
            and end - start < batch_size
            and (end - start + 1) * len(token_ids[order[end]]) <= max_tokens
        ):
            end += 1
        yield order[start:end]
        start = end


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


# --- similarities -> probabilities ----------------------------------------------------------


def similarities_to_probabilities(
    similarities: np.ndarray,
    *,
    temperature: float,
    multi_label: bool = False,
    threshold: float = 0.3,
) -> np.ndarray:
    """(n, n_labels) cosine similarities -> (n, n_labels) probabilities.

    Single-label rows sum to 1 (softmax of cos / T); multi-label entries are independent
    sigmoids of (cos - threshold) / T.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = np.asarray(similarities, dtype=np.float64) / temperature
    if multi_label:
        return 1.0 / (1.0 + np.exp(-(logits - threshold / temperature)))
    logits = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def calibrate_temperature(
    similarities: np.ndarray,
    labels: Sequence[int],
    *,
    bounds: tuple[float, float] = (0.005, 2.0),
) -> float:
    """Fit the single-label softmax temperature T by minimising NLL on reviewed examples.

    similarities: (n, n_labels) cosine similarities; labels: (n,) index of each example's
    true label. A bounded 1-D search over log T (scipy's Brent method).
    """
    from scipy.optimize import minimize_scalar

    sims = np.asarray(similarities, dtype=np.float64)
    truth = np.asarray(labels, dtype=np.int64)
    if sims.ndim != 2 or sims.shape[0] != truth.shape[0] or sims.shape[0] == 0:
        raise ValueError(
            "calibrate_temperature needs similarities of shape (n, n_labels) and n label "
            f"indices with n > 0; got {sims.shape} and {truth.shape}"
        )
    if truth.min() < 0 or truth.max() >= sims.shape[1]:
        raise ValueError(f"label indices must lie in [0, {sims.shape[1] - 1}]")

    def nll(log_t: float) -> float:
        logits = sims / np.exp(log_t)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(truth)), truth].mean())

    low, high = np.log(bounds[0]), np.log(bounds[1])
    result = minimize_scalar(nll, bounds=(low, high), method="bounded")
    return float(np.exp(result.x))


# --- label prototypes -----------------------------------------------------------------------

# (model id, revision, device, dtype, prototype texts) -> (n_labels, dim) embeddings
_PROTOTYPE_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()
_PROTOTYPE_CACHE_SIZE = 64
_PROTOTYPE_LOCK = threading.Lock()


def prototype_text(label: Label, *, use_keywords: bool = False) -> str:
    """The text a label is embedded as: its prototype, plus its keywords when asked."""
    if not use_keywords or not label.keywords:
        return label.prototype
    return f"{label.prototype}: {', '.join(keyword.term for keyword in label.keywords)}"


def prototype_embeddings(
    loaded: LoadedModel, texts: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """Embeddings of label prototype texts, cached per (model, prototype texts)."""
    key = (
        loaded.model_id,
        loaded.revision,
        str(loaded.device),
        dtype_name(loaded.dtype),
        tuple(texts),
    )
    with _PROTOTYPE_LOCK:  # Streamlit sessions run in threads and share this cache
        cached = _PROTOTYPE_CACHE.get(key)
        if cached is not None:
            _PROTOTYPE_CACHE.move_to_end(key)
            return cached
    vectors = encode(loaded, list(texts), batch_size=batch_size)
    vectors.setflags(write=False)
    with _PROTOTYPE_LOCK:
        _PROTOTYPE_CACHE[key] = vectors
        while len(_PROTOTYPE_CACHE) > _PROTOTYPE_CACHE_SIZE:
            _PROTOTYPE_CACHE.popitem(last=False)
    return vectors


def check_templates(templates: Sequence[str]) -> tuple[str, ...]:
    """The label templates, validated: each holds exactly one "{}" (where the prototype goes)."""
    templates = tuple(templates)
    for template in templates:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(
                f"embeddings: template {template!r} must contain exactly one '{{}}' where the "
                'label\'s description goes, e.g. "This text is about {}."'
            )
    return templates


def templated_label_vectors(
    loaded: LoadedModel,
    prototypes: Sequence[str],
    templates: Sequence[str],
    *,
    batch_size: int = 64,
) -> np.ndarray:
    """(n_labels, dim) unit vectors: per prototype, the normalised mean embedding of the
    prototype placed in each template (the bare prototype when `templates` is empty)."""
    if not templates:
        return prototype_embeddings(loaded, prototypes, batch_size=batch_size)
    texts = [template.format(prototype) for prototype in prototypes for template in templates]
    vectors = prototype_embeddings(loaded, texts, batch_size=batch_size)
    grouped = vectors.reshape(len(prototypes), len(templates), -1).mean(axis=1)
    return _normalise_rows(grouped)


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.clip(norms, 1e-12, None)


# --- the technique --------------------------------------------------------------------------


@register
class Embeddings(Technique):
    name = "embeddings"
    description = "Cosine similarity of the text to each label's description (sentence embeddings)."
    needs_model = True

    def __init__(
        self,
        *,
        multi_label: bool = False,
        model: str = DEFAULT_EMBEDDING_MODEL,
        device: str = "auto",
        precision: str = "fp32",
        batch_size: int = 64,
        use_keywords: bool = False,
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        temperature: float = 0.05,
        threshold: float = 0.3,
        max_length: int | None = None,
        examples: Mapping[str, Sequence[str]] | None = None,
        example_weight: float = 0.5,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"embeddings: temperature must be > 0, got {temperature}")
        if not 0.0 <= example_weight <= 1.0:
            raise ValueError(f"embeddings: example_weight must be in [0, 1], got {example_weight}")
        super().__init__(
            multi_label=multi_label,
            model=model,
            device=device,
            precision=precision,
            batch_size=batch_size,
            use_keywords=use_keywords,
            templates=list(check_templates(templates)),
            temperature=temperature,
            threshold=threshold,
            max_length=max_length,
            example_weight=example_weight,
        )
        # label -> reviewed example texts whose mean embedding joins the label's prototype
        self.examples = {label: list(texts) for label, texts in (examples or {}).items() if texts}
        self._loaded: LoadedModel | None = None

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load_sentence_encoder(
                self.options["model"],
                device=self.options["device"],
                precision=self.options["precision"],
            )
        return self._loaded

    def config(self) -> dict[str, Any]:
        config = super().config()
        if self.examples:  # a digest keeps the cache key short but still changes with the examples
            payload = json.dumps(self.examples, sort_keys=True).encode()
            config["examples"] = hashlib.sha256(payload).hexdigest()[:16]
        return config

    def model_info(self) -> ModelInfo:
        loaded = self.loaded
        return ModelInfo(
            model_id=loaded.model_id,
            revision=loaded.revision,
            device=str(loaded.device),
            dtype=dtype_name(loaded.dtype),
        )

    def label_vectors(self, taxonomy: Taxonomy) -> np.ndarray:
        """(n_labels, dim) unit vectors standing for the labels, in taxonomy order."""
        batch_size = self.options["batch_size"]
        texts = [
            prototype_text(label, use_keywords=self.options["use_keywords"])
            for label in taxonomy.labels
        ]
        vectors = templated_label_vectors(
            self.loaded, texts, self.options["templates"], batch_size=batch_size
        )
        unknown = sorted(set(self.examples) - set(taxonomy.names))
        if unknown:
            raise ValueError(
                f"embeddings: examples given for labels not in the taxonomy: {', '.join(unknown)}; "
                f"labels are: {', '.join(taxonomy.names)}"
            )
        if not self.examples:
            return vectors
        weight = self.options["example_weight"]
        blended = vectors.copy()
        for row, name in enumerate(taxonomy.names):
            if name in self.examples:
                example_vectors = prototype_embeddings(
                    self.loaded, self.examples[name], batch_size=batch_size
                )
                example_mean = example_vectors.mean(axis=0)
                example_mean /= max(float(np.linalg.norm(example_mean)), 1e-12)
                blended[row] = (1.0 - weight) * vectors[row] + weight * example_mean
        return _normalise_rows(blended)

    def similarities(self, texts: Sequence[str], taxonomy: Taxonomy) -> np.ndarray:
        """(n_texts, n_labels) cosine similarities."""
        from core.embedding_cache import cached_encode

        text_vectors = cached_encode(
            self.loaded,
            list(texts),
            batch_size=self.options["batch_size"],
            max_length=self.options["max_length"],
        )
        return text_vectors @ self.label_vectors(taxonomy).T

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        if not texts:
            return []
        if len(taxonomy) == 0:
            raise ValueError("embeddings: the taxonomy has no labels; add at least one label")
        probabilities = similarities_to_probabilities(
            self.similarities(texts, taxonomy),
            temperature=self.options["temperature"],
            multi_label=self.multi_label,
            threshold=self.options["threshold"],
        )
        names = taxonomy.names
        return [
            TextResult(scores={name: float(p) for name, p in zip(names, row)})
            for row in probabilities
        ]


__all__ = [
    "DEFAULT_TEMPLATES",
    "Embeddings",
    "calibrate_temperature",
    "encode",
    "prototype_embeddings",
    "prototype_text",
    "similarities_to_probabilities",
    "templated_label_vectors",
]
