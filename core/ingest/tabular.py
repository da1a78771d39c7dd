""".csv and .tsv through the stdlib csv module: header row, then one document per row.

Rows are numbered from 1 after the header ("row 1" is the first data row); errors
also give the physical line, which differs once quoted fields span lines. Bounded cost: the
header is checked against max_columns before anything else, rows are checked and turned
into Records one at a time (refused at the first over max_documents), and the text-column
guess reads only the first GUESS_SAMPLE_ROWS rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from itertools import chain, islice

from core.ingest.columns import GUESS_SAMPLE_ROWS, choose_columns, external_id, label_tuple
from core.ingest.decode import decode_text
from core.ingest.errors import IngestError
from core.ingest.limits import (
    IngestLimits,
    check_field_size,
    too_many_columns,
    too_many_documents,
)
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record, context_columns

CANDIDATE_DELIMITERS = ",;\t|"
# csv.Sniffer's quote regex is quadratic in its sample (64 KB of `, "x` took 24 s, 8 KB
# takes 0.5 s): the first 8 KB (a header and dozens of rows) is what it sees.
_SNIFF_SAMPLE_CHARS = 8 * 1024
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


class Table:
    """A table being read: its header, then its rows, one at a time (see rows())."""

    def __init__(
        self,
        columns: list[str],
        physical_rows,
        encoding: str,
        notes: list[str],
        source: str,
        limits: IngestLimits,
        delimiter: str,
    ):
        self.columns = columns
        self.encoding = encoding
        self.notes = notes  # "skipped 2 blank row(s)" is added once rows() is exhausted
        self._physical_rows = physical_rows
        self._source = source
        self._limits = limits
        self._delimiter = delimiter

    def rows(self) -> Iterator[tuple[int, int, list[str]]]:
        """(data row number, first line, fields) of each non-blank row, checked: as many
        fields as columns, no cell over max_field_chars, at most max_documents rows."""
        source, limits, width = self._source, self._limits, len(self.columns)
        count = blank_rows = 0
        for number, line, fields in self._physical_rows:
            if not any(f.strip() for f in fields):
                blank_rows += 1
                continue
            where = f"row {number} (line {line})"
            if len(fields) != width:
                raise IngestError(
                    source,
                    f"has {len(fields)} fields but the header has {width}; "
                    f"quote fields that contain {self._delimiter!r} or fix the row",
                    where,
                )
            if max(map(len, fields)) > limits.max_field_chars:  # one C-speed pass per row
                for column, value in zip(self.columns, fields):
                    check_field_size(value, source, limits, where, field=f"column {column!r}")
            count += 1
            if count > limits.max_documents:
                raise too_many_documents(source, limits, where, unit="rows")
            yield number, line, fields
        if blank_rows:
            self.notes.append(f"skipped {blank_rows} blank row(s)")


def parse_delimited(
    data: bytes, source: str, options: IngestOptions, *, default_delimiter: str | None = None
) -> Extracted:
    """Rows become Records as they are read; only the first GUESS_SAMPLE_ROWS rows are kept
    whole (as dicts) for choosing the columns, so memory follows the records, not the cells."""
    table = read_table(data, source, options, default_delimiter=default_delimiter)
    columns = table.columns
    rows = table.rows()
    head = list(islice(rows, GUESS_SAMPLE_ROWS))
    cells = [dict(zip(columns, fields)) for _, _, fields in head]
    text_col, id_col, label_col, notes = choose_columns(
        columns, cells, options, source, is_text=_is_text_cell
    )
    del cells
    position = {column: i for i, column in enumerate(columns)}
    text_at = position[text_col]
    id_at = position[id_col] if id_col else None
    label_at = position[label_col] if label_col else None
    context_at = [i for i in range(len(columns)) if i not in (text_at, id_at, label_at)]
    records = []
    for number, _, fields in chain(head, rows):
        location = f"row {number}"
        if not fields[text_at].strip():
            raise IngestError(
                source,
                f"the text column {text_col!r} is empty; remove or fill row {number}",
                location,
            )
        records.append(
            Record(
                fields[text_at],
                location=location,
                external_id=external_id(fields[id_at]) if id_at is not None else None,
                gold_labels=label_tuple(fields[label_at], options.label_delimiter)
                if label_at is not None
                else (),
                meta=context_columns((columns[i], fields[i]) for i in context_at),
            )
        )
    return Extracted(records, table.encoding, columns, table.notes + notes, text_column=text_col)


def preview_table(
    data: bytes, source: str, options: IngestOptions, *, rows: int, default_delimiter=None
) -> tuple[list[str], list[dict]]:
    table = read_table(data, source, options, default_delimiter=default_delimiter)
    first = islice(table.rows(), rows)
    return table.columns, [dict(zip(table.columns, fields)) for _, _, fields in first]


def read_table(
    data: bytes,
    source: str,
    options: IngestOptions,
    *,
    default_delimiter: str | None = None,
) -> Table:
    """Decode, pick the delimiter, read and check the header; rows are read by Table.rows()."""
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
    if len(header[2]) > limits.max_columns:
        raise too_many_columns(
            source, limits, f"{len(header[2]):,} columns", f"header (line {header[1]})"
        )
    columns = _column_names(header[2], header[1], source, notes)
    return Table(columns, physical_rows, encoding, notes, source, limits, delimiter)


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
    columns: dict[str, None] = {}  # a dict: the duplicate check is O(1) per column
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
        columns[name] = None
    return list(columns)


def _is_text_cell(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return True
    return False
