"""Hostile upload files at a chosen scale: small in tests, full size in bench/ingest_budget.py.

Each function returns the bytes of one file that used to cost the parser far more than its
size suggests (numbers measured on the 2-core dev machine before the parser worker):

    nested_html_eml(10_000)          70 KB .eml, 22 s in BeautifulSoup (quadratic in depth)
    nested_multipart_eml(1_000)      RecursionError in the email package
    big_docx(156_000_000)            19 MB .docx, > 85 s and 2.5 GB RSS in python-docx
    shared_stream_pdf(200, 72 MB)    71 KB .pdf, > 90 s in pypdf (every page re-reads one stream)
    renamed_doctype_docx()           a DOCTYPE in the main part, stored as word/document.dat
"""

from __future__ import annotations

import io
import random
import zlib
from zipfile import ZIP_DEFLATED, ZipFile

from tests.fixtures.ingest_files import assemble_pdf, make_docx, rewrite_zip

_HEADERS = "From: a@example.com\nTo: b@example.com\nSubject: hostile\nMIME-Version: 1.0\n"


def nested_html_eml(depth: int) -> bytes:
    """An .eml whose HTML body nests `depth` <div>s around one sentence (~7 bytes a level)."""
    html = "<div>" * depth + "deep hello" + "</div>" * depth
    return (_HEADERS + "Content-Type: text/html; charset=utf-8\n\n" + html + "\n").encode()


def nested_multipart_eml(depth: int) -> bytes:
    """An .eml with `depth` multipart/mixed parts, each the only child of the one before."""
    body = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    body += "Content-Type: text/plain\n\nhello world\n"
    body += "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    return (_HEADERS + body).encode()


def big_docx(document_xml_bytes: int, seed: int = 0) -> bytes:
    """A real .docx whose word/document.xml is about `document_xml_bytes` long.

    Random words in short paragraphs, so it deflates about 8:1 (far under the 100:1 zip-bomb
    ratio) and python-docx builds one proxy per paragraph.
    """
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(2_000)
    ]
    template = make_docx(["PLACEHOLDER"])
    with ZipFile(io.BytesIO(template)) as archive:
        xml = archive.read("word/document.xml")
    head, tail = xml.split(b"<w:p>", 1)[0], xml[xml.index(b"<w:sectPr") :]
    paragraphs: list[bytes] = []
    size = len(head) + len(tail)
    while size < document_xml_bytes:
        text = " ".join(rng.choice(words) for _ in range(8)).encode()
        paragraph = b"<w:p><w:r><w:t>" + text + b"</w:t></w:r></w:p>"
        paragraphs.append(paragraph)
        size += len(paragraph)
    return rewrite_zip(template, replace={"word/document.xml": head + b"".join(paragraphs) + tail})


def shared_stream_pdf(pages: int, stream_bytes: int) -> bytes:
    """A PDF of `pages` pages that all draw one FlateDecode content stream of path operators.

    The stream (`stream_bytes` decoded, no text shown) deflates ~1000:1, so the file stays
    tiny while every page's text extraction parses the whole stream again.
    """
    operator = b"0 0 m 1 1 l S\n"
    # One empty string shown, else pypdf skips a stream with no text operator (Tj) at all.
    content = zlib.compress(
        b"BT /F1 1 Tf () Tj ET\n" + operator * (stream_bytes // len(operator)), 9
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (5 + i) for i in range(pages)), pages),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
        b"/Resources << /Font << /F1 4 0 R >> >> >>"
    ] * pages
    return assemble_pdf(objects)


def renamed_doctype_docx() -> bytes:
    """A .docx whose main part, renamed word/document.dat, declares an external entity.

    [Content_Types].xml and the package relationship point Word (and python-docx) at the
    renamed part, so an extension-based DOCTYPE check never looks at it.
    """
    template = make_docx(["Quarterly memo"])
    with ZipFile(io.BytesIO(template)) as archive:
        xml = archive.read("word/document.xml")
        types = archive.read("[Content_Types].xml")
        rels = archive.read("_rels/.rels")
        names = [n for n in archive.namelist() if n != "word/document.xml"]
        parts = {name: archive.read(name) for name in names}
    prolog_end = xml.index(b"?>") + 2
    evil = (
        xml[:prolog_end]
        + b'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + xml[prolog_end:].replace(b"Quarterly memo", b"&xxe;")
    )
    parts["[Content_Types].xml"] = types.replace(b"/word/document.xml", b"/word/document.dat")
    parts["_rels/.rels"] = rels.replace(b"word/document.xml", b"word/document.dat")
    parts["word/document.dat"] = evil
    out = io.BytesIO()
    with ZipFile(out, "w") as target:
        for name, content in parts.items():
            target.writestr(name, content, compress_type=ZIP_DEFLATED)
    return out.getvalue()
