"""rules: regular-expression patterns per label; abstains when nothing matches.

Matching uses Google RE2 (`core.textmatch`), case-insensitively unless
`case_sensitive`: time linear in the text for any pattern, so no pattern can
hang a batch and no wall-clock timeout decides a result; the same texts give
the same matches on an idle or a loaded machine. Each pattern reads at most
the first `MAX_SCANNED_CHARS` characters of a text. Patterns are compiled once
per taxonomy (cached on the patterns themselves). Zero-length matches (e.g. of
`\\b`) are not evidence and are ignored. RE2 syntax: no look-around or
backreferences, and `\\b`, `\\w`, `\\d` are ASCII-only (`\\pL` is any letter);
taxonomy validation refuses what RE2 cannot run, saying what to write instead.

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

from functools import lru_cache
from typing import Any, NamedTuple

from core.taxonomy import Taxonomy, TaxonomyError
from core.techniques import register
from core.techniques.base import Span, Technique, TextResult, normalise_single_label
from core.techniques.options import TechniqueOptions, option
from core.textmatch import (
    ENGINE,
    MAX_SCANNED_CHARS,
    PatternError,
    Utf8Text,
    compile_pattern,
    find_spans,
)


class CompiledPattern(NamedTuple):
    label: str
    pattern: str  # as written in the taxonomy (the evidence detail)
    compiled: Any  # an RE2 program (google-re2 ships no type information)


@register
class Rules(Technique):
    name = "rules"
    description = "Regular-expression patterns per label; abstains when no pattern matches."

    class Options(TechniqueOptions):
        case_sensitive: bool = option(
            False, "match patterns case-sensitively (default: case-insensitively)"
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

    def config(self) -> dict[str, Any]:
        """The options, plus the engine and how much of a text it reads: predictions cached
        with another engine (the `regex` module with its timeout) are not reused."""
        return {**super().config(), "engine": ENGINE, "max_scanned_chars": MAX_SCANNED_CHARS}

    def predict(self, texts: list[str], taxonomy: Taxonomy) -> list[TextResult]:
        patterns = compile_patterns(_pattern_spec(taxonomy), self.options.case_sensitive)
        return [self._predict_one(text, taxonomy, patterns) for text in texts]

    def _predict_one(
        self, text: str, taxonomy: Taxonomy, patterns: tuple[CompiledPattern, ...]
    ) -> TextResult:
        evidence: list[Span] = []
        counts: dict[str, list[int]] = {}  # label -> match count of each pattern that hit
        encoded = Utf8Text(text[:MAX_SCANNED_CHARS])  # encoded once, read by every pattern
        limit = self.options.max_spans_per_pattern
        for item in patterns:
            matches = 0
            for start, end in find_spans(item.compiled, encoded):
                matches += 1
                if matches <= limit:
                    evidence.append(Span(start, end, "rule", item.label, item.pattern))
            if matches:
                counts.setdefault(item.label, []).append(matches)
        if not counts:
            return TextResult(scores=None)
        raw = {name: self._label_score(counts.get(name, [])) for name in taxonomy.names}
        scores = raw if self.multi_label else normalise_single_label(raw)
        evidence.sort(key=lambda span: (span.start, span.end))
        return TextResult(scores=scores, evidence=evidence)

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
    compiled = []
    for label, patterns in spec:
        for pattern in dict.fromkeys(patterns):  # a pattern listed twice counts once
            try:
                program = compile_pattern(pattern, case_sensitive=case_sensitive)
            except PatternError as exc:
                raise TaxonomyError(
                    f"label {label!r}: pattern {pattern!r} {exc}; fix it in the taxonomy"
                ) from None
            compiled.append(CompiledPattern(label, pattern, program))
    return tuple(compiled)
