"""Per-technique diagnostics, in the shape of Snorkel's labeling-function analysis.

For every technique (the ensemble excluded: it is what is being diagnosed):

- coverage: share of the documents the technique did not abstain on;
- overlap: share of the documents where it and at least one other technique voted;
- conflict: share of the documents where it voted and at least one other voting
  technique decided differently (top label, or label set when multi-label);
- accuracy, macro-F1 and expected calibration error against reviewed labels,
  on the reviewed documents it covered (`core.evaluation.metrics`: a learned technique out of fold);

and for evidence-producing techniques (rules, lexicon) the track record of each
pattern or keyword: on how many reviewed documents it fired for a label, how often
that label was right, and which documents it was wrong on — the rules to fix first.

All shares use the same denominator, the documents considered (Snorkel's choice),
so coverage >= overlap >= conflict always holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.evaluation.metrics import Evaluation, evaluate, evaluate_table, truth_labels
from core.predictions import (
    ENSEMBLE,
    latest_results,
    load_predictions,
    project_settings,
    technique_decisions,
)
from core.techniques.base import TextResult

EVIDENCE_KINDS = ("rule", "keyword")  # span kinds that carry a pattern/keyword for a label


@dataclass(frozen=True)
class TechniqueDiagnostics:
    technique: str
    n_documents: int  # documents considered (denominator of the three shares)
    coverage: float  # voted (did not abstain)
    overlap: float  # voted, and at least one other technique voted too
    conflict: float  # voted, and at least one other voting technique decided differently
    n_truth: int  # reviewed documents
    n_covered_truth: int  # reviewed documents it voted on
    accuracy: float  # on reviewed documents it voted on; 0.0 when there are none
    macro_f1: float
    ece: float  # expected calibration error of its top score (per-label scores if multi-label)


@dataclass(frozen=True)
class EvidenceDiagnostics:
    """One pattern or keyword's record on reviewed documents (counted once per document)."""

    technique: str
    kind: str  # "rule" | "keyword"
    label: str  # the label the pattern/keyword is evidence for
    detail: str  # the pattern or keyword as written in the taxonomy
    n_fired: int  # reviewed documents it matched
    n_correct: int  # of those, documents whose reviewed labels include `label`
    wrong_documents: tuple[str, ...]  # the other documents, in document order

    @property
    def n_wrong(self) -> int:
        return self.n_fired - self.n_correct

    @property
    def precision(self) -> float:
        return self.n_correct / self.n_fired if self.n_fired else 0.0


@dataclass(frozen=True)
class ProjectDiagnostics:
    techniques: list[TechniqueDiagnostics]  # in technique-name order
    evidence: list[EvidenceDiagnostics]  # most often wrong first


# --- the arithmetic (pure) --------------------------------------------------------------------


def decisions(
    results: Mapping[str, TextResult], *, multi_label: bool, threshold: float
) -> dict[str, frozenset[str] | None]:
    """document_id -> the labels a technique decided on (None = abstained)."""
    out: dict[str, frozenset[str] | None] = {}
    for doc_id, result in results.items():
        if result.scores is None:
            out[doc_id] = None
            continue
        names = list(result.scores)
        chosen = technique_decisions(
            np.array([result.scores[name] for name in names]), multi_label, threshold
        )
        out[doc_id] = frozenset(name for name, on in zip(names, chosen) if on)
    return out


def coverage_overlap_conflict(
    votes: Mapping[str, Mapping[str, frozenset[str] | None]],
    document_ids: Sequence[str],
) -> dict[str, tuple[float, float, float]]:
    """technique -> document_id -> decision (None = abstain; a missing document abstains too)
    ->  technique -> (coverage, overlap, conflict), shares of `document_ids`."""
    n_documents = len(document_ids)
    out = {}
    for name, own in votes.items():
        others = [other for other_name, other in votes.items() if other_name != name]
        covered = overlapping = conflicting = 0
        for doc_id in document_ids:
            mine = own.get(doc_id)
            if mine is None:
                continue
            covered += 1
            theirs = [other.get(doc_id) for other in others]
            theirs = [decision for decision in theirs if decision is not None]
            if theirs:
                overlapping += 1
                if any(decision != mine for decision in theirs):
                    conflicting += 1
        out[name] = (
            (covered / n_documents, overlapping / n_documents, conflicting / n_documents)
            if n_documents
            else (0.0, 0.0, 0.0)
        )
    return out


