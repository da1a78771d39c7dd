"""Does a column hold text? A cheap, bounded check of the values a text column gave.

A table without a text column (`id,amount,date`) still has *some* column that can be read
as the text; importing it gives "documents" such as `2024-01-05`. This check looks at an
evenly spread sample of at most SAMPLE_VALUES values and counts those that read as words:

- at least MIN_LETTERS letters (any script), not counting month and weekday names and
  am/pm/UTC/GMT, so dates and timestamps written with names don't pass;
- letters are at least MIN_LETTER_SHARE of the value's non-space characters (amounts,
  ISO timestamps and codes such as `INV-2024-0001` or `SKU-4411X` are mostly digits and
  punctuation);
- not a code: a single token written in capitals only (`USD`, `AB12CD`) or a single
  ASCII token mixing letters and digits (`user_12345`, `ab12cd`).

The column looks like text when at least MIN_TEXT_SHARE of the sampled values read as
words. Short messages pass ("ok see u at 5", "lol", "Thanks!"); so do one-word answers
and category names, which cannot be told apart from very short text.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

SAMPLE_VALUES = 200
MIN_LETTERS = 3
MIN_LETTER_SHARE = 0.5
MIN_TEXT_SHARE = 0.5
EXAMPLES = 3
EXAMPLE_CHARS = 30

_DATE_WORDS = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
    r"|mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?|am|pm|utc|gmt)\b",
    re.IGNORECASE,
)
_ASCII_CODE = re.compile(r"[A-Za-z0-9_.#/:\-]+")
_NUMBER_NOISE = re.compile(r"[\s$€£¥%,()+\-']")
_NUMBER = re.compile(r"\d[\d.]*|\.\d+")
_DATE_SHAPE = re.compile(r"[\d\s/.:,+\-TZ]+")
_DATE_PARTS = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}:\d{2}")


def reads_as_text(value: str) -> bool:
    """Whether one value reads as words (see the module docstring)."""
    value = value.strip()
    visible = sum(not ch.isspace() for ch in value)
    if not visible:
        return False
    letters = sum(ch.isalpha() for ch in _DATE_WORDS.sub(" ", value))
    if letters < MIN_LETTERS or letters < MIN_LETTER_SHARE * visible:
        return False
    return not _is_code(value)


def _is_code(value: str) -> bool:
    if any(ch.isspace() for ch in value):
        return False
    cased = [ch for ch in value if ch.isupper() or ch.islower()]
    if cased and not any(ch.islower() for ch in cased):
        return True  # USD, AB12CD, STOP
    return bool(_ASCII_CODE.fullmatch(value)) and any(ch.isdigit() for ch in value)


def value_kind(value: str) -> str:
    """What a value that does not read as text looks like: for the warning's wording."""
    value = value.strip()
    without_names = _DATE_WORDS.sub(" ", value)
    if _DATE_SHAPE.fullmatch(without_names) and (
        _DATE_PARTS.search(value) or without_names != value
    ):
        return "dates or times"
    if _NUMBER.fullmatch(_NUMBER_NOISE.sub("", value)):
        return "numbers"
    return "codes or values with few letters"


@dataclass(frozen=True)
class TextColumnCheck:
    """The verdict on one column's values (a sample of them)."""

    column: str
    n_sampled: int  # non-empty values looked at
    n_text: int  # of those, values that read as words
    median_length: float  # characters, of the sampled values
    kind: str  # what most non-text values look like ("numbers", "dates or times", ...)
    examples: tuple[str, ...]  # a few sampled values that do not read as text, shortened

    @property
    def text_share(self) -> float:
        return self.n_text / self.n_sampled if self.n_sampled else 0.0

    @property
    def looks_like_text(self) -> bool:
        return self.n_sampled == 0 or self.text_share >= MIN_TEXT_SHARE

    def warning(self, source: str) -> str:
        """'<file>: the text column ... does not look like text ...' (names file and column)."""
        examples = ", ".join(repr(example) for example in self.examples)
        return (
            f"{source}: the text column {self.column!r} does not look like text: "
            f"{self.n_text} of {self.n_sampled} sampled values have words, most look like "
            f"{self.kind} (e.g. {examples})"
        )


def check_text_column(column: str, values: Sequence[str]) -> TextColumnCheck:
    """Look at an evenly spread sample of at most SAMPLE_VALUES non-empty values."""
    present = [value for value in values if value.strip()]
    step = max(1, -(-len(present) // SAMPLE_VALUES))  # ceil: at most SAMPLE_VALUES values
    sample = present[::step][:SAMPLE_VALUES]
    not_text = [value for value in sample if not reads_as_text(value)]
    kinds = Counter(value_kind(value) for value in not_text)
    examples = tuple(dict.fromkeys(_shorten(value) for value in not_text))[:EXAMPLES]
    return TextColumnCheck(
        column=column,
        n_sampled=len(sample),
        n_text=len(sample) - len(not_text),
        median_length=float(statistics.median(len(v) for v in sample)) if sample else 0.0,
        kind=kinds.most_common(1)[0][0] if kinds else "text",
        examples=examples,
    )


def _shorten(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= EXAMPLE_CHARS else value[: EXAMPLE_CHARS - 1] + "…"
