"""The Store's plumbing: one connection, one lock, write transactions and small query helpers.

Thread safety: one connection opened with check_same_thread=False and an RLock
held for every operation, so one Store can be shared by Streamlit's script
threads. Other processes open their own Store on the same file; SQLite's
locking (WAL + busy timeout + BEGIN IMMEDIATE) serialises their writes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from core.store.connection import connect, immediate_transaction, resolve_db_path
from core.store.errors import ProjectNotFound, StoreError
from core.store.migrations import apply_migrations


class StoreBase:
    def __init__(
        self, path: str | os.PathLike | None = None, *, read_only: bool | None = None
    ) -> None:
        # read_only: None = read-only only when the file or its folder is not writable
        # (core.store.connection.connect); True = never write (a write raises DatabaseReadOnly).
        self.path: Path = resolve_db_path(path)
        self._lock = threading.RLock()
        self._write_depth = 0  # > 0 while inside a write transaction (nested calls join it)
        self._conn: sqlite3.Connection | None = connect(self.path, read_only=read_only)
        try:
            apply_migrations(self._conn)
        except BaseException:
            self._conn.close()
            raise
        # sqlite-utils over the same connection: table helpers, inside our transactions
        # (its own atomic() sees the open transaction and uses savepoints).
        self._db = sqlite_utils.Database(self._conn, execute_plugins=False)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # --- transactions ---------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"this Store ({self.path}) is closed; open a new Store(...)")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One logical action = one BEGIN IMMEDIATE transaction; all of it or none of it."""
        with self._lock:
            conn = self._connection()
            if self._write_depth:  # called from inside another write: part of that transaction
                yield conn
                return
            self._write_depth += 1
            try:
                with immediate_transaction(conn):
                    yield conn
            finally:
                self._write_depth -= 1

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connection()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._read() as conn:
            cursor = conn.execute(sql, params)
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def _row(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._read() as conn:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else row[0]

    def _insert_row(self, table: str, row: dict[str, Any]) -> int:
        """Insert one row (inside the caller's transaction); returns its new id."""
        new_id = self._db.table(table).insert(row).last_pk
        # Every table inserted into this way has `id INTEGER PRIMARY KEY`, so sqlite-utils
        # always reports the new rowid here.
        assert isinstance(new_id, int), f"{table}: insert returned no integer id ({new_id!r})"
        return new_id

    def _require_project(self, project_id: int) -> str:
        """The project's name; ProjectNotFound (listing the existing ones) if there is none."""
        name = self._scalar("SELECT name FROM projects WHERE id = ?", [project_id])
        if name is None:
            raise ProjectNotFound(f"No project with id {project_id!r}. {self._existing_projects()}")
        return name

    def _has_document(self, project_id: int, document_id: str) -> bool:
        row = self._scalar(
            "SELECT 1 FROM documents WHERE project_id = ? AND id = ?", [project_id, document_id]
        )
        return row is not None

    def _existing_projects(self) -> str:
        names = [row["name"] for row in self._rows("SELECT name FROM projects ORDER BY id")]
        if not names:
            return "There are no projects yet; create one first."
        return "Existing projects: " + ", ".join(repr(name) for name in names) + "."