def evidence_record(
    per_technique: Mapping[str, Mapping[str, TextResult]],
    truth: Mapping[str, Sequence[str]],
    *,
    kinds: Sequence[str] = EVIDENCE_KINDS,
) -> list[EvidenceDiagnostics]:
    """Each (technique, kind, label, pattern/keyword) that fired on reviewed documents, with
    how often its label was right; most wrong first, then lowest precision, then name."""
    # (technique, kind, label, detail) -> reviewed document ids it fired on, in truth order
    fired: dict[tuple[str, str, str, str], list[str]] = {}
    for technique, results in per_technique.items():
        if technique == ENSEMBLE:
            continue
        for doc_id in truth:
            result = results.get(doc_id)
            if result is None:
                continue
            for span in result.evidence:
                if span.kind not in kinds or span.label is None:
                    continue
                documents = fired.setdefault((technique, span.kind, span.label, span.detail), [])
                if not documents or documents[-1] != doc_id:  # once per document
                    documents.append(doc_id)
    records = []
    for (technique, kind, label, detail), documents in fired.items():
        wrong = tuple(doc_id for doc_id in documents if label not in truth[doc_id])
        records.append(
            EvidenceDiagnostics(
                technique=technique,
                kind=kind,
                label=label,
                detail=detail,
                n_fired=len(documents),
                n_correct=len(documents) - len(wrong),
                wrong_documents=wrong,
            )
        )
    records.sort(key=lambda r: (-r.n_wrong, r.precision, r.technique, r.label, r.detail))
    return records


def diagnose(
    per_technique: Mapping[str, Mapping[str, TextResult]],
    truth: Mapping[str, Sequence[str]],
    labels: list[str],
    *,
    document_ids: Sequence[str] | None = None,
    multi_label: bool = False,
    threshold: float = 0.5,
    evaluations: Mapping[str, Evaluation] | None = None,
) -> ProjectDiagnostics:
    """technique -> document_id -> TextResult, and document_id -> reviewed labels  ->
    diagnostics. `document_ids` (default: every document any technique scored) is the
    denominator of coverage, overlap and conflict; `evaluations` (default: computed from
    `per_technique`) give accuracy, macro-F1 and ECE."""
    components = {name: res for name, res in per_technique.items() if name != ENSEMBLE}
    if document_ids is None:
        seen: dict[str, None] = {}
        for results in components.values():
            seen.update(dict.fromkeys(results))
        document_ids = list(seen)
    votes = {
        name: decisions(results, multi_label=multi_label, threshold=threshold)
        for name, results in components.items()
    }
    shares = coverage_overlap_conflict(votes, document_ids)
    techniques = []
    for name in sorted(components):
        evaluation = (evaluations or {}).get(name) or evaluate(
            name, components[name], truth, labels, multi_label=multi_label, threshold=threshold
        )
        coverage, overlap, conflict = shares[name]
        techniques.append(
            TechniqueDiagnostics(
                technique=name,
                n_documents=len(document_ids),
                coverage=coverage,
                overlap=overlap,
                conflict=conflict,
                n_truth=evaluation.n_truth,
                n_covered_truth=evaluation.n_covered,
                accuracy=evaluation.accuracy,
                macro_f1=evaluation.macro_f1,
                ece=evaluation.ece,
            )
        )
    return ProjectDiagnostics(techniques=techniques, evidence=evidence_record(components, truth))


# --- from the store ---------------------------------------------------------------------------


def diagnose_project(
    store: SiftStore, project_id: int, *, source: str = "reviews"
) -> ProjectDiagnostics:
    """Diagnostics of every technique's latest run over all the project's documents, against
    current reviews (`source="reviews"`) or uploaded gold labels (`source="gold"`)."""
    settings = project_settings(store.get_project(project_id))
    table = load_predictions(store, project_id)
    truth = truth_labels(store, project_id, source)
    return diagnose(
        latest_results(store, project_id),
        truth,
        table.labels,
        document_ids=table.document_ids,
        multi_label=settings["multi_label"],
        threshold=settings["threshold"],
        evaluations=evaluate_table(store, project_id, table, truth) if truth else None,
    )


__all__ = [
    "EvidenceDiagnostics",
    "ProjectDiagnostics",
    "TechniqueDiagnostics",
    "coverage_overlap_conflict",
    "decisions",
    "diagnose",
    "diagnose_project",
    "evidence_record",
]
