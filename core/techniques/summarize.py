"""Summarize-then-classify: summarise each text, then run another technique on the summaries.

Long, rambling texts (complaints, email threads) often classify better from their gist.
The inner technique (`then`, any registered name, with `then_options`) scores the
summaries; each TextResult carries its summary. Evidence spans refer to the ORIGINAL text:
an extractive summary is made of exact sentences of the original, so the inner spans are
moved back onto them; an abstractive summary is new text, so its inner spans are dropped.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import PositiveInt, field_validator, model_validator

from core.models.catalog import DEFAULT_EMBEDDING_MODEL, DEFAULT_SUMMARY_MODEL
from core.models.loading import dtype_name, load_model, load_sentence_encoder
from core.models.summaries import (
    METHODS,
    Summary,
    abstractive_summaries,
    extractive_summaries,
)
from core.taxonomy import Taxonomy
from core.techniques import create_technique, register
from core.techniques.base import ModelInfo, Span, Technique, TextResult
from core.techniques.options import ModelOptions, opaque, option, runtime

# The sentence encoder that picks the central sentences of an extractive summary (fixed).
SENTENCE_ENCODER = DEFAULT_EMBEDDING_MODEL
# Options that change the summaries, per method (the rest do nothing under that method).
METHOD_OPTIONS = {
    "extractive": ("sentences",),
    "abstractive": ("summary_model", "max_new_tokens", "num_beams"),
}


@register
class Summarize(Technique):
    name = "summarize"
    description = (
        "Summary first (extractive or abstractive), then any other technique on the summary."
    )
    needs_model = True

    class Options(ModelOptions):
        method: Literal["extractive", "abstractive"] = option(
            "extractive",
            "extractive keeps the text's most central sentences; abstractive writes a new "
            "summary with a seq2seq model",
        )
        sentences: PositiveInt = option(
            3, "extractive: number of sentences kept per text (shorter texts stay whole)"
        )
        summary_model: str = option(
            DEFAULT_SUMMARY_MODEL,
            "abstractive: the seq2seq summary model (hub id or folder)",
            suggestions=(DEFAULT_SUMMARY_MODEL,),
            free_text=True,
        )
        then: str = option(
            "embeddings",
            "the technique that classifies the summaries (any but summarize)",
            suggestions=("embeddings", "rules", "lexicon", "zero_shot", "ner"),
        )
        then_options: dict[str, Any] | None = opaque(
            None,
            "options of the `then` technique (its multi_label comes from summarize's own)",
        )
        # Wider than ModelOptions' int on purpose: None lets the method pick its own size.
        batch_size: PositiveInt | None = runtime(  # type: ignore[assignment]
            None, "texts per forward pass (none: 64 extractive, 8 abstractive)"
        )
        max_new_tokens: PositiveInt = option(
            80, "abstractive: the longest summary generated, in tokens"
        )
        num_beams: PositiveInt = option(1, "abstractive: beam-search width (1: greedy, fastest)")

        @field_validator("method", mode="before")
        @classmethod
        def _known_method(cls, method: Any) -> Any:
            if method not in METHODS:
                raise ValueError(f"unknown method {method!r}; use one of: {', '.join(METHODS)}")
            return method

        @field_validator("then")
        @classmethod
        def _not_itself(cls, then: str) -> str:
            if then == "summarize":
                raise ValueError(
                    "`then` cannot be 'summarize'; pick a technique to run on the summaries"
                )
            return then

        @model_validator(mode="after")
        def _inner_multi_label_is_inherited(self) -> Summarize.Options:
            if "multi_label" in (self.then_options or {}):
                raise ValueError(
                    "set multi_label on summarize itself, not in then_options; the inner "
                    "technique inherits it"
                )
            return self

    options: Options

    def __init__(self, *, multi_label: bool = False, **values: Any) -> None:
        super().__init__(multi_label=multi_label, **values)
        self.inner = create_technique(
            self.options.then, multi_label=multi_label, **(self.options.then_options or {})
        )

    def config(self) -> dict[str, Any]:
        """The method and the options that matter under it, the encoder an extractive summary
        uses, and the inner technique's own config (its runtime options left out)."""
        options = self.options
        config: dict[str, Any] = {
            "technique": self.name,
            "multi_label": self.multi_label,
            "method": options.method,
            "then": options.then,
            "inner": self.inner.config(),
        }
        config.update({name: getattr(options, name) for name in METHOD_OPTIONS[options.method]})
        if options.method == "extractive":
            config["sentence_encoder"] = SENTENCE_ENCODER
        return config

    def model_info(self) -> ModelInfo:
        """The summariser's model (seq2seq, or the sentence encoder for extractive) joined
        with the inner technique's: "a + b" for ids, revisions and dtypes."""
        inner = self.inner.model_info()
        if self.options.method == "abstractive":
            loaded = load_model(
                "seq2seq",
                self.options.summary_model,
                device=self.options.device,
                precision=self.options.precision,
            )
        else:
            loaded = load_sentence_encoder(
                SENTENCE_ENCODER, device=self.options.device, precision=self.options.precision
            )
        return ModelInfo.of(
            loaded,
            model_id=_join(loaded.model_id, inner.model_id),
            revision=_join(loaded.revision, inner.revision),
            dtype=_join(dtype_name(loaded.dtype), inner.dtype),
            dtype_reason=_join(loaded.dtype_reason, inner.dtype_reason),
        )

    def summaries(self, texts: list[str]) -> list[Summary]:
        options = self.options
        if options.method == "extractive":
            return extractive_summaries(
                texts,
                sentences=options.sentences,
                embedding_model=SENTENCE_ENCODER,
                device=options.device,
                batch_size=options.batch_size or 64,
            )
        return abstractive_summaries(
            texts,
            model=options.summary_model,
            device=options.device,
            precision=options.precision,
            batch_size=options.batch_size or 8,
            max_new_tokens=options.max_new_tokens,
            num_beams=options.num_beams,
        )

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        if not texts:
            return []
        summaries = self.summaries(list(texts))
        inner_results = self.inner.predict([summary.text for summary in summaries], taxonomy)
        return [
            TextResult(
                scores=result.scores,
                evidence=_spans_on_original(result.evidence, summary),
                summary=summary.text,
            )
            for summary, result in zip(summaries, inner_results)
        ]


def _spans_on_original(spans: list[Span], summary: Summary) -> list[Span]:
    """Inner spans over the summary -> the same spans over the original text (when possible)."""
    moved = []
    for span in spans:
        target = summary.to_original(span.start, span.end)
        if target is not None:
            moved.append(Span(target[0], target[1], span.kind, span.label, span.detail))
    return moved


def _join(*parts: str) -> str:
    return " + ".join(part for part in parts if part)


__all__ = ["Summarize"]
