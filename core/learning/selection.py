"""Active learning: which documents a reviewer should label next (pure functions on arrays).

N documents, L labels, T techniques. A batch of the "most needed" order is

1. coverage picks: every label with fewer than COVERAGE_TARGET reviews gets, in turn
   (labels with fewest reviews first), the unreviewed document the current model finds
   most likely to carry it. A label is given up after MAX_FIRST_EXAMPLE_ATTEMPTS such picks
   came back as other labels while it has no review (it may have no documents at all), or
   MAX_COVERAGE_ATTEMPTS while it seeks its second. So no label is starved: a rare
   class or a topic the zero-shot prior misreads is met early, and the supervised model
   learns every label from the start. Two per label, because one example shows the model
   the label and a second shows it how the label varies (and lets cross-fitting hold one
   out); with a rare class, plain uncertainty sampling can take dozens of reviews to
   find that second one;
2. the rest by priority, picked greedily for diversity:
   - uncertainty of the current suggestion (`core.predictions.uncertainty`), in [0, 1];
   - disagreement of the techniques with it (`core.predictions.disagreement`), in [0, 1];
   - label balance: 1 - L * (p . s) for a document's label distribution p and the reviews'
     label shares s, in [-1, 1]: documents likely in labels with few reviews come sooner;
   - priority = uncertainty + DISAGREEMENT_WEIGHT * disagreement + BALANCE_WEIGHT * balance;
   - diversity: documents are picked greedily from the `window` highest-priority
     candidates, each pick's priority lowered by REDUNDANCY times its cosine similarity to
     the most similar document already picked (maximal marginal relevance), so a batch is
     not ten near-duplicates of one confusing email.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DISAGREEMENT_WEIGHT = 0.5
BALANCE_WEIGHT = 0.5  # priority for documents likely in labels with few reviews so far
REDUNDANCY = 0.5  # priority lost per unit of cosine similarity to an already-picked document
WINDOW = 10  # candidates considered per pick: WINDOW * batch size (at least MIN_WINDOW)
MIN_WINDOW = 50
COVERAGE_TARGET = 2  # reviews per label sought before anything else
MAX_COVERAGE_ATTEMPTS = 5  # coverage picks for one label that may miss before it is given up
# ... while it has no review at all: a label's first example matters most (without it the
# label is never learned), and a miss still reviews a document of another label
MAX_FIRST_EXAMPLE_ATTEMPTS = 10
COVERAGE_WINDOW = 20  # a coverage pick is one of the label's this-many likeliest candidates
COVERAGE_MARGIN = 0.05  # ... each within this much probability of the likeliest


def label_balance(probabilities: np.ndarray, label_counts: np.ndarray | None) -> np.ndarray:
    """(N,) in [-1, 1]: how under-reviewed a document's likely labels are.

    label_counts (L,): reviewed documents per label so far. With the reviews' label shares
    s and a document's label distribution p (its probabilities, normalised to sum 1), the
    value is 1 - L * (p . s), clipped: 0 when the document's labels have had their fair
    share (1/L) of reviews, up to 1 when none, negative when they have had more.
    All zeros before any review."""
    probabilities = np.asarray(probabilities, dtype=float)
    n_docs, n_labels = probabilities.shape
    if label_counts is None or n_labels == 0:
        return np.zeros(n_docs)
    counts = np.asarray(label_counts, dtype=float).reshape(n_labels)
    if counts.sum() <= 0:
        return np.zeros(n_docs)
    share = counts / counts.sum()
    totals = probabilities.sum(axis=1, keepdims=True)
    distribution = np.divide(
        probabilities, totals, out=np.full_like(probabilities, 1.0 / n_labels), where=totals > 0
    )
    return np.clip(1.0 - n_labels * (distribution @ share), -1.0, 1.0)


def priority(
    uncertainty: np.ndarray,
    disagreement: np.ndarray,
    probabilities: np.ndarray,
    label_counts: np.ndarray | None = None,
    *,
    disagreement_weight: float = DISAGREEMENT_WEIGHT,
    balance_weight: float = BALANCE_WEIGHT,
) -> np.ndarray:
    """(N,) uncertainty + disagreement_weight * disagreement + balance_weight * label_balance:
    higher = review sooner."""
    value = np.asarray(uncertainty, dtype=float) + disagreement_weight * np.asarray(
        disagreement, dtype=float
    )
    if label_counts is not None and balance_weight:
        value = value + balance_weight * label_balance(probabilities, label_counts)
    return value


def needy_labels(label_counts: np.ndarray, attempts: np.ndarray, k: int) -> list[int]:
    """Up to k label indices that coverage still seeks: fewer than COVERAGE_TARGET reviews and
    fewer than MAX_COVERAGE_ATTEMPTS misses; fewest reviews, then attempts, then taxonomy
    order first."""
    counts, tries = np.asarray(label_counts), np.asarray(attempts)
    needy = [
        j
        for j in range(len(counts))
        if counts[j] < COVERAGE_TARGET
        and tries[j] < (MAX_FIRST_EXAMPLE_ATTEMPTS if counts[j] == 0 else MAX_COVERAGE_ATTEMPTS)
    ]
    needy.sort(key=lambda j: (counts[j], tries[j], j))
    return needy[: max(k, 0)]


def coverage_picks(
    probabilities: np.ndarray,
    candidates: np.ndarray,
    label_counts: np.ndarray,
    attempts: np.ndarray,
    k: int,
    *,
    embeddings: np.ndarray | None = None,
    examples: dict[int, list[int]] | None = None,
) -> list[tuple[int, int]]:
    """Up to k (document index, label index) pairs: for each of `needy_labels`, among the
    candidates about as likely to carry it as the likeliest one (within COVERAGE_MARGIN, at
    most COVERAGE_WINDOW of them), the one least like its reviewed `examples` (label index
    -> document indices) and the picks before it (maximal marginal relevance over
    `embeddings`; without them, simply the most likely)."""
    probabilities = np.asarray(probabilities, dtype=float)
    available = np.asarray(candidates, dtype=bool).copy()
    picks: list[tuple[int, int]] = []
    for j in needy_labels(label_counts, attempts, k):
        if not available.any():
            break
        likely = np.where(available, probabilities[:, j], -np.inf)
        close = available & (likely >= likely.max() - COVERAGE_MARGIN)
        known = list((examples or {}).get(j, [])) + [i for i, _ in picks]
        (i,) = select_batch(
            probabilities[:, j],
            embeddings,
            1,
            candidates=close,
            already_selected=known,
            window=COVERAGE_WINDOW,
        )
        picks.append((int(i), j))
        available[i] = False
    return picks


def coverage_window(probabilities: np.ndarray, candidates: np.ndarray, labels) -> np.ndarray:
    """The candidate indices `coverage_picks` may compare for these labels: only these (and
    the examples) need vectors."""
    allowed = np.flatnonzero(np.asarray(candidates, dtype=bool))
    out = [
        allowed[np.argsort(-probabilities[allowed, j], kind="stable")[:COVERAGE_WINDOW]]
        for j in labels
    ]
    return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def select_batch(
    priorities: np.ndarray,
    embeddings: np.ndarray | None,
    k: int,
    *,
    candidates: np.ndarray | None = None,
    already_selected: Sequence[int] = (),
    window: int | None = None,
    redundancy: float = REDUNDANCY,
) -> np.ndarray:
    """Indices of `k` documents to review next, best first.

    priorities: (N,); embeddings: (N, D) (any scale: rows are normalised) or None for no
    diversity; candidates: (N,) bool, documents that may be picked (default all);
    already_selected: indices picked before (e.g. this batch's coverage picks) that new
    picks should neither repeat nor resemble. Greedy maximal marginal relevance over the
    top `window` candidates (default max(WINDOW * k, MIN_WINDOW)); ties go to the lower index.
    """
    priorities = np.asarray(priorities, dtype=float)
    n_docs = priorities.shape[0]
    allowed = np.ones(n_docs, dtype=bool) if candidates is None else np.asarray(candidates, bool)
    allowed = allowed.copy()
    allowed[list(already_selected)] = False
    pool = np.flatnonzero(allowed)
    k = min(int(k), len(pool))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    ranked = pool[np.lexsort((pool, -priorities[pool]))]
    if embeddings is None or redundancy <= 0:
        return ranked[:k]
    window = max(WINDOW * k, MIN_WINDOW) if window is None else max(int(window), k)
    head = ranked[:window]
    vectors = _unit_rows(np.asarray(embeddings)[head])  # (W, D)
    nearest = np.zeros(len(head))  # highest cosine similarity to anything picked so far
    if len(already_selected):
        previous = _unit_rows(np.asarray(embeddings)[list(already_selected)])
        nearest = np.clip((vectors @ previous.T).max(axis=1), 0.0, None)
    taken = np.zeros(len(head), dtype=bool)
    picks = []
    for _ in range(k):
        gain = np.where(taken, -np.inf, priorities[head] - redundancy * nearest)
        best = int(np.argmax(gain))  # first maximum: head is in priority order
        picks.append(head[best])
        taken[best] = True
        nearest = np.maximum(nearest, np.clip(vectors @ vectors[best], 0.0, None))
    return np.asarray(picks, dtype=np.int64)


def diversity_window(priorities: np.ndarray, candidates: np.ndarray | None, k: int) -> np.ndarray:
    """The candidate indices `select_batch` compares by embedding for a batch of k (the
    highest priorities, max(WINDOW * k, MIN_WINDOW) of them): only these need vectors."""
    scores = np.asarray(priorities, dtype=float)
    allowed = np.ones(len(scores), dtype=bool) if candidates is None else np.asarray(candidates)
    pool = np.flatnonzero(allowed)
    return pool[np.lexsort((pool, -scores[pool]))][: max(WINDOW * k, MIN_WINDOW)]


__all__ = [
    "BALANCE_WEIGHT",
    "COVERAGE_TARGET",
    "DISAGREEMENT_WEIGHT",
    "MAX_COVERAGE_ATTEMPTS",
    "REDUNDANCY",
    "coverage_picks",
    "coverage_window",
    "needy_labels",
    "diversity_window",
    "label_balance",
    "priority",
    "select_batch",
]
