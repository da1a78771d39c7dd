"""The Store: the one place Sift reads and writes its SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.store._artifacts import ArtifactsMixin
from core.store._documents import DocumentsMixin
from core.store._predictions import PredictionsMixin
from core.store._projects import ProjectsMixin
from core.store._reviews import ReviewsMixin
from core.store._versions import VersionsMixin
from core.store.migrations import applied_migrations


class Store(
    ProjectsMixin, DocumentsMixin, PredictionsMixin, ReviewsMixin, ArtifactsMixin, VersionsMixin
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
        """A consistent copy of the whole database at dest_path, even while others write."""
        dest = Path(dest_path).expanduser().resolve()
        if dest == self.path:
            raise ValueError(
                f"Backup destination {dest} is the database itself; pick another path."
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(dest)
        try:
            with self._read() as conn:
                conn.backup(target)  # all pages in one step: one snapshot of the database
        finally:
            target.close()
        return dest


__all__ = ["Store"]
