"""Ensemble: combines other techniques' scores, skipping abstentions.

The combination itself (weights, calibration, thresholds) lives in `core.predictions`, the
one owner of current suggestions: the app reads a project's ensemble from its prediction
table, combined by the project's learned configuration. This technique class is for callers
without a store (the Ray adapter, scripts): it runs its component techniques itself and
combines them with `core.predictions.combine` under the weights it is given.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.predictions import Combination, combine
from core.taxonomy import Taxonomy
from core.techniques import create_technique, register
from core.techniques.base import Technique, TextResult

DEFAULT_COMPONENTS = ("rules", "lexicon", "embeddings")


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
                combination=Combination(weights=self.options["weights"]),
                multi_label=self.multi_label,
            )
            for i in range(len(texts))
        ]
