"""Choosing the text, id and gold-label columns of a table (csv/tsv/json/jsonl) by name.

Linear by construction: names are looked up in dicts, and the "only text column" guess reads
each cell of at most GUESS_SAMPLE_ROWS rows once (rows x columns, never columns x rows x ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.ingest.errors import IngestError
from core.ingest.options import GUESSED_TEXT_COLUMNS, IngestOptions

# The guess reads the values of at most this many rows, spread evenly over the file: a
# 50 MB table of short cells holds 25M of them, and is_text costs ~1 us each.
GUESS_SAMPLE_ROWS = 1_000


def format_columns(columns: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in columns) or "(none)"


def resolve_column(name: str, columns: list[str], source: str, role: str) -> tuple[str, list[str]]:
    """The column called `name` (exact, else the one case-insensitive match) and any note."""
    if name in columns:  # a list of at most max_columns names, looked up 3 times per file
        return name, []
    folded = [c for c in columns if c.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0], [f"{role} column {name!r} matched {folded[0]!r} ignoring case"]
    raise IngestError(
        source,
        f"has no column {name!r} (asked for as the {role} column); "
        f"available columns: {format_columns(columns)}",
    )


def choose_columns(
    columns: list[str],
    rows: list[dict],
    options: IngestOptions,
    source: str,
    is_text: Callable[[object], bool],
) -> tuple[str, str | None, str | None, list[str]]:
    """-> (text column, id column or None, label column or None, notes).

    rows are column -> value dicts; is_text(value) says whether a value counts as
    free text when guessing ("the only string column").
    """
    notes: list[str] = []
    id_column = label_column = None
    if options.id_column is not None:
        id_column, note = resolve_column(options.id_column, columns, source, "id")
        notes += note
    if options.label_column is not None:
        label_column, note = resolve_column(options.label_column, columns, source, "label")
        notes += note
    if options.text_column is not None:
        text_column, note = resolve_column(options.text_column, columns, source, "text")
        return text_column, id_column, label_column, notes + note
    guessed = _guess_text_column(columns, rows, {id_column, label_column}, is_text)
    if guessed is None:
        raise IngestError(
            source,
            "could not tell which column holds the text (none is called "
            f"{' / '.join(GUESSED_TEXT_COLUMNS)}); choose the text column from: "
            f"{format_columns(columns)}",
        )
    notes.append(f"text column guessed: {guessed!r}")
    return guessed, id_column, label_column, notes


def _guess_text_column(
    columns: list[str], rows: list[dict], taken: set, is_text: Callable[[object], bool]
) -> str | None:
    by_folded_name = {c.casefold(): c for c in reversed(columns) if c not in taken}
    for preferred in GUESSED_TEXT_COLUMNS:
        if preferred in by_folded_name:
            return by_folded_name[preferred]
    # One pass over the sampled cells: a column is text-like when it has a value and every
    # value it has is text; a column is dropped at its first non-text value.
    present: set[str] = set()
    not_text: set[str] = set()
    for row in spread_sample(rows, GUESS_SAMPLE_ROWS):
        for column, value in row.items():
            if value is None or (isinstance(value, str) and value == "") or column in not_text:
                continue
            if is_text(value):
                present.add(column)
            else:
                not_text.add(column)
    text_like = [c for c in columns if c in present and c not in not_text and c not in taken]
    return text_like[0] if len(text_like) == 1 else None


def spread_sample(rows: list, n: int) -> list:
    """All rows when there are at most n, else n of them spread evenly (first and last kept)."""
    if len(rows) <= n:
        return rows
    step = (len(rows) - 1) / (n - 1)
    return [rows[round(i * step)] for i in range(n)]


def label_tuple(value: object, delimiter: str) -> tuple[str, ...]:
    """'a; b;a' -> ('a', 'b'); a JSON list -> its items as strings; None/'' -> ()."""
    if value is None:
        return ()
    parts = [str(v) for v in value] if isinstance(value, list) else str(value).split(delimiter)
    labels = (p.strip() for p in parts)
    return tuple(dict.fromkeys(label for label in labels if label))


def external_id(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None
