"""Summarize-then-classify: summarise each text, then run another technique on the summaries.

Long, rambling texts (complaints, email threads) often classify better from their gist.
The inner technique (`then`, any registered name, with `then_options`) scores the
summaries; each TextResult carries its summary. Evidence spans refer to the ORIGINAL text:
an extractive summary is made of exact sentences of the original, so the inner spans are
moved back onto them; an abstractive summary is new text, so its inner spans are dropped.
"""

from __future__ import annotations

from typing import Any

from core.models import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_SUMMARY_MODEL,
    dtype_name,
    load_model,
    load_sentence_encoder,
)
from core.summaries import METHODS, Summary, abstractive_summaries, extractive_summaries
from core.taxonomy import Taxonomy
from core.techniques import create_technique, register
from core.techniques.base import ModelInfo, Span, Technique, TextResult


@register
class Summarize(Technique):
    name = "summarize"
    description = (
        "Summary first (extractive or abstractive), then any other technique on the summary."
    )
    needs_model = True

    def __init__(
        self,
        *,
        multi_label: bool = False,
        method: str = "extractive",
        sentences: int = 3,
        summary_model: str = DEFAULT_SUMMARY_MODEL,
        then: str = "embeddings",
        then_options: dict[str, Any] | None = None,
        device: str = "auto",
        precision: str = "fp32",
        batch_size: int | None = None,
        max_new_tokens: int = 80,
        num_beams: int = 1,
    ) -> None:
        if method not in METHODS:
            raise ValueError(
                f"summarize: unknown method {method!r}; use one of: {', '.join(METHODS)}"
            )
        if sentences < 1:
            raise ValueError(f"summarize: sentences must be at least 1, got {sentences}")
        if then == self.name:
            raise ValueError(
                "summarize: `then` cannot be 'summarize'; pick a technique to run on the summaries"
            )
        then_options = dict(then_options or {})
        if "multi_label" in then_options:
            raise ValueError(
                "summarize: set multi_label on summarize itself, not in then_options; "
                "the inner technique inherits it"
            )
        options: dict[str, Any] = dict(method=method, then=then, then_options=then_options)
        if method == "extractive":
            options.update(sentences=sentences, sentence_encoder=DEFAULT_EMBEDDING_MODEL)
        else:
            options.update(
                summary_model=summary_model,
                device=device,
                precision=precision,
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
            )
        super().__init__(multi_label=multi_label, **options)
        self.batch_size = batch_size  # speed only: not part of the config
        self.device = device
        self.inner = create_technique(then, multi_label=multi_label, **then_options)

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["inner"] = self.inner.config()
        return config

    def model_info(self) -> ModelInfo:
        """The summariser's model (seq2seq, or the sentence encoder for extractive) joined
        with the inner technique's: "a + b" for ids, revisions and dtypes."""
        inner = self.inner.model_info()
        if self.options["method"] == "abstractive":
            loaded = load_model(
                "seq2seq",
                self.options["summary_model"],
                device=self.options["device"],
                precision=self.options["precision"],
            )
        else:
            loaded = load_sentence_encoder(self.options["sentence_encoder"], device=self.device)
        return ModelInfo(
            model_id=_join(loaded.model_id, inner.model_id),
            revision=_join(loaded.revision, inner.revision),
            device=loaded.device,
            dtype=_join(dtype_name(loaded.dtype), inner.dtype),
        )

    def summaries(self, texts: list[str]) -> list[Summary]:
        if self.options["method"] == "extractive":
            return extractive_summaries(
                texts,
                sentences=self.options["sentences"],
                embedding_model=self.options["sentence_encoder"],
                device=self.device,
                batch_size=self.batch_size or 64,
            )
        return abstractive_summaries(
            texts,
            model=self.options["summary_model"],
            device=self.options["device"],
            precision=self.options["precision"],
            batch_size=self.batch_size or 8,
            max_new_tokens=self.options["max_new_tokens"],
            num_beams=self.options["num_beams"],
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
