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

from core.entities import (
    DEFAULT_BACKEND,
    Entity,
    canonical_entity_type,
    extract_entities,
    parse_backend,
)
from core.models import DEFAULT_NER_MODEL, dtype_name, load_model, load_spacy
from core.taxonomy import Taxonomy
from core.techniques import register
from core.techniques.base import ModelInfo, Span, Technique, TextResult, normalise_single_label


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

    def __init__(
        self,
        *,
        multi_label: bool = False,
        backend: str = DEFAULT_BACKEND,
        model: str | None = None,
        spacy_model: str | None = None,
        device: str = "auto",
        precision: str = "fp32",
        batch_size: int = 32,
        rate: float = 0.7,
        repeat_weight: float = 0.5,
        prior: float = 0.25,
    ) -> None:
        parse_backend(backend)  # fail early on a typo
        if rate <= 0:
            raise ValueError(f"ner: rate must be > 0, got {rate}")
        if prior < 0:
            raise ValueError(f"ner: prior must be >= 0, got {prior}")
        super().__init__(
            multi_label=multi_label,
            backend=backend,
            model=model,
            spacy_model=spacy_model,
            device=device,
            precision=precision,
            batch_size=batch_size,
            rate=rate,
            repeat_weight=repeat_weight,
            prior=prior,
        )

    @property
    def backends(self) -> tuple[str, ...]:
        return parse_backend(self.options["backend"])

    def config(self) -> dict[str, Any]:
        config = super().config()
        if "transformers" in self.backends:
            config["model"] = self.options["model"] or DEFAULT_NER_MODEL
        return config

    def model_info(self) -> ModelInfo:
        ids, revisions = [], []
        device, dtype = "cpu", ""
        if "transformers" in self.backends:
            loaded = load_model(
                "token-classification",
                self.options["model"] or DEFAULT_NER_MODEL,
                device=self.options["device"],
                precision=self.options["precision"],
            )
            ids.append(loaded.model_id)
            revisions.append(loaded.revision)
            device, dtype = loaded.device, dtype_name(loaded.dtype)
        if "spacy" in self.backends:
            nlp = load_spacy(self.options["spacy_model"])
            ids.append(f"spacy:{nlp.meta.get('lang', '')}_{nlp.meta.get('name', '')}")
            revisions.append(str(nlp.meta.get("version", "")))
        return ModelInfo(
            model_id=" + ".join(ids), revision=" + ".join(revisions), device=device, dtype=dtype
        )

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        if not texts:
            return []
        all_entities = extract_entities(
            texts,
            backend=self.options["backend"],
            model=self.options["model"],
            spacy_model=self.options["spacy_model"],
            device=self.options["device"],
            precision=self.options["precision"],
            batch_size=self.options["batch_size"],
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
                    rate=self.options["rate"],
                    repeat_weight=self.options["repeat_weight"],
                    prior=self.options["prior"],
                )
            results.append(
                TextResult(scores=scores, evidence=entity_spans(entities, hints, scores))
            )
        return results


__all__ = ["NER", "entity_spans", "evidence_strength", "label_hints", "scores_from_entities"]
