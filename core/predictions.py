"""What a project currently says about its documents: the one owner of "current predictions".

A `PredictionTable` holds, as arrays, every document's scores from every technique's latest
run (T techniques x N documents x L labels; the supervised technique's are those of the
project's current learned configuration, `core.learning.versions`), the ensemble of them
under that configuration (`Combination`: technique weights, a calibration temperature,
per-label thresholds), the labels suggested to a reviewer, and the uncertainty and
disagreement the review queue ranks by. Review, bulk accept, export, Monitor, Evaluate, the
CLI and the benches all read suggestions through here, so they agree on what "the current
suggestion" is; `table_signature` changes whenever the table would.

The ensemble (`combine_arrays`, the one implementation; `combine` is its one-text form):

- a weighted average over the techniques that did not abstain on a document; a technique's
  weight is never below MIN_WEIGHT (relative to the largest), so a document any technique
  voted on always gets a suggestion, however lopsided the fitted weights;
- single-label: renormalised to sum 1, then calibrated as p_i^(1/T) / sum_j p_j^(1/T);
  multi-label: each label calibrated as sigmoid(logit(p) / T);
- suggested labels: the top label (single-label), or every label at or above its threshold
  (multi-label; the fitted per-label threshold, else the project's). When no label reaches
  its threshold the top label is offered anyway, marked `below_threshold`, so Accept always
  has something to save.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.techniques.base import TextResult

ENSEMBLE = "ensemble"
SUPERVISED = "supervised"
LEARNED = frozenset({SUPERVISED})  # techniques trained on the project's own reviews
DEFAULT_THRESHOLD = 0.5
MIN_WEIGHT = 0.05  # a technique's weight relative to the largest never falls below this
_EPS = 1e-6


def project_settings(project) -> dict:
    """A project's classification settings with defaults filled in."""
    settings = dict(project.settings or {})
    settings.setdefault("multi_label", False)
    settings.setdefault("threshold", DEFAULT_THRESHOLD)
    return settings


