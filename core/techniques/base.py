"""The one interface every technique implements.

A technique takes a batch of texts and the taxonomy and returns, per text,
a score in [0, 1] for every label or an explicit abstention, plus evidence
(character spans, a summary) that explains the score.

Like a transformers pipeline, the work is split so the hot path is isolated:
`predict` is the only entry point the engine calls; subclasses are free to
split it into preprocess/forward/postprocess internally.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from core.taxonomy import Taxonomy
from core.techniques.options import OptionsError, TechniqueOptions, parse_options


@dataclass(frozen=True)
class Span:
    """A piece of evidence: text[start:end] supports `label` (None: no particular label)."""

    start: int
    end: int
    kind: str  # "rule" | "keyword" | "entity"
    label: str | None = None  # taxonomy label this span is evidence for
    detail: str = ""  # the pattern, keyword or entity type that produced it


@dataclass
class TextResult:
    """One technique's answer for one text."""

    # label -> score in [0, 1] for exactly the labels asked; None = abstain.
    # Single-label: scores sum to 1. Multi-label: each score independent.
    scores: dict[str, float] | None
    evidence: list[Span] = field(default_factory=list)
    summary: str | None = None  # set by summarize-then-classify
    # labels whose score came from a cheaper technique, not this one (zero-shot's cascade)
    estimated: list[str] = field(default_factory=list)

    @property
    def abstained(self) -> bool:
        return self.scores is None

    def to_json(self) -> dict:
        data: dict[str, Any] = {
            "scores": self.scores,
            "evidence": [asdict(span) for span in self.evidence],
            "summary": self.summary,
        }
        if self.estimated:  # absent otherwise: stored results keep their old shape
            data["estimated"] = list(self.estimated)
        return data

    @classmethod
    def from_json(cls, data: dict) -> TextResult:
        return cls(
            scores=data.get("scores"),
            evidence=[Span(**span) for span in data.get("evidence") or []],
            summary=data.get("summary"),
            estimated=list(data.get("estimated") or []),
        )


@dataclass(frozen=True)
class ModelInfo:
    """Which model (and which exact weights) a technique used, for the run log and cache key."""

    model_id: str = ""  # hub id or local folder; "" for model-free techniques
    revision: str = ""  # commit hash or sha256 of the weights
    device: str = "cpu"
    dtype: str = ""
    dtype_reason: str = ""  # why that precision ran (kept in the run log)

    @classmethod
    def of(cls, loaded: Any, **overrides: str) -> ModelInfo:
        """The ModelInfo of a `core.models.loading.LoadedModel`, any field overridden."""
        from core.models.precision import dtype_name

        fields: dict[str, str] = {
            "model_id": loaded.model_id,
            "revision": loaded.revision,
            "device": str(loaded.device),
            "dtype": dtype_name(loaded.dtype),
            "dtype_reason": loaded.dtype_reason,
        }
        return cls(**{**fields, **overrides})


class Technique(ABC):
    """Base class for built-in and plug-in techniques; subclasses register by `name`.

    A technique declares what it accepts as `class Options(TechniqueOptions)` (or
    `ModelOptions` when it loads a model); the constructor checks the keyword arguments
    against it once and keeps the typed result as `self.options` (`self.options.scale`).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    needs_model: ClassVar[bool] = False
    Options: ClassVar[type[TechniqueOptions]] = TechniqueOptions
    # What a bad option raises: OptionsError, or a subclass a technique has kept for callers.
    options_error: ClassVar[type[OptionsError]] = OptionsError

    options: TechniqueOptions

    def __init__(self, *, multi_label: bool = False, **values: Any) -> None:
        self.multi_label = multi_label
        self.options = parse_options(self.name, self.Options, values, error=self.options_error)

    def config(self) -> dict[str, Any]:
        """Everything that changes the output; hashed into the cache key. Runtime options
        (device, precision, batch size) are not part of it."""
        return {"technique": self.name, "multi_label": self.multi_label, **self.options.output()}

    def config_hash(self, taxonomy: Taxonomy) -> str:
        payload = json.dumps(
            {"config": self.config(), "taxonomy": taxonomy_fingerprint(taxonomy)},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def model_info(self) -> ModelInfo:
        return ModelInfo()

    @abstractmethod
    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        """One TextResult per text, in order. Never mutates its inputs."""


def taxonomy_fingerprint(taxonomy: Taxonomy) -> list[dict]:
    return [asdict(label) for label in taxonomy.labels]


def normalise_single_label(raw: dict[str, float]) -> dict[str, float]:
    """Non-negative raw scores -> probabilities summing to 1 (uniform when all are 0)."""
    total = sum(raw.values())
    if total <= 0:
        return {name: 1.0 / len(raw) for name in raw}
    return {name: value / total for name, value in raw.items()}
