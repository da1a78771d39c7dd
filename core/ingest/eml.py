""".eml: one document per message, subject + plain-text body (HTML converted to text).

Parsed with the stdlib email package (policy.default). Headers that do not parse
(a malformed From, say) are kept as written rather than failing the file.

Bounded here: the header block (max_header_bytes) and the number of multipart and
message/* parts (max_email_parts, counted in the raw bytes before parsing: the email
package nests one generator per level, and every line is matched against every open
boundary, so deep nesting costs depth x lines). HTML bodies become text in one pass over
the tags (html.parser events, no tree), so a body nested a million <div>s deep costs
what its length does. The rest is the worker process's CPU and memory limits.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import cast

from core.ingest.decode import check_not_binary, check_not_empty, decode_with_fallback
from core.ingest.errors import IngestError
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record

_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")
_FOLDED_WHITESPACE = re.compile(r"\s*\r?\n\s*")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_HTML_WHITESPACE = re.compile(r"\s+")
# A multipart/* or message/* Content-Type header: one per part that holds other parts.
_CONTAINER_HEADER = re.compile(rb"^content-type:\s*(?:multipart|message)/", re.I | re.M)
# Elements whose content is not shown.
_HIDDEN_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
# Elements that start a new line of text.
_BLOCK_TAGS = frozenset(
    {
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
    }
)
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
    containers = len(_CONTAINER_HEADER.findall(data))
    if containers > options.limits.max_email_parts:
        raise IngestError(
            source,
            f"is nested too deeply to read, or holds too many parts: {containers:,} multipart "
            f"or attached-message parts, over the {options.limits.max_email_parts:,}-part "
            "limit; forward the message again, or save its text as .txt",
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
    converter = _HtmlText()
    converter.feed(html)
    converter.close()
    lines = (line.strip() for line in "".join(converter.pieces).split("\n"))
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


class _HtmlText(HTMLParser):
    """html.parser events -> text pieces. Only counters of open hidden and <pre> elements
    are kept (no tree), so time and memory follow the length, never the nesting depth."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0  # open script/style/head/... elements
        self.pre = 0  # open <pre> elements, where line breaks are kept

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "body":  # a <head> left open ends where the body starts
            self.hidden = 0
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        elif tag == "pre":
            self.pre += 1
        self._break(tag)
        if tag == "hr":  # no end tag: the line after it starts here too
            self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden = max(self.hidden - 1, 0)
        elif tag == "pre":
            self.pre = max(self.pre - 1, 0)
        if tag != "br":
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if not self.hidden:  # HTML source line breaks are just spaces, except inside <pre>
            self.pieces.append(data if self.pre else _HTML_WHITESPACE.sub(" ", data))

    def _break(self, tag: str) -> None:
        if self.hidden:
            return
        if tag == "br" or tag in _BLOCK_TAGS:
            self.pieces.append("\n")


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
