"""What the store does with the file it is given: another program's SQLite database, a text
file or a truncated copy is refused and left byte for byte as it was; a database that cannot
be written is opened read-only (reads work, a write names the file and why)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from core.cli import EXIT_STORAGE
from core.cli import main as cli_main
from core.store import Store, StoreError
from core.store import connection as store_connection
from core.store.connection import SIFT_APPLICATION_ID, connect
from core.store.errors import DatabaseReadOnly
from core.store.migrations import MIGRATIONS, apply_migrations
from tests.cli_process import run_sift

ROOT = Path(__file__).resolve().parent.parent


def fingerprint(path: Path) -> tuple[str, int, int]:
    """(sha256 of the bytes, size, mtime in ns): what "untouched" means here."""
    stat = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_size, stat.st_mtime_ns


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def sift_database(path: Path) -> Path:
    with Store(path) as store:
        store.create_project("kept")
    return path


# --- files that are not Sift databases ---------------------------------------------------------


def foreign_sqlite(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    conn.commit()
    conn.close()
    return path


def foreign_wal_sqlite_with_an_application_id(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    conn.commit()
    conn.close()  # the last connection checkpoints and removes -wal and -shm
    return path


def text_file(path: Path) -> Path:
    path.write_text("name,amount\nAda,12\n", encoding="utf-8")
    return path


def truncated_sift_database(path: Path) -> Path:
    whole = sift_database(path.with_name("whole.db")).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    path.with_name("whole.db").unlink()
    return path


def sift_header_only(path: Path) -> Path:
    whole = sift_database(path.with_name("whole.db")).read_bytes()
    path.write_bytes(whole[:60])
    path.with_name("whole.db").unlink()
    return path


REFUSED = {
    "foreign_sqlite": (foreign_sqlite, "another application (tables: customers)"),
    "foreign_application_id": (
        foreign_wal_sqlite_with_an_application_id,
        "another application (application id 0x4d2)",
    ),
    "text_file": (text_file, "is not a SQLite database (it starts with 'name,amount"),
    "truncated_sift_database": (truncated_sift_database, "cut short"),
    "sift_header_only": (sift_header_only, "cut short (60 bytes"),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_file_that_is_not_a_sift_database_is_refused_and_left_untouched(tmp_path, kind):
    make, message = REFUSED[kind]
    path = make(tmp_path / "given.db")
    before, files_before = fingerprint(path), siblings(path)
    with pytest.raises(StoreError) as refused:
        Store(path)
    assert str(path) in str(refused.value)
    assert message in str(refused.value)
    assert "Sift did not change it" in str(refused.value)
    assert fingerprint(path) == before  # same bytes, same size, same mtime
    assert siblings(path) == files_before  # no -wal, -shm or -journal left beside it


def test_the_command_line_refuses_a_foreign_database_without_a_traceback(tmp_path):
    path = foreign_sqlite(tmp_path / "crm.db")
    before = fingerprint(path)
    result = run_sift("stats", "anything", db=path, timeout=120)
    assert result.returncode == 2
    assert "another application" in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert fingerprint(path) == before


def test_a_folder_given_as_the_database_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a folder, not a database file"):
        Store(tmp_path)


# --- files that are Sift databases -------------------------------------------------------------


def application_id(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA application_id").fetchone()[0]
    finally:
        conn.close()


def test_a_new_database_is_marked_as_sift_in_its_header(db_path):
    sift_database(db_path)
    assert application_id(db_path) == SIFT_APPLICATION_ID
    assert db_path.read_bytes()[68:72] == b"Sift"  # the header's application id field


def test_a_database_from_before_the_mark_opens_by_its_migrations_table(db_path):
    sift_database(db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA application_id = 0")
    conn.close()
    with Store(db_path) as store:
        assert [project.name for project in store.list_projects()] == ["kept"]
    assert application_id(db_path) == SIFT_APPLICATION_ID  # marked on its first writable open


def test_an_empty_file_and_an_empty_sqlite_database_become_sift_databases(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).execute("PRAGMA user_version = 0").connection.close()
    for path in (empty, blank):
        with Store(path) as store:
            assert store.create_project("new").name == "new"


def test_a_sift_database_killed_mid_checkpoint_is_not_taken_for_a_truncated_one(db_path):
    # With a non-empty -wal beside it the file may be shorter than its header says (the
    # log holds the missing pages); only SQLite can judge it then.
    sift_database(db_path)
    holder = sqlite3.connect(db_path)  # keeps -wal and -shm in place
    holder.execute("INSERT INTO projects (name, created_at) VALUES ('in the log', 'now')")
    holder.commit()
    assert db_path.with_name(db_path.name + "-wal").stat().st_size > 0
    data = db_path.read_bytes()
    header = bytearray(data[:100])
    pages = int.from_bytes(header[28:32], "big")
    header[28:32] = (pages + 3).to_bytes(4, "big")  # as if a checkpoint had begun to grow it
    assert header[24:28] == header[92:96]
    inspect = store_connection._check_header
    inspect(db_path, bytes(header), len(data))  # accepted: the log may hold the pages
    holder.close()
    with pytest.raises(StoreError, match="cut short"):  # no log: the same header is refused
        inspect(db_path, bytes(header), len(data))


# --- read-only databases -------------------------------------------------------------------------


def test_a_store_opened_read_only_reads_and_refuses_writes_naming_the_file(db_path):
    sift_database(db_path)
    before, files_before = fingerprint(db_path), siblings(db_path)
    with Store(db_path, read_only=True) as store:
        assert [project.name for project in store.list_projects()] == ["kept"]
        assert store.integrity_check() == "ok"
        with pytest.raises(DatabaseReadOnly) as refused:
            store.create_project("another")
    assert f"the database {db_path} is read-only" in str(refused.value)
    assert "nothing was written" in str(refused.value)
    assert fingerprint(db_path) == before
    assert siblings(db_path) == files_before  # immutable open: no -shm or -wal created


def test_insisting_on_writing_a_read_only_database_is_refused_up_front(db_path, monkeypatch):
    sift_database(db_path)
    monkeypatch.setattr(store_connection, "_not_writable", lambda path: "it is on a CD")
    with pytest.raises(DatabaseReadOnly, match="is read-only: it is on a CD"):
        connect(db_path, read_only=False)


def unwritable_folder(folder: Path, monkeypatch) -> None:
    """What the operating system reports for a folder this user may not write: as root
    access() says yes to everything, so the answer is given here; the rest is real."""
    real_access = os.access

    def access(path, mode, **kwargs):
        if mode & os.W_OK and Path(path).resolve().is_relative_to(folder.resolve()):
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(store_connection.os, "access", access)


def test_reading_commands_work_on_a_database_in_an_unwritable_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "shared").mkdir()
    db_path = sift_database(tmp_path / "shared" / "sift.db")
    before = fingerprint(db_path)
    unwritable_folder(db_path.parent, monkeypatch)
    assert cli_main(["--db", str(db_path), "stats", "kept"]) == 0
    assert "documents: 0" in capsys.readouterr().out
    out = tmp_path / "kept.jsonl"
    assert cli_main(["--db", str(db_path), "export", "kept", "--out", str(out)]) == 0
    assert out.is_file()  # written; only its record in the database could not be kept
    assert cli_main(["--db", str(db_path), "create", "another"]) == EXIT_STORAGE
    error = capsys.readouterr().err
    assert f"the database {db_path} is read-only: its folder {db_path.parent} is not" in error
    assert "Traceback" not in error
    assert fingerprint(db_path) == before


def test_a_new_database_in_an_unwritable_folder_is_refused_clearly(tmp_path, monkeypatch):
    unwritable_folder(tmp_path, monkeypatch)
    with pytest.raises(StoreError, match="cannot create the database .*folder .* not writable"):
        Store(tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_a_database_in_a_read_only_folder_opens_read_only(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    path = sift_database(folder / "sift.db")
    folder.chmod(0o555)
    try:
        with Store(path) as store:
            assert [project.name for project in store.list_projects()] == ["kept"]
            with pytest.raises(DatabaseReadOnly, match="its folder .* is not writable"):
                store.create_project("another")
    finally:
        folder.chmod(0o755)


def test_an_older_database_opened_read_only_says_it_needs_upgrading(db_path):
    conn = connect(db_path)
    apply_migrations(conn, up_to=MIGRATIONS[0].__name__)
    conn.close()
    with pytest.raises(StoreError, match="needs upgrading .* but it is read-only"):
        Store(db_path, read_only=True)
