"""Bytes -> text and the encoding used, rejecting what is not text.

Order: byte-order marks (UTF-32, UTF-8, UTF-16), then strict UTF-8, then the
legacy encodings. charset-normalizer alone misreads short Western text ('café'
fits a dozen code pages equally well, and it picked cp437 or mac_latin2 for
plain French and German sentences), so cp1252, the usual legacy encoding of
business text and a superset of Latin-1's printable characters, comes first: it
is taken when its reading looks like Western European text (see
WESTERN_CHARACTERS). Cyrillic, Greek, Polish, Turkish, CJK etc. go to
charset-normalizer. Known blind spot: a legacy Czech or Hungarian text whose
letters happen to read as Western ones (ř -> ø, ő -> õ) is read as cp1252.
UTF-8 avoids all of this.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from core.ingest.errors import IngestError

# Longest first where one BOM is a prefix of another (UTF-32-LE starts like UTF-16-LE).
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)

# Magic bytes -> what the file really is, and what to do about it.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document (name it .pdf)"),
    (
        b"PK\x03\x04",
        "a zip archive such as .docx/.xlsx (name Word files .docx; save sheets as .csv)",
    ),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (save .doc as .docx, .xls as .csv)"),
    (b"\x1f\x8b", "a gzip archive (unzip it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it first)"),
    (b"Rar!\x1a\x07", "a RAR archive (unpack it first)"),
    (b"\x7fELF", "a program"),
)

# Control characters that never appear in real text (tab, newlines, form feed excluded).
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
MAX_CONTROL_RATIO = 0.10
# A cp1252 reading is taken when at most half its letters are non-ASCII (Cyrillic or
# Greek read as cp1252 is ~100%) and 90% of its non-ASCII characters are ones Western
# text uses. Left out on purpose: the cp1252 readings of letters common in other code
# pages (Polish ł ą ź -> ³ ¹ Ÿ, Turkish ğ ş -> ð þ, ...).
MAX_NON_ASCII_LETTERS = 0.5
MIN_WESTERN_SHARE = 0.9
WESTERN_CHARACTERS = frozenset(
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßœšž"
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝŒŠŽ"
    "€£¥¢‘’‚“”„–—…•·†‡‰‹›«»¡¿™©®°§ºª½²×÷±µ\u00a0\u00ad"
)
_SAMPLE_BYTES = 64 * 1024


def binary_kind(data: bytes) -> str | None:
    """'a PNG image' etc. when data starts with a known binary signature."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    return None


def check_not_binary(data: bytes, source: str) -> None:
    """Reject known binary signatures and NUL bytes (for formats read as bytes, e.g. .eml)."""
    kind = binary_kind(data)
    if kind:
        raise IngestError(source, f"looks like {kind}, not text")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise IngestError(
            source,
            f"contains NUL bytes (first at byte {nul:,}): binary data, or UTF-16 text without a "
            "byte-order mark; save it as UTF-8 text",
        )


def check_not_empty(data: bytes, source: str) -> None:
    if not data:
        raise IngestError(source, "is empty (0 bytes); upload a file that contains text")


def decode_text(data: bytes, source: str) -> tuple[str, str]:
    """Bytes of a text format -> (text, encoding name); raises IngestError for non-text."""
    check_not_empty(data, source)
    for bom, codec, name in _BYTE_ORDER_MARKS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as e:
                raise IngestError(
                    source,
                    f"starts with a {name} byte-order mark but is not valid {name} "
                    f"(byte {e.start:,}); re-save it as UTF-8",
                ) from None
            encoding = name
            break
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            check_not_binary(data, source)  # names the format when the bytes say what it is
            text, encoding = _decode_detected(data, source)
        if "\x00" in text:
            check_not_binary(data, source)
    _check_text(text, source)
    return text, encoding


def decode_with_fallback(data: bytes, charset: str | None) -> str:
    """Decode a part whose declared charset may be wrong or unknown (e.g. an email body)."""
    if charset:
        try:
            return data.decode(charset, errors="replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(data).best()
        return str(best) if best is not None else data.decode("cp1252", errors="replace")


def _decode_detected(data: bytes, source: str) -> tuple[str, str]:
    if _reads_as_western_cp1252(_non_ascii_sample(data)):
        return data.decode("cp1252"), "cp1252"
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise IngestError(
            source,
            "is not UTF-8 and its encoding could not be told (or it is binary data); "
            "save it as UTF-8 text",
        )
    try:
        return data.decode(best.encoding), best.encoding
    except UnicodeDecodeError as e:  # charset-normalizer samples large files in chunks
        raise IngestError(
            source,
            f"is not UTF-8 and looked like {best.encoding}, but byte {e.start:,} is not valid "
            f"{best.encoding}; save it as UTF-8 text",
        ) from None


def _non_ascii_sample(data: bytes) -> bytes:
    """The lines holding non-ASCII bytes (the only evidence about the encoding), sampled evenly."""
    lines = [line for line in data.split(b"\n") if not line.isascii()]
    step = max(1, sum(map(len, lines)) // _SAMPLE_BYTES)
    return b"\n".join(lines[::step])[: 2 * _SAMPLE_BYTES]


def _reads_as_western_cp1252(sample: bytes) -> bool:
    """Mostly ASCII letters, and the non-ASCII characters are ones Western text uses."""
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    letters = [ch for ch in text if ch.isalpha()]
    if sum(1 for ch in letters if not ch.isascii()) > MAX_NON_ASCII_LETTERS * len(letters):
        return False
    non_ascii = [ch for ch in text if not ch.isascii()]
    usual = sum(1 for ch in non_ascii if ch in WESTERN_CHARACTERS)
    return usual >= MIN_WESTERN_SHARE * len(non_ascii)


def _check_text(text: str, source: str) -> None:
    nul = text.find("\x00")
    if nul >= 0:
        raise IngestError(
            source, f"contains NUL characters (first at character {nul:,}); it is not plain text"
        )
    # Counted at C speed (sub, not a Python loop over matches: 40 MB of them took 20 s).
    controls = len(text) - len(_CONTROL_CHARACTER.sub("", text))
    if controls > MAX_CONTROL_RATIO * len(text):
        raise IngestError(
            source,
            f"looks like binary data ({controls / len(text):.0%} control characters), not text; "
            "upload a text file",
        )
    if not text.strip():
        raise IngestError(source, "contains only whitespace; there is no text to classify")
