"""The guard: a learned candidate replaces what a project shows only if it is no worse.

Three configurations are scored on the same reviewed documents, every one out of sample,
document by document (`core.evaluation.metrics.suggestion_scores`: accuracy and macro-F1 of the
suggestions):

- the candidate, cross-fitted: each document's row comes from the fold that did not see
  its label;
- the current configuration: the out-of-fold rows stored with it for the documents it
  learned from, and its live suggestions for documents reviewed since (it never saw those
  labels: they are what the reviewers were shown);
- the baseline: the equal-weight ensemble of the techniques that learn nothing, what the
  project showed with zero reviews.

The current configuration's rows come from models trained on somewhat different numbers of
reviews than the candidate's folds (its folds saw 4/5 of fewer reviews; its live model saw
all of them, against the candidate folds' 4/5 of more): a few percent either way at the
default 10% growth between candidates, well inside the noise the rule below allows for.

The candidate is refused when, against either of the other two, on accuracy or on
macro-F1, it is worse by more than TOLERANCE *and* by more than Z standard errors of the
paired difference (accuracy: sqrt(discordant documents) / n, as McNemar's test has it;
macro-F1: BOOTSTRAP paired resamples of the documents). Why both: the reviewed documents
are a small, hard sample (the queue picks uncertain ones), so two equally good
configurations differ by a document or two -- at 20 reviews one document is five points.
A fixed tolerance small enough to protect users at hundreds of reviews would refuse every
such tie early on and freeze the project on its first model; a noise-scaled one alone
would let a measurable one-point loss through at thousands. One point is what the
review-loop bench allows a configuration to lose against zero reviews on unseen documents;
one standard error (about 84% one-sided confidence that the candidate is really worse) is
where a refusal stops being a coin toss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.evaluation.metrics import Scores, suggestion_scores

TOLERANCE = 0.01
Z = 1.0
BOOTSTRAP = 100
METRICS = ("accuracy", "macro_f1")
METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1"}


@dataclass(frozen=True)
class Rows:
    """One configuration's out-of-sample suggestions on the reviewed documents."""

    suggested: np.ndarray  # (n, L) bool
    probabilities: np.ndarray  # (n, L)

    def scores(self, truth: np.ndarray, multi_label: bool) -> Scores:
        return suggestion_scores(self.suggested, self.probabilities, truth, multi_label=multi_label)


@dataclass(frozen=True)
class Verdict:
    adopt: bool
    reason: str  # one sentence for the Review caption, Evaluate and the CLI


@dataclass(frozen=True)
class Difference:
    metric: str
    mine: float
    theirs: float
    standard_error: float

    @property
    def worse(self) -> bool:
        gap = self.theirs - self.mine - 1e-9  # a difference of exactly the bound is a tie
        return gap > TOLERANCE and gap > Z * self.standard_error


def paired_differences(
    candidate: Rows, other: Rows, truth: np.ndarray, *, multi_label: bool, seed: int = 0
) -> list[Difference]:
    """Accuracy and macro-F1 of `candidate` and `other` on the same documents, with the
    standard error of each paired difference."""
    n = len(truth)
    mine, theirs = candidate.scores(truth, multi_label), other.scores(truth, multi_label)
    # Accuracy: McNemar's view of the paired difference; only the documents where exactly
    # one of the two is right carry information, and their count sets the noise.
    right_mine = _correct(candidate.suggested, truth, multi_label)
    right_theirs = _correct(other.suggested, truth, multi_label)
    discordant = int((right_mine != right_theirs).sum())
    accuracy_se = np.sqrt(discordant) / n if n else 1.0
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(BOOTSTRAP if n > 1 else 0):
        sample = rng.integers(0, n, n)
        a = suggestion_scores(
            candidate.suggested[sample],
            candidate.probabilities[sample],
            truth[sample],
            multi_label=multi_label,
        )
        b = suggestion_scores(
            other.suggested[sample],
            other.probabilities[sample],
            truth[sample],
            multi_label=multi_label,
        )
        gaps.append(a.macro_f1 - b.macro_f1)
    f1_se = float(np.std(gaps, ddof=1)) if len(gaps) > 1 else 1.0
    return [
        Difference("accuracy", mine.accuracy, theirs.accuracy, accuracy_se),
        Difference("macro_f1", mine.macro_f1, theirs.macro_f1, f1_se),
    ]


def _correct(suggested: np.ndarray, truth: np.ndarray, multi_label: bool) -> np.ndarray:
    """(n,) 1.0 where the suggestion is right (the top label; the exact set, multi-label)."""
    if multi_label:
        return (suggested == truth).all(axis=1).astype(float)
    return (suggested & truth).any(axis=1).astype(float)


def judge(
    candidate: Rows,
    current: Rows,
    baseline: Rows,
    truth: np.ndarray,
    *,
    multi_label: bool,
    current_name: str = "the current suggestions",
    pinned: str | None = None,
) -> Verdict:
    """Adopt `candidate` unless it is measurably worse (see the module docstring) than
    `baseline` or `current` on accuracy or macro-F1; `pinned` names a pin that forbids any
    change."""
    summary = _summary(candidate.scores(truth, multi_label))
    if pinned:
        return Verdict(False, f"not adopted: the project is pinned to {pinned} ({summary})")
    for other, name in ((baseline, "the zero-review baseline"), (current, current_name)):
        for difference in paired_differences(candidate, other, truth, multi_label=multi_label):
            if difference.worse:
                return Verdict(
                    False,
                    f"not adopted: out-of-fold {METRIC_NAMES[difference.metric]} "
                    f"{difference.mine:.3f} is below {name}'s {difference.theirs:.3f} on the "
                    f"same {len(truth)} reviewed documents (by more than {TOLERANCE:.2f} and "
                    f"{Z:g} standard error, {difference.standard_error:.3f})",
                )
    return Verdict(
        True,
        f"adopted: {summary}, vs {_summary(current.scores(truth, multi_label))} for "
        f"{current_name} and {_summary(baseline.scores(truth, multi_label))} for the "
        f"zero-review baseline (out of fold, {len(truth)} reviewed documents)",
    )


def _summary(scores: Scores) -> str:
    return f"accuracy {scores.accuracy:.3f}, macro-F1 {scores.macro_f1:.3f}"
