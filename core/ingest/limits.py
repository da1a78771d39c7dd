"""IngestLimits: the size and shape limits that keep one bad upload from hurting the app.

Each limit is checked while the file is read, at the first item over it, so that a refused
file costs no more than the part of it read so far (docs/security.md, "Ingest budget"):
documents are counted as rows/lines/items/paragraphs stream by, a table's columns on its
header row, a JSON file's values and nesting depth by a streaming scan before anything is
built.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from core.ingest.errors import IngestError


@dataclass(frozen=True)
class IngestLimits:
    max_file_bytes: int = 50 * 1024 * 1024
    max_field_chars: int = 100_000  # one document's text / one CSV cell
    max_documents: int = 200_000  # per file: rows, lines, items or paragraphs
    max_columns: int = 1_000  # a table's header / the distinct fields of a JSON file's objects
    max_json_values: int = 5_000_000  # every value in a .json/.jsonl file, nested ones included
    max_uncompressed_bytes: int = 200 * 1024 * 1024  # docx: sum of declared member sizes
    max_compression_ratio: float = 100.0  # docx: per member, uncompressed / compressed
    max_json_depth: int = 64
    max_header_bytes: int = 256 * 1024  # .eml header block
    max_email_parts: int = 100  # .eml: multipart + message/* parts (bounds their nesting too)
    max_docx_xml_bytes: int = 32 * 1024 * 1024  # docx: any one XML part, uncompressed
    max_pdf_pages: int = 1_000  # 100,000 characters run out long before that
    # pdf, docx and eml are parsed in a worker process (core.ingest.worker) under these.
    # Budget: any file <= 50 MB imported or refused within 10 s and 1.5 GB RSS on 2 cores.
    # RLIMIT_AS counts address space, not RSS: a worker starts at ~80 MB of it (~110 MB when
    # the server was started as a script, e.g. `streamlit run`), RSS ~40 MB; the rest is
    # the parser's.
    parser_cpu_seconds: float = 5.0
    parser_memory_bytes: int = 1024 * 1024 * 1024
    parser_wall_seconds: float = 6.0  # a worker that blocks, or shares a busy machine

    def __post_init__(self):
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"IngestLimits.{f.name} must be positive")


def check_file_size(size: int, source: str, limits: IngestLimits) -> None:
    if size > limits.max_file_bytes:
        raise IngestError(
            source,
            f"is {size:,} bytes, over the {limits.max_file_bytes:,}-byte limit; "
            "split it into smaller files",
        )


def check_field_size(
    value: str, source: str, limits: IngestLimits, location: str | None, field: str = "text"
) -> None:
    if len(value) > limits.max_field_chars:
        raise IngestError(
            source,
            f"{field} is {len(value):,} characters, over the {limits.max_field_chars:,}-character "
            "limit; shorten it or split it into several documents",
            location,
        )


def too_many_documents(
    source: str, limits: IngestLimits, location: str | None, unit: str = "documents"
) -> IngestError:
    """Raised at the first row/line/item/paragraph over max_documents, before the rest is read."""
    return IngestError(
        source,
        f"holds more than {limits.max_documents:,} {unit}, over the "
        f"{limits.max_documents:,} limit; split it into several files",
        location,
    )


def too_many_columns(source: str, limits: IngestLimits, count: str, location: str | None):
    """`count` says what was seen ('1,001 columns', 'objects with 1,001 different fields')."""
    return IngestError(
        source,
        f"has {count}, over the {limits.max_columns:,}-column limit; keep the columns you need "
        "(the text, an id, labels and a few for context) and export it again",
        location,
    )
