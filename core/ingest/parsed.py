"""What format parsers hand back (Records), and how Records become a ParsedFile.

Parsers only read their format; the checks every document needs (size, emptiness,
count) and the de-duplication by content id happen once, here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.documents import Document
from core.ingest.errors import IngestError
from core.ingest.limits import IngestLimits, check_field_size


@dataclass(frozen=True)
class Record:
    """One document's worth of raw text, before normalisation."""

    text: str
    location: str = ""  # "row 3", "line 3", "item 3", "paragraph 2", "" for whole-file formats
    external_id: str | None = None
    gold_labels: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict, compare=False)


# A table's other columns travel with each document as context for the reviewer (Review
# shows them above the text). Bounded: at most this many columns, each value cut to this
# many characters, so meta never costs more than the file already did.
MAX_CONTEXT_COLUMNS = 20
MAX_CONTEXT_CHARS = 500


def context_columns(pairs: Iterable[tuple[str, object]]) -> dict[str, object]:
    """The first MAX_CONTEXT_COLUMNS non-empty (column, value) pairs of a row's other columns
    (the caller leaves out text, id and label), as plain JSON values."""
    context: dict[str, object] = {}
    for column, value in pairs:
        if value is None or value == "":
            continue
        if len(context) == MAX_CONTEXT_COLUMNS:
            break
        if isinstance(value, bool | int | float):
            context[str(column)] = value
        else:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            context[str(column)] = text[:MAX_CONTEXT_CHARS]
    return context


@dataclass
class Extracted:
    """A format parser's result: records in file order plus what it learned about the file."""

    records: list[Record]
    encoding: str | None = None  # text encoding used; None for docx/pdf
    columns: list[str] = field(default_factory=list)  # tabular formats only
    notes: list[str] = field(default_factory=list)
    text_column: str | None = None  # the column the text came from (tabular formats only)


@dataclass(frozen=True)
class ParsedFile:
    filename: str  # display form of the uploaded name
    format: str  # "txt","md","csv","tsv","jsonl","json","eml","docx","pdf"
    encoding: str | None  # detected/used text encoding; None for binary formats
    sha256: str  # of the raw bytes
    documents: list[Document]  # de-duplicated by Document.id (first kept), in file order
    duplicates_in_file: int
    columns: list[str]  # tabular formats, for column pickers; else []
    notes: list[str]  # e.g. "text column guessed: 'body'"
    text_column: str | None = None  # the column the text came from (tabular formats only)
    # Reasons to doubt the result that a person should confirm before it is stored, each
    # naming the file (e.g. the text column does not look like text); [] when none.
    warnings: list[str] = field(default_factory=list)


def build_documents(
    records: list[Record], source: str, limits: IngestLimits
) -> tuple[list[Document], int]:
    """Records -> (unique Documents in order, number of duplicates dropped); raises IngestError."""
    if not records:
        raise IngestError(
            source,
            "holds no documents (a header without rows, or an empty list); nothing to import",
        )
    if len(records) > limits.max_documents:
        raise IngestError(
            source,
            f"holds {len(records):,} documents, over the {limits.max_documents:,} limit; "
            "split it into several files",
            records[limits.max_documents].location or None,
        )
    documents: list[Document] = []
    seen: set[str] = set()
    for record in records:
        where = record.location or None
        check_field_size(record.text, source, limits, where)
        _check_unicode(record, source, where)
        if not record.text.strip():  # the same as normalise_text(text) == "", without a copy
            fix = f"remove or fill {record.location}" if record.location else "nothing to classify"
            raise IngestError(source, f"text is empty; {fix}", where)
        document = Document.from_text(
            record.text,
            source=source,
            location=record.location,
            external_id=record.external_id,
            gold_labels=record.gold_labels,
            meta=dict(record.meta),
        )
        if document.id not in seen:
            seen.add(document.id)
            documents.append(document)
    return documents, len(records) - len(documents)


def _check_unicode(record: Record, source: str, where: str | None) -> None:
    """Refuse unpaired surrogates (e.g. a JSON "\\ud800" escape): they are not Unicode text,
    and storing or hashing them would fail later, far from the file that brought them."""
    fields: list[tuple[str, object]] = [("the text", record.text), ("the id", record.external_id)]
    fields += [("a label", label) for label in record.gold_labels]
    fields += [(f"field {key!r}", value) for key, value in record.meta.items()]
    for name, value in fields:
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            bad = value[error.start]
            raise IngestError(
                source,
                f"{name} holds an unpaired surrogate (\\u{ord(bad):04x}), which is not valid "
                "Unicode; fix or remove that escape in the file",
                where,
            ) from None
