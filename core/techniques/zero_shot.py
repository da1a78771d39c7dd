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

from typing import Any, Literal

import numpy as np
from pydantic import field_validator, model_validator

from core.models.catalog import DEFAULT_NLI_MODEL, KNOWN_NLI_MODELS
from core.models.loading import LoadedModel, canonical_model_id, dtype_name, load_model
from core.models.nli import NliEngine, aggregate_chunks, nli_scores
from core.taxonomy import Taxonomy
from core.techniques import register
from core.techniques.base import ModelInfo, Technique, TextResult
from core.techniques.options import ModelOptions, OptionsError, option

DEFAULT_TEMPLATE = "This text is about {}."
CHUNKINGS = (None, "max", "mean")


class ZeroShotConfigError(OptionsError):
    """An option of the zero_shot technique is invalid; the message says how to fix it."""


@register
class ZeroShot(Technique):
    name = "zero_shot"
    description = "NLI entailment of 'This text is about {label}.' for every label"
    needs_model = True

    options_error = ZeroShotConfigError

    class Options(ModelOptions):
        model: str = option(
            DEFAULT_NLI_MODEL,
            "NLI model: a hub id, a short name (e.g. deberta-v3-base-mnli) or a local folder",
            suggestions=tuple(dict.fromkeys([DEFAULT_NLI_MODEL, *KNOWN_NLI_MODELS.values()])),
            free_text=True,
        )
        template: str = option(
            DEFAULT_TEMPLATE,
            "hypothesis sentence per label; {} is replaced by the label's description",
        )
        max_length: int | None = option(
            None,
            "most tokens of text plus hypothesis per forward pass (none: the model's limit); "
            "longer texts are cut",
            ge=1,
        )
        chunking: Literal["max", "mean"] | None = option(
            None,
            "long texts: none truncates; max or mean scores overlapping windows and takes "
            "the highest or the average per label",
        )
        chunk_tokens: int | None = option(
            None,
            "tokens per window when chunking (none: as many as fit the model)",
            ge=1,
        )
        chunk_overlap: int = option(
            16, "tokens shared by neighbouring windows when chunking; below chunk_tokens", ge=0
        )

        @field_validator("template")
        @classmethod
        def _template_has_one_slot(cls, template: str) -> str:
            _check_template(template)
            return template

        @field_validator("model")
        @classmethod
        def _canonical_model(cls, model: str) -> str:
            return canonical_model_id(model)

        @model_validator(mode="after")
        def _overlap_below_chunk(self) -> ZeroShot.Options:
            if self.chunk_tokens is not None and self.chunk_overlap >= self.chunk_tokens:
                raise ValueError(
                    "chunk_overlap must be >= 0 and smaller than chunk_tokens; got "
                    f"chunk_overlap={self.chunk_overlap}, chunk_tokens={self.chunk_tokens}"
                )
            return self

    options: Options
    _engine: NliEngine | None = None

    # ------------------------------------------------------------------ model

    @property
    def engine(self) -> NliEngine:
        """The batched NLI engine (loads the model on first use; loads are cached)."""
        if self._engine is None:
            loaded: LoadedModel = load_model(
                "nli",
                self.options.model,
                device=self.options.device,
                precision=self.options.precision,
            )
            self._engine = NliEngine(
                loaded, batch_size=self.options.batch_size, max_length=self.options.max_length
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
        """The options that change the scores (the window options only when chunking); the
        model revision and dtype join the cache key via model_info()."""
        config = super().config()
        if self.options.chunking is None:
            config.update(chunk_tokens=None, chunk_overlap=None)
        return config

    # ------------------------------------------------------------------ predict

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        if not texts:
            return []
        if not taxonomy.labels:
            raise ValueError("zero_shot: the taxonomy has no labels; add at least one label")
        names = taxonomy.names
        hypotheses = [self.options.template.format(label.prototype) for label in taxonomy.labels]
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
        chunking = self.options.chunking
        if chunking is None:
            logits = engine.entailment_logits(texts, hypotheses)
            return nli_scores(logits, *ids, multi_label=self.multi_label)
        per_text = engine.chunked_entailment_logits(
            texts,
            hypotheses,
            chunk_tokens=self.options.chunk_tokens,
            chunk_overlap=self.options.chunk_overlap,
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
        raise ValueError(
            f"template {template!r} must include {{}} where the label goes, "
            f"e.g. {DEFAULT_TEMPLATE!r}"
        )
    try:
        template.format("label")
    except (IndexError, KeyError, ValueError):
        raise ValueError(
            f"template {template!r} has braces other than one {{}}; write literal braces as "
            "{{ and }}"
        ) from None
