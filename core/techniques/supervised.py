"""Supervised: a linear model trained on the project's own reviewed labels.

Features are sentence embeddings (the packaged MiniLM by default); the model is logistic
regression (multinomial for single-label, one-vs-rest for multi-label). It is trained by
the learning loop (`core.learning.loop.learn`), stored as plain arrays (no pickle) and
handed to this technique as a `LinearModel`. Labels it has no weights for score 0
(multi-label) / share no mass.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from pydantic import InstanceOf, PositiveInt, field_validator

from core.taxonomy import Taxonomy
from core.techniques import register
from core.techniques.base import ModelInfo, Technique, TextResult, normalise_single_label
from core.techniques.options import ModelOptions, opaque, runtime


@dataclass(frozen=True)
class LinearModel:
    """Weights of a trained linear classifier over embeddings."""

    classes: tuple[str, ...]  # label names, one per row of coef
    coef: np.ndarray  # (n_classes, dim) float32; for binary single-label sklearn stores 1 row
    intercept: np.ndarray  # (n_classes,)
    multi_label: bool
    embedding_model: str

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, coef=self.coef, intercept=self.intercept)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, *, classes, multi_label: bool, embedding_model: str):
        arrays = np.load(io.BytesIO(blob), allow_pickle=False)
        return cls(
            classes=tuple(classes),
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            multi_label=multi_label,
            embedding_model=embedding_model,
        )

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.to_bytes())
        digest.update("|".join(self.classes).encode())
        return digest.hexdigest()[:16]

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, dim) -> (n, n_classes) probabilities, as sklearn's predict_proba would give."""
        logits = features @ self.coef.T + self.intercept
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        if self.coef.shape[0] == 1:  # binary: sklearn keeps one row for classes[1]
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


@register
class Supervised(Technique):
    name = "supervised"
    description = "Logistic regression on embeddings, trained on your reviewed labels."
    needs_model = True

    class Options(ModelOptions):
        trained: InstanceOf[LinearModel] | None = opaque(
            None,
            "the learned linear model (Sift passes the project's current one; not settable "
            "from the command line)",
            validate_default=True,
        )
        batch_size: PositiveInt = runtime(64, "texts per forward pass")

        @field_validator("trained")
        @classmethod
        def _needs_a_model(cls, trained: LinearModel | None) -> LinearModel:
            if trained is None:
                raise ValueError(
                    "the supervised technique needs a trained model: review some documents; "
                    "Sift learns from them (or run `python -m core train PROJECT`)"
                )
            return trained

    options: Options
    _loaded = None

    @property
    def trained(self) -> LinearModel:
        trained = self.options.trained
        assert trained is not None  # Options refuses None
        return trained

    def config(self) -> dict:
        """The model's fingerprint and the embeddings it reads; the encoder's revision and
        dtype join the cache key via model_info()."""
        return {
            "technique": self.name,
            "multi_label": self.multi_label,
            "trained": self.trained.fingerprint,
            "embedding_model": self.trained.embedding_model,
        }

    def _encoder(self):
        if self._loaded is None:
            from core.models.loading import load_sentence_encoder

            self._loaded = load_sentence_encoder(
                self.trained.embedding_model,
                device=self.options.device,
                precision=self.options.precision,
            )
        return self._loaded

    def model_info(self) -> ModelInfo:
        loaded = self._encoder()
        return ModelInfo.of(
            loaded,
            model_id=f"{loaded.model_id}+linear:{self.trained.fingerprint}",
            revision=f"{loaded.revision}+{self.trained.fingerprint}",
        )

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        from core.models.embedding_cache import cached_encode

        if not texts:
            return []
        features = cached_encode(self._encoder(), list(texts), batch_size=self.options.batch_size)
        probabilities = self.trained.probabilities(features)
        index = {name: i for i, name in enumerate(self.trained.classes)}
        results = []
        for row in probabilities:
            scores = {
                name: float(row[index[name]]) if name in index else 0.0 for name in taxonomy.names
            }
            if not self.multi_label:
                scores = normalise_single_label(scores)
            results.append(TextResult(scores=scores))
        return results
