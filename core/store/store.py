"""The Store: the one place Sift reads and writes its SQLite database."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from core.store._artifacts import ArtifactsMixin
from core.store._documents import DocumentsMixin
from core.store._embeddings import EmbeddingsMixin
from core.store._predictions import PredictionsMixin
from core.store._projects import ProjectsMixin
from core.store._review_imports import ReviewImportsMixin
from core.store._reviews import ReviewsMixin
from core.store._versions import VersionsMixin
from core.store.errors import StoreError
from core.store.migrations import applied_migrations


class Store(
    ReviewImportsMixin,  # first: it extends DocumentsMixin and ReviewsMixin
    ProjectsMixin,
    DocumentsMixin,
    PredictionsMixin,
    EmbeddingsMixin,
    ReviewsMixin,
    ArtifactsMixin,
    VersionsMixin,
):
    """Projects, labels, documents, runs, predictions, reviews, exports, trained models and
    learned configurations (model versions).

    `Store()` opens (creating it and applying migrations if needed) the file at
    `path`, else $SIFT_DB, else ~/.local/share/sift/sift.db. Every write is one
    BEGIN IMMEDIATE transaction per logical action. One Store may be shared
    between threads; each process opens its own.
    """

    def applied_migrations(self) -> list[str]:
        with self._read() as conn:
            return applied_migrations(conn)

    def integrity_check(self) -> str:
        """'ok', or the problems SQLite finds (pages, indexes, foreign keys), one per line."""
        with self._read() as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems == ["ok"]:
                problems = []
            problems += [
                f"row {rowid} of {table} refers to a missing row of {parent}"
                for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")
            ]
        return "\n".join(problems) or "ok"

    def backup(self, dest_path: str | Path) -> Path:
        """A consistent copy of the whole database at dest_path, even while others write.

        Atomic: the copy is written under a hidden temporary name next to dest, checked
        (integrity, and every table's row count against the snapshot it was taken from),
        flushed to disk, and only then renamed to dest. A crash, `kill -9` or a full disk
        leaves no file at dest that looks like a backup; a failure raises StoreError
        saying nothing was written there.
        """
        dest = Path(dest_path).expanduser().resolve()
        if dest == self.path:
            raise ValueError(
                f"Backup destination {dest} is the database itself; pick another path."
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        try:
            target = sqlite3.connect(partial)
            try:
                with self._read() as conn:
                    conn.execute("BEGIN")  # one read snapshot for the counts and the copy
                    try:
                        expected = _row_counts(conn)
                        conn.backup(target)  # all pages in one step
                    finally:
                        conn.execute("COMMIT")
                _check_copy(target, expected)
            finally:
                target.close()
            _fsync(partial)
            os.replace(partial, dest)
            _fsync(dest.parent)
        except BaseException as error:
            partial.unlink(missing_ok=True)
            if isinstance(error, sqlite3.Error | OSError):
                raise StoreError(
                    f"could not write the backup {dest}: {error}; nothing was written there"
                ) from error
            raise
        return dest


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        table: conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables
    }


def _check_copy(copy: sqlite3.Connection, expected: dict[str, int]) -> None:
    problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise StoreError(f"the copy fails its integrity check: {'; '.join(problems[:5])}")
    if _row_counts(copy) != expected:
        raise StoreError("the copy does not hold every row of the database")


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entry list) to disk; folders cannot be opened on Windows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["Store"]
