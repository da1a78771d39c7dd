"""The ingest budget at small scale: bench/ingest_corpus.py's files through the real CLI.

Every file of the corpus (good and adversarial, at a scale where each bad file is still just
over the limit it tests) is imported or refused with a named reason, and one upload of all
of them imports every good one. The limits themselves are checked where they bite: while
streaming, before the rest of the file is built. Wall time and memory are measured by
`python -m bench.ingest_budget`, not here.
"""

from __future__ import annotations

import json

import pytest

from bench.ingest_corpus import corpus
from core.cli import EXIT_OK, EXIT_PARTIAL, main
from core.ingest import IngestError, IngestLimits, IngestOptions, ingest_bytes, preview_columns
from core.ingest.columns import GUESS_SAMPLE_ROWS, spread_sample
from core.store import Store

SCALE = 0.0001
# pdf/docx/eml ("either") belong to the parser worker's own tests; at_scale=False cases need
# full size (e.g. 5,000,001 JSON values)
CASES = [case for case in corpus(SCALE) if case.at_scale and case.expect != "either"]


def count(db) -> int:
    store = Store(db)
    try:
        return store.count_documents(store.get_project("budget").id)
    finally:
        store.close()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_corpus_file_is_imported_or_refused_by_name(case, tmp_path, capsys):
    path = tmp_path / case.filename
    path.write_bytes(case.generate())
    db = tmp_path / "sift.db"
    code = main(["--db", str(db), "ingest", "budget", str(path), "--create", "--split-paragraphs"])
    captured = capsys.readouterr()
    if case.expect == "imported":
        assert code == EXIT_OK, captured.err
        assert f"imported {path}" in captured.out
        assert count(db) > 0
    else:
        assert code == EXIT_PARTIAL, captured.err
        assert f"REJECTED {case.filename}" in captured.err
        assert case.reason in captured.err
        assert count(db) == 0  # nothing half-written


def test_one_upload_of_good_and_bad_files_imports_every_good_one(tmp_path, capsys):
    paths = []
    for case in CASES:
        paths.append(tmp_path / case.filename)
        paths[-1].write_bytes(case.generate())
    db = tmp_path / "sift.db"
    code = main(
        ["--db", str(db), "ingest", "budget", *map(str, paths), "--create", "--split-paragraphs"]
    )
    captured = capsys.readouterr()
    assert code == EXIT_PARTIAL
    for case, path in zip(CASES, paths, strict=True):
        if case.expect == "imported":
            assert f"imported {path}" in captured.out, case.name
        else:
            assert f"REJECTED {case.filename}" in captured.err, case.name
    bad = sum(case.expect == "refused" for case in CASES)
    assert f"{bad} file(s) rejected" in captured.err


# --- each limit bites while streaming ----------------------------------------------------


def error_for(data: bytes, filename: str, **limits) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_bytes(data, filename, IngestOptions(limits=IngestLimits(**limits)))
    return caught.value


def test_json_values_at_any_depth_are_counted_before_anything_is_built():
    data = json.dumps([{"text": "one", "v": list(range(200))}]).encode()
    error = error_for(data, "v.json", max_json_values=100)
    assert "more than 100 JSON values" in error.reason


def test_one_jsonl_line_with_too_many_values_is_refused():
    data = b'{"text": "a"}\n' + json.dumps({"text": "b", "v": [0] * 500}).encode() + b"\n"
    error = error_for(data, "v.jsonl", max_json_values=100)
    assert "more than 100 JSON values" in error.reason


def test_json_items_over_the_limit_are_refused_at_the_first_one_over():
    error = error_for(b"[1, 2, 3, 4, 5]", "n.json", max_documents=3)
    assert error.location == "item 4"
    assert "more than 3 documents, over the 3 limit" in error.reason


def test_items_under_a_documents_key_are_counted_too():
    data = json.dumps({"meta": [1, 2, 3, 4], "documents": ["a", "b", "c"]}).encode()
    assert (
        len(
            ingest_bytes(
                data, "d.json", IngestOptions(limits=IngestLimits(max_documents=3))
            ).documents
        )
        == 3
    )
    data = json.dumps({"documents": ["a", "b", "c", "d"]}).encode()
    assert error_for(data, "d.json", max_documents=3).location == "item 4"


