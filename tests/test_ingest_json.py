"""Ingest: .jsonl and .json files."""

import json

import pytest

from core.ingest import IngestError, IngestLimits, IngestOptions, ingest_bytes, preview_columns


def error_for(data: bytes, filename: str, options: IngestOptions = IngestOptions()) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_bytes(data, filename, options)
    return caught.value


def jsonl(*items) -> bytes:
    return "\n".join(json.dumps(item) for item in items).encode()


def test_jsonl_objects_become_documents_located_by_line():
    data = jsonl(
        {"id": 7, "text": "Card declined", "labels": ["billing", "card"]},
        {"id": "x", "text": "Lost password", "labels": "account"},
    )
    options = IngestOptions(id_column="id", label_column="labels")
    parsed = ingest_bytes(data, "t.jsonl", options)
    assert [d.text for d in parsed.documents] == ["Card declined", "Lost password"]
    assert [d.external_id for d in parsed.documents] == ["7", "x"]
    assert [d.gold_labels for d in parsed.documents] == [("billing", "card"), ("account",)]
    assert [d.location for d in parsed.documents] == ["line 1", "line 2"]
    assert parsed.columns == ["id", "text", "labels"]


def test_jsonl_skips_blank_lines_and_keeps_line_numbers():
    data = b'{"text": "a"}\n\n  \n{"text": "b"}\r\n'
    parsed = ingest_bytes(data, "t.jsonl")
    assert [d.location for d in parsed.documents] == ["line 1", "line 4"]


def test_jsonl_keeps_raw_line_separator_characters_inside_strings():
    data = '{"text": "one\u2028two"}\n{"text": "three"}\n'.encode()
    parsed = ingest_bytes(data, "t.jsonl")
    assert [d.location for d in parsed.documents] == ["line 1", "line 2"]


def test_jsonl_text_field_is_guessed_and_noted():
    parsed = ingest_bytes(jsonl({"n": 1, "message": "hi"}), "t.jsonl")
    assert parsed.documents[0].text == "hi"
    assert "text column guessed: 'message'" in parsed.notes


def test_jsonl_guess_uses_the_only_string_field():
    parsed = ingest_bytes(jsonl({"n": 1, "note": "hi"}, {"n": 2, "note": "yo"}), "t.jsonl")
    assert [d.text for d in parsed.documents] == ["hi", "yo"]


def test_json_list_of_objects():
    data = json.dumps([{"body": "one"}, {"body": "two"}]).encode()
    parsed = ingest_bytes(data, "d.json")
    assert [d.text for d in parsed.documents] == ["one", "two"]
    assert [d.location for d in parsed.documents] == ["item 1", "item 2"]


def test_json_documents_wrapper():
    data = json.dumps({"documents": [{"text": "one"}], "version": 2}).encode()
    parsed = ingest_bytes(data, "d.json")
    assert [d.text for d in parsed.documents] == ["one"]


def test_json_list_of_strings():
    parsed = ingest_bytes(b'["first memo", "second memo", "first memo"]', "d.json")
    assert [d.text for d in parsed.documents] == ["first memo", "second memo"]
    assert parsed.duplicates_in_file == 1
    assert parsed.columns == []


def test_json_other_top_level_shapes_are_rejected_with_the_expected_shapes():
    error = error_for(b'{"items": []}', "d.json")
    assert '{"documents": [...]}' in error.reason


def test_json_item_of_wrong_type_names_the_item():
    error = error_for(b'["ok", 5]', "d.json")
    assert error.location == "item 2"
    assert "object or a string" in error.reason


def test_json_missing_text_field_names_the_item():
    error = error_for(b'[{"text": "a"}, {"other": "b"}]', "d.json")
    assert error.location == "item 2"
    assert "remove or fill item 2" in error.reason


def test_json_text_field_that_is_a_list_is_rejected():
    error = error_for(b'[{"text": ["a"]}]', "d.json", IngestOptions(text_column="text"))
    assert "must be text" in error.reason


def test_unknown_field_lists_available_ones():
    error = error_for(jsonl({"a": "x", "b": "y"}), "t.jsonl", IngestOptions(text_column="c"))
    assert "'a', 'b'" in error.reason


def test_malformed_jsonl_names_the_line():
    data = b'{"text": "ok"}\n{"text": "broken",}\n'
    error = error_for(data, "t.jsonl")
    assert error.location.startswith("line 2")
    assert str(error).startswith("t.jsonl, line 2")


def test_malformed_json_names_line_and_column():
    data = b'[\n  {"text": "ok"},\n  {"text" "missing colon"}\n]'
    error = error_for(data, "d.json")
    assert error.location == "line 3, column 11"


def test_jsonl_5000_digit_integer_is_a_clear_error():
    data = b'{"text": "ok"}\n{"text": "x", "n": ' + b"9" * 5000 + b"}\n"
    error = error_for(data, "big.jsonl")
    assert error.location == "line 2"
    assert "5,000 digits" in error.reason


def test_json_huge_integer_names_its_line():
    data = b'[\n{"text": "x"},\n{"text": "y", "n": -' + b"1" * 5000 + b"}\n]"
    error = error_for(data, "big.json")
    assert error.location == "line 3"


def test_100000_open_brackets_are_a_depth_error_not_a_crash():
    error = error_for(b"[" * 100_000, "deep.json")
    assert "deeper than 64 levels" in error.reason


def test_balanced_deep_nesting_in_jsonl_names_the_line():
    data = b'{"text": "ok"}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    error = error_for(data, "deep.jsonl")
    assert error.location == "line 2"


def test_nesting_just_over_the_limit_is_rejected():
    nested = {"text": "x"}
    for _ in range(70):
        nested = {"child": nested}
    data = json.dumps([{"text": "t", "meta": nested}]).encode()
    assert "deeper than 64" in error_for(data, "d.json").reason


def test_nesting_within_the_limit_is_accepted():
    data = json.dumps([{"text": "t", "meta": [[[["fine"]]]]}]).encode()
    assert ingest_bytes(data, "d.json").documents[0].text == "t"


def test_field_over_the_limit_names_the_line():
    options = IngestOptions(limits=IngestLimits(max_field_chars=10))
    error = error_for(jsonl({"text": "ok"}, {"text": "x" * 11}), "t.jsonl", options)
    assert error.location == "line 2"


def test_empty_json_list_is_rejected():
    assert "no documents" in error_for(b"[]", "d.json").reason


def test_preview_of_jsonl_gives_union_of_keys_and_first_rows():
    data = jsonl({"text": "a"}, {"text": "b", "tag": "x"}, {"text": "c"})
    columns, rows = preview_columns(data, "t.jsonl", rows=2)
    assert columns == ["text", "tag"]
    assert rows == [{"text": "a"}, {"text": "b", "tag": "x"}]


def test_preview_of_jsonl_stops_before_later_broken_lines():
    data = b'{"text": "a"}\n{broken\n'
    columns, rows = preview_columns(data, "t.jsonl", rows=1)
    assert rows == [{"text": "a"}]


def test_preview_of_json_list():
    columns, rows = preview_columns(b'[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]', "d.json", rows=1)
    assert (columns, rows) == (["a", "b"], [{"a": 1, "b": "x"}])
