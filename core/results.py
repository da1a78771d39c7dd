"""What a project currently says about its documents: per-technique results,
the ensemble of them, the suggested labels and the current review.

Pure functions over the store's data; pages, the CLI and export all read
results through here so they agree on what "the current labels" are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.techniques.base import TextResult
from core.techniques.ensemble import combine

ENSEMBLE = "ensemble"
DEFAULT_THRESHOLD = 0.5


def project_settings(project) -> dict:
    """A project's classification settings with defaults filled in."""
    settings = dict(project.settings or {})
    settings.setdefault("multi_label", False)
    settings.setdefault("threshold", DEFAULT_THRESHOLD)
    return settings


def latest_results(
    store, project_id: int, document_ids: Sequence[str] | None = None
) -> dict[str, dict[str, TextResult]]:
    """technique -> document_id -> TextResult, from each technique's latest run."""
    out: dict[str, dict[str, TextResult]] = {}
    for technique, key in store.latest_cache_keys(project_id).items():
        rows = store.get_predictions(project_id, key, document_ids)
        out[technique] = {doc_id: TextResult.from_json(row) for doc_id, row in rows.items()}
    return out


def ensemble_results(
    per_technique: Mapping[str, Mapping[str, TextResult]],
    labels: list[str],
    *,
    weights: Mapping[str, float] | None = None,
    multi_label: bool = False,
) -> dict[str, TextResult]:
    """document_id -> ensemble TextResult over every technique that has a result for it."""
    components = {name: res for name, res in per_technique.items() if name != ENSEMBLE}
    document_ids: set[str] = set()
    for results in components.values():
        document_ids.update(results)
    return {
        doc_id: combine(
            {name: res[doc_id] for name, res in components.items() if doc_id in res},
            labels,
            weights=weights,
            multi_label=multi_label,
        )
        for doc_id in document_ids
    }


def suggested_labels(
    scores: Mapping[str, float] | None, *, multi_label: bool, threshold: float = DEFAULT_THRESHOLD
) -> list[str]:
    """Scores -> the labels a reviewer is offered: argmax (single-label) or all >= threshold."""
    if not scores:
        return []
    if multi_label:
        return [name for name, score in scores.items() if score >= threshold]
    return [max(scores, key=lambda name: scores[name])]


def confidence(scores: Mapping[str, float] | None) -> float:
    """Top score, 0.0 when abstaining."""
    return max(scores.values()) if scores else 0.0
