""".pdf through pypdf: the text of all pages as one document.

Encrypted files are refused unless they open with the empty password (files that
only restrict printing or copying); a PDF with no text layer is refused with a
hint to run OCR, as it is most likely a scan. Bounded here: at most max_pdf_pages pages,
and extraction stops at the page where the text passes max_field_chars; the rest
(a page whose drawing costs minutes) is the worker's CPU limit (core.ingest.worker).
"""

from __future__ import annotations

import io

from pypdf import PasswordType, PdfReader, apply_configuration
from pypdf.errors import LimitReachedError

from core.ingest.decode import binary_kind, check_not_empty
from core.ingest.errors import IngestError
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record

_HEADER_SEARCH_BYTES = 1024  # readers accept a little junk before %PDF-
_PAGE_TREE_SLACK = 100


def parse_pdf(data: bytes, source: str, options: IngestOptions) -> Extracted:
    check_not_empty(data, source)
    if b"%PDF-" not in data[:_HEADER_SEARCH_BYTES]:
        kind = binary_kind(data)
        hint = f"it looks like {kind}" if kind else "it has no %PDF- header"
        raise IngestError(source, f"is not a PDF file ({hint}); upload the PDF itself")
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as e:  # pypdf raises many types on damaged files
        raise IngestError(source, f"is not a readable PDF ({type(e).__name__}: {e})") from None
    notes = []
    if encrypted:
        _open_with_empty_password(reader, source)
        notes.append("PDF is encrypted with an empty password; read it without one")
    limit = options.limits.max_field_chars
    page_count = _page_count(reader, source, options.limits.max_pdf_pages)
    pages: list[str] = []
    total = 0
    for number in range(1, page_count + 1):
        try:
            page_text = reader.pages[number - 1].extract_text() or ""
        except Exception as e:  # damaged content streams, unsupported fonts, ...
            raise IngestError(
                source, f"text could not be extracted ({type(e).__name__}: {e})", f"page {number}"
            ) from None
        pages.append(page_text.rstrip())
        total += len(page_text)
        if total > limit:  # no need to read the rest of a long PDF
            raise IngestError(
                source,
                f"has more than {limit:,} characters of text (limit reached on page {number}); "
                "split the PDF into smaller files",
            )
    text = "\n\n".join(pages)
    if not text.strip():
        raise IngestError(
            source,
            "has no extractable text (a scanned PDF? run OCR on it first, then upload again)",
        )
    return Extracted([Record(text)], encoding=None, notes=notes)


def _open_with_empty_password(reader: PdfReader, source: str) -> None:
    try:
        opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception as e:  # e.g. an encryption scheme that needs the optional crypto package
        raise IngestError(
            source, f"is encrypted and could not be opened ({e}); save a copy without a password"
        ) from None
    if not opened:
        raise IngestError(
            source, "is encrypted with a password; save a copy without the password and upload that"
        )


def _page_count(reader: PdfReader, source: str, max_pages: int) -> int:
    """Pages in the page tree, whose walk stops soon after max_pages entries (not pypdf's 100k)."""
    too_many = IngestError(
        source, f"has more than {max_pages:,} pages (the limit); split the PDF into smaller files"
    )
    # Entries are pages plus the tree's inner nodes (~1 per 10 pages in real files).
    entries = 2 * max_pages + _PAGE_TREE_SLACK
    try:
        with apply_configuration(page_tree_maximum_entries=entries):
            count = len(reader.pages)
    except LimitReachedError:
        raise too_many from None
    except Exception as e:
        raise IngestError(source, f"is not a readable PDF ({type(e).__name__}: {e})") from None
    if count > max_pages:
        raise too_many
    return count
