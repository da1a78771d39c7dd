"""Embeddings: cosine similarity of each text to each label's prototype, as probabilities.

A label's vector is the normalised mean sentence embedding of its prototype (description,
optionally plus its keywords) placed in a few sentence templates ("This text is about {}."
...), optionally blended with the mean embedding of reviewed examples.
Similarities become probabilities with a temperature T:
single-label  p = softmax(cos / T) over the labels;
multi-label   p = sigmoid((cos - threshold) / T), independently per label.

Texts and prototypes are embedded with `core.models.encoder.encode` (Sift's fast path over a
sentence-transformers model), texts through the per-process `core.models.embedding_cache`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import PositiveInt, field_validator

from core.models.catalog import DEFAULT_EMBEDDING_MODEL
from core.models.embedding_cache import cached_encode
from core.models.encoder import encode
from core.models.loading import LoadedModel, dtype_name, load_sentence_encoder
from core.taxonomy import Label, Taxonomy
from core.techniques import register
from core.techniques.base import ModelInfo, Technique, TextResult
from core.techniques.options import ModelOptions, opaque, option, runtime

# A label's vector is the mean of its prototype embedded in each of these sentences ("{}" is
# the prototype). Averaging a few phrasings smooths out the quirks of any single one; one set
# for every taxonomy (measured with the former bench/learning_curve.py: BBC 0.786 -> 0.844,
# SMS spam 0.615 -> 0.652, banking77 0.621 -> 0.614 zero-shot accuracy against the bare
# description).
DEFAULT_TEMPLATES = (
    "This text is about {}.",
    "This document is about {}.",
    "This message is about {}.",
)


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

    class Options(ModelOptions):
        model: str = option(
            DEFAULT_EMBEDDING_MODEL,
            "sentence-embedding model: packaged:all-MiniLM-L6-v2, a hub id or a local folder",
            suggestions=(DEFAULT_EMBEDDING_MODEL,),
            free_text=True,
        )
        batch_size: PositiveInt = runtime(64, "texts per forward pass")
        use_keywords: bool = option(False, "embed each label's keywords along with its description")
        templates: tuple[str, ...] = option(
            DEFAULT_TEMPLATES,
            "sentences a label's description is placed in ({} marks where); the label's "
            "vector is their mean (empty: the bare description)",
        )
        temperature: float = option(
            0.05,
            "softness of the scores: cosine similarity is divided by it (smaller: more confident)",
            gt=0,
        )
        threshold: float = option(
            0.3, "multi-label only: the cosine similarity at which a label scores 0.5"
        )
        max_length: int | None = option(
            None, "most tokens embedded per text (none: the model's limit)", ge=1
        )
        examples: dict[str, tuple[str, ...]] | None = opaque(
            None,
            "label -> reviewed example texts whose mean embedding is blended into the "
            "label's vector",
        )
        example_weight: float = option(
            0.5,
            "share of the examples' mean in a label's vector, 0 to 1 (0: description only)",
            ge=0,
            le=1,
        )

        @field_validator("templates")
        @classmethod
        def _one_slot_each(cls, templates: tuple[str, ...]) -> tuple[str, ...]:
            return check_templates(templates)

        @field_validator("examples")
        @classmethod
        def _drop_empty(
            cls, examples: dict[str, tuple[str, ...]] | None
        ) -> dict[str, tuple[str, ...]] | None:
            return {label: texts for label, texts in (examples or {}).items() if texts} or None

    options: Options
    _loaded: LoadedModel | None = None

    @property
    def examples(self) -> dict[str, tuple[str, ...]]:
        """label -> reviewed example texts whose mean embedding joins the label's prototype."""
        return self.options.examples or {}

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load_sentence_encoder(
                self.options.model,
                device=self.options.device,
                precision=self.options.precision,
            )
        return self._loaded

    def config(self) -> dict[str, Any]:
        config = super().config()
        if self.examples:  # a digest keeps the cache key short but still changes with the examples
            payload = json.dumps(self.examples, sort_keys=True).encode()
            config["examples"] = hashlib.sha256(payload).hexdigest()[:16]
        return config

    def model_info(self) -> ModelInfo:
        return ModelInfo.of(self.loaded)

    def label_vectors(self, taxonomy: Taxonomy) -> np.ndarray:
        """(n_labels, dim) unit vectors standing for the labels, in taxonomy order."""
        batch_size = self.options.batch_size
        texts = [
            prototype_text(label, use_keywords=self.options.use_keywords)
            for label in taxonomy.labels
        ]
        vectors = templated_label_vectors(
            self.loaded, texts, self.options.templates, batch_size=batch_size
        )
        unknown = sorted(set(self.examples) - set(taxonomy.names))
        if unknown:
            raise ValueError(
                f"embeddings: examples given for labels not in the taxonomy: {', '.join(unknown)}; "
                f"labels are: {', '.join(taxonomy.names)}"
            )
        if not self.examples:
            return vectors
        weight = self.options.example_weight
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
        text_vectors = cached_encode(
            self.loaded,
            list(texts),
            batch_size=self.options.batch_size,
            max_length=self.options.max_length,
        )
        return text_vectors @ self.label_vectors(taxonomy).T

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        if not texts:
            return []
        if len(taxonomy) == 0:
            raise ValueError("embeddings: the taxonomy has no labels; add at least one label")
        probabilities = similarities_to_probabilities(
            self.similarities(texts, taxonomy),
            temperature=self.options.temperature,
            multi_label=self.multi_label,
            threshold=self.options.threshold,
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
    "prototype_embeddings",
    "prototype_text",
    "similarities_to_probabilities",
    "templated_label_vectors",
]
