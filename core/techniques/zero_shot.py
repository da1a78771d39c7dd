"""Zero-shot classification by natural-language inference.

Each text is the premise; each label becomes the hypothesis `template.format(label.prototype)`
("This text is about billing."). An NLI model says how strongly the text entails it.

Scores follow transformers' ZeroShotClassificationPipeline exactly:
  single-label: softmax over labels of the entailment logits (sums to 1);
  multi-label:  per label, softmax of [contradiction, entailment] logits; the entailment part.

Long texts are truncated to the model's length by default; with `chunking="max"` or "mean"
they are cut into overlapping windows of tokens, every window is scored, and the per-window
probabilities are aggregated (max: the label holds somewhere; mean: on average).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.models import (
    DEFAULT_NLI_MODEL,
    LoadedModel,
    canonical_model_id,
    dtype_name,
    load_model,
)
from core.nli import NliEngine, aggregate_chunks, nli_scores
from core.taxonomy import Taxonomy
from core.techniques import register
from core.techniques.base import ModelInfo, Technique, TextResult

DEFAULT_TEMPLATE = "This text is about {}."
CHUNKINGS = (None, "max", "mean")


class ZeroShotConfigError(ValueError):
    """An option of the zero_shot technique is invalid; the message says how to fix it."""


@register
class ZeroShot(Technique):
    name = "zero_shot"
    description = "NLI entailment of 'This text is about {label}.' for every label"
    needs_model = True

    def __init__(
        self,
        *,
        multi_label: bool = False,
        model: str = DEFAULT_NLI_MODEL,
        template: str = DEFAULT_TEMPLATE,
        device: str = "auto",
        precision: str = "fp32",
        batch_size: int = 32,
        max_length: int | None = None,
        chunking: str | None = None,
        chunk_tokens: int | None = None,
        chunk_overlap: int = 16,
    ) -> None:
        _check_template(template)
        if chunking not in CHUNKINGS:
            raise ZeroShotConfigError(
                f"chunking must be one of None, 'max', 'mean'; got {chunking!r}"
            )
        if chunk_tokens is not None and chunk_tokens < 1:
            raise ZeroShotConfigError(f"chunk_tokens must be positive, got {chunk_tokens}")
        if chunk_overlap < 0 or (chunk_tokens is not None and chunk_overlap >= chunk_tokens):
            raise ZeroShotConfigError(
                f"chunk_overlap must be >= 0 and smaller than chunk_tokens; got "
                f"chunk_overlap={chunk_overlap}, chunk_tokens={chunk_tokens}"
            )
        if batch_size < 1:
            raise ZeroShotConfigError(f"batch_size must be at least 1, got {batch_size}")
        # Everything that changes the scores; the model revision is added via model_info().
        super().__init__(
            multi_label=multi_label,
            model=canonical_model_id(model),
            template=template,
            precision=precision,
            max_length=max_length,
            chunking=chunking,
            chunk_tokens=chunk_tokens if chunking else None,
            chunk_overlap=chunk_overlap if chunking else None,
        )
        self.device = device
        self.batch_size = batch_size
        self._engine: NliEngine | None = None

    # ------------------------------------------------------------------ model

    @property
    def engine(self) -> NliEngine:
        """The batched NLI engine (loads the model on first use; loads are cached)."""
        if self._engine is None:
            loaded: LoadedModel = load_model(
                "nli",
                self.options["model"],
                device=self.device,
                precision=self.options["precision"],
            )
            self._engine = NliEngine(
                loaded, batch_size=self.batch_size, max_length=self.options["max_length"]
            )
        return self._engine

    def model_info(self) -> ModelInfo:
        loaded = self.engine.loaded
        return ModelInfo(
            model_id=loaded.model_id,
            revision=loaded.revision,
            device=loaded.device,
            dtype=dtype_name(loaded.dtype),
        )

    def config(self) -> dict[str, Any]:
        return {"technique": self.name, "multi_label": self.multi_label, **self.options}

    # ------------------------------------------------------------------ predict

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        if not texts:
            return []
        if not taxonomy.labels:
            raise ZeroShotConfigError("the taxonomy has no labels; add at least one label")
        names = taxonomy.names
        hypotheses = [self.options["template"].format(label.prototype) for label in taxonomy.labels]
        scores = self.scores(list(texts), hypotheses)
        return [
            TextResult(
                scores={name: float(np.clip(value, 0.0, 1.0)) for name, value in zip(names, row)}
            )
            for row in scores
        ]

    def scores(self, texts: list[str], hypotheses: list[str]) -> np.ndarray:
        """[n_texts, n_hypotheses] probabilities (rows sum to 1 when single-label)."""
        engine = self.engine
        ids = (engine.entailment_id, engine.contradiction_id)
        chunking = self.options["chunking"]
        if chunking is None:
            logits = engine.entailment_logits(texts, hypotheses)
            return nli_scores(logits, *ids, multi_label=self.multi_label)
        per_text = engine.chunked_entailment_logits(
            texts,
            hypotheses,
            chunk_tokens=self.options["chunk_tokens"],
            chunk_overlap=self.options["chunk_overlap"],
        )
        return np.stack(
            [
                aggregate_chunks(
                    nli_scores(chunk_logits, *ids, multi_label=self.multi_label),
                    chunking,
                    multi_label=self.multi_label,
                )
                for chunk_logits in per_text
            ]
        )


def _check_template(template: str) -> None:
    if not isinstance(template, str) or "{}" not in template:
        raise ZeroShotConfigError(
            f"template {template!r} must include {{}} where the label goes, "
            f"e.g. {DEFAULT_TEMPLATE!r}"
        )
    try:
        template.format("label")
    except (IndexError, KeyError, ValueError):
        raise ZeroShotConfigError(
            f"template {template!r} has braces other than one {{}}; write literal braces as "
            "{{ and }}"
        ) from None
