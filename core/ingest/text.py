""".txt and .md: the whole file is one document, or one per blank-line-separated paragraph.

Paragraphs are counted while the text is split, and the file is refused at the first one
over max_documents: a 32 MB file of 16M one-letter paragraphs costs 200,001 of them, not 16M.
Each paragraph is normalised later (Document.from_text), so the split works on the raw text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain

from core.ingest.decode import decode_text
from core.ingest.limits import IngestLimits, too_many_documents
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record

# A line end, then any whitespace holding another line end: a blank line (one holding only
# spaces counts). Any of \r\n, \r, \n ends a line, as normalise_text reads them.
_BLANK_LINE = re.compile(r"(?:\r\n|\r|\n)\s*(?:\r\n|\r|\n)")


def parse_text(data: bytes, source: str, options: IngestOptions) -> Extracted:
    text, encoding = decode_text(data, source)
    if not options.split_paragraphs:
        return Extracted([Record(text)], encoding=encoding)
    records = [
        Record(paragraph, location=f"paragraph {n}")
        for n, paragraph in enumerate(_paragraphs(text, source, options.limits), 1)
    ]
    return Extracted(records, encoding=encoding, notes=[f"split into {len(records)} paragraphs"])


def _paragraphs(text: str, source: str, limits: IngestLimits) -> Iterator[str]:
    """The non-blank paragraphs in order; raises at the first over max_documents."""
    count = 0
    start = 0
    for separator in chain(_BLANK_LINE.finditer(text), [None]):
        end = separator.start() if separator else len(text)
        paragraph = text[start:end]
        if separator:
            start = separator.end()
        if not paragraph.strip():
            continue
        count += 1
        if count > limits.max_documents:
            raise too_many_documents(source, limits, f"paragraph {count}", unit="paragraphs")
        yield paragraph
