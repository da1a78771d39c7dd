"""What an annotations file says, before it meets a project: rows of (document, labels, reviewer).

    read = read_annotations(data, "labels.csv")            # format guessed
    read = read_annotations(data, "tasks.json", "label-studio")
    read.rows       # [AnnotationRow(location="row 1", text=..., keys=("T1",), labels=("sport",),
                    #                reviewer="alice", note="")]
    read.skipped    # [Skipped("line 4", "Prodigy answer 'ignore'")]

Formats (FORMATS): csv (also .tsv) and jsonl (also a .json list of flat objects) with the
fields text and/or an id (id, document_id, external_id, doc_id), labels (label, labels: a
list, or "a; b"), reviewer (reviewer, annotator, annotated_by, user) and note (note, comment);
label-studio and prodigy (core/annotations/tools.py). Bounded cost: the ingest limits
(IngestLimits: file size, rows/lines/items, field length, JSON values and depth by the
streaming scan of core/ingest/jsonscan.py) apply as the file is read. Any unreadable row
raises IngestError naming the file, the row and the fix; nothing is returned in part.

A file from Sift's own export (csv/jsonl) reads back: its `labels`, `reviewer` and `id`
columns are these fields, and its rows whose `label_source` is not a person's (machine,
none) are skipped, since nobody decided them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.ingest.columns import label_tuple
from core.ingest.errors import IngestError, display_name, file_extension
from core.ingest.jsonish import _json_items, _jsonl_items  # bounded: line count + jsonscan
from core.ingest.limits import IngestLimits, check_field_size, check_file_size
from core.ingest.tabular import read_table

FORMATS = ("csv", "jsonl", "label-studio", "prodigy")
LABEL_DELIMITER = ";"  # "Sport; News" (what Sift's CSV export writes, as ingest's gold labels)
MAX_REVIEWER_CHARS = 200

# field roles -> accepted names (compared ignoring case), in order of preference
TEXT_FIELDS = ("text",)
ID_FIELDS = ("id", "document_id", "external_id", "doc_id")
LABEL_FIELDS = ("labels", "label")
REVIEWER_FIELDS = ("reviewer", "annotator", "annotated_by", "user")
NOTE_FIELDS = ("note", "comment")
HUMAN_LABEL_SOURCES = ("reviewed", "adjudicated")  # Sift export's label_source of a person


@dataclass(frozen=True)
class AnnotationRow:
    """One reviewer's labels for one document, as the file gives them."""

    location: str  # "row 3", "line 4", "task 2, annotation 1", "lines 3, 7"
    text: str | None  # the document's text, when the file has it
    keys: tuple[str, ...] = ()  # ids naming the document (Sift's id or the user's own)
    labels: tuple[str, ...] = ()  # as written in the file; matched to the taxonomy later
    reviewer: str | None = None  # None: the file does not say (the import's default applies)
    note: str = ""
    created_at: str = ""  # when the tool says it was made (kept with the review's provenance)


@dataclass(frozen=True)
class Skipped:
    location: str
    reason: str  # "Prodigy answer 'ignore'", "cancelled in Label Studio", ...


@dataclass(frozen=True)
class AnnotationFile:
    filename: str  # display form
    format: str  # one of FORMATS
    sha256: str  # of the bytes
    rows: list[AnnotationRow]
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skipped_summary(self) -> list[str]:
        """['2 rows: Prodigy answer 'ignore' (line 4, line 9)', ...], one line per reason."""
        by_reason: dict[str, list[str]] = {}
        for item in self.skipped:
            by_reason.setdefault(item.reason, []).append(item.location)
        lines = []
        for reason, where in by_reason.items():
            shown = ", ".join(where[:5]) + (
                f" and {len(where) - 5:,} more" if len(where) > 5 else ""
            )
            lines.append(f"{len(where):,} skipped: {reason} ({shown})")
        return lines


