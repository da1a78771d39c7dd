"""Ingest: .csv and .tsv files, and their column preview."""

import pytest

from core.ingest import IngestError, IngestLimits, IngestOptions, ingest_bytes, preview_columns


def error_for(data: bytes, filename: str, options: IngestOptions = IngestOptions()) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_bytes(data, filename, options)
    return caught.value


TICKETS = (
    b"id,body,label\n1,Printer is broken,hardware\n2,Refund my order,billing;urgent\n3,Hello,\n"
)


def test_csv_rows_become_documents_with_id_and_gold_labels():
    options = IngestOptions(text_column="body", id_column="id", label_column="label")
    parsed = ingest_bytes(TICKETS, "tickets.csv", options)
    assert [d.text for d in parsed.documents] == ["Printer is broken", "Refund my order", "Hello"]
    assert [d.external_id for d in parsed.documents] == ["1", "2", "3"]
    assert [d.gold_labels for d in parsed.documents] == [
        ("hardware",),
        ("billing", "urgent"),
        (),
    ]
    assert [d.location for d in parsed.documents] == ["row 1", "row 2", "row 3"]
    assert parsed.columns == ["id", "body", "label"]
    assert parsed.format == "csv"


def test_label_delimiter_is_configurable_and_labels_are_trimmed_and_deduplicated():
    data = b"text,gold\nhello,a | b| a\n"
    options = IngestOptions(label_column="gold", label_delimiter="|")
    parsed = ingest_bytes(data, "t.csv", options)
    assert parsed.documents[0].gold_labels == ("a", "b")


def test_text_column_is_guessed_by_name_and_noted():
    parsed = ingest_bytes(TICKETS, "tickets.csv")
    assert parsed.documents[0].text == "Printer is broken"
    assert "text column guessed: 'body'" in parsed.notes


def test_text_column_is_guessed_as_the_only_non_numeric_column():
    parsed = ingest_bytes(b"num,comment,score\n1,Great service,4.5\n2,Slow reply,2\n", "c.csv")
    assert [d.text for d in parsed.documents] == ["Great service", "Slow reply"]
    assert "text column guessed: 'comment'" in parsed.notes


def test_ambiguous_text_column_asks_the_user_to_choose():
    error = error_for(b"title,comment\nA,Great\nB,Slow\n", "c.csv")
    assert "choose the text column" in error.reason
    assert "'title', 'comment'" in error.reason


def test_unknown_column_lists_available_columns():
    error = error_for(TICKETS, "tickets.csv", IngestOptions(text_column="message"))
    assert "no column 'message'" in error.reason
    assert "'id', 'body', 'label'" in error.reason


def test_unknown_label_column_is_named_as_such():
    error = error_for(TICKETS, "tickets.csv", IngestOptions(label_column="gold"))
    assert "'gold' (asked for as the label column)" in error.reason


def test_column_name_matches_ignoring_case_with_a_note():
    parsed = ingest_bytes(TICKETS, "tickets.csv", IngestOptions(text_column="BODY"))
    assert parsed.documents[0].text == "Printer is broken"
    assert any("matched 'body'" in note for note in parsed.notes)


def test_semicolon_csv_is_sniffed():
    data = "id;text\n1;Bonjour, le café est froid\n2;Merci, à bientôt\n".encode()
    parsed = ingest_bytes(data, "fr.csv")
    assert [d.text for d in parsed.documents] == ["Bonjour, le café est froid", "Merci, à bientôt"]
    assert any("semicolon" in note for note in parsed.notes)


def test_pipe_csv_is_sniffed():
    parsed = ingest_bytes(b"id|text\n1|a, b and c\n2|d\n", "p.csv")
    assert [d.text for d in parsed.documents] == ["a, b and c", "d"]


def test_explicit_delimiter_overrides_sniffing():
    data = b"text\nhello, world\nbye, now\n"  # unquoted commas in a one-column file
    with pytest.raises(IngestError):
        ingest_bytes(data, "one.csv")
    parsed = ingest_bytes(data, "one.csv", IngestOptions(csv_delimiter="|"))
    assert [d.text for d in parsed.documents] == ["hello, world", "bye, now"]


def test_tsv_uses_tab():
    parsed = ingest_bytes(b"id\ttext\n1\thello, world; again\n", "t.tsv")
    assert parsed.format == "tsv"
    assert parsed.documents[0].text == "hello, world; again"


def test_quoted_field_with_newlines_and_crlf_is_one_document():
    data = b'id,text\r\n1,"line one\r\nline two"\r\n2,next\r\n'
    parsed = ingest_bytes(data, "q.csv")
    assert [d.text for d in parsed.documents] == ["line one\nline two", "next"]


def test_utf8_bom_in_csv_does_not_pollute_the_first_column_name():
    parsed = ingest_bytes(b"\xef\xbb\xbftext,id\nhi,1\n", "b.csv")
    assert parsed.columns == ["text", "id"]


