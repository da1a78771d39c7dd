"""Exit codes of `python -m core`: 0 ok, 1 input rejected, 2 usage, 3 storage, 70 internal;
and a database that cannot be written mid-import (a real SQLite "database or disk is full",
from PRAGMA max_page_count on the store's own connection) on the CLI and the Upload page."""

from __future__ import annotations

import sqlite3

import pytest

from core.cli import EXIT_INTERNAL, EXIT_OK, EXIT_PARTIAL, EXIT_STORAGE, EXIT_USAGE, commands, main
from core.ingest import IngestOptions
from core.store import Store
from core.store.failures import storage_failure
from ui.upload_ui import import_files

SMALL = b"text\nfirst small file\nsecond line\n"


def big(rows: int = 3000) -> bytes:
    return ("text\n" + "".join(f"document number {i} " * 10 + "\n" for i in range(rows))).encode()


def full_store(db) -> Store:
    """A real store whose file may grow by only a few pages: the next big write fails."""
    store = Store(db)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 8}")
    return store


def test_help_documents_every_exit_code(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for words in (
        "0 success",
        "1 some input was rejected",
        "2 usage",
        "3 storage error",
        "70 internal error",
    ):
        assert words in out


def test_ok_rejected_and_usage_are_distinct(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(SMALL)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text\n\x00\x00\x00")
    db = str(tmp_path / "sift.db")
    assert main(["--db", db, "ingest", "p", str(good), "--create"]) == EXIT_OK
    assert main(["--db", db, "ingest", "p", str(bad), str(good)]) == EXIT_PARTIAL
    assert main(["--db", db, "ingest", "missing-project", str(good)]) == EXIT_USAGE
    assert main(["--db", db, "ingest", "p", str(tmp_path / "nope.csv")]) == EXIT_USAGE
    assert "no such file" in capsys.readouterr().err


def test_a_bug_is_exit_70_with_its_traceback(tmp_path, capsys, monkeypatch):
    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(commands, "cmd_projects", broken)
    code = main(["--db", str(tmp_path / "sift.db"), "projects"])
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert "internal error" in err and "please report it" in err


def test_disk_full_stops_the_import_naming_what_was_imported(tmp_path, capsys, monkeypatch):
    names = ["a_small.csv", "b_big.csv", "c_small.csv"]
    for name, data in zip(names, [SMALL, big(), SMALL.replace(b"first", b"third")], strict=True):
        (tmp_path / name).write_bytes(data)
    db = tmp_path / "sift.db"
    Store(db).create_project("p")
    monkeypatch.setattr(commands, "open_store", lambda args: full_store(db))
    code = main(["--db", str(db), "ingest", "p", *(str(tmp_path / n) for n in names)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_STORAGE
    assert "the disk holding the database is full" in err
    assert "nothing from it was stored" in err
    assert f"Imported before it: {tmp_path / 'a_small.csv'}" in err
    assert f"Not tried: {tmp_path / 'c_small.csv'}" in err
    assert "Traceback" not in err
    store = Store(db)
    project = store.get_project("p")
    assert store.count_documents(project.id) == 2  # a_small.csv only; b_big.csv not half-written


def test_upload_page_marks_the_file_not_stored_and_the_rest_not_tried(tmp_path):
    db = tmp_path / "sift.db"
    project = Store(db).create_project("p")
    store = full_store(db)
    files = [
        ("a.csv", SMALL, IngestOptions()),
        ("b.csv", big(), IngestOptions()),
        ("c.csv", SMALL.replace(b"first", b"third"), IngestOptions()),
    ]
    outcomes = import_files(store, project.id, files)
    assert [o.status for o in outcomes] == ["imported", "not_stored", "not_stored"]
    assert "the disk holding the database is full" in outcomes[1].message
    assert "Nothing from this file was stored" in outcomes[1].message
    assert outcomes[2].message.startswith("not tried: the import stopped at b.csv")
    assert store.count_documents(project.id) == 2


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (sqlite3.OperationalError("database or disk is full"), "full"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
        (sqlite3.OperationalError("disk I/O error"), "io"),
        (OSError(28, "No space left on device"), "full"),
        (OSError(30, "Read-only file system"), "read-only"),
    ],
)
def test_storage_failures_are_recognised_through_a_wrapping_error(error, kind):
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("while storing") from inner
    except RuntimeError as outer:
        assert storage_failure(outer).kind == kind
    assert storage_failure(ValueError("not storage")) is None