def test_jsonl_lines_are_counted_before_any_is_parsed():
    data = b'{"text": "a"}\n\n{"text": "b"}\n{"text": "c"}\nnot json at all\n'
    error = error_for(data, "n.jsonl", max_documents=3)
    assert error.location == "line 5"  # the 4th non-blank line, before its syntax is read
    assert "more than 3 lines" in error.reason


def test_paragraphs_over_the_limit_are_refused_naming_the_first_one_over():
    options = IngestOptions(split_paragraphs=True, limits=IngestLimits(max_documents=2))
    with pytest.raises(IngestError) as caught:
        ingest_bytes(b"a\r\n\r\nb\n \t\nc\n\nd", "p.txt", options)
    assert caught.value.location == "paragraph 3"


def test_paragraphs_split_on_any_blank_line_as_before():
    data = b"one\r\n  \r\ntwo\n\n\n  three\nstill three  \n\nfour"
    parsed = ingest_bytes(data, "p.txt", IngestOptions(split_paragraphs=True))
    assert [d.text for d in parsed.documents] == ["one", "two", "  three\nstill three", "four"]


def test_csv_columns_are_capped_on_the_header_row():
    error = error_for(b"a,b,c,d\n1,2,3,4\n", "w.csv", max_columns=3)
    assert error.location == "header (line 1)"
    assert "4 columns, over the 3-column limit" in error.reason


def test_preview_refuses_a_csv_with_too_many_columns():
    data = (",".join(f"c{i}" for i in range(5_000)) + "\n").encode()
    with pytest.raises(IngestError, match="over the 1,000-column limit"):
        preview_columns(data, "w.csv")


def test_json_objects_with_too_many_distinct_fields_are_refused():
    data = json.dumps([{f"k{i}": "text"} for i in range(5)]).encode()
    assert "more than 3 different fields" in error_for(data, "k.json", max_columns=3).reason


def test_nan_and_infinity_are_refused_as_not_json_numbers():
    assert (
        "NaN, which is not a JSON number"
        in error_for(b'[{"text": "a", "x": NaN}]', "n.json").reason
    )
    error = error_for(b'{"text": "a"}\n{"text": "b", "x": -Infinity}\n', "n.jsonl")
    assert error.location == "line 2" and "-Infinity" in error.reason


def test_numbers_too_big_for_int64_or_a_double_are_still_read():
    data = b'[{"text": "a", "n": 123456789012345678901234567890, "f": 1e400, "e": "x1e999"}]'
    document = ingest_bytes(data, "n.json").documents[0]
    assert document.meta["n"] == 123456789012345678901234567890
    assert document.meta["e"] == "x1e999"


def test_the_text_column_guess_reads_an_even_sample_of_rows():
    rows = [{"n": str(i)} for i in range(10 * GUESS_SAMPLE_ROWS)]
    sample = spread_sample(rows, GUESS_SAMPLE_ROWS)
    assert len(sample) == GUESS_SAMPLE_ROWS
    assert sample[0] is rows[0] and sample[-1] is rows[-1]
    assert spread_sample(rows[:5], GUESS_SAMPLE_ROWS) == rows[:5]


def test_the_only_text_field_is_guessed_among_many_rows_and_sparse_fields():
    items = [{"n": i, "note": f"hello number {i}"} for i in range(3 * GUESS_SAMPLE_ROWS)]
    items[0]["extra"] = "only here"  # a second text-like field, in a sampled row
    data = "\n".join(json.dumps(item) for item in items).encode()
    with pytest.raises(IngestError, match="could not tell which column"):
        ingest_bytes(data, "g.jsonl")
    del items[0]["extra"]
    data = "\n".join(json.dumps(item) for item in items).encode()
    assert "text column guessed: 'note'" in ingest_bytes(data, "g.jsonl").notes
