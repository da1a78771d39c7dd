"""Ingest: shared behaviour — decoding, plain text, filenames, limits, idempotence."""

import contextlib
import hashlib
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.documents import document_id, normalise_text
from core.ingest import (
    SUPPORTED_EXTENSIONS,
    IngestError,
    IngestLimits,
    IngestOptions,
    ingest_bytes,
    ingest_path,
)
from tests.fixtures.ingest_files import make_pdf


def error_for(data: bytes, filename: str, options: IngestOptions = IngestOptions()) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_bytes(data, filename, options)
    return caught.value


# --- plain text and markdown ---------------------------------------------------------------


def test_txt_is_one_document_with_normalised_text():
    parsed = ingest_bytes(b"Dear team,\r\nthe printer is broken.  \r\n", "memo.txt")
    assert [d.text for d in parsed.documents] == ["Dear team,\nthe printer is broken."]
    assert parsed.format == "txt"
    assert parsed.documents[0].source == "memo.txt"


def test_md_is_read_as_text_keeping_markup():
    parsed = ingest_bytes(b"# Outage\n\n*All* systems down.", "notes.md")
    assert parsed.format == "md"
    assert parsed.documents[0].text == "# Outage\n\n*All* systems down."


def test_split_paragraphs_gives_one_document_per_blank_line_block():
    data = b"First para\nstill first.\n\n  \nSecond para.\n\n\nThird."
    parsed = ingest_bytes(data, "memo.txt", IngestOptions(split_paragraphs=True))
    assert [d.text for d in parsed.documents] == [
        "First para\nstill first.",
        "Second para.",
        "Third.",
    ]
    assert [d.location for d in parsed.documents] == ["paragraph 1", "paragraph 2", "paragraph 3"]


def test_duplicate_paragraphs_are_kept_once_and_counted():
    data = b"Same text.\n\nOther.\n\nSame text.  \n\nSame text."
    parsed = ingest_bytes(data, "memo.txt", IngestOptions(split_paragraphs=True))
    assert [d.text for d in parsed.documents] == ["Same text.", "Other."]
    assert parsed.duplicates_in_file == 2
    assert parsed.documents[0].location == "paragraph 1"


def test_sha256_is_of_the_raw_bytes():
    data = b"some text\r\n"
    assert ingest_bytes(data, "a.txt").sha256 == hashlib.sha256(data).hexdigest()


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbfcaf\xc3\xa9 na\xc3\xafve \xe2\x82\xac", "utf-8-sig"),
        ("café naïve €".encode("utf-16"), "utf-16-le"),
        (b"\xfe\xff" + "café naïve €".encode("utf-16-be"), "utf-16-be"),
        ("café naïve €".encode(), "utf-8"),
    ],
)
def test_unicode_encodings_decode_and_are_recorded(data, encoding):
    parsed = ingest_bytes(data, "a.txt")
    assert parsed.documents[0].text == "café naïve €"
    assert parsed.encoding == encoding


@pytest.mark.parametrize(
    "text",
    [
        "café naïve €",
        "Le café coûte 3€ — naïve, déjà vu.",
        "Invoice: 5€ “late” fee",
        "Grüße aus Köln",
    ],
)
def test_cp1252_decodes_correctly(text):
    parsed = ingest_bytes(text.encode("cp1252"), "legacy.txt")
    assert parsed.documents[0].text == text
    assert parsed.encoding == "cp1252"


@pytest.mark.parametrize("text", ["café naïve", "Grüße aus Köln, schöne Straße", "Señor Ñandú"])
def test_latin1_decodes_correctly(text):
    parsed = ingest_bytes(text.encode("latin-1"), "legacy.txt")
    assert parsed.documents[0].text == text


def test_other_legacy_encodings_are_detected():
    text = "Привет, как дела? Это тестовое сообщение для проверки кодировки."
    parsed = ingest_bytes(text.encode("cp1251"), "ru.txt")
    assert parsed.documents[0].text == text
    assert parsed.encoding == "cp1251"


def test_bom_with_invalid_utf16_is_rejected():
    error = error_for(b"\xff\xfe" + b"a\x00" + b"\x00\xd8", "bad.txt")  # lone surrogate
    assert error.filename == "bad.txt"
    assert "utf-16" in error.reason.lower()


