"""Ingest: .eml files."""

import pytest

from core.ingest import IngestError, IngestLimits, IngestOptions, ingest_bytes
from tests.fixtures.ingest_files import make_eml


def error_for(data: bytes, filename: str, options: IngestOptions = IngestOptions()) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_bytes(data, filename, options)
    return caught.value


def test_plain_email_is_subject_then_body_with_headers_in_meta():
    parsed = ingest_bytes(make_eml(), "mail.eml")
    (document,) = parsed.documents
    assert document.text == "Refund request\n\nPlease refund order 123."
    assert document.meta == {
        "subject": "Refund request",
        "from": "Ann <ann@example.com>",
        "to": "support@example.com",
        "date": "Tue, 03 Mar 2026 10:00:00 +0000",
        "message_id": "<abc123@example.com>",
    }
    assert document.external_id == "<abc123@example.com>"
    assert parsed.format == "eml"


def test_plain_part_is_preferred_over_html():
    data = make_eml(body="Plain version.", html="<p>HTML version.</p>")
    assert ingest_bytes(data, "m.eml").documents[0].text.endswith("Plain version.")


def test_html_only_body_is_converted_to_text_without_script_or_style():
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Hello <b>team</b>,</p><div>the VPN<br>is down.</div>"
        "<script>alert('x')</script><!-- hidden --></body></html>"
    )
    text = ingest_bytes(make_eml(body=None, html=html), "m.eml").documents[0].text
    assert "Hello team," in text
    assert "the VPN\nis down." in text
    for hidden in ("alert", "color", "hidden"):
        assert hidden not in text


def test_encoded_subject_and_non_ascii_body_are_decoded():
    data = make_eml(subject="Café crème €5", body="Naïve déjà vu.")
    document = ingest_bytes(data, "m.eml").documents[0]
    assert document.text == "Café crème €5\n\nNaïve déjà vu."


def test_latin1_body_declared_in_charset_decodes():
    data = (
        b"From: a@example.com\r\nSubject: Hi\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9 na\xefve\r\n"
    )
    parsed = ingest_bytes(data, "m.eml")
    assert parsed.documents[0].text == "Hi\n\ncafé naïve"
    assert parsed.encoding == "iso-8859-1"


def test_unknown_charset_falls_back_to_detection():
    data = (
        b"From: a@example.com\r\nSubject: Hi\r\nContent-Type: text/plain; charset=x-made-up\r\n"
        b"\r\nplain ascii body\r\n"
    )
    assert ingest_bytes(data, "m.eml").documents[0].text == "Hi\n\nplain ascii body"


def test_malformed_from_is_kept_as_written():
    data = (
        b"From: Ann <<ann@@example..com\r\nTo: ,,,@\r\nSubject: Broken sender\r\n"
        b"Date: not a date\r\n\r\nBody text.\r\n"
    )
    document = ingest_bytes(data, "m.eml").documents[0]
    assert "ann@@example..com" in document.meta["from"]
    assert document.meta["date"] == "not a date"
    assert document.text == "Broken sender\n\nBody text."


def test_email_without_body_uses_subject_with_a_note():
    data = b"From: a@example.com\r\nSubject: Server down\r\n\r\n"
    parsed = ingest_bytes(data, "m.eml")
    assert parsed.documents[0].text == "Server down"
    assert any("no text body" in note for note in parsed.notes)


def test_email_with_neither_subject_nor_body_is_rejected():
    error = error_for(b"From: a@example.com\r\n\r\n \r\n", "m.eml")
    assert "no subject and no text body" in error.reason


def test_one_megabyte_header_is_rejected():
    junk = b"X-Junk: " + b"a" * 70 + b"\r\n"
    data = b"From: a@example.com\r\n" + junk * 15_000 + b"Subject: hi\r\n\r\nbody\r\n"
    error = error_for(data, "huge.eml")
    assert str(error).startswith("huge.eml, headers: ")
    assert "262,144-byte limit" in error.reason


def test_header_limit_is_configurable():
    options = IngestOptions(limits=IngestLimits(max_header_bytes=50))
    assert "header block" in error_for(make_eml(), "m.eml", options).reason


def test_binary_renamed_eml_is_rejected():
    error = error_for(b"\x89PNG\r\n\x1a\n\x00\x00\x00", "m.eml")
    assert "PNG" in error.reason


def test_plain_text_named_eml_is_rejected_with_a_hint():
    error = error_for(b"Just some notes\nwithout headers\n", "notes.eml")
    assert "name it .txt" in error.reason


def test_attachments_are_not_part_of_the_text():
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Invoice"
    message["From"] = "a@example.com"
    message.set_content("See attached.")
    message.add_attachment(
        b"secret attachment text", maintype="text", subtype="plain", filename="a.txt"
    )
    text = ingest_bytes(message.as_bytes(), "m.eml").documents[0].text
    assert text == "Invoice\n\nSee attached."
