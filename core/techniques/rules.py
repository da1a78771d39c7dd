"""rules: regular-expression patterns per label; abstains when nothing matches.

Matching uses the `regex` module, case-insensitively unless `case_sensitive`.
Patterns are compiled once per taxonomy (cached on the patterns themselves).
Every search of one pattern over one text runs under `timeout` seconds; a
search that times out counts as no match for that pattern on that text and is
logged, so one pathological pattern cannot hang a batch. Zero-length matches
(e.g. of `\\b`) are not evidence and are ignored.

Scoring, per text:

* A pattern that matches `c >= 1` times gives strength
  `s(c) = p + (1 - p) / 3 * (1 - 1/c)`, with `p = hit_strength` (0.7):
  0.70 for one hit, 0.75 for two, saturating at 0.80, so repeats of one
  pattern count a bit more but never as much as a second distinct pattern.
* A label's raw score combines its distinct matching patterns like
  independent pieces of evidence: `raw = 1 - prod(1 - s(c_k))`
  (one pattern 0.70, two 0.91, three 0.97).
* Multi-label: the raw scores, with 0.0 for labels no pattern matched.
  Single-label: raw scores divided by their sum (labels without a hit get 0).
* No pattern of any label matched: abstain (`scores=None`).

Evidence: one Span(kind="rule", label, detail=pattern) per match, at most
`max_spans_per_pattern` per pattern and text (all matches still count).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import NamedTuple

import regex

from core.taxonomy import Taxonomy, TaxonomyError
from core.techniques import register
from core.techniques.base import Span, Technique, TextResult, normalise_single_label
from core.techniques.options import TechniqueOptions, option

log = logging.getLogger(__name__)


class CompiledPattern(NamedTuple):
    label: str
    pattern: str  # as written in the taxonomy (the evidence detail)
    compiled: regex.Pattern


@register
class Rules(Technique):
    name = "rules"
    description = "Regular-expression patterns per label; abstains when no pattern matches."

    class Options(TechniqueOptions):
        case_sensitive: bool = option(
            False, "match patterns case-sensitively (default: case-insensitively)"
        )
        timeout: float = option(
            0.25,
            "seconds one pattern may search one text; a search that runs longer counts as "
            "no match (and is logged)",
            gt=0,
        )
        hit_strength: float = option(
            0.7,
            "score one hit of one pattern gives, between 0 and 1 exclusive; repeats add a "
            "little, distinct patterns combine",
            gt=0,
            lt=1,
        )
        max_spans_per_pattern: int = option(
            200,
            "most evidence spans kept per pattern and text (all matches still count)",
            ge=0,
        )

    options: Options

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        patterns = compile_patterns(_pattern_spec(taxonomy), self.options.case_sensitive)
        return [
            self._predict_one(index, text, taxonomy, patterns) for index, text in enumerate(texts)
        ]

    def _predict_one(
        self, index: int, text: str, taxonomy: Taxonomy, patterns: tuple[CompiledPattern, ...]
    ) -> TextResult:
        evidence: list[Span] = []
        counts: dict[str, list[int]] = {}  # label -> match count of each pattern that hit
        for item in patterns:
            spans = self._search(item, text, index)
            if not spans:
                continue
            counts.setdefault(item.label, []).append(len(spans))
            evidence.extend(spans[: self.options.max_spans_per_pattern])
        if not counts:
            return TextResult(scores=None)
        raw = {name: self._label_score(counts.get(name, [])) for name in taxonomy.names}
        scores = raw if self.multi_label else normalise_single_label(raw)
        evidence.sort(key=lambda span: (span.start, span.end))
        return TextResult(scores=scores, evidence=evidence)

    def _search(self, item: CompiledPattern, text: str, index: int) -> list[Span]:
        try:
            return [
                Span(match.start(), match.end(), "rule", item.label, item.pattern)
                for match in item.compiled.finditer(
                    text, timeout=self.options.timeout, concurrent=True
                )
                if match.end() > match.start()
            ]
        except TimeoutError:
            log.warning(
                "rules: pattern %r of label %r timed out after %ss on text %d (%d characters); "
                "counted as no match. Simplify the pattern (avoid nested or adjacent repeats).",
                item.pattern,
                item.label,
                self.options.timeout,
                index,
                len(text),
            )
            return []

    def _label_score(self, pattern_counts: list[int]) -> float:
        p = self.options.hit_strength
        miss = 1.0
        for count in pattern_counts:
            strength = p + (1 - p) / 3 * (1 - 1 / count)
            miss *= 1 - strength
        return 1.0 - miss


def _pattern_spec(taxonomy: Taxonomy) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Hashable (label, patterns) pairs: the compile cache key."""
    return tuple((label.name, tuple(label.patterns)) for label in taxonomy.labels if label.patterns)


@lru_cache(maxsize=64)
def compile_patterns(
    spec: tuple[tuple[str, tuple[str, ...]], ...], case_sensitive: bool
) -> tuple[CompiledPattern, ...]:
    flags = 0 if case_sensitive else regex.IGNORECASE
    compiled = []
    for label, patterns in spec:
        for pattern in dict.fromkeys(patterns):  # a pattern listed twice counts once
            try:
                compiled.append(CompiledPattern(label, pattern, regex.compile(pattern, flags)))
            except regex.error as exc:
                raise TaxonomyError(
                    f"label {label!r}: pattern {pattern!r} is not a valid regular expression "
                    f"({exc}); fix it in the taxonomy"
                ) from None
    return tuple(compiled)
