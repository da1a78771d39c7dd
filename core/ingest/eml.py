""".eml: one document per message, subject + plain-text body (HTML converted to text).

Parsed with the stdlib email package (policy.default). Headers that do not parse
(a malformed From, say) are kept as written rather than failing the file.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import cast

from bs4 import BeautifulSoup, NavigableString

from core.ingest.decode import check_not_binary, check_not_empty, decode_with_fallback
from core.ingest.errors import IngestError
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record

_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")
_FOLDED_WHITESPACE = re.compile(r"\s*\r?\n\s*")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_HTML_WHITESPACE = re.compile(r"\s+")
# Elements that start a new line of text.
_BLOCK_TAGS = [
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
    "dd",
    "dt",
    "section",
    "article",
    "header",
    "footer",
]
# meta key -> header name
META_HEADERS = {
    "subject": "Subject",
    "from": "From",
    "to": "To",
    "date": "Date",
    "message_id": "Message-ID",
}


def parse_eml(data: bytes, source: str, options: IngestOptions) -> Extracted:
    check_not_empty(data, source)
    check_not_binary(data, source)
    end = _END_OF_HEADERS.search(data)
    header_bytes = end.start() if end else len(data)
    if header_bytes > options.limits.max_header_bytes:
        raise IngestError(
            source,
            f"has a {header_bytes:,}-byte header block, over the "
            f"{options.limits.max_header_bytes:,}-byte limit; this is not an ordinary email",
            "headers",
        )
    message = BytesParser(policy=policy.default).parsebytes(data)
    if not message.keys():
        raise IngestError(
            source, "has no email headers (From:, Subject:, ...); if it is plain text, name it .txt"
        )
    meta = {key: _header(message, name) for key, name in META_HEADERS.items()}
    body, charset = _body_text(message)
    subject = meta["subject"] or ""
    text = "\n\n".join(part for part in (subject.strip(), body.strip()) if part)
    if not text:
        raise IngestError(source, "has no subject and no text body; nothing to classify")
    notes = [] if body.strip() else ["message has no text body; using the subject only"]
    record = Record(text, external_id=meta["message_id"], meta=meta)
    return Extracted([record], encoding=charset, notes=notes)


def html_to_text(html: str) -> str:
    """Visible text, one line per block element; scripts, styles and comments dropped."""
    soup = BeautifulSoup(html, "html.parser")
    for hidden in soup(["script", "style", "head", "title", "template", "noscript"]):
        hidden.decompose()
    for node in soup.find_all(string=True):
        # HTML source line breaks are just spaces, except inside <pre>.
        if type(node) is NavigableString and node.find_parent("pre") is None:
            node.replace_with(_HTML_WHITESPACE.sub(" ", node))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    lines = (line.strip() for line in soup.get_text().split("\n"))
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _header(message: EmailMessage, name: str) -> str | None:
    """Decoded header value; the value as written when it is malformed (a broken From etc.)."""
    try:
        value = message.get(name)
        parsed_cleanly = value is None or not getattr(value, "defects", ())
    except Exception:  # a header-parsing bug must not fail the whole upload
        value, parsed_cleanly = None, False
    if parsed_cleanly:
        return None if value is None else str(value)
    for key, raw in message.raw_items():
        if key.lower() == name.lower():
            return _FOLDED_WHITESPACE.sub(" ", str(raw)).strip()
    return None


def _body_text(message: EmailMessage) -> tuple[str, str | None]:
    """-> (body as plain text, its charset); ('', None) when there is no text part."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", None
    charset = part.get_content_charset()
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):  # unknown or lying charset
        # decode=True gives a non-multipart part's body as bytes (None when it has none)
        payload = cast(bytes | None, part.get_payload(decode=True))
        content = decode_with_fallback(payload or b"", charset)
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    return content, charset or "us-ascii"
