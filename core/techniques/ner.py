"""NER: entities -> label scores through each label's entity-type hints.

A label that lists entity types (`Label.entity_types`, e.g. ("MONEY", "INVOICE_ID")) gains
evidence from every distinct hinted entity found in the text. Types match
case-insensitively and through common aliases (PER ~ PERSON, GPE/LOC ~ LOCATION, ...).

Raw score per label, saturating in the evidence:
    weighted = distinct hinted types + `repeat_weight` * further distinct mentions
    raw      = 1 - exp(-rate * weighted)
Multi-label: the raw scores (labels without evidence score 0).
Single-label: raw scores plus a uniform `prior` per label, normalised to sum to 1, since an
entity is weak evidence on its own.
The technique abstains when no label has hints or no hinted entity occurs; its evidence is
always every entity, so the app can highlight them all.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import field_validator

from core.models.catalog import DEFAULT_NER_MODEL
from core.models.entities import (
    DEFAULT_BACKEND,
    Entity,
    canonical_entity_type,
    extract_entities,
    parse_backend,
)
from core.models.loading import dtype_name, load_model, load_spacy
from core.taxonomy import Taxonomy
from core.techniques import register
from core.techniques.base import ModelInfo, Span, Technique, TextResult, normalise_single_label
from core.techniques.options import ModelOptions, option


def label_hints(taxonomy: Taxonomy) -> dict[str, frozenset[str]]:
    """label -> canonical entity types hinting at it (labels without hints left out)."""
    return {
        label.name: frozenset(canonical_entity_type(kind) for kind in label.entity_types)
        for label in taxonomy.labels
        if label.entity_types
    }


def evidence_strength(
    entities: list[Entity], hinted_types: frozenset[str], *, repeat_weight: float = 0.5
) -> float:
    """Weighted count of distinct hinted entities: a new type counts 1, a new mention of a
    type already seen counts `repeat_weight`."""
    mentions: dict[str, set[str]] = {}
    for entity in entities:
        kind = canonical_entity_type(entity.label)
        if kind in hinted_types:
            mentions.setdefault(kind, set()).add(entity.text.casefold())
    types = len(mentions)
    extra = sum(len(texts) for texts in mentions.values()) - types
    return types + repeat_weight * extra


def scores_from_entities(
    entities: list[Entity],
    hints: dict[str, frozenset[str]],
    labels: list[str],
    *,
    multi_label: bool,
    rate: float = 0.7,
    repeat_weight: float = 0.5,
    prior: float = 0.25,
) -> dict[str, float] | None:
    """Entities of one text -> label -> score, or None (abstain) when nothing hinted occurs."""
    raw = {
        name: 1.0
        - math.exp(-rate * evidence_strength(entities, hints[name], repeat_weight=repeat_weight))
        if name in hints
        else 0.0
        for name in labels
    }
    if not any(value > 0 for value in raw.values()):
        return None
    if multi_label:
        return raw
    return normalise_single_label({name: value + prior for name, value in raw.items()})


def entity_spans(
    entities: list[Entity], hints: dict[str, frozenset[str]], scores: dict[str, float] | None
) -> list[Span]:
    """Every entity as a Span; `label` is the hinted taxonomy label (the best-scoring one when
    several share the type), else None."""
    spans = []
    for entity in entities:
        kind = canonical_entity_type(entity.label)
        hinted = [name for name, types in hints.items() if kind in types]
        label = None
        if hinted:
            label = max(hinted, key=lambda name: (scores or {}).get(name, 0.0))
        spans.append(Span(entity.start, entity.end, "entity", label, entity.label))
    return spans


@register
class NER(Technique):
    name = "ner"
    description = (
        "Entities (spaCy, a transformers NER model or patterns) -> labels via entity-type hints."
    )
    needs_model = True

    class Options(ModelOptions):
        backend: str = option(
            DEFAULT_BACKEND,
            "entity finders: spacy, transformers, patterns, or several joined with + "
            "(e.g. spacy+patterns)",
            suggestions=(
                "spacy+patterns",
                "patterns",
                "spacy",
                "transformers+patterns",
                "transformers",
            ),
        )
        model: str | None = option(
            None,
            f"token-classification model for the transformers backend: hub id or folder "
            f"(none: {DEFAULT_NER_MODEL})",
            suggestions=(DEFAULT_NER_MODEL,),
            free_text=True,
        )
        spacy_model: str | None = option(
            None, "spaCy pipeline for the spacy backend (none: the packaged small English one)"
        )
        rate: float = option(
            0.7,
            "how fast a label's score saturates with evidence: 1 - exp(-rate x evidence)",
            gt=0,
        )
        repeat_weight: float = option(
            0.5,
            "evidence a further distinct mention of an already-seen entity type adds "
            "(a new type adds 1)",
            ge=0,
        )
        prior: float = option(
            0.25,
            "single-label only: score added to every label before normalising, so one "
            "entity is not taken as certainty",
            ge=0,
        )

        @field_validator("backend")
        @classmethod
        def _known_backend(cls, backend: str) -> str:
            parse_backend(backend)  # fail early on a typo
            return backend

    options: Options

    @property
    def backends(self) -> tuple[str, ...]:
        return parse_backend(self.options.backend)

    def config(self) -> dict[str, Any]:
        config = super().config()
        if "transformers" in self.backends:
            config["model"] = self.options.model or DEFAULT_NER_MODEL
        return config

    def model_info(self) -> ModelInfo:
        ids, revisions = [], []
        device, dtype, reason = "cpu", "", ""
        if "transformers" in self.backends:
            loaded = load_model(
                "token-classification",
                self.options.model or DEFAULT_NER_MODEL,
                device=self.options.device,
                precision=self.options.precision,
            )
            ids.append(loaded.model_id)
            revisions.append(loaded.revision)
            device, dtype, reason = loaded.device, dtype_name(loaded.dtype), loaded.dtype_reason
        if "spacy" in self.backends:
            nlp = load_spacy(self.options.spacy_model)
            ids.append(f"spacy:{nlp.meta.get('lang', '')}_{nlp.meta.get('name', '')}")
            revisions.append(str(nlp.meta.get("version", "")))
        return ModelInfo(
            model_id=" + ".join(ids),
            revision=" + ".join(revisions),
            device=device,
            dtype=dtype,
            dtype_reason=reason,
        )

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        if not texts:
            return []
        all_entities = extract_entities(
            texts,
            backend=self.options.backend,
            model=self.options.model,
            spacy_model=self.options.spacy_model,
            device=self.options.device,
            precision=self.options.precision,
            batch_size=self.options.batch_size,
        )
        hints = label_hints(taxonomy)
        results = []
        for entities in all_entities:
            scores = None
            if hints:
                scores = scores_from_entities(
                    entities,
                    hints,
                    taxonomy.names,
                    multi_label=self.multi_label,
                    rate=self.options.rate,
                    repeat_weight=self.options.repeat_weight,
                    prior=self.options.prior,
                )
            results.append(
                TextResult(scores=scores, evidence=entity_spans(entities, hints, scores))
            )
        return results


__all__ = ["NER", "entity_spans", "evidence_strength", "label_hints", "scores_from_entities"]
