"""Ingest: uploaded bytes + filename -> Documents, all or nothing.

    ingest_bytes(data, "tickets.csv", IngestOptions(text_column="body")) -> ParsedFile

Any problem raises IngestError naming the file (and row/line) and how to fix it;
no partial list is ever returned. Doubts that only a person can settle (the text
column does not look like text: textlike) come back as ParsedFile.warnings, for the
caller to confirm before storing. Modules: decode (bytes -> text), text, tabular,
jsonish, eml, office (docx), pdf (one per format), columns (column choice),
parsed (Records -> de-duplicated Documents), formats (the extension table), worker
(pdf/docx/eml parsed in a child process under CPU and memory limits), gold (uploaded
gold labels vs the taxonomy's label names).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from core.ingest.errors import IngestError, display_name
from core.ingest.formats import (
    ISOLATED_FORMATS,
    PARSERS,
    SUPPORTED_EXTENSIONS,
    TABULAR_FORMATS,
    format_of,
)
from core.ingest.gold import GoldMatch, match_gold_labels
from core.ingest.jsonish import preview_json
from core.ingest.limits import IngestLimits, check_file_size
from core.ingest.options import IngestOptions
from core.ingest.parsed import ParsedFile, build_documents
from core.ingest.tabular import preview_table
from core.ingest.textlike import TextColumnCheck, check_text_column
from core.ingest.worker import run_bounded

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "GoldMatch",
    "IngestError",
    "IngestLimits",
    "IngestOptions",
    "ParsedFile",
    "TextColumnCheck",
    "check_text_column",
    "ingest_bytes",
    "ingest_path",
    "match_gold_labels",
    "preview_columns",
]


def ingest_bytes(
    data: bytes,
    filename: str,
    options: IngestOptions = IngestOptions(),  # noqa: B008 - frozen
) -> ParsedFile:
    """Parse one uploaded file; raises IngestError (never returns part of a file)."""
    source = display_name(filename)
    check_file_size(len(data), source, options.limits)
    fmt = format_of(filename, source)
    data = bytes(data)
    try:
        if fmt in ISOLATED_FORMATS:  # a worker process with CPU and memory limits
            extracted = run_bounded(PARSERS[fmt], data, source, options)
        else:
            extracted = PARSERS[fmt](data, source, options)
    except RecursionError:  # a parser that recurses per nesting level (email, json, ...)
        raise IngestError(
            source,
            "is nested too deeply to read (parts within parts, or brackets within brackets); "
            "flatten it, or export it again from the program that made it",
        ) from None
    documents, duplicates = build_documents(extracted.records, source, options.limits)
    notes = list(extracted.notes)
    if duplicates:
        notes.append(f"{duplicates} duplicate text(s) in the file kept once")
    warnings = []
    if extracted.text_column is not None:
        check = check_text_column(extracted.text_column, [r.text for r in extracted.records])
        if not check.looks_like_text:
            warnings.append(check.warning(source))
    return ParsedFile(
        filename=source,
        format=fmt,
        encoding=extracted.encoding,
        sha256=hashlib.sha256(data).hexdigest(),
        documents=documents,
        duplicates_in_file=duplicates,
        columns=extracted.columns,
        notes=notes,
        text_column=extracted.text_column,
        warnings=warnings,
    )


def preview_columns(
    data: bytes,
    filename: str,
    options: IngestOptions = IngestOptions(),  # noqa: B008 - frozen
    rows: int = 5,
) -> tuple[list[str], list[dict]]:
    """Column names and the first `rows` rows (column -> value) of a csv/tsv/json/jsonl file."""
    source = display_name(filename)
    check_file_size(len(data), source, options.limits)
    fmt = format_of(filename, source)
    if fmt not in TABULAR_FORMATS:
        raise IngestError(
            source,
            f"is a .{fmt} file, which has no columns; column preview is for "
            f"{', '.join('.' + f for f in TABULAR_FORMATS)} files",
        )
    data = bytes(data)
    if fmt in ("csv", "tsv"):
        delimiter = "\t" if fmt == "tsv" else None
        return preview_table(data, source, options, rows=rows, default_delimiter=delimiter)
    return preview_json(data, source, options, rows=rows, lines=fmt == "jsonl")


def ingest_path(
    path: str | os.PathLike,
    options: IngestOptions = IngestOptions(),  # noqa: B008 - frozen
) -> ParsedFile:
    """Read a file from disk (size checked before reading), then ingest_bytes."""
    path = Path(path)
    check_file_size(path.stat().st_size, display_name(path.name), options.limits)
    return ingest_bytes(path.read_bytes(), path.name, options)
