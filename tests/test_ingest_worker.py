"""pdf, docx and eml are parsed in a worker process with CPU, memory and wall-clock limits.

A hostile file is refused by the parser's own cheap bounds (pages, XML part size, text
length, e-mail parts) or stopped by the worker's limits; either way it is an IngestError
naming the file, and the other files of an upload are imported. The files are built here,
small, by tests/hostile_files.py (bench/ingest_budget.py builds them at full size). Limits
are set tiny in the tests that need a worker to be stopped, so none of them waits long.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from core.ingest import IngestError, IngestLimits, IngestOptions, ingest_bytes, worker
from core.ingest.parsed import Extracted, Record
from tests.cli_process import run_sift
from tests.fixtures.ingest_files import make_docx, make_eml, make_pdf, rewrite_zip
from tests.hostile_files import (
    big_docx,
    nested_html_eml,
    nested_multipart_eml,
    renamed_doctype_docx,
    shared_stream_pdf,
)

ROOT = Path(__file__).resolve().parents[1]
# Long enough that only the limit under test can stop a worker, even on a loaded machine.
PATIENT = 300.0


def options(**limits) -> IngestOptions:
    return IngestOptions(limits=IngestLimits(**limits))


def error_for(data: bytes, filename: str, **limits) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_bytes(data, filename, options(**limits))
    return caught.value


# Parsers for the worker tests: module-level, so the child finds them by name.
def report_pid(data: bytes, source: str, options: IngestOptions) -> Extracted:
    return Extracted([Record(str(os.getpid()))])


def spin(data: bytes, source: str, options: IngestOptions) -> Extracted:
    while True:
        pass


def hog(data: bytes, source: str, options: IngestOptions) -> Extracted:
    return Extracted([Record(str(len(bytearray(8 * 1024**3))))])


def segfault(data: bytes, source: str, options: IngestOptions) -> Extracted:
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def hang(data: bytes, source: str, options: IngestOptions) -> Extracted:
    time.sleep(600)
    raise AssertionError("unreachable")


def buggy(data: bytes, source: str, options: IngestOptions) -> Extracted:
    raise KeyError("no such part")


def refuse(data: bytes, source: str, options: IngestOptions) -> Extracted:
    raise IngestError(source, "is refused by the parser", "page 3")


needs_isolation = pytest.mark.skipif(not worker.ISOLATED, reason="no rlimits on this platform")


# --- the worker --------------------------------------------------------------------------------


@needs_isolation
def test_a_parser_runs_in_another_process_and_its_result_comes_back():
    extracted = worker.run_bounded(report_pid, b"", "a.pdf", IngestOptions())
    assert int(extracted.records[0].text) != os.getpid()


def test_without_rlimits_the_parser_runs_in_this_process(monkeypatch):
    monkeypatch.setattr(worker, "ISOLATED", False)
    extracted = worker.run_bounded(report_pid, b"", "a.pdf", IngestOptions())
    assert extracted.records[0].text == str(os.getpid())


@needs_isolation
def test_a_parser_over_its_cpu_limit_is_a_named_rejection():
    with pytest.raises(IngestError) as caught:
        worker.run_bounded(
            spin, b"", "spin.pdf", options(parser_cpu_seconds=1, parser_wall_seconds=PATIENT)
        )
    assert str(caught.value).startswith("spin.pdf: is too costly to read")
    assert "more than 1 second of CPU" in caught.value.reason
    assert ".txt" in caught.value.reason  # how to fix it


@needs_isolation
def test_a_parser_over_its_memory_limit_is_a_named_rejection():
    limits = options(parser_memory_bytes=512 * 1024**2, parser_wall_seconds=PATIENT)
    with pytest.raises(IngestError) as caught:
        worker.run_bounded(hog, b"", "hog.docx", limits)
    assert str(caught.value).startswith("hog.docx: is too costly to read")
    assert "more than 512 MB of memory" in caught.value.reason


@needs_isolation
def test_a_parser_that_blocks_is_stopped_by_the_wall_clock():
    with pytest.raises(IngestError) as caught:
        worker.run_bounded(hang, b"", "slow.eml", options(parser_wall_seconds=1))
    assert str(caught.value).startswith("slow.eml: is too costly to read")
    assert "took longer than 1 second" in caught.value.reason


@needs_isolation
def test_a_parser_that_crashes_is_a_named_rejection():
    with pytest.raises(IngestError) as caught:
        worker.run_bounded(segfault, b"", "crash.pdf", options(parser_wall_seconds=PATIENT))
    assert str(caught.value).startswith("crash.pdf: could not be read: the parser crashed")
    assert "SIGSEGV" in caught.value.reason


def test_a_parser_bug_is_a_named_rejection():
    with pytest.raises(IngestError) as caught:
        worker.run_bounded(buggy, b"", "odd.docx", IngestOptions())
    assert str(caught.value).startswith("odd.docx: could not be read (KeyError: 'no such part')")


def test_the_parsers_own_rejection_comes_back_whole():
    with pytest.raises(IngestError) as caught:
        worker.run_bounded(refuse, b"", "r.pdf", IngestOptions())
    error = caught.value
    assert (error.filename, error.location, error.reason) == (
        "r.pdf",
        "page 3",
        "is refused by the parser",
    )


# --- hostile files, through ingest_bytes and the real parsers ---------------------------------


def test_an_email_whose_html_nests_100k_deep_is_read_in_one_pass():
    # BeautifulSoup took 22 s at 10k deep (quadratic); html.parser events follow the length.
    parsed = ingest_bytes(nested_html_eml(100_000), "deep.eml")
    assert parsed.documents[0].text == "hostile\n\ndeep hello"


def test_an_email_with_more_nested_parts_than_the_limit_is_refused_naming_the_file():
    assert ingest_bytes(nested_multipart_eml(5), "ok.eml", options(max_email_parts=5)).documents
    error = error_for(nested_multipart_eml(6), "parts.eml", max_email_parts=5)
    assert str(error).startswith("parts.eml: is nested too deeply to read")
    assert "6 multipart or attached-message parts, over the 5-part limit" in error.reason


def test_a_docx_xml_part_over_the_size_limit_is_refused_before_python_docx_reads_it():
    error = error_for(big_docx(200_000), "big.docx", max_docx_xml_bytes=100_000)
    assert str(error).startswith("big.docx: member 'word/document.xml' unpacks to")
    assert "over the 100,000-byte limit" in error.reason


def test_docx_text_extraction_stops_at_the_text_limit():
    error = error_for(big_docx(200_000), "long.docx", max_field_chars=1_000)
    assert str(error) == (
        "long.docx: has more than 1,000 characters of text; split the document into smaller files"
    )


def test_a_doctype_in_a_renamed_docx_part_is_refused():
    # python-docx reads word/document.dat as the document (through [Content_Types].xml).
    error = error_for(renamed_doctype_docx(), "renamed.docx")
    assert str(error).startswith("renamed.docx: member 'word/document.dat' declares a DOCTYPE")


def test_a_non_xml_docx_part_is_not_mistaken_for_damaged_xml():
    data = make_docx(["Quarterly memo"])

    with_image = rewrite_zip(data, add={"word/media/image1.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64})
    assert ingest_bytes(with_image, "memo.docx").documents[0].text == "Quarterly memo"


def test_a_pdf_over_the_page_limit_is_refused_before_its_pages_are_read():
    error = error_for(shared_stream_pdf(11, 1_000), "pages.pdf", max_pdf_pages=10)
    assert str(error) == (
        "pages.pdf: has more than 10 pages (the limit); split the PDF into smaller files"
    )
    # at the limit the pages are read (these have no text)
    assert "OCR" in error_for(shared_stream_pdf(10, 1_000), "ten.pdf", max_pdf_pages=10).reason


@needs_isolation
def test_a_pdf_whose_pages_share_one_costly_stream_is_stopped_at_the_cpu_limit():
    # 20 pages x 1 MB of path operators: ~20 CPU seconds of pypdf, stopped after 1.
    data = shared_stream_pdf(20, 1_000_000)
    error = error_for(data, "drawing.pdf", parser_cpu_seconds=1, parser_wall_seconds=PATIENT)
    assert str(error).startswith("drawing.pdf: is too costly to read")
    assert "more than 1 second of CPU" in error.reason


def test_good_pdf_docx_and_eml_files_still_import():
    pdf = ingest_bytes(make_pdf([["Invoice 42 is overdue."]]), "good.pdf")
    docx = ingest_bytes(make_docx(["Sales fell in the north."]), "good.docx")
    eml = ingest_bytes(make_eml(body="Please refund order 123."), "good.eml")
    assert pdf.documents[0].text == "Invoice 42 is overdue."
    assert docx.documents[0].text == "Sales fell in the north."
    assert eml.documents[0].text == "Refund request\n\nPlease refund order 123."


def test_an_upload_of_good_and_hostile_files_imports_every_good_one(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = {
        "good.pdf": make_pdf([["Invoice 42 is overdue."]]),
        "good.docx": make_docx(["Sales fell in the north."]),
        "good.eml": make_eml(body="Please refund order 123."),
        "deep.eml": nested_html_eml(20_000),
        "parts.eml": nested_multipart_eml(101),
        "renamed.docx": renamed_doctype_docx(),
        "pages.pdf": shared_stream_pdf(1_001, 100),
    }
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    result = run_sift("ingest", "demo", "--create", str(inbox), db=tmp_path / "s.db")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "REJECTED parts.eml: is nested too deeply to read" in result.stderr
    assert "REJECTED renamed.docx: member 'word/document.dat' declares a DOCTYPE" in result.stderr
    assert "REJECTED pages.pdf: has more than 1,000 pages" in result.stderr
    for good in ("good.pdf", "good.docx", "good.eml", "deep.eml"):
        assert f"{good}: 1 new" in result.stdout
