"""Ensemble: combines other techniques' scores, skipping abstentions.

The combination itself (weights, calibration, thresholds) lives in `core.predictions`, the
one owner of current suggestions: the app reads a project's ensemble from its prediction
table, combined by the project's learned configuration. This technique class is for callers
without a store (the Ray adapter, scripts): it runs its component techniques itself and
combines them with `core.predictions.combine` under the weights it is given.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator, model_validator

from core.predictions import Combination, combine
from core.taxonomy import Taxonomy
from core.techniques import create_technique, register
from core.techniques.base import ModelInfo, Technique, TextResult
from core.techniques.options import TechniqueOptions, opaque, option

DEFAULT_COMPONENTS = ("rules", "lexicon", "embeddings")


@register
class Ensemble(Technique):
    name = "ensemble"
    description = (
        "Weighted average of other techniques; abstentions skipped; weights fit from reviews."
    )

    class Options(TechniqueOptions):
        components: tuple[str, ...] = option(
            DEFAULT_COMPONENTS, "the techniques whose scores are combined, by name"
        )
        component_options: dict[str, dict[str, Any]] | None = opaque(
            None, "technique name -> that component's options"
        )
        weights: dict[str, float] | None = option(
            None,
            "technique name -> weight in the average (missing: 1; scaled so the largest is 1)",
        )

        @field_validator("components")
        @classmethod
        def _not_itself(cls, components: tuple[str, ...]) -> tuple[str, ...]:
            if "ensemble" in components:
                raise ValueError(
                    "an ensemble cannot contain itself; remove 'ensemble' from components"
                )
            return components

        @field_validator("weights")
        @classmethod
        def _none_when_empty(cls, weights: dict[str, float] | None) -> dict[str, float] | None:
            return dict(weights) if weights else None

        @model_validator(mode="after")
        def _options_for_components_only(self) -> Ensemble.Options:
            stray = sorted(set(self.component_options or {}) - set(self.components))
            if stray:
                raise ValueError(
                    f"component_options given for {', '.join(stray)}, which is not among the "
                    f"components ({', '.join(self.components)})"
                )
            return self

    options: Options

    def __init__(self, *, multi_label: bool = False, **values: Any) -> None:
        super().__init__(multi_label=multi_label, **values)
        component_options = self.options.component_options or {}
        self._techniques = [
            create_technique(name, multi_label=multi_label, **component_options.get(name, {}))
            for name in self.options.components
        ]

    def config(self) -> dict[str, Any]:
        """Components, weights, and each component's own config (what its options change;
        its runtime options left out)."""
        config = super().config()
        config["component_configs"] = [technique.config() for technique in self._techniques]
        return config

    def model_info(self) -> ModelInfo:
        infos = [technique.model_info() for technique in self._techniques]
        return ModelInfo(
            model_id="+".join(info.model_id for info in infos if info.model_id),
            revision="+".join(info.revision for info in infos if info.revision),
            device=next((info.device for info in infos if info.model_id), "cpu"),
            dtype=next((info.dtype for info in infos if info.dtype), ""),
            dtype_reason=next((info.dtype_reason for info in infos if info.dtype_reason), ""),
        )

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        per_technique = {t.name: t.predict(texts, taxonomy) for t in self._techniques}
        return [
            combine(
                {name: results[i] for name, results in per_technique.items()},
                taxonomy.names,
                combination=Combination(weights=self.options.weights),
                multi_label=self.multi_label,
            )
            for i in range(len(texts))
        ]
