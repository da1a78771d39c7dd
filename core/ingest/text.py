""".txt and .md: the whole file is one document, or one per blank-line-separated paragraph."""

from __future__ import annotations

import re

from core.documents import normalise_text
from core.ingest.decode import decode_text
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record

_BLANK_LINE = re.compile(r"\n\s*\n")  # after normalisation: a line holding only whitespace


def parse_text(data: bytes, source: str, options: IngestOptions) -> Extracted:
    text, encoding = decode_text(data, source)
    if not options.split_paragraphs:
        return Extracted([Record(text)], encoding=encoding)
    paragraphs = [p for p in _BLANK_LINE.split(normalise_text(text)) if p.strip()]
    records = [Record(p, location=f"paragraph {n}") for n, p in enumerate(paragraphs, 1)]
    return Extracted(records, encoding=encoding, notes=[f"split into {len(records)} paragraphs"])
