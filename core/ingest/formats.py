"""Extension -> format name -> parser. The one table that says what Sift can read."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from core.ingest.eml import parse_eml
from core.ingest.errors import IngestError, file_extension
from core.ingest.jsonish import parse_json, parse_jsonl
from core.ingest.office import parse_docx
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted
from core.ingest.pdf import parse_pdf
from core.ingest.tabular import parse_delimited
from core.ingest.text import parse_text

Parser = Callable[[bytes, str, IngestOptions], Extracted]

# format -> parser; the extension is ".<format>"
PARSERS: dict[str, Parser] = {
    "txt": parse_text,
    "md": parse_text,
    "csv": parse_delimited,
    "tsv": partial(parse_delimited, default_delimiter="\t"),
    "jsonl": parse_jsonl,
    "json": parse_json,
    "eml": parse_eml,
    "docx": parse_docx,
    "pdf": parse_pdf,
}
TABULAR_FORMATS = ("csv", "tsv", "jsonl", "json")
# Parsers that cannot be bounded from outside (pypdf, python-docx, the email package): run
# in a worker process under IngestLimits.parser_* (core.ingest.worker).
ISOLATED_FORMATS = ("eml", "docx", "pdf")
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(f".{name}" for name in PARSERS)


def format_of(filename: str, source: str) -> str:
    """'Report.PDF' -> 'pdf'; unknown extensions raise IngestError listing the supported ones."""
    extension = file_extension(filename)
    if extension not in PARSERS:
        found = f"'.{extension}'" if extension else "no extension"
        raise IngestError(
            source,
            f"has {found}, which Sift cannot read; supported: {', '.join(SUPPORTED_EXTENSIONS)}",
        )
    return extension
