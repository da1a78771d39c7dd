"""Zero-shot classification by natural-language inference.

Each text is the premise; each label becomes the hypothesis `template.format(label.prototype)`
("This text is about billing."). An NLI model says how strongly the text entails it.

Scores follow transformers' ZeroShotClassificationPipeline exactly:
  single-label: softmax over labels of the entailment logits (sums to 1);
  multi-label:  per label, softmax of [contradiction, entailment] logits; the entailment part.

Long texts are truncated to the model's length by default; with `chunking="max"` or "mean"
they are cut into overlapping windows of tokens, every window is scored, and the per-window
probabilities are aggregated (max: the label holds somewhere; mean: on average).

The cascade (option `cascade`; "auto" turns it on above CASCADE_AUTO_LABELS labels) keeps NLI's
cost from growing with the label count: the embeddings technique (one MiniLM pass per text,
whatever the number of labels) ranks the labels, and only each text's `cascade_top_k` best go
to NLI. The others keep a cheap score, listed in the result's `estimated`:
  single-label: the ranker's own probability; the top k share the rest of the mass in NLI's
                proportions (rows still sum to 1, and the NLI-scored labels rank first);
  multi-label:  a calibrated "no", (1 - CASCADE_RECALL) / (labels - k): at the ranker's
                recall@k the gold label is outside the top k on 1 text in 20, spread over the
                other labels.
DEFAULT_CASCADE_TOP_K = 20: the ranker's recall@20 is >= CASCADE_RECALL on banking77 (77
intents: 0.957 with bare label names, 0.980 with descriptions) and BBC news (1.0), measured by
bench/cascade.py (docs/benchmarks.md); 17 is the smallest k that passes (0.952), 20 leaves a
margin for taxonomies we have not seen.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import field_validator, model_validator

from core.models.catalog import DEFAULT_EMBEDDING_MODEL, DEFAULT_NLI_MODEL, KNOWN_NLI_MODELS
from core.models.loading import LoadedModel, canonical_model_id, load_model
from core.models.nli import NliEngine, aggregate_chunks, nli_scores
from core.taxonomy import Taxonomy
from core.techniques import register
from core.techniques.base import ModelInfo, Technique, TextResult
from core.techniques.options import ModelOptions, OptionsError, option

DEFAULT_TEMPLATE = "This text is about {}."
CHUNKINGS = (None, "max", "mean")
DEFAULT_CASCADE_TOP_K = 20
CASCADE_AUTO_LABELS = 12  # "auto" cascades when the taxonomy has more labels than this
CASCADE_RECALL = 0.95  # the ranker's recall@k that DEFAULT_CASCADE_TOP_K was chosen for


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
        cascade: Literal["auto", "on", "off"] = option(
            "auto",
            "rank the labels with the embeddings technique first and run NLI only on each "
            f"text's top k (auto: when there are more than {CASCADE_AUTO_LABELS} labels); the "
            "others keep the cheap score",
        )
        cascade_top_k: int = option(
            DEFAULT_CASCADE_TOP_K, "labels per text that go to NLI when cascading", ge=1
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
        return ModelInfo.of(self.engine.loaded)

    def config(self) -> dict[str, Any]:
        """The options that change the scores (the window options only when chunking); the
        model revision and dtype join the cache key via model_info()."""
        config = super().config()
        if self.options.chunking is None:
            config.update(chunk_tokens=None, chunk_overlap=None)
        if self.options.cascade == "off":
            config.update(cascade_top_k=None)
        else:  # the ranker's scores are part of the result
            config["cascade_ranker"] = DEFAULT_EMBEDDING_MODEL
        return config

    def cascading(self, taxonomy: Taxonomy) -> bool:
        """Whether predict runs the cascade for this taxonomy."""
        if self.options.cascade == "auto":
            labels = len(taxonomy.labels)
            return labels > CASCADE_AUTO_LABELS and labels > self.options.cascade_top_k
        return self.options.cascade == "on" and len(taxonomy.labels) > self.options.cascade_top_k

    # ------------------------------------------------------------------ predict

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        if not texts:
            return []
        if not taxonomy.labels:
            raise ValueError("zero_shot: the taxonomy has no labels; add at least one label")
        names = taxonomy.names
        hypotheses = [self.options.template.format(label.prototype) for label in taxonomy.labels]
        texts = list(texts)
        if not self.cascading(taxonomy):
            scores = self.scores(texts, hypotheses)
            estimated = np.zeros(scores.shape, dtype=bool)
        else:
            scores, estimated = self._cascade(texts, taxonomy, hypotheses)
        return [
            TextResult(
                scores={name: float(np.clip(value, 0.0, 1.0)) for name, value in zip(names, row)},
                estimated=[name for name, cheap in zip(names, cheap_row) if cheap],
            )
            for row, cheap_row in zip(scores, estimated)
        ]

    def _cascade(
        self, texts: list[str], taxonomy: Taxonomy, hypotheses: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """([n, L] scores, [n, L] True where the score is the cheap one, not NLI's)."""
        n_labels = len(hypotheses)
        k = min(self.options.cascade_top_k, n_labels)
        cheap = ranker_probabilities(
            texts,
            taxonomy,
            multi_label=False,
            device=self.options.device,
            precision=self.options.precision,
        )
        top = np.argsort(-cheap, axis=1, kind="stable")[:, :k]
        in_top = np.zeros(cheap.shape, dtype=bool)
        np.put_along_axis(in_top, top, True, axis=1)
        nli = self.scores(texts, hypotheses, wanted=[list(row) for row in top], mask=in_top)
        if self.multi_label:
            outside = (1.0 - CASCADE_RECALL) / max(1, n_labels - k)
            return np.where(in_top, nli, outside), ~in_top
        rest = np.where(in_top, 0.0, cheap)
        kept_mass = 1.0 - rest.sum(axis=1, keepdims=True)
        return np.where(in_top, nli * kept_mass, rest), ~in_top

    def scores(
        self,
        texts: list[str],
        hypotheses: list[str],
        *,
        wanted: list[list[int]] | None = None,
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """[n_texts, n_hypotheses] probabilities (rows sum to 1 when single-label).

        With `wanted` (per text, the hypotheses to run) and its boolean `mask` [n, L]: only
        those pairs run; single-label rows sum to 1 over the masked-in labels, and the others
        read 0."""
        engine = self.engine
        ids = (engine.entailment_id, engine.contradiction_id)

        def probabilities(logits: np.ndarray, row_mask: np.ndarray | None) -> np.ndarray:
            if row_mask is None:
                return nli_scores(logits, *ids, multi_label=self.multi_label)
            # pairs not run are NaN: -inf entailment logits give them 0 in a softmax
            logits = np.where(row_mask[..., None], logits, -np.inf)
            with np.errstate(invalid="ignore"):  # multi-label: [-inf, -inf] pairs give NaN
                out = nli_scores(logits, *ids, multi_label=self.multi_label)
            return np.where(row_mask, np.nan_to_num(out, nan=0.0), 0.0)

        chunking = self.options.chunking
        if chunking is None:
            logits = engine.entailment_logits(texts, hypotheses, wanted)
            return probabilities(logits, mask)
        per_text = engine.chunked_entailment_logits(
            texts,
            hypotheses,
            chunk_tokens=self.options.chunk_tokens,
            chunk_overlap=self.options.chunk_overlap,
            wanted=wanted,
        )
        return np.stack(
            [
                aggregate_chunks(
                    probabilities(chunk_logits, None if mask is None else mask[i]),
                    chunking,
                    multi_label=self.multi_label,
                )
                for i, chunk_logits in enumerate(per_text)
            ]
        )


def ranker_probabilities(
    texts: list[str],
    taxonomy: Taxonomy,
    *,
    multi_label: bool = False,
    device: str = "auto",
    precision: str = "auto",
) -> np.ndarray:
    """[n_texts, n_labels] the cascade's cheap scores: the embeddings technique's probabilities
    (its default options: the packaged MiniLM, label prototypes, its temperature)."""
    from core.techniques import create_technique

    ranker = create_technique(
        "embeddings", multi_label=multi_label, device=device, precision=precision
    )
    results = ranker.predict(texts, taxonomy)
    uniform = 1.0 / max(1, len(taxonomy.names))
    return np.array(
        [
            [(result.scores or {}).get(name, uniform) for name in taxonomy.names]
            for result in results
        ],
        dtype=np.float64,
    )


def rank_labels(texts: list[str], taxonomy: Taxonomy, *, multi_label: bool = False) -> np.ndarray:
    """[n_texts, n_labels] label indices, best first, as the cascade ranks them."""
    cheap = ranker_probabilities(texts, taxonomy, multi_label=multi_label)
    return np.argsort(-cheap, axis=1, kind="stable")


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
