"""A taxonomy as an editable table (one row per label, every cell a string) and back.

The Taxonomy page edits labels in a grid; this module owns the cell conventions
so the page stays a thin shell and the parsing has unit tests:

* keywords: comma-separated; ``term`` (weight 1) or ``term:weight`` with weight a
  number, e.g. ``refund, chargeback:2, money back:1.5``. A term that itself holds a
  comma or a double quote is written in double quotes, CSV style: ``"terms, conditions":2``.
* patterns: one regular expression per line (Shift+Enter starts a new line in the
  grid); commas, semicolons and quotes inside a pattern need no escaping.
* entity types: comma-separated, e.g. ``MONEY, DATE, ORG``.
* colour: ``#rrggbb`` or empty (a palette colour is picked on save).

Whitespace around each item is dropped. `rows_to_taxonomy` only parses: checking
names, weights and patterns is `core.taxonomy.validate`'s job, so every problem is
reported once, in the same words, whichever way a taxonomy arrives.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from core.taxonomy import Keyword, Label, Taxonomy

COLUMNS = ("name", "description", "keywords", "patterns", "entity_types", "colour")

# The part after the last ':' is a weight when it looks like a number ("2", "0.5", "-1", "1e3");
# anything else ("re: invoice") stays part of the term.
_WEIGHT = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


# --------------------------------------------------------------------------- taxonomy -> rows


def taxonomy_to_rows(taxonomy: Taxonomy) -> list[dict[str, str]]:
    """One dict per label, keys COLUMNS, every value a string (empty when unset)."""
    return [
        {
            "name": label.name,
            "description": label.description,
            "keywords": format_keywords(label.keywords),
            "patterns": "\n".join(label.patterns),
            "entity_types": ", ".join(label.entity_types),
            "colour": label.colour,
        }
        for label in taxonomy.labels
    ]


def format_keywords(keywords: Iterable[Keyword]) -> str:
    """(Keyword("refund"), Keyword("chargeback", 2.0)) -> 'refund, chargeback:2'."""
    return ", ".join(_quote(_keyword_token(keyword)) for keyword in keywords)


def _keyword_token(keyword: Keyword) -> str:
    term, weight = keyword.term, keyword.weight
    # Weight 1 is left out, unless the term's own tail would be read as a weight ("ratio 3:2").
    if weight == 1 and not _has_weight_suffix(term):
        return term
    return f"{term}:{_format_weight(weight)}"


def _format_weight(weight: float) -> str:
    value = float(weight)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)  # shortest text that reads back as the same float


def _quote(token: str) -> str:
    if any(char in token for char in ',"\n\r'):
        return '"' + token.replace('"', '""') + '"'
    return token


# --------------------------------------------------------------------------- rows -> taxonomy


def rows_to_taxonomy(rows: Iterable[Mapping[str, Any]]) -> Taxonomy:
    """Table rows (as `taxonomy_to_rows` writes them, or edited) -> a Taxonomy, not yet validated.

    Rows whose cells are all empty (a row added and left blank) are skipped; a row
    with content but no name becomes a label named "" so validation reports it.
    Missing keys and None/NaN cells (pandas' empty cells) count as empty.
    """
    labels = []
    for row in rows:
        cells = {column: _cell(row.get(column)) for column in COLUMNS}
        if not any(value.strip() for value in cells.values()):
            continue
        labels.append(
            Label(
                name=cells["name"].strip(),
                description=cells["description"].strip(),
                keywords=parse_keywords(cells["keywords"]),
                patterns=parse_patterns(cells["patterns"]),
                entity_types=parse_list(cells["entity_types"]),
                colour=cells["colour"].strip(),
            )
        )
    return Taxonomy(labels=tuple(labels))


def parse_keywords(cell: str) -> tuple[Keyword, ...]:
    """'refund, chargeback:2, "terms, conditions":1.5' -> Keywords (weights not yet checked)."""
    if not cell.strip():
        return ()
    keywords = []
    for token in _csv_tokens(cell):
        token = token.strip()
        if not token:
            continue
        term, weight = token, 1.0
        head, colon, tail = token.rpartition(":")
        if colon and _WEIGHT.fullmatch(tail):
            term, weight = head.strip(), float(tail)
        keywords.append(Keyword(term, weight))
    return tuple(keywords)


def parse_patterns(cell: str) -> tuple[str, ...]:
    """One pattern per line; blank lines dropped, surrounding whitespace trimmed."""
    return tuple(line.strip() for line in cell.splitlines() if line.strip())


def parse_list(cell: str) -> tuple[str, ...]:
    """'MONEY, DATE,,ORG' -> ('MONEY', 'DATE', 'ORG')."""
    return tuple(item.strip() for item in cell.split(",") if item.strip())


def _csv_tokens(cell: str) -> list[str]:
    # csv handles the quoting ("a, b":2 reads as one token 'a, b:2'); one logical record.
    reader = csv.reader(io.StringIO(cell), skipinitialspace=True)
    tokens: list[str] = []
    for record in reader:  # a quoted newline stays inside its token; bare newlines split records
        tokens.extend(record)
    return tokens


def _has_weight_suffix(term: str) -> bool:
    _, colon, tail = term.rpartition(":")
    return bool(colon) and _WEIGHT.fullmatch(tail) is not None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    try:
        if value != value:  # NaN and pandas' NaT are unequal to themselves
            return ""
    except TypeError:  # pandas' NA has no truth value
        return ""
    return str(value)