def test_cp1252_csv_decodes():
    data = "text;label\nLe café coûte 3€;prix\n".encode("cp1252")
    parsed = ingest_bytes(data, "legacy.csv", IngestOptions(label_column="label"))
    assert parsed.documents[0].text == "Le café coûte 3€"
    assert parsed.encoding == "cp1252"


def test_duplicate_rows_are_kept_once_and_counted():
    data = b"text\nsame\nother\nsame\n"
    parsed = ingest_bytes(data, "d.csv")
    assert [d.text for d in parsed.documents] == ["same", "other"]
    assert parsed.duplicates_in_file == 1


def test_blank_lines_are_skipped_with_a_note_and_rows_keep_file_numbering():
    data = b"text\nfirst\n\n,\nthird\n"
    parsed = ingest_bytes(data, "b.csv", IngestOptions(csv_delimiter=","))
    assert [d.location for d in parsed.documents] == ["row 1", "row 4"]


def test_missing_gold_in_some_rows_is_fine():
    parsed = ingest_bytes(TICKETS, "t.csv", IngestOptions(label_column="label"))
    assert parsed.documents[2].gold_labels == ()


def test_unnamed_column_gets_a_name():
    parsed = ingest_bytes(b",text\n0,hello\n", "pandas.csv")
    assert parsed.columns == ["column_1", "text"]


# --- rejections ----------------------------------------------------------------------------


def test_unterminated_quote_names_the_row_and_line():
    error = error_for(b'id,text\n1,fine\n2,"never closed\n3,more\n', "q.csv")
    assert error.location == "row 2 (line 3)"
    assert str(error).startswith("q.csv, row 2 (line 3): ")
    assert "never closed" in error.reason


def test_stray_quote_inside_quoted_field_names_the_row():
    error = error_for(b'id,text\n1,"say "hi" now"\n', "q.csv")
    assert error.location == "row 1 (line 2)"
    assert "doubled" in error.reason


def test_row_with_too_many_fields_names_the_row():
    error = error_for(b"id,text\n1,ok\n2,a,b\n", "f.csv", IngestOptions(csv_delimiter=","))
    assert error.location == "row 2 (line 3)"
    assert "3 fields but the header has 2" in error.reason


def test_row_with_too_few_fields_names_the_row():
    error = error_for(b"id,text,label\n1,ok,x\n2,short\n", "f.csv")
    assert error.location == "row 2 (line 3)"


def test_empty_text_cell_asks_to_remove_or_fill_the_row():
    error = error_for(b"id,text\n1,ok\n2,  \n", "e.csv")
    assert error.location == "row 2"
    assert "remove or fill row 2" in error.reason


def test_field_of_200kb_over_the_limit_names_row_and_limit():
    data = b"id,text\n1,ok\n2," + b"x" * 200_000 + b"\n"
    error = error_for(data, "big.csv")
    assert error.location == "row 2 (line 3)"
    assert "100,000-character limit" in error.reason


def test_oversized_non_text_cell_names_its_column():
    options = IngestOptions(limits=IngestLimits(max_field_chars=10))
    error = error_for(b"text,note\nok," + b"n" * 11 + b"\n", "n.csv", options)
    assert "column 'note'" in error.reason


def test_duplicate_column_names_are_rejected():
    error = error_for(b"text,text\na,b\n", "dup.csv")
    assert "'text' twice" in error.reason


def test_header_only_csv_is_rejected_as_holding_no_documents():
    error = error_for(b"id,text\n", "h.csv", IngestOptions(text_column="text"))
    assert "no documents" in error.reason


def test_too_many_rows_are_rejected():
    options = IngestOptions(limits=IngestLimits(max_documents=2))
    error = error_for(b"text\na\nb\nc\n", "many.csv", options)
    assert "more than 2 rows" in error.reason
    assert error.location == "row 3 (line 4)"


def test_binary_renamed_csv_is_rejected():
    error = error_for(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)), "sheet.csv")
    assert "zip archive" in error.reason


# --- preview -------------------------------------------------------------------------------


def test_preview_gives_columns_and_first_rows():
    columns, rows = preview_columns(TICKETS, "tickets.csv", rows=2)
    assert columns == ["id", "body", "label"]
    assert rows == [
        {"id": "1", "body": "Printer is broken", "label": "hardware"},
        {"id": "2", "body": "Refund my order", "label": "billing;urgent"},
    ]


def test_preview_reads_only_the_rows_it_shows():
    data = b"text\nfirst\n" + b'"broken\n' * 3
    columns, rows = preview_columns(data, "p.csv", rows=1)
    assert rows == [{"text": "first"}]


def test_preview_of_a_non_tabular_file_is_refused():
    with pytest.raises(IngestError, match="no columns"):
        preview_columns(b"hello", "a.txt")
