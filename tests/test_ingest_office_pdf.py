"""Ingest: .docx (with zip-bomb and XXE guards) and .pdf files, built at test time."""

import io
import zipfile

import pytest

from core.ingest import IngestError, IngestLimits, IngestOptions, ingest_bytes
from tests.fixtures.ingest_files import (
    declare_uncompressed_size,
    encrypt_pdf,
    make_docx,
    make_pdf,
    rewrite_zip,
)


def error_for(data: bytes, filename: str, options: IngestOptions = IngestOptions()) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_bytes(data, filename, options)
    return caught.value


@pytest.fixture(scope="module")
def memo_docx() -> bytes:
    return make_docx(
        ["Quarterly memo", "Sales fell in the north.", "Café prices rose 3€."],
        table=[["Region", "Change"], ["North", "-4%"]],
    )


# --- docx ----------------------------------------------------------------------------------


def test_docx_paragraphs_and_table_rows_in_order(memo_docx):
    parsed = ingest_bytes(memo_docx, "memo.docx")
    assert parsed.documents[0].text == (
        "Quarterly memo\nSales fell in the north.\nCafé prices rose 3€.\n"
        "Region | Change\nNorth | -4%"
    )
    assert (parsed.format, parsed.encoding) == ("docx", None)


def test_merged_table_cells_are_read_once():
    import docx

    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "wide"
    table.cell(0, 2).text = "narrow"
    buffer = io.BytesIO()
    document.save(buffer)
    assert ingest_bytes(buffer.getvalue(), "m.docx").documents[0].text == "wide | narrow"


def test_docx_without_text_is_rejected():
    assert "no text" in error_for(make_docx([""]), "empty.docx").reason


def test_not_a_zip_is_a_clear_error():
    error = error_for(b"This is plain text pretending to be Word.", "fake.docx")
    assert str(error).startswith("fake.docx: ")
    assert "not a zip archive" in error.reason


def test_old_binary_doc_renamed_docx_is_explained():
    error = error_for(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.docx")
    assert "old Office file" in error.reason


def test_zip_that_is_not_a_word_document_is_rejected():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert "could not be read as a Word document" in error_for(buffer.getvalue(), "z.docx").reason


def test_truncated_zip_is_rejected(memo_docx):
    error = error_for(memo_docx[: len(memo_docx) // 2], "cut.docx")
    assert "not a valid .docx" in error.reason


def test_highly_compressed_member_is_a_zip_bomb(memo_docx):
    bomb = rewrite_zip(memo_docx, add={"word/media/zeros.bin": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 200_000  # small on disk...
    error = error_for(bomb, "bomb.docx")
    assert "word/media/zeros.bin" in error.reason
    assert "zip bomb" in error.reason


def test_huge_declared_uncompressed_size_is_refused_before_inflating(memo_docx):
    lying = declare_uncompressed_size(memo_docx, "word/document.xml", 0xF000_0000)
    error = error_for(lying, "lying.docx")
    assert "would unpack to 4,0" in error.reason


def test_total_uncompressed_limit_is_configurable(memo_docx):
    options = IngestOptions(limits=IngestLimits(max_uncompressed_bytes=1000))
    assert "over the 1,000-byte limit" in error_for(memo_docx, "m.docx", options).reason


def test_small_members_may_compress_well(memo_docx):
    repetitive = rewrite_zip(memo_docx, add={"word/media/pad.bin": b"\0" * 200_000})
    assert ingest_bytes(repetitive, "m.docx").documents[0].text.startswith("Quarterly memo")


def test_docx_with_doctype_entities_is_rejected_as_xxe(memo_docx):
    with zipfile.ZipFile(io.BytesIO(memo_docx)) as archive:
        xml = archive.read("word/document.xml")
    prolog_end = xml.index(b"?>") + 2
    evil = (
        xml[:prolog_end]
        + b'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + xml[prolog_end:].replace(b"Quarterly memo", b"&xxe;")
    )
    error = error_for(rewrite_zip(memo_docx, replace={"word/document.xml": evil}), "xxe.docx")
    assert "word/document.xml" in error.reason
    assert "DOCTYPE" in error.reason


def test_billion_laughs_in_any_xml_part_is_rejected(memo_docx):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><Types>&lol2;</Types>'
    )
    data = rewrite_zip(memo_docx, replace={"[Content_Types].xml": laughs})
    assert "[Content_Types].xml" in error_for(data, "lol.docx").reason


def test_docx_with_damaged_xml_is_rejected(memo_docx):
    data = rewrite_zip(memo_docx, replace={"word/document.xml": b"<w:document><unclosed>"})
    assert "damaged" in error_for(data, "bad.docx").reason


# --- pdf -----------------------------------------------------------------------------------


def test_pdf_text_of_all_pages():
    data = make_pdf([["Invoice 42 is overdue.", "Café costs 3€ (naïve)."], ["Page two."]])
    parsed = ingest_bytes(data, "invoice.pdf")
    text = parsed.documents[0].text
    assert "Invoice 42 is overdue." in text
    assert "Café costs 3€ (naïve)." in text
    assert text.index("Invoice") < text.index("Page two.")
    assert (parsed.format, parsed.encoding) == ("pdf", None)


def test_pdf_without_text_suggests_ocr():
    error = error_for(make_pdf([[], []]), "scan.pdf")
    assert str(error).startswith("scan.pdf: ")
    assert "OCR" in error.reason


def test_password_protected_pdf_is_rejected():
    data = encrypt_pdf(make_pdf([["secret numbers"]]), user_password="hunter2")
    error = error_for(data, "locked.pdf")
    assert "encrypted with a password" in error.reason


def test_pdf_encrypted_with_empty_password_is_read_with_a_note():
    data = encrypt_pdf(make_pdf([["open to all"]]), user_password="")
    parsed = ingest_bytes(data, "restricted.pdf")
    assert parsed.documents[0].text == "open to all"
    assert any("empty password" in note for note in parsed.notes)


def test_not_a_pdf_is_rejected():
    assert "no %PDF- header" in error_for(b"hello there", "fake.pdf").reason


def test_damaged_pdf_is_rejected():
    error = error_for(b"%PDF-1.4\n" + b"garbage " * 50, "broken.pdf")
    assert str(error).startswith("broken.pdf")


def test_pdf_text_over_the_field_limit_is_rejected():
    data = make_pdf([["x" * 60] for _ in range(3)])
    options = IngestOptions(limits=IngestLimits(max_field_chars=100))
    assert "limit reached on page 2" in error_for(data, "long.pdf", options).reason


def test_same_pdf_bytes_give_same_document_id():
    data = make_pdf([["stable text"]])
    assert (
        ingest_bytes(data, "a.pdf").documents[0].id == ingest_bytes(data, "b.pdf").documents[0].id
    )
