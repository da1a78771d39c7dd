"""Opening the SQLite file with the settings every connection needs, and write transactions.

Every connection: WAL (readers never block the writer), a 30 s busy timeout (writers
from other threads/processes queue instead of failing), foreign keys on,
synchronous=NORMAL (safe with WAL; a power cut loses at most the last commits),
a larger page cache.
Autocommit mode (isolation_level=None) so that transactions are exactly the
explicit `BEGIN IMMEDIATE ... COMMIT` blocks of `immediate_transaction`.

Before anything is written (even the switch to WAL), `connect` makes sure the file is
new, empty, or a Sift database (`inspect_database`): another program's SQLite file, a
text file or a truncated copy is refused with a StoreError and left exactly as it was.
A database whose file or folder is not writable is opened read-only (reads work, a
write raises DatabaseReadOnly naming the file).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.store.errors import DatabaseReadOnly, StoreError

BUSY_TIMEOUT_S = 30.0
CACHE_KIB = 64 * 1024
DEFAULT_DB_PATH = Path("~/.local/share/sift/sift.db")


def resolve_db_path(path: str | os.PathLike | None) -> Path:
    """The argument, else $SIFT_DB, else ~/.local/share/sift/sift.db; parent dirs created."""
    chosen = path if path is not None else os.environ.get("SIFT_DB") or DEFAULT_DB_PATH
    resolved = Path(chosen).expanduser().resolve()
    try:
        resolved.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            f"cannot create the folder {resolved.parent} for the database: "
            f"{error.strerror or error}. Choose another database file (--db or $SIFT_DB)."
        ) from error
    return resolved


# Written into the file header of every Sift database (PRAGMA application_id): "Sift".
SIFT_APPLICATION_ID = int.from_bytes(b"Sift", "big")
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite 3 file
_HEADER_BYTES = 100
_WHAT_TO_DO = (
    "Sift did not change it. Choose another database file (--db or $SIFT_DB): a new "
    "name creates a Sift database there"
)


class SiftConnection(sqlite3.Connection):
    """A connection that knows its file and whether it may write (set by `connect`)."""

    path: Path
    read_only_reason: str  # "" when writable, else why not ("its folder ... is not writable")


def connect(path: Path, *, read_only: bool | None = None) -> SiftConnection:
    """Open (creating if new) the Sift database at `path`.

    `read_only`: None decides from the file system (the file, its folder or its -wal/-shm
    files not writable -> read-only); True opens read-only whatever the permissions;
    False insists on writing (DatabaseReadOnly when it cannot). StoreError, with the file
    unchanged, when the file is not a Sift database (see `inspect_database`).
    """
    path = Path(path)
    kind = inspect_database(path)  # "new" or "sift"; raises for anything else
    reason = _not_writable(path)
    if read_only is True and not reason:
        reason = "it was opened read-only"
    if reason and kind == "new":
        raise StoreError(
            f"cannot create the database {path}: {reason}. Choose a database file in a "
            "writable folder (--db or $SIFT_DB)."
            if read_only is not True
            else f"there is no Sift database at {path} to open read-only."
        )
    if reason and read_only is False:
        raise DatabaseReadOnly(path, reason)
    conn = _open(path, read_only=bool(reason))
    conn.read_only_reason = reason
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    if not reason:
        _enable_wal(conn)
        if conn.execute("PRAGMA application_id").fetchone()[0] != SIFT_APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {SIFT_APPLICATION_ID}")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    # Up to 64 MiB of page cache (default 2 MiB): index inserts for 100k predictions
    # with 64-character keys run about 1.5x faster. Allocated only as used.
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    # SQLite's LIKE/lower() fold ASCII only; search needs Unicode case folding.
    conn.create_function("sift_casefold", 1, _casefold, deterministic=True)
    return conn


def _open(path: Path, *, read_only: bool) -> SiftConnection:
    """sqlite3.connect, read-write or read-only. Read-only without a -wal file beside it
    uses `immutable=1`: then SQLite creates no -shm/-wal file (it could not in a read-only
    folder, and must not beside a file that is not ours)."""
    if read_only:
        immutable = "&immutable=1" if not _sidecar(path, "-wal").exists() else ""
        target: str | Path = f"{path.absolute().as_uri()}?mode=ro{immutable}"
    else:
        target = path
    conn = sqlite3.connect(
        target,
        timeout=BUSY_TIMEOUT_S,
        isolation_level=None,
        check_same_thread=False,  # the Store serialises use with its own lock
        uri=read_only,
        factory=SiftConnection,
    )
    conn.path = path
    conn.read_only_reason = "opened read-only" if read_only else ""
    return conn


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _not_writable(path: Path) -> str:
    """Why `path` cannot be written here ("" when it can)."""
    folder = path.parent
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable"
    for candidate in (path, _sidecar(path, "-wal"), _sidecar(path, "-shm")):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            return f"{candidate.name} is not writable"
    return ""


# --- is it a Sift database? ----------------------------------------------------------------


def inspect_database(path: Path) -> str:
    """Returns "new" (missing, 0 bytes, or SQLite with no tables) or "sift"; else StoreError.

    Reads only: the header bytes, then (for a SQLite file) its schema through a read-only
    connection. Refused: a folder, a file that is not SQLite, one shorter than its header
    says (cut short), one SQLite cannot read, and another application's database (a
    different application_id, or tables without Sift's schema_migrations table).
    """
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file. {_WHAT_TO_DO}.")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "new"
    if size == 0:
        return "new"
    try:
        with path.open("rb") as handle:
            header = handle.read(_HEADER_BYTES)
    except OSError as error:
        raise StoreError(f"cannot read {path}: {error.strerror or error}") from error
    _check_header(path, header, size)
    try:
        conn = _open(path, read_only=True)
        try:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            columns = [row[1] for row in conn.execute("PRAGMA table_info(schema_migrations)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise StoreError(
            f"{path} is a damaged SQLite database that SQLite cannot read ({error}). "
            f"{_WHAT_TO_DO}, or restore this one from a backup (docs/security.md)."
        ) from error
    if application_id == SIFT_APPLICATION_ID or (
        application_id == 0 and columns == ["name", "applied_at"]
    ):
        return "sift"
    if application_id == 0 and not tables:
        return "new"
    shown = ", ".join(tables[:8]) + (f" and {len(tables) - 8} more" if len(tables) > 8 else "")
    owner = f"application id {application_id:#x}" if application_id else f"tables: {shown}"
    raise StoreError(
        f"{path} is a SQLite database of another application ({owner}), not a Sift "
        f"database. {_WHAT_TO_DO}."
    )


def _check_header(path: Path, header: bytes, size: int) -> None:
    """The SQLite file format's header (sqlite.org/fileformat.html): magic string, page size
    (bytes 16-17, 1 meaning 65536), and the database size in pages (bytes 28-31, valid
    when the change counter at 24 equals the version-valid-for number at 92)."""
    if not header.startswith(SQLITE_HEADER[: min(len(header), len(SQLITE_HEADER))]):
        shown = header[:16].decode("ascii", "backslashreplace")
        raise StoreError(
            f"{path} is not a SQLite database (it starts with {shown!r}). {_WHAT_TO_DO}."
        )
    cut_short = (
        f"{path} is a SQLite database cut short ({size} bytes; an interrupted copy or "
        f"download?). {_WHAT_TO_DO}, or restore this one from a backup (docs/security.md)."
    )
    if len(header) < _HEADER_BYTES:
        raise StoreError(cut_short)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise StoreError(
            f"{path} has a damaged SQLite header (page size {page_size}). {_WHAT_TO_DO}."
        )
    wal = _sidecar(path, "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # A checkpoint killed midway leaves the file shorter than its header says, with
        # every page still in the write-ahead log: SQLite completes it on the next open.
        return
    pages = int.from_bytes(header[28:32], "big")
    header_size_valid = pages > 0 and header[24:28] == header[92:96]
    if size % page_size or (header_size_valid and size < pages * page_size):
        expected = f"; its header says {pages * page_size} bytes" if header_size_valid else ""
        raise StoreError(cut_short.replace(" bytes;", f" bytes{expected};", 1))


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs a lock that SQLite does not wait for through
    # busy_timeout: when several processes open a new database at once, retry here.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    if mode.lower() != "wal":  # e.g. a file system without shared memory
        warnings.warn(
            f"SQLite could not use WAL mode here (journal mode is {mode!r}); concurrent "
            "readers will wait for writers.",
            stacklevel=3,
        )


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE (take the write lock up front, so no deadlock on upgrade) ... COMMIT.

    On a read-only connection: DatabaseReadOnly before anything starts."""
    reason = getattr(conn, "read_only_reason", "")
    if reason:
        raise DatabaseReadOnly(getattr(conn, "path", "the database"), reason)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # an error may already have rolled it back
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def utc_now() -> str:
    """UTC ISO-8601 with microseconds: fixed width, so string order is time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# Built once: json.dumps with any non-default option builds a new encoder per call,
# which is a third of the time of writing 100k predictions.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_ENCODE_FINITE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dumps(value: Any, *, allow_nan: bool = True) -> str:
    """Compact JSON for TEXT columns (UTF-8 kept as is, key order kept)."""
    return _ENCODE(value) if allow_nan else _ENCODE_FINITE(value)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
