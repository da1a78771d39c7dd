"""lexicon: weighted keywords and phrases per label, case- and inflection-tolerant.

Keywords match case-insensitively on word boundaries, with regular English
inflections of the (last) word: plural/3rd person (-s, -es, -ies), -ing and
-ed (with doubled consonant or dropped e: ship -> shipped, charge -> charging)
and possessive 's. Words of a phrase may be separated by any whitespace or a
hyphen ("shipping delay" matches "Shipping\\n delays" and "shipping-delay").
Write keywords in their base form: inflections are generated forwards only.
All keywords of a taxonomy form one compiled regex (`core.textmatch`), cached
per taxonomy; where keywords overlap the longest match wins.

Scoring, per text with `n` word tokens:

* Evidence of a label: `E = sum_k w_k * sqrt(c_k) / log2(2 + n / 50)` over its
  distinct keywords k that matched `c_k` times, `w_k` being the keyword weight.
  sqrt gives diminishing returns for repeats; the length divisor is weak
  (1 for short texts, about 9.5 for 200 KB), so a short text dominated by a
  keyword beats a long text with one passing mention, while appending text
  that is at least as dense in keywords never lowers E (sqrt of a count grows
  faster than the log of the length).
* Multi-label: `score = E / (E + scale)`, 0 without evidence, 0.5 at E = scale.
  It approaches 1 without ever reaching it in floating point (unlike
  1 - exp(-E)), so even very long, very dense texts keep their ranking.
* Single-label: `E` divided by the sum of all labels' E (sums to 1).
* No keyword of any label matched: abstain (`scores=None`).

Evidence: one Span(kind="keyword", label, detail=keyword term) per match, at
most `max_spans_per_keyword` per keyword and text (all matches still count).
"""

from __future__ import annotations

import math
from functools import lru_cache

from core.taxonomy import Keyword, Taxonomy
from core.techniques import register
from core.techniques.base import Span, Technique, TextResult
from core.textmatch import KeywordHit, KeywordMatcher, count_tokens, match_key

LENGTH_UNIT = 50  # tokens; texts up to about this long are not length-penalised


@register
class Lexicon(Technique):
    name = "lexicon"
    description = "Weighted keywords and phrases per label, case- and inflection-tolerant."

    def __init__(
        self,
        *,
        multi_label: bool = False,
        scale: float = 1.0,  # evidence at which a multi-label score is 0.5
        max_spans_per_keyword: int = 100,
    ) -> None:
        if not scale > 0:
            raise ValueError(f"scale must be a positive number, not {scale}")
        super().__init__(
            multi_label=multi_label, scale=scale, max_spans_per_keyword=max_spans_per_keyword
        )

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        matcher = keyword_matcher(_keyword_spec(taxonomy))
        return [self._predict_one(text, taxonomy, matcher) for text in texts]

    def _predict_one(self, text: str, taxonomy: Taxonomy, matcher: KeywordMatcher) -> TextResult:
        keywords = {label.name: label.keywords for label in taxonomy.labels}
        counts: dict[tuple[str, int], int] = {}  # (label, keyword index) -> matches
        evidence: list[Span] = []
        limit = self.options["max_spans_per_keyword"]
        for hit in matcher.finditer(text):
            for label, keyword_index in _one_keyword_per_label(hit, text, keywords):
                key = (label, keyword_index)
                counts[key] = counts.get(key, 0) + 1
                if counts[key] <= limit:
                    term = keywords[label][keyword_index].term
                    evidence.append(Span(hit.start, hit.end, "keyword", label, term))
        if not counts:
            return TextResult(scores=None)
        evidence_by_label = label_evidence(counts, taxonomy, count_tokens(text))
        if self.multi_label:
            scale = self.options["scale"]
            scores = {name: value / (value + scale) for name, value in evidence_by_label.items()}
        else:
            total = sum(evidence_by_label.values())
            scores = {name: value / total for name, value in evidence_by_label.items()}
        return TextResult(scores=scores, evidence=evidence)


def _one_keyword_per_label(
    hit: KeywordHit, text: str, keywords: dict[str, tuple[Keyword, ...]]
) -> list[tuple[str, int]]:
    """The (label, keyword index) a hit counts for: one per label, so "ships" does not count
    twice for a label listing both "ship" and "ships" (the keyword written as matched wins)."""
    chosen: dict[str, int] = {}
    matched = match_key(text[hit.start : hit.end])
    for label, keyword_index in hit.keys:
        if label not in chosen:
            chosen[label] = keyword_index
        elif match_key(keywords[label][keyword_index].term) == matched:
            chosen[label] = keyword_index
    return list(chosen.items())


def label_evidence(
    counts: dict[tuple[str, int], int], taxonomy: Taxonomy, tokens: int
) -> dict[str, float]:
    """(label, keyword index) -> match count  ->  label -> evidence E (see module docstring)."""
    length_divisor = math.log2(2 + tokens / LENGTH_UNIT)
    evidence = dict.fromkeys(taxonomy.names, 0.0)
    for (label, keyword_index), count in counts.items():
        weight = taxonomy[label].keywords[keyword_index].weight
        evidence[label] += weight * math.sqrt(count) / length_divisor
    return evidence


def _keyword_spec(taxonomy: Taxonomy) -> tuple[tuple[str, tuple[Keyword, ...]], ...]:
    """Hashable (label, keywords) pairs: the matcher cache key."""
    return tuple((label.name, label.keywords) for label in taxonomy.labels if label.keywords)


@lru_cache(maxsize=32)
def keyword_matcher(spec: tuple[tuple[str, tuple[Keyword, ...]], ...]) -> KeywordMatcher:
    """One matcher for every keyword of a taxonomy; hit keys are (label, keyword index)."""
    entries = []
    for label, keywords in spec:
        seen: set[str] = set()
        for index, keyword in enumerate(keywords):
            folded = " ".join(keyword.term.casefold().split())
            if folded and folded not in seen:  # a term listed twice counts once
                seen.add(folded)
                entries.append(((label, index), keyword.term))
    return KeywordMatcher(entries)
