"""What format parsers hand back (Records), and how Records become a ParsedFile.

Parsers only read their format; the checks every document needs (size, emptiness,
count) and the de-duplication by content id happen once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.documents import Document, normalise_text
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


@dataclass
class Extracted:
    """A format parser's result: records in file order plus what it learned about the file."""

    records: list[Record]
    encoding: str | None = None  # text encoding used; None for docx/pdf
    columns: list[str] = field(default_factory=list)  # tabular formats only
    notes: list[str] = field(default_factory=list)


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
        if not normalise_text(record.text):
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