# --- rejections ----------------------------------------------------------------------------


def test_empty_file_is_rejected():
    error = error_for(b"", "empty.txt")
    assert str(error).startswith("empty.txt: ")
    assert "empty" in error.reason


def test_whitespace_only_file_is_rejected():
    error = error_for(b" \r\n\t \n", "blank.txt")
    assert str(error).startswith("blank.txt: ")
    assert "whitespace" in error.reason


def test_png_renamed_txt_is_rejected_as_image():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + bytes(range(256))
    error = error_for(png, "photo.txt")
    assert str(error).startswith("photo.txt: ")
    assert "PNG image" in error.reason


def test_nul_bytes_are_rejected_with_their_offset():
    error = error_for(b"hello\x00world", "nul.txt")
    assert "NUL" in error.reason
    assert "byte 5" in error.reason


def test_control_character_soup_is_rejected_as_binary():
    error = error_for(bytes(range(1, 32)) * 10 + b"abc", "blob.txt")
    assert "binary" in error.reason


def test_file_over_max_file_bytes_is_rejected_before_parsing():
    options = IngestOptions(limits=IngestLimits(max_file_bytes=10))
    error = error_for(b"\x89PNG not even text but too big", "big.txt", options)
    assert "over the 10-byte limit" in error.reason


def test_text_over_max_field_chars_is_rejected_and_suggests_splitting():
    options = IngestOptions(limits=IngestLimits(max_field_chars=50))
    error = error_for(b"word " * 20, "long.txt", options)
    assert "over the 50-character limit" in error.reason


def test_paragraph_over_max_field_chars_names_the_paragraph():
    options = IngestOptions(split_paragraphs=True, limits=IngestLimits(max_field_chars=50))
    error = error_for(b"short\n\n" + b"x" * 51, "long.txt", options)
    assert error.location == "paragraph 2"
    assert str(error).startswith("long.txt, paragraph 2: ")


def test_too_many_documents_is_rejected():
    options = IngestOptions(split_paragraphs=True, limits=IngestLimits(max_documents=2))
    error = error_for(b"a\n\nb\n\nc", "many.txt", options)
    assert "over the 2 limit" in error.reason


def test_unknown_extension_lists_supported_ones():
    error = error_for(b"hello", "sheet.xlsx")
    assert "'.xlsx'" in error.reason
    for extension in SUPPORTED_EXTENSIONS:
        assert extension in error.reason


def test_missing_extension_is_rejected():
    error = error_for(b"hello", "README")
    assert "no extension" in error.reason


def test_extension_is_case_insensitive():
    assert ingest_bytes(b"hello", "NOTES.TXT").format == "txt"


# --- filenames are display-only ------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../x.txt", "x.txt"),
        ("C:\\Users\\ann\\x.txt", "x.txt"),
        ("C:x.txt", "x.txt"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("NUL.txt", "NUL.txt"),
        ("a\x00b\nc\u202etxt.txt", "a?b?c?txt.txt"),
    ],
)
def test_path_like_names_are_shown_as_a_safe_basename(filename, shown):
    parsed = ingest_bytes(b"content still parsed", filename)
    assert parsed.filename == shown
    assert parsed.documents[0].source == shown
    assert parsed.documents[0].text == "content still parsed"


def test_long_name_is_capped_but_keeps_extension_and_parses():
    parsed = ingest_bytes(b"content", "n" * 300 + ".txt")
    assert len(parsed.filename) <= 100
    assert parsed.filename.endswith(".txt")
    assert parsed.documents[0].text == "content"


def test_error_messages_use_the_display_name():
    error = error_for(b"", "../../secret/dir/empty.txt")
    assert error.filename == "empty.txt"
    assert "secret" not in str(error)


# --- error object ----------------------------------------------------------------------------


def test_ingest_error_formats_file_location_and_reason():
    error = IngestError("a.csv", "text is empty; remove or fill row 12", "row 12")
    assert str(error) == "a.csv, row 12: text is empty; remove or fill row 12"
    assert isinstance(error, ValueError)


def test_ingest_error_survives_pickling():
    error = pickle.loads(pickle.dumps(IngestError("a.csv", "bad", "row 3")))
    assert (error.filename, error.reason, error.location, str(error)) == (
        "a.csv",
        "bad",
        "row 3",
        "a.csv, row 3: bad",
    )


