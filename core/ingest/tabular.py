""".csv and .tsv through the stdlib csv module: header row, then one document per row.

Rows are numbered from 1 after the header ("row 1" is the first data row); errors
also give the physical line, which differs once quoted fields span lines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from core.ingest.columns import choose_columns, external_id, label_tuple
from core.ingest.decode import decode_text
from core.ingest.errors import IngestError
from core.ingest.limits import IngestLimits, check_field_size
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record, context_columns

CANDIDATE_DELIMITERS = ",;\t|"
_SNIFF_SAMPLE_CHARS = 64 * 1024
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[tuple[int, int, dict[str, str]]]  # (data row number, first line, column -> cell)
    encoding: str
    notes: list[str]


def parse_delimited(
    data: bytes, source: str, options: IngestOptions, *, default_delimiter: str | None = None
) -> Extracted:
    table = read_table(data, source, options, default_delimiter=default_delimiter)
    cells = [row for _, _, row in table.rows]
    text_col, id_col, label_col, notes = choose_columns(
        table.columns, cells, options, source, is_text=_is_text_cell
    )
    records = []
    for number, _, row in table.rows:
        location = f"row {number}"
        if not row[text_col].strip():
            raise IngestError(
                source,
                f"the text column {text_col!r} is empty; remove or fill row {number}",
                location,
            )
        records.append(
            Record(
                row[text_col],
                location=location,
                external_id=external_id(row[id_col]) if id_col else None,
                gold_labels=label_tuple(row[label_col], options.label_delimiter)
                if label_col
                else (),
                meta=context_columns(row, {text_col, id_col, label_col}),
            )
        )
    return Extracted(
        records, table.encoding, table.columns, table.notes + notes, text_column=text_col
    )


def preview_table(
    data: bytes, source: str, options: IngestOptions, *, rows: int, default_delimiter=None
) -> tuple[list[str], list[dict]]:
    table = read_table(data, source, options, default_delimiter=default_delimiter, max_rows=rows)
    return table.columns, [row for _, _, row in table.rows]


def read_table(
    data: bytes,
    source: str,
    options: IngestOptions,
    *,
    default_delimiter: str | None = None,
    max_rows: int | None = None,
) -> Table:
    """Decode, pick the delimiter, read header + rows (all, or the first max_rows)."""
    limits = options.limits
    text, encoding = decode_text(data, source)
    notes = []
    delimiter = options.csv_delimiter or default_delimiter
    if delimiter is None:
        delimiter = sniff_delimiter(text)
        notes.append(f"delimiter detected: {_DELIMITER_NAMES[delimiter]} ({delimiter!r})")
    physical_rows = _physical_rows(text, delimiter, source, limits)
    header = next(physical_rows, None)
    if header is None:
        raise IngestError(source, "has no header row; the first row must name the columns")
    columns = _column_names(header[2], header[1], source, notes)
    rows = []
    blank_rows = 0
    for number, line, fields in physical_rows:
        if not any(f.strip() for f in fields):
            blank_rows += 1
            continue
        where = f"row {number} (line {line})"
        if len(fields) != len(columns):
            raise IngestError(
                source,
                f"has {len(fields)} fields but the header has {len(columns)}; "
                f"quote fields that contain {delimiter!r} or fix the row",
                where,
            )
        for column, value in zip(columns, fields):
            check_field_size(value, source, limits, where, field=f"column {column!r}")
        rows.append((number, line, dict(zip(columns, fields))))
        if max_rows is not None and len(rows) >= max_rows:
            break
        if len(rows) > limits.max_documents:
            raise IngestError(
                source,
                f"has more than {limits.max_documents:,} rows; split it into several files",
                where,
            )
    if blank_rows:
        notes.append(f"skipped {blank_rows} blank row(s)")
    return Table(columns, rows, encoding, notes)


def sniff_delimiter(text: str) -> str:
    """The csv Sniffer's pick among , ; tab |, else the one the header line uses most."""
    sample = text[:_SNIFF_SAMPLE_CHARS]
    first_line = sample.split("\n", 1)[0]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=CANDIDATE_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed and sniffed in CANDIDATE_DELIMITERS and sniffed in first_line:
        return sniffed
    counts = {d: first_line.count(d) for d in CANDIDATE_DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _physical_rows(
    text: str, delimiter: str, source: str, limits: IngestLimits
) -> Iterator[tuple[int, int, list[str]]]:
    """Yields (row number, first physical line, fields); the header is row 0.

    Blank lines before the header are passed over; later ones are numbered like
    any row (fields [] or all empty) so row numbers match what a spreadsheet shows.
    """
    # csv's field limit is process-wide; raise it so our own, clearer check decides.
    if csv.field_size_limit() <= limits.max_field_chars:
        csv.field_size_limit(limits.max_field_chars + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    seen_header = False
    while True:
        first_line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise _csv_error(e, source, number if seen_header else 0, first_line, limits) from None
        if not seen_header and not any(f.strip() for f in fields):
            continue
        yield number, first_line, fields
        seen_header = True
        number += 1


def _csv_error(
    error: csv.Error, source: str, number: int, line: int, limits: IngestLimits
) -> IngestError:
    message = str(error)
    where = f"row {number} (line {line})" if number else f"header (line {line})"
    if "unexpected end of data" in message:
        reason = (
            f"has a quoted field starting on line {line} that is never closed; "
            "add the closing '\"' or remove the stray '\"'"
        )
    elif "field larger than field limit" in message:
        reason = (
            f"has a field over the {limits.max_field_chars:,}-character limit; "
            "shorten it or split it into several documents"
        )
    elif "expected after" in message:
        reason = (
            f'is malformed CSV ({message}): a quote inside a quoted field must be doubled (""); '
            "fix the quoting"
        )
    else:
        reason = f"is malformed CSV ({message}); fix the row"
    return IngestError(source, reason, where)


def _column_names(header: list[str], line: int, source: str, notes: list[str]) -> list[str]:
    columns = []
    for position, raw in enumerate(header, 1):
        name = raw.strip()
        if not name:
            name = f"column_{position}"
            notes.append(f"column {position} has no name; called it {name!r}")
        if name in columns:
            raise IngestError(
                source,
                f"names column {name!r} twice; give every column a different name",
                f"header (line {line})",
            )
        columns.append(name)
    return columns


def _is_text_cell(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return True
    return False
