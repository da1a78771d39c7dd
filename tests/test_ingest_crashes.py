"""Files that used to crash ingest (and stop the rest of an upload) are named rejections."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.ingest import IngestOptions, ingest_bytes
from core.ingest.errors import IngestError
from tests.cli_process import run_sift

ROOT = Path(__file__).resolve().parents[1]


def deeply_nested_email(depth: int = 1000) -> bytes:
    body = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    body += "Content-Type: text/plain\n\nhello world\n"
    body += "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    return ("From: a@example.com\nSubject: deep\nMIME-Version: 1.0\n" + body).encode()


def test_an_email_nested_too_deeply_is_a_named_rejection():
    with pytest.raises(IngestError, match=r"deep\.eml: is nested too deeply to read"):
        ingest_bytes(deeply_nested_email(), "deep.eml")


@pytest.mark.parametrize(
    ("line", "options", "field"),
    [
        ('{"text": "hi \\ud800 there"}', IngestOptions(), "the text"),
        (
            '{"text": "hello there", "label": "a\\udfff"}',
            IngestOptions(label_column="label"),
            "a label",
        ),
        ('{"text": "hello there", "id": "x\\ud800"}', IngestOptions(id_column="id"), "the id"),
        ('{"text": "hello there", "note": "x\\ud800"}', IngestOptions(), "field 'note'"),
    ],
)  # fmt: skip
def test_an_unpaired_surrogate_anywhere_is_a_rejection_naming_the_line_and_field(
    line, options, field
):
    good = '{"text": "a first good line"}\n'
    with pytest.raises(IngestError) as error:
        ingest_bytes((good + line + "\n").encode(), "mail.jsonl", options)
    message = str(error.value)
    assert message.startswith("mail.jsonl, line 2: ")
    assert f"{field} holds an unpaired surrogate" in message


def test_one_bad_file_is_named_and_the_others_are_imported(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "deep.eml").write_bytes(deeply_nested_email())
    (inbox / "bad.jsonl").write_bytes(b'{"text": "hi \\ud800"}\n')
    (inbox / "good.txt").write_text("Please refund invoice 12.", encoding="utf-8")
    result = run_sift("ingest", "demo", "--create", str(inbox), db=tmp_path / "s.db")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "REJECTED deep.eml: is nested too deeply" in result.stderr
    assert "REJECTED bad.jsonl, line 1: the text holds an unpaired surrogate" in result.stderr
    assert "good.txt: 1 new" in result.stdout