# --- idempotence ---------------------------------------------------------------------------


def test_same_bytes_give_same_ids():
    data = b"one\n\ntwo\n\nthree"
    options = IngestOptions(split_paragraphs=True)
    first = ingest_bytes(data, "a.txt", options)
    second = ingest_bytes(data, "b.txt", options)
    assert [d.id for d in first.documents] == [d.id for d in second.documents]


def test_crlf_and_lf_versions_give_same_id():
    lf = ingest_bytes(b"Line one\nLine two\n", "lf.txt")
    crlf = ingest_bytes(b"Line one\r\nLine two\r\n", "crlf.txt")
    assert lf.documents[0].id == crlf.documents[0].id
    assert lf.sha256 != crlf.sha256


def test_document_id_is_the_content_hash():
    parsed = ingest_bytes(b"hello world", "a.txt")
    assert parsed.documents[0].id == document_id("hello world")


# --- ingest_path -----------------------------------------------------------------------------


def test_ingest_path_reads_the_file_and_uses_its_name(tmp_path):
    path = tmp_path / "ticket.txt"
    path.write_bytes(b"Screen flickers")
    parsed = ingest_path(path)
    assert parsed.filename == "ticket.txt"
    assert parsed.documents[0].text == "Screen flickers"


def test_ingest_path_checks_size_before_reading(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 100)
    with pytest.raises(IngestError, match="over the 10-byte limit"):
        ingest_path(path, IngestOptions(limits=IngestLimits(max_file_bytes=10)))


# --- properties ------------------------------------------------------------------------------

# Text without control characters other than tab/CR/LF (those are rejected as binary).
plain_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\r\n")
)


@settings(max_examples=200, deadline=None)
@given(plain_text)
def test_any_text_as_utf8_txt_is_one_document_of_its_normalised_text(text):
    expected = normalise_text(text.removeprefix("\ufeff"))  # a leading U+FEFF is read as a BOM
    if expected:
        parsed = ingest_bytes(text.encode("utf-8"), "any.txt")
        assert [d.text for d in parsed.documents] == [expected]
    else:
        with pytest.raises(IngestError):
            ingest_bytes(text.encode("utf-8"), "any.txt")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_either_ingests_faithfully_or_raises_ingest_error(text):
    try:
        parsed = ingest_bytes(text.encode("utf-8"), "any.txt")
    except IngestError:
        return
    assert [d.text for d in parsed.documents] == [normalise_text(text.removeprefix("\ufeff"))]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_ingest_error(data):
    for name in ("x.txt", "x.csv", "x.json", "x.jsonl", "x.eml", "x.docx", "x.pdf"):
        with contextlib.suppress(IngestError):
            ingest_bytes(data, name)


def test_text_that_merely_starts_like_a_binary_signature_is_still_text():
    parsed = ingest_bytes(b"GIF89a is the name of our image team.", "team.txt")
    assert parsed.documents[0].text == "GIF89a is the name of our image team."


def test_pdf_renamed_txt_is_rejected_as_pdf():
    assert "PDF document" in error_for(make_pdf([["hello"]]), "report.txt").reason


def _valid_files() -> dict[str, bytes]:
    from tests.fixtures.ingest_files import make_docx, make_eml

    return {
        "f.csv": b'id,text,label\n1,"Hello, there",a;b\n2,Bye,c\n',
        "f.jsonl": b'{"text": "one", "n": [1, 2]}\n{"text": "two"}\n',
        "f.json": b'{"documents": [{"text": "one"}, "two"]}',
        "f.eml": make_eml(html="<p>Hi</p>"),
        "f.docx": make_docx(["Hello"], table=[["a", "b"]]),
        "f.pdf": make_pdf([["Hello world"]]),
    }


VALID_FILES = _valid_files()


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(VALID_FILES)),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    st.floats(0.2, 1),
)
def test_damaged_files_raise_only_ingest_error(name, flips, keep):
    data = bytearray(VALID_FILES[name])
    for where, value in flips:
        data[int(where * len(data))] = value
    data = bytes(data[: max(1, int(len(data) * keep))])
    with contextlib.suppress(IngestError):
        ingest_bytes(data, name)
