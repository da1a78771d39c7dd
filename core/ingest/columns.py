"""Choosing the text, id and gold-label columns of a table (csv/tsv/json/jsonl) by name."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.ingest.errors import IngestError
from core.ingest.options import GUESSED_TEXT_COLUMNS, IngestOptions


def format_columns(columns: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in columns) or "(none)"


def resolve_column(name: str, columns: list[str], source: str, role: str) -> tuple[str, list[str]]:
    """The column called `name` (exact, else the one case-insensitive match) and any note."""
    if name in columns:
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
    text_like = []
    for column in columns:
        if column in taken:
            continue
        values = [row.get(column) for row in rows]
        present = [v for v in values if v not in (None, "")]
        if present and all(is_text(v) for v in present):
            text_like.append(column)
    return text_like[0] if len(text_like) == 1 else None


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
