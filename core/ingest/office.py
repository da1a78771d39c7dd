""".docx through python-docx, after the zip itself has been checked.

Before python-docx sees the file we read the zip's central directory (no
inflating) to refuse zip bombs: the declared uncompressed sizes must stay under
max_uncompressed_bytes in total, and no large member may compress better than
max_compression_ratio. zipfile never inflates a member past its declared size
(ZipExtFile stops there, and a longer stream fails its CRC), so the declared sizes
are binding, for python-docx's reads too. Every member is then read up to its first
element with defusedxml: whatever its name (Word finds parts through [Content_Types].xml
and relationships, so word/document.dat can be the document), a member that starts as
XML may not declare a DOCTYPE (the carrier of entity-expansion and external-entity
attacks) and may not unpack to more than max_docx_xml_bytes (python-docx holds each XML
part as a tree, ~10x its size). Text extraction stops once it passes max_field_chars.
The rest (python-docx's per-row table walks, a 2**31-column cell) is bounded by the
worker process's CPU and memory limits (core.ingest.worker).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
import docx
from defusedxml import DefusedXmlException
from docx.table import Table
from docx.text.paragraph import Paragraph

from core.ingest.decode import binary_kind, check_not_empty
from core.ingest.errors import IngestError
from core.ingest.limits import IngestLimits
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record

# Members smaller than this cannot hurt whatever their ratio (tiny XML parts often
# compress 100x); the ratio check is for large ones.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
# What zipfile raises on a damaged archive or member (zlib.error for bad deflate data,
# NotImplementedError for an unknown compression method).
_DAMAGED_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    NotImplementedError,
    EOFError,
    ValueError,
    OSError,
)


def parse_docx(data: bytes, source: str, options: IngestOptions) -> Extracted:
    check_not_empty(data, source)
    archive = _open_zip(data, source)
    with archive:
        check_zip_members(archive, source, options.limits)
        _check_xml_members(archive, source, options.limits)
    try:
        document = docx.Document(io.BytesIO(data))
        text = "\n".join(_bounded(_block_texts(document), source, options.limits))
    except IngestError:
        raise
    except Exception as e:  # python-docx raises many types on damaged files
        raise IngestError(
            source,
            f"could not be read as a Word document ({type(e).__name__}: {e}); "
            "open it in Word and save it again as .docx",
        ) from None
    if not text.strip():
        raise IngestError(source, "contains no text; nothing to classify")
    return Extracted([Record(text)], encoding=None)


def check_zip_members(archive: zipfile.ZipFile, source: str, limits: IngestLimits) -> None:
    """Zip-bomb checks from the central directory alone."""
    members = archive.infolist()
    total = sum(info.file_size for info in members)
    if total > limits.max_uncompressed_bytes:
        raise IngestError(
            source,
            f"would unpack to {total:,} bytes, over the {limits.max_uncompressed_bytes:,}-byte "
            "limit (a zip bomb, or a document with very large embedded files); "
            "remove large media or split the document",
        )
    for info in members:
        if info.file_size < RATIO_CHECK_MIN_BYTES:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise IngestError(
                source,
                f"member {info.filename!r} compresses {ratio:,.0f}:1, over the "
                f"{limits.max_compression_ratio:,.0f}:1 limit; this looks like a zip bomb",
            )


def _open_zip(data: bytes, source: str) -> zipfile.ZipFile:
    if not data.startswith(b"PK"):
        kind = binary_kind(data)
        hint = f"it looks like {kind}" if kind else "it is not a zip archive"
        raise IngestError(source, f"is not a .docx file ({hint}); save it from Word as .docx")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _DAMAGED_ZIP_ERRORS as e:
        raise IngestError(
            source, f"is not a valid .docx file (damaged zip archive: {e}); save it again as .docx"
        ) from None


def _check_xml_members(archive: zipfile.ZipFile, source: str, limits: IngestLimits) -> None:
    """Every member that starts as XML: no DOCTYPE, at most max_docx_xml_bytes unpacked."""
    for info in archive.infolist():
        if info.flag_bits & 0x1:
            raise IngestError(source, "is encrypted; save it without a password")
        if info.is_dir() or not _is_xml(archive, info, source):
            continue
        if info.file_size > limits.max_docx_xml_bytes:
            raise IngestError(
                source,
                f"member {info.filename!r} unpacks to {info.file_size:,} bytes of XML, over the "
                f"{limits.max_docx_xml_bytes:,}-byte limit; split the document into smaller ones",
            )


def _is_xml(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> bool:
    """Reads the member up to its first element: True for XML, False for other content (an
    image, say); raises IngestError for a DOCTYPE, or for damage in a part named .xml/.rels."""
    try:
        with archive.open(info) as member:
            # A DOCTYPE must come before the root element, so the first event settles it.
            events = defusedxml.ElementTree.iterparse(member, events=("start",), forbid_dtd=True)
            next(events, None)
        return True
    except DefusedXmlException:
        raise IngestError(
            source,
            f"member {info.filename!r} declares a DOCTYPE or entities, which Word never "
            "writes (an XML entity attack?); save the document again from Word",
        ) from None
    except (ParseError, *_DAMAGED_ZIP_ERRORS) as e:
        if isinstance(e, ParseError) and not info.filename.lower().endswith((".xml", ".rels")):
            return False  # not XML: python-docx keeps such parts as bytes
        raise IngestError(
            source,
            f"member {info.filename!r} is damaged ({e}); save the document again from Word",
        ) from None


def _bounded(texts: Iterator[str], source: str, limits: IngestLimits) -> Iterator[str]:
    """texts, stopping with IngestError once they pass max_field_chars (no need to read on)."""
    total = 0
    for text in texts:
        total += len(text) + 1
        if total > limits.max_field_chars:
            raise IngestError(
                source,
                f"has more than {limits.max_field_chars:,} characters of text; "
                "split the document into smaller files",
            )
        yield text


def _block_texts(container) -> Iterator[str]:
    """Paragraph texts and table rows ('cell | cell') in document order, tables recursively."""
    for block in container.iter_inner_content():
        if isinstance(block, Paragraph):
            yield block.text
        elif isinstance(block, Table):
            for row in block.rows:
                cells, seen = [], set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # a merged cell is repeated once per grid column
                        continue
                    seen.add(id(cell._tc))
                    cells.append("\n".join(_block_texts(cell)).strip())
                yield " | ".join(cells)
