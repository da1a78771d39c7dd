"""lexicon: weighted keywords and phrases per label, case- and inflection-tolerant.

Keywords match case-insensitively on word boundaries, with regular English
inflections of the (last) word: plural/3rd person (-s, -es, -ies), -ing and
-ed (with doubled consonant or dropped e: ship -> shipped, charge -> charging)
and possessive 's. Words of a phrase may be separated by any whitespace or a
hyphen ("shipping delay" matches "Shipping\\n delays" and "shipping-delay").
Write keywords in their base form: inflections are generated forwards only.
All keywords of a taxonomy form one RE2 program (`core.textmatch`), cached per
taxonomy, that finds them all in one pass: time linear in the text whatever the
number or length of keywords, and no recursion anywhere (a 200-character keyword
is fine; taxonomy validation refuses longer ones). Where keywords overlap the
longest match wins. A word boundary is any character that is not a letter,
mark, digit or connector in any script.

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
from typing import Any

from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import register
from core.techniques.base import Span, Technique, TextResult
from core.techniques.options import TechniqueOptions, option
from core.textmatch import ENGINE, KeywordHit, KeywordMatcher, count_tokens, match_key

LENGTH_UNIT = 50  # tokens; texts up to about this long are not length-penalised


@register
class Lexicon(Technique):
    name = "lexicon"
    description = "Weighted keywords and phrases per label, case- and inflection-tolerant."

    class Options(TechniqueOptions):
        scale: float = option(
            1.0,
            "keyword evidence at which a multi-label score is 0.5 (higher: more evidence "
            "needed for a high score); single-label scores ignore it",
            gt=0,
        )
        max_spans_per_keyword: int = option(
            100,
            "most evidence spans kept per keyword and text (all matches still count)",
            ge=0,
        )

    options: Options

    def config(self) -> dict[str, Any]:
        """The options plus the matching engine: predictions cached with another engine (the
        `regex` module) are not reused."""
        return {**super().config(), "engine": ENGINE}

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        matcher = keyword_matcher(tuple(label.keywords for label in taxonomy.labels))
        return [self._predict_one(text, taxonomy, matcher) for text in texts]

    def _predict_one(self, text: str, taxonomy: Taxonomy, matcher: KeywordMatcher) -> TextResult:
        labels = taxonomy.labels
        counts: dict[tuple[int, int], int] = {}  # (label position, keyword index) -> matches
        evidence: list[Span] = []
        limit = self.options.max_spans_per_keyword
        for hit in matcher.finditer(text):
            for position, keyword_index in _one_keyword_per_label(hit, text, labels):
                key = (position, keyword_index)
                counts[key] = counts.get(key, 0) + 1
                if counts[key] <= limit:
                    label = labels[position]
                    term = label.keywords[keyword_index].term
                    evidence.append(Span(hit.start, hit.end, "keyword", label.name, term))
        evidence_by_label = label_evidence(counts, taxonomy, count_tokens(text))
        if not any(evidence_by_label.values()):
            return TextResult(scores=None, evidence=evidence)
        if self.multi_label:
            scale = self.options.scale
            scores = {name: value / (value + scale) for name, value in evidence_by_label.items()}
        else:
            total = sum(evidence_by_label.values())
            scores = {name: value / total for name, value in evidence_by_label.items()}
        return TextResult(scores=scores, evidence=evidence)


def _one_keyword_per_label(
    hit: KeywordHit, text: str, labels: tuple[Label, ...]
) -> list[tuple[int, int]]:
    """The (label position, keyword index) pairs a hit counts for: one per label, so "ships"
    does not count twice for a label listing both "ship" and "ships" (the keyword written as
    matched wins)."""
    chosen: dict[int, int] = {}
    matched = match_key(text[hit.start : hit.end])
    for position, keyword_index in hit.keys:
        term = labels[position].keywords[keyword_index].term
        if position not in chosen or match_key(term) == matched:
            chosen[position] = keyword_index
    return list(chosen.items())


def label_evidence(
    counts: dict[tuple[int, int], int], taxonomy: Taxonomy, tokens: int
) -> dict[str, float]:
    """(label position, keyword index) -> match count  ->  label name -> evidence E
    (see the module docstring)."""
    length_divisor = math.log2(2 + tokens / LENGTH_UNIT)
    evidence = dict.fromkeys(taxonomy.names, 0.0)
    for (position, keyword_index), count in counts.items():
        label = taxonomy.labels[position]
        weight = label.keywords[keyword_index].weight
        if math.isfinite(weight) and weight > 0:  # validate() rejects others; never score them
            evidence[label.name] += weight * math.sqrt(count)
    return {name: value / length_divisor for name, value in evidence.items()}


@lru_cache(maxsize=16)  # each up to KEYWORDS_MAX_MEM at most
def keyword_matcher(keywords_by_label: tuple[tuple[Keyword, ...], ...]) -> KeywordMatcher:
    """One matcher for every keyword of a taxonomy (keywords listed per label, in label
    order: the cache key); hit keys are (label position, keyword index)."""
    entries = []
    for position, keywords in enumerate(keywords_by_label):
        seen: set[str] = set()
        for index, keyword in enumerate(keywords):
            folded = " ".join(keyword.term.casefold().split())
            if folded and folded not in seen:  # a term listed twice counts once
                seen.add(folded)
                entries.append(((position, index), keyword.term))
    return KeywordMatcher(entries)
