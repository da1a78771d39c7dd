"""Ensemble: combines other techniques' scores, skipping abstentions.

Default is a weighted average of the techniques that did not abstain on a
text (weights 1.0 unless fitted). With enough reviews, `core.learn` fits
per-technique weights (and per-label thresholds for multi-label) by stacking
and stores them; they are passed here as `weights` / `thresholds`.

`combine` is the pure hot-path function used everywhere (engine, app, Ray);
the `ensemble` technique class wraps it for callers without a store: it runs
its component techniques itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.taxonomy import Taxonomy
from core.techniques import create_technique, register
from core.techniques.base import Technique, TextResult, normalise_single_label

DEFAULT_COMPONENTS = ("rules", "lexicon", "embeddings")


def combine(
    results: Mapping[str, TextResult],
    labels: list[str],
    *,
    weights: Mapping[str, float] | None = None,
    multi_label: bool = False,
) -> TextResult:
    """technique -> TextResult for ONE text  ->  the ensemble's TextResult.

    Abstaining techniques are skipped; if all abstain, the ensemble abstains.
    Evidence of every component is kept (for highlighting); the first summary wins.
    """
    total = {name: 0.0 for name in labels}
    weight_sum = 0.0
    evidence = []
    summary = None
    for technique, result in results.items():
        evidence.extend(result.evidence)
        summary = summary or result.summary
        if result.scores is None:
            continue
        weight = 1.0 if weights is None else float(weights.get(technique, 0.0))
        if weight <= 0:
            continue
        weight_sum += weight
        for name in labels:
            total[name] += weight * float(result.scores.get(name, 0.0))
    if weight_sum == 0:
        return TextResult(scores=None, evidence=evidence, summary=summary)
    averaged = {name: min(1.0, max(0.0, value / weight_sum)) for name, value in total.items()}
    if not multi_label:
        averaged = normalise_single_label(averaged)
    return TextResult(scores=averaged, evidence=evidence, summary=summary)


@register
class Ensemble(Technique):
    name = "ensemble"
    description = (
        "Weighted average of other techniques; abstentions skipped; weights fit from reviews."
    )

    def __init__(
        self,
        *,
        multi_label: bool = False,
        components: tuple[str, ...] | list[str] = DEFAULT_COMPONENTS,
        component_options: Mapping[str, dict] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(
            multi_label=multi_label,
            components=list(components),
            component_options=dict(component_options or {}),
            weights=dict(weights) if weights else None,
        )
        if "ensemble" in components:
            raise ValueError("an ensemble cannot contain itself; remove 'ensemble' from components")
        self._techniques = [
            create_technique(
                name, multi_label=multi_label, **(component_options or {}).get(name, {})
            )
            for name in components
        ]

    def model_info(self):
        from core.techniques.base import ModelInfo

        infos = [technique.model_info() for technique in self._techniques]
        return ModelInfo(
            model_id="+".join(info.model_id for info in infos if info.model_id),
            revision="+".join(info.revision for info in infos if info.revision),
            device=next((info.device for info in infos if info.model_id), "cpu"),
            dtype=next((info.dtype for info in infos if info.dtype), ""),
        )

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        per_technique = {t.name: t.predict(texts, taxonomy) for t in self._techniques}
        return [
            combine(
                {name: results[i] for name, results in per_technique.items()},
                taxonomy.names,
                weights=self.options["weights"],
                multi_label=self.multi_label,
            )
            for i in range(len(texts))
        ]
