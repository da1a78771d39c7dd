"""Keyword suggestions learned from reviewed documents, for one-click adding to the taxonomy.

For each label, candidate words and two-word phrases (scikit-learn's CountVectorizer,
document presence) are ranked by how well they pick out that label's reviewed documents
from the others: the lower Wilson bound of their precision (so 9 of 10 beats 1 of 1),
then support. Candidates that are stop words at either end, numbers, or already covered
by the label's keywords (any inflection the lexicon would match) are left out.

The precision and support reported are re-measured with the lexicon's own matcher
(`core.textmatch.KeywordMatcher`: case- and inflection-tolerant), so they say what adding
the keyword would actually do on the reviewed documents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from core.taxonomy import Keyword, Taxonomy, validate
from core.textmatch import KeywordMatcher, match_key, term_forms

WILSON_Z = 1.64  # one-sided 95% lower bound
_TOKEN_PATTERN = r"(?u)\b[^\W\d_]\w+\b"  # noqa: S105 -- words of 2+ characters starting with a letter


@dataclass(frozen=True)
class RuleSuggestion:
    label: str
    term: str  # a word or two-word phrase, lower case
    precision: float  # share of reviewed documents it matches that carry `label`
    support: int  # reviewed documents with `label` that it matches
    n_matched: int  # reviewed documents it matches, any label
    recall: float  # support / reviewed documents with `label`


def wilson_lower_bound(successes: int, trials: int, z: float = WILSON_Z) -> float:
    """Lower bound of the Wilson score interval of a proportion; 0.0 without trials."""
    if trials == 0:
        return 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    # With no successes the bound is 0 exactly; rounding can leave -1e-18, which is not a
    # proportion.
    return max(0.0, (centre - margin) / denominator)


def covered_forms(taxonomy: Taxonomy, label: str) -> set[str]:
    """match keys of every surface form the label's keywords already match."""
    return {
        match_key(form) for keyword in taxonomy[label].keywords for form in term_forms(keyword.term)
    }


def _stop_edged(term: str) -> bool:
    words = term.split()
    return words[0] in ENGLISH_STOP_WORDS or words[-1] in ENGLISH_STOP_WORDS


def _matches(term: str, texts: Sequence[str]) -> np.ndarray:
    """(n,) bool: texts where the lexicon would match `term`."""
    matcher = KeywordMatcher([(0, term)])
    return np.fromiter(
        (next(matcher.finditer(text), None) is not None for text in texts),
        dtype=bool,
        count=len(texts),
    )


def suggest_keywords(
    texts: Sequence[str],
    labels: Sequence[Sequence[str]],
    taxonomy: Taxonomy,
    *,
    only_label: str | None = None,
    top_k: int = 10,
    min_support: int = 2,
    min_precision: float = 0.6,
    ngram_range: tuple[int, int] = (1, 2),
    shortlist: int = 40,
) -> dict[str, list[RuleSuggestion]]:
    """Reviewed texts and their labels -> label -> up to `top_k` suggestions, best first.

    Up to `4 * shortlist` candidates per label (ranked on exact n-gram presence) are
    re-measured with the lexicon's matcher; those under `min_support` or `min_precision` are
    dropped, and ranking stops after `shortlist` have passed.
    """
    if len(texts) != len(labels):
        raise ValueError(f"got {len(texts)} texts but {len(labels)} label lists; pass one per text")
    names = taxonomy.names if only_label is None else [only_label]
    if only_label is not None:
        taxonomy[only_label]  # KeyError naming the labels when absent
    out: dict[str, list[RuleSuggestion]] = {name: [] for name in names}
    if not texts:
        return out
    vectorizer = CountVectorizer(
        ngram_range=ngram_range, binary=True, lowercase=True, token_pattern=_TOKEN_PATTERN
    )
    try:
        present = vectorizer.fit_transform(texts).tocsc()  # (n_texts, n_terms) 0/1
    except ValueError:  # no words at all in the texts
        return out
    vocabulary = vectorizer.get_feature_names_out()
    matched = np.asarray(present.sum(axis=0)).ravel()  # (n_terms,) texts containing each term
    for name in names:
        has_label = np.array([name in items for items in labels], dtype=bool)
        n_label = int(has_label.sum())
        if n_label == 0:
            continue
        hits = np.asarray(present[has_label].sum(axis=0)).ravel()  # (n_terms,)
        # exact n-grams with any hit are candidates: inflections are counted on re-measuring
        candidates = np.flatnonzero(hits >= 1)
        bounds = np.array([wilson_lower_bound(int(hits[j]), int(matched[j])) for j in candidates])
        ranked: np.ndarray | list[int] = (
            candidates[np.lexsort((-hits[candidates], -bounds))] if len(candidates) else []
        )
        covered = covered_forms(taxonomy, name)
        suggestions = []
        for j in ranked[: 4 * shortlist]:
            term = str(vocabulary[j])
            if _stop_edged(term) or match_key(term) in covered:
                continue
            found = _matches(term, texts)
            support, n_matched = int((found & has_label).sum()), int(found.sum())
            precision = support / n_matched if n_matched else 0.0
            if support >= min_support and precision >= min_precision:
                suggestions.append(
                    RuleSuggestion(
                        label=name,
                        term=term,
                        precision=precision,
                        support=support,
                        n_matched=n_matched,
                        recall=support / n_label,
                    )
                )
            if len(suggestions) >= shortlist:
                break
        suggestions.sort(
            key=lambda s: (-wilson_lower_bound(s.support, s.n_matched), -s.support, s.term)
        )
        out[name] = suggestions[:top_k]
    return out


def suggest_for_project(
    store, project_id: int, *, only_label: str | None = None, **options
) -> dict[str, list[RuleSuggestion]]:
    """Suggestions from the project's current reviews (see `suggest_keywords` for options)."""
    reviews = {doc: review for doc, review in store.current_reviews(project_id).items()}
    documents = store.get_documents(project_id, list(reviews)) if reviews else []
    return suggest_keywords(
        [doc.text for doc in documents],
        [list(reviews[doc.id].labels) for doc in documents],
        store.load_taxonomy(project_id),
        only_label=only_label,
        **options,
    )


def apply_suggestion(taxonomy: Taxonomy, label: str, term: str, weight: float = 1.0) -> Taxonomy:
    """A copy of `taxonomy` with `term` added to `label`'s keywords (validated); unchanged when
    the label's keywords already match it."""
    current = taxonomy[label]  # KeyError naming the labels when absent
    cleaned = " ".join(term.split())
    if not cleaned:
        raise ValueError(f"label {label!r}: the suggested keyword is empty; pick a word or phrase")
    if match_key(cleaned) in covered_forms(taxonomy, label):
        return taxonomy
    updated = taxonomy.replace_label(
        label, replace(current, keywords=(*current.keywords, Keyword(cleaned, weight)))
    )
    validate(updated)
    return updated


__all__ = [
    "RuleSuggestion",
    "apply_suggestion",
    "covered_forms",
    "suggest_for_project",
    "suggest_keywords",
    "wilson_lower_bound",
]