# --- the combination (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class Combination:
    """How the ensemble combines techniques: the part of a configuration learned from reviews.

    The default (equal weights, no calibration, the project's threshold) is what a project
    shows before it has learned anything.
    """

    weights: Mapping[str, float] | None = None  # technique -> weight; missing or None = 1.0
    temperature: float = 1.0  # > 1 softens, < 1 sharpens
    thresholds: Mapping[str, float] | None = None  # multi-label: label -> threshold

    def weight_vector(self, techniques: Sequence[str]) -> np.ndarray:
        """(T,) weights for `techniques`, scaled to max 1 and floored at MIN_WEIGHT."""
        raw = np.array(
            [
                1.0 if not self.weights else float(self.weights.get(name, 1.0))
                for name in techniques
            ],
            dtype=float,
        )
        raw = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)
        top = raw.max(initial=0.0)
        if top <= 0:
            return np.ones(len(techniques))
        return np.maximum(raw / top, MIN_WEIGHT)

    def threshold_vector(self, labels: Sequence[str], default: float) -> np.ndarray:
        """(L,) the decision threshold of each label (multi-label)."""
        chosen = self.thresholds or {}
        return np.array([float(chosen.get(name, default)) for name in labels], dtype=float)

    def to_json(self) -> dict:
        return {
            "weights": dict(self.weights) if self.weights else None,
            "temperature": float(self.temperature),
            "thresholds": dict(self.thresholds) if self.thresholds else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Combination:
        data = data or {}
        return cls(
            weights=data.get("weights") or None,
            temperature=float(data.get("temperature") or 1.0),
            thresholds=data.get("thresholds") or None,
        )


EQUAL = Combination()


def calibrate(probabilities: np.ndarray, temperature: float, multi_label: bool) -> np.ndarray:
    """(N, L) probabilities -> the same, softened (T > 1) or sharpened (T < 1); T = 1 is a no-op."""
    if temperature == 1.0 or probabilities.size == 0:
        return probabilities
    clipped = np.clip(probabilities, _EPS, 1.0 - _EPS)
    if multi_label:
        logits = np.log(clipped) - np.log1p(-clipped)
        return 1.0 / (1.0 + np.exp(-logits / temperature))
    logs = np.log(clipped) / temperature
    logs -= logs.max(axis=1, keepdims=True)
    powered = np.exp(logs)
    return powered / powered.sum(axis=1, keepdims=True)


def combine_arrays(
    scores: np.ndarray,
    present: np.ndarray,
    techniques: Sequence[str],
    combination: Combination = EQUAL,
    multi_label: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, L) scores + (T, N) present -> ensemble (N, L) and covered (N,) bool.

    Rows no technique voted on are all zeros and not covered.
    """
    scores = np.asarray(scores, dtype=float)
    n_techniques, n_docs, n_labels = scores.shape
    effective = combination.weight_vector(techniques)[:, None] * np.asarray(present, bool)
    weight_sum = effective.sum(axis=0)  # (N,)
    covered = weight_sum > 0
    if n_techniques == 0 or n_labels == 0:
        return np.zeros((n_docs, n_labels)), covered & (n_labels > 0)
    total = np.einsum("tn,tnl->nl", effective, scores)
    averaged = np.clip(total / np.where(covered, weight_sum, 1.0)[:, None], 0.0, 1.0)
    if not multi_label:
        sums = averaged.sum(axis=1, keepdims=True)
        averaged = np.where(sums > 0, averaged / np.where(sums > 0, sums, 1.0), 1.0 / n_labels)
    averaged = calibrate(averaged, combination.temperature, multi_label)
    averaged[~covered] = 0.0
    return averaged, covered


def decide(
    probabilities: np.ndarray,
    covered: np.ndarray,
    *,
    multi_label: bool,
    thresholds: np.ndarray | float = DEFAULT_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, L) probabilities -> suggested (N, L) bool and below_threshold (N,) bool.

    Single-label: the top label (first maximum). Multi-label: every label at or above its
    threshold, or the top label alone when none is (below_threshold). Uncovered rows: nothing.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    n_docs, n_labels = probabilities.shape
    covered = np.asarray(covered, dtype=bool)
    top = np.zeros((n_docs, n_labels), dtype=bool)
    if n_labels:
        top[np.arange(n_docs), probabilities.argmax(axis=1)] = True
    if not multi_label:
        return top & covered[:, None], np.zeros(n_docs, dtype=bool)
    passed = probabilities >= np.asarray(thresholds, dtype=float) - 1e-12
    below = covered & ~passed.any(axis=1)
    suggested = np.where(below[:, None], top, passed) & covered[:, None]
    return suggested, below


def combine(
    results: Mapping[str, TextResult],
    labels: list[str],
    *,
    combination: Combination = EQUAL,
    multi_label: bool = False,
) -> TextResult:
    """technique -> TextResult for ONE text -> the ensemble's TextResult (`combine_arrays`).

    Evidence of every component is kept (for highlighting); the first summary wins.
    """
    names = [name for name in results if name != ENSEMBLE]
    scores = np.zeros((len(names), 1, len(labels)))
    present = np.zeros((len(names), 1), dtype=bool)
    evidence, summary = [], None
    for t, name in enumerate(names):
        result = results[name]
        evidence.extend(result.evidence)
        summary = summary or result.summary
        if result.scores is not None:
            present[t, 0] = True
            scores[t, 0] = [float(result.scores.get(label, 0.0)) for label in labels]
    mixed, covered = combine_arrays(scores, present, names, combination, multi_label)
    if not covered[0]:
        return TextResult(scores=None, evidence=evidence, summary=summary)
    return TextResult(
        scores={label: float(value) for label, value in zip(labels, mixed[0])},
        evidence=evidence,
        summary=summary,
    )


# --- uncertainty and disagreement (pure) -------------------------------------------------------


def uncertainty(
    probabilities: np.ndarray,
    *,
    multi_label: bool = False,
    thresholds: np.ndarray | float = DEFAULT_THRESHOLD,
    covered: np.ndarray | None = None,
) -> np.ndarray:
    """(N, L) probabilities -> (N,) in [0, 1]: single-label 1 - (top - second), the margin;
    multi-label the closest any label comes to its threshold, 1 - |p - t| / max(t, 1 - t).
    1 where not `covered` (nothing is known about the document)."""
    probabilities = np.asarray(probabilities, dtype=float)
    n_docs, n_labels = probabilities.shape
    if n_labels == 0:
        return np.ones(n_docs)
    if multi_label:
        cut = np.asarray(thresholds, dtype=float)
        spread = np.maximum(cut, 1.0 - cut)
        value = (1.0 - np.abs(probabilities - cut) / spread).max(axis=1)
    elif n_labels == 1:
        value = 1.0 - probabilities[:, 0]
    else:
        ordered = np.sort(probabilities, axis=1)
        value = 1.0 - (ordered[:, -1] - ordered[:, -2])
    value = np.clip(value, 0.0, 1.0)
    if covered is not None:
        value = np.where(np.asarray(covered, dtype=bool), value, 1.0)
    return value


def technique_decisions(scores: np.ndarray, multi_label: bool, threshold: float) -> np.ndarray:
    """(..., L) one technique's scores -> (..., L) bool: its top label, or every label at or
    above the project threshold (no fallback: a technique's own vote)."""
    if multi_label:
        return scores >= threshold
    out = np.zeros(scores.shape, dtype=bool)
    if scores.shape[-1]:
        np.put_along_axis(out, scores.argmax(axis=-1)[..., None], True, axis=-1)
    return out


def disagreement(
    technique_scores: np.ndarray,
    present: np.ndarray,
    reference: np.ndarray,
    *,
    multi_label: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
) -> np.ndarray:
    """(T, N, L) scores, (T, N) present, (N, L) bool reference decisions -> (N,) the share of
    the techniques that scored a document whose decision differs from the reference."""
    technique_scores = np.asarray(technique_scores, dtype=float)
    present = np.asarray(present, dtype=bool)
    n_docs = reference.shape[0]
    if technique_scores.shape[0] == 0:
        return np.zeros(n_docs)
    votes = technique_decisions(technique_scores, multi_label, threshold)
    differs = (votes != np.asarray(reference, dtype=bool)[None]).any(axis=2) & present
    voters = present.sum(axis=0)
    return np.where(voters > 0, differs.sum(axis=0) / np.maximum(voters, 1), 0.0)


# --- one document's suggestion -----------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """What the Review page shows for one document, as one frozen snapshot: a queue batch
    keeps these, so a model refresh landing mid-batch changes nothing on screen."""

    document_id: str
    labels: tuple[str, ...]  # what Accept saves
    below_threshold: bool  # multi-label: no label reached its threshold; `labels` is the top one
    confidence: float  # the ensemble's top score; 0.0 when no technique voted
    ensemble: dict[str, float] | None  # None: no technique voted on the document
    techniques: dict[str, dict[str, float] | None]  # None: that technique abstained
    uncertainty: float
    disagreement: float
    version: int | None  # the learned configuration it came from; None = not learned yet
    cache_keys: dict[str, str] = field(default_factory=dict)  # technique -> run read

    def shown(self, **extra: Any) -> dict:
        """What a review records as "the suggestion shown" (Review.shown)."""
        return shown_payload(
            self.labels,
            self.ensemble,
            self.techniques,
            cache_keys=self.cache_keys,
            version=self.version,
            **extra,
        )


def shown_payload(
    labels: Sequence[str],
    ensemble_scores: Mapping[str, float] | None,
    technique_scores: Mapping[str, Mapping[str, float] | None],
    *,
    cache_keys: Mapping[str, str] | None = None,
    version: int | None = None,
    **extra: Any,
) -> dict:
    """labels, ensemble scores, each technique's scores (None = abstained), the runs and the
    learned configuration they came from, plus e.g. why the queue picked the document."""
    return {
        "labels": list(labels),
        "scores": dict(ensemble_scores) if ensemble_scores is not None else None,
        "techniques": {
            name: dict(scores) if scores is not None else None
            for name, scores in technique_scores.items()
            if name != ENSEMBLE
        },
        "cache_keys": dict(cache_keys or {}),
        "version": version,
        **extra,
    }


# --- the table ---------------------------------------------------------------------------------


@dataclass
class PredictionTable:
    """Every document's scores from every technique, combined and decided, as arrays.

    T techniques, N documents (in the order they were added), L labels.
    """

    document_ids: list[str]
    labels: list[str]
    techniques: list[str]
    scores: np.ndarray  # (T, N, L) float; zeros where the technique abstained / has no result
    present: np.ndarray  # (T, N) bool: the technique scored the document
    multi_label: bool = False
    threshold: float = DEFAULT_THRESHOLD  # the project's; fitted per-label ones override it
    combination: Combination = EQUAL
    version: int | None = None  # the learned configuration applied; None = none yet
    cache_keys: dict[str, str] = field(default_factory=dict)  # technique -> cache key read
    # derived in __post_init__
    ensemble: np.ndarray = field(init=False)  # (N, L)
    covered: np.ndarray = field(init=False)  # (N,) bool: some technique voted
    thresholds: np.ndarray = field(init=False)  # (L,) multi-label decision thresholds
    suggested: np.ndarray = field(init=False)  # (N, L) bool: labels Accept would save
    below_threshold: np.ndarray = field(init=False)  # (N,) bool
    confidence: np.ndarray = field(init=False)  # (N,)
    top: np.ndarray = field(init=False)  # (N,) int, -1 when not covered
    uncertainty: np.ndarray = field(init=False)  # (N,)
    disagreement: np.ndarray = field(init=False)  # (N,)

    def __post_init__(self) -> None:
        n_docs, n_labels = len(self.document_ids), len(self.labels)
        self.scores = np.asarray(self.scores, dtype=float).reshape(
            len(self.techniques), n_docs, n_labels
        )
        self.present = np.asarray(self.present, dtype=bool).reshape(len(self.techniques), n_docs)
        self.ensemble, self.covered = combine_arrays(
            self.scores, self.present, self.techniques, self.combination, self.multi_label
        )
        self.thresholds = self.combination.threshold_vector(self.labels, self.threshold)
        self.suggested, self.below_threshold = decide(
            self.ensemble, self.covered, multi_label=self.multi_label, thresholds=self.thresholds
        )
        self.confidence = np.where(self.covered, self.ensemble.max(axis=1, initial=0.0), 0.0)
        self.top = (
            np.where(self.covered, self.ensemble.argmax(axis=1), -1)
            if n_labels
            else np.full(n_docs, -1)
        )
        self.uncertainty = uncertainty(
            self.ensemble,
            multi_label=self.multi_label,
            thresholds=self.thresholds,
            covered=self.covered,
        )
        self.disagreement = disagreement(
            self.scores,
            self.present,
            self.suggested,
            multi_label=self.multi_label,
            threshold=self.threshold,
        )
        self._index = {doc_id: i for i, doc_id in enumerate(self.document_ids)}

    def index_of(self, document_id: str) -> int:
        return self._index[document_id]

    def indices(self, document_ids: Sequence[str]) -> np.ndarray:
        """Positions of `document_ids` (each must be in the table)."""
        return np.fromiter((self._index[d] for d in document_ids), dtype=np.int64)

    def mask(self, document_ids) -> np.ndarray:
        """(N,) bool: True for the documents of `document_ids` that are in the table."""
        out = np.zeros(len(self.document_ids), dtype=bool)
        for doc_id in document_ids:
            i = self._index.get(doc_id)
            if i is not None:
                out[i] = True
        return out

    def __contains__(self, document_id: str) -> bool:
        return document_id in self._index

    def __len__(self) -> int:
        return len(self.document_ids)

    def suggested_labels(self, i: int) -> tuple[str, ...]:
        return tuple(self.labels[j] for j in np.flatnonzero(self.suggested[i]))

    def suggestion(self, i: int) -> Suggestion:
        return Suggestion(
            document_id=self.document_ids[i],
            labels=self.suggested_labels(i),
            below_threshold=bool(self.below_threshold[i]),
            confidence=float(self.confidence[i]),
            ensemble=self._scores_dict(self.ensemble[i]) if self.covered[i] else None,
            techniques={
                name: self._scores_dict(self.scores[t, i]) if self.present[t, i] else None
                for t, name in enumerate(self.techniques)
            },
            uncertainty=float(self.uncertainty[i]),
            disagreement=float(self.disagreement[i]),
            version=self.version,
            cache_keys=dict(self.cache_keys),
        )

    def suggestion_for(self, document_id: str) -> Suggestion:
        return self.suggestion(self._index[document_id])

    def _scores_dict(self, row: np.ndarray) -> dict[str, float]:
        return {name: float(value) for name, value in zip(self.labels, row)}

    def technique_rows(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(len(names), N, L) scores and (len(names), N) present of these techniques."""
        positions = [self.techniques.index(name) for name in names]
        return self.scores[positions], self.present[positions]


# --- from the store ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """How many documents have a suggestion, and how many each technique voted on."""

    n_documents: int
    n_suggested: int  # some technique voted, so the Review page has a suggestion
    votes: dict[str, int]  # technique -> documents it scored (did not abstain on)

    @property
    def nothing_suggested(self) -> bool:
        return self.n_documents > 0 and self.n_suggested == 0

    def summary(self) -> str:
        if self.nothing_suggested:
            return (
                "no suggestion for any document: every technique abstained everywhere. rules "
                "and lexicon need patterns and keywords in the taxonomy; embeddings (or "
                "zero_shot) need only the label names, e.g. `-t embeddings`."
            )
        voted = ", ".join(f"{name} on {count:,}" for name, count in self.votes.items())
        return f"{self.n_suggested:,} of {self.n_documents:,} documents have a suggestion" + (
            f" (votes: {voted})" if voted else ""
        )


def suggestion_coverage(table: PredictionTable) -> Coverage:
    return Coverage(
        n_documents=len(table),
        n_suggested=int(table.covered.sum()),
        votes={name: int(table.present[t].sum()) for t, name in enumerate(table.techniques)},
    )


def latest_results(
    store: SiftStore, project_id: int, document_ids: Sequence[str] | None = None
) -> dict[str, dict[str, TextResult]]:
    """technique -> document_id -> TextResult (scores, evidence, summary) of the runs the
    prediction table reads: each technique's latest run, and the current configuration's
    supervised run."""
    out: dict[str, dict[str, TextResult]] = {}
    for technique, key in current_cache_keys(store, project_id).items():
        rows = store.get_predictions(project_id, key, document_ids)
        out[technique] = {doc_id: TextResult.from_json(row) for doc_id, row in rows.items()}
    return out


_UNREAD = object()


def current_cache_keys(store: SiftStore, project_id: int, version: Any = _UNREAD) -> dict[str, str]:
    """technique -> the cache key whose predictions are current: each technique's latest run,
    except that the supervised technique's are the current learned configuration's (and
    none before one is adopted). `version`: the current configuration (or None), when the
    caller has already read it."""
    keys = {
        name: key
        for name, key in store.latest_cache_keys(project_id).items()
        if name != ENSEMBLE and name not in LEARNED
    }
    if version is _UNREAD:
        version = store.current_model_version(project_id)
    if version is not None:
        keys.update(version.config.get("learned_cache_keys") or {})
    return dict(sorted(keys.items()))


def load_predictions(store: SiftStore, project_id: int) -> PredictionTable:
    """Every document with the current scores of every technique (one query per technique),
    combined by the current learned configuration."""
    settings = project_settings(store.get_project(project_id))
    labels = store.load_taxonomy(project_id).names
    document_ids = store.document_ids(project_id)
    index = {doc_id: i for i, doc_id in enumerate(document_ids)}
    version = store.current_model_version(project_id)
    cache_keys = current_cache_keys(store, project_id, version)
    techniques = list(cache_keys)
    scores = np.zeros((len(techniques), len(document_ids), len(labels)))
    present = np.zeros((len(techniques), len(document_ids)), dtype=bool)
    for t, name in enumerate(techniques):
        for doc_id, doc_scores in store.get_scores(project_id, cache_keys[name]).items():
            i = index.get(doc_id)
            if i is None or doc_scores is None:
                continue
            present[t, i] = True
            scores[t, i] = [float(doc_scores.get(label, 0.0)) for label in labels]
    return PredictionTable(
        document_ids=document_ids,
        labels=labels,
        techniques=techniques,
        scores=scores,
        present=present,
        multi_label=bool(settings["multi_label"]),
        threshold=float(settings["threshold"]),
        combination=Combination.from_json(version.config.get("combination")) if version else EQUAL,
        version=version.id if version else None,
        cache_keys=cache_keys,
    )


def table_signature(store: SiftStore, project_id: int) -> tuple:
    """Changes whenever `load_predictions` would return something else (a few small queries):
    new documents, a new run, a new learned configuration, changed settings or labels."""
    settings = project_settings(store.get_project(project_id))
    version = store.current_model_version(project_id)
    return (
        project_id,
        store.count_documents(project_id),
        tuple(current_cache_keys(store, project_id, version).items()),
        version.id if version else None,
        bool(settings["multi_label"]),
        float(settings["threshold"]),
        tuple(store.load_taxonomy(project_id).names),
    )


__all__ = [
    "DEFAULT_THRESHOLD",
    "ENSEMBLE",
    "EQUAL",
    "LEARNED",
    "MIN_WEIGHT",
    "SUPERVISED",
    "Combination",
    "PredictionTable",
    "Suggestion",
    "calibrate",
    "combine",
    "combine_arrays",
    "current_cache_keys",
    "decide",
    "disagreement",
    "latest_results",
    "load_predictions",
    "project_settings",
    "shown_payload",
    "table_signature",
    "technique_decisions",
    "uncertainty",
]