def read_annotations(
    data: bytes,
    filename: str,
    fmt: str | None = None,
    *,
    limits: IngestLimits | None = None,
) -> AnnotationFile:
    """Parse an annotations file (format given, or guessed); raises IngestError."""
    from core.annotations.tools import read_label_studio, read_prodigy

    limits = limits or IngestLimits()
    source = display_name(filename)
    check_file_size(len(data), source, limits)
    fmt = fmt or guess_format(data, filename, source, limits)
    if fmt not in FORMATS:
        raise IngestError(source, f"format {fmt!r} is not one Sift reads; use {', '.join(FORMATS)}")
    if fmt == "csv":
        rows, skipped, notes = read_table_rows(data, source, limits, filename)
    elif fmt == "jsonl":
        rows, skipped, notes = read_json_rows(data, source, limits, filename)
    elif fmt == "label-studio":
        rows, skipped, notes = read_label_studio(data, source, limits)
    else:
        rows, skipped, notes = read_prodigy(data, source, limits)
    if not rows and not skipped:
        raise IngestError(source, "holds no annotations (no rows); nothing to import")
    return AnnotationFile(
        filename=source,
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        rows=rows,
        skipped=skipped,
        notes=notes,
    )


def guess_format(data: bytes, filename: str, source: str, limits: IngestLimits) -> str:
    """.csv/.tsv -> csv; .json -> label-studio when its items carry `annotations` (or `data`),
    else jsonl's fields; .jsonl -> prodigy when its first object carries `answer`, else jsonl."""
    extension = file_extension(filename)
    if extension in ("csv", "tsv"):
        return "csv"
    if extension == "json":
        head = data[:65536]
        return "label-studio" if b'"annotations"' in head or b'"data"' in head else "jsonl"
    if extension == "jsonl":
        items, _ = _jsonl_items(data, source, limits, max_items=1)
        first = items[0][1] if items else None
        return "prodigy" if isinstance(first, dict) and "answer" in first else "jsonl"
    found = f"'.{extension}'" if extension else "no extension"
    raise IngestError(
        source,
        f"has {found}; annotations are read from .csv, .tsv, .jsonl or .json files "
        f"(or name the format: {', '.join(FORMATS)})",
    )


# --- csv and jsonl: one row per (document, reviewer) -----------------------------------------


def read_table_rows(data: bytes, source: str, limits: IngestLimits, filename: str):
    from core.ingest.options import IngestOptions

    delimiter = "\t" if file_extension(filename) == "tsv" else None
    table = read_table(data, source, IngestOptions(limits=limits), default_delimiter=delimiter)
    roles = field_roles(table.columns, source)
    rows: list[AnnotationRow] = []
    skipped: list[Skipped] = []
    for number, _, fields in table.rows():
        record = dict(zip(table.columns, fields))
        _add_row(rows, skipped, record, roles, f"row {number}", source, limits)
    return rows, skipped, list(table.notes)


def read_json_rows(data: bytes, source: str, limits: IngestLimits, filename: str):
    if file_extension(filename) == "json":
        items, _ = _json_items(data, source, limits)
    else:
        items, _ = _jsonl_items(data, source, limits)
    if len(items) > limits.max_documents:
        raise IngestError(
            source,
            f"holds more than {limits.max_documents:,} items, over the limit; split it",
            items[limits.max_documents][0],
        )
    columns: dict[str, None] = {}
    for location, item in items:
        if not isinstance(item, dict):
            raise IngestError(source, "each line must be a JSON object", location)
        columns.update(dict.fromkeys(item))
        if len(columns) > limits.max_columns:
            raise IngestError(source, "has too many different fields; keep the few used", location)
    roles = field_roles(list(columns), source)
    rows: list[AnnotationRow] = []
    skipped: list[Skipped] = []
    for location, item in items:
        assert isinstance(item, dict)  # checked above
        _add_row(rows, skipped, item, roles, location, source, limits)
    return rows, skipped, []


def field_roles(columns: Sequence[str], source: str) -> dict[str, list[str]]:
    """role -> the file's columns playing it (names compared ignoring case and spaces)."""
    by_name = {" ".join(str(c).split()).casefold(): c for c in columns}

    def named(names: Iterable[str]) -> list[str]:
        return [by_name[n] for n in names if n in by_name]

    roles = {
        "text": named(TEXT_FIELDS),
        "id": named(ID_FIELDS),
        "labels": named(LABEL_FIELDS),
        "reviewer": named(REVIEWER_FIELDS),
        "note": named(NOTE_FIELDS),
        "label_source": named(("label_source",)),
    }
    if not roles["labels"]:
        raise IngestError(
            source,
            f"has no labels column (looked for {', '.join(LABEL_FIELDS)}; found "
            f"{', '.join(map(repr, columns)) or 'none'}); name the column with the labels 'labels'",
        )
    if not roles["text"] and not roles["id"]:
        raise IngestError(
            source,
            "has neither a text nor an id column, so no row can name its document; add a "
            f"'text' column or one of {', '.join(ID_FIELDS)}",
        )
    return roles


def _add_row(
    rows: list[AnnotationRow],
    skipped: list[Skipped],
    record: Mapping[str, object],
    roles: Mapping[str, list[str]],
    location: str,
    source: str,
    limits: IngestLimits,
) -> None:
    def first(role: str) -> object:
        for column in roles[role]:
            value = record.get(column)
            if value not in (None, ""):
                return value
        return None

    origin = first("label_source")
    if origin is not None and str(origin).strip() not in HUMAN_LABEL_SOURCES:
        skipped.append(Skipped(location, f"label_source {str(origin)!r}: nobody reviewed it"))
        return
    text = scalar_text(first("text"), "text", source, location, limits)
    keys = tuple(
        key
        for column in roles["id"]
        if (key := scalar_text(record.get(column), column, source, location, limits))
    )
    if text is None and not keys:
        raise IngestError(
            source, "has neither text nor an id; fill one or remove the row", location
        )
    raw_labels = first("labels")
    if isinstance(raw_labels, dict) or (
        isinstance(raw_labels, list) and not all(isinstance(v, str | int) for v in raw_labels)
    ):
        raise IngestError(source, "labels must be a string or a list of strings", location)
    labels = label_tuple(raw_labels, LABEL_DELIMITER)
    for label in labels:
        check_field_size(label, source, limits, location, field="a label")
    rows.append(
        AnnotationRow(
            location=location,
            text=text,
            keys=keys,
            labels=labels,
            reviewer=reviewer_name(first("reviewer"), source, location),
            note=scalar_text(first("note"), "note", source, location, limits) or "",
        )
    )


def scalar_text(
    value: object, name: str, source: str, location: str, limits: IngestLimits
) -> str | None:
    """A field as text ('' and None -> None); lists and objects refused by name."""
    if value is None or value == "":
        return None
    if isinstance(value, dict | list | bool):
        raise IngestError(
            source, f"field {name!r} must be text, not {type(value).__name__}", location
        )
    text = str(value)
    check_field_size(text, source, limits, location, field=f"field {name!r}")
    return text if text.strip() else None


def reviewer_name(value: object, source: str, location: str) -> str | None:
    """A reviewer's name from the file: trimmed; None when empty. Control characters and
    names over MAX_REVIEWER_CHARS are refused (they end up in every report and export)."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise IngestError(source, "the reviewer must be a name, not a list or object", location)
    name = " ".join(str(value).split())
    if not name:
        return None
    if len(name) > MAX_REVIEWER_CHARS or not name.isprintable():
        raise IngestError(
            source,
            f"reviewer name {name[:40]!r} is over {MAX_REVIEWER_CHARS} characters or holds "
            "control characters; give a plain name",
            location,
        )
    return name
