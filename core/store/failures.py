"""Telling a failed write to the database's storage (disk full, read-only, I/O error) from a bug.

    failure = storage_failure(exc)   # StorageFailure | None
    failure.reason                   # "the disk holding the database is full"

SQLite reports these as sqlite3.OperationalError with a fixed message ("database or disk is
full", "attempt to write a readonly database", "disk I/O error", ...); the file system as
OSError with an errno (ENOSPC, EROFS, EACCES, ...). The CLI turns them into exit code 3 and
the Upload page into a "Not stored" row, each with what to do, instead of a traceback. A
failed write transaction is rolled back whole (one file = one transaction), so the message
can say that nothing of the file was stored.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass

# (text in SQLite's message, kind); checked lower-case, in order
_SQLITE_MESSAGES = (
    ("database or disk is full", "full"),
    ("readonly database", "read-only"),
    ("read-only", "read-only"),
    ("disk i/o error", "io"),
    ("unable to open database file", "unopenable"),
    ("database is locked", "busy"),
)
_ERRNOS = {
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
    errno.EROFS: "read-only",
    errno.EACCES: "read-only",
    errno.EPERM: "read-only",
    errno.EIO: "io",
}
_REASONS = {
    "full": (
        "the disk holding the database is full",
        "free some space (or point --db / SIFT_DB at a disk with room), then try again",
    ),
    "read-only": (
        "the database (or its folder) cannot be written: it is read-only",
        "make the file and its folder writable for this user, or use another --db / SIFT_DB",
    ),
    "io": (
        "the disk holding the database reported an I/O error",
        "check the disk (it may be failing or disconnected), then try again",
    ),
    "unopenable": (
        "the database file cannot be opened",
        "check that its folder exists and is writable, or use another --db / SIFT_DB",
    ),
    "busy": (
        "the database stayed locked by another program for the whole 30 s wait",
        "try again once the other import or review has finished",
    ),
}


@dataclass(frozen=True)
class StorageFailure:
    kind: str  # "full" | "read-only" | "io" | "unopenable" | "busy"
    detail: str  # the underlying error's own words

    @property
    def reason(self) -> str:
        return _REASONS[self.kind][0]

    @property
    def fix(self) -> str:
        return _REASONS[self.kind][1]

    def message(self) -> str:
        return f"{self.reason} ({self.detail}); {self.fix}"


def storage_failure(exc: BaseException | None) -> StorageFailure | None:
    """The storage failure behind `exc` (itself, or its cause/context chain), else None."""
    seen = 0
    while exc is not None and seen < 10:
        if type(exc).__name__ == "DatabaseReadOnly":  # the store's own refusal to write
            return StorageFailure("read-only", str(exc))
        if isinstance(exc, sqlite3.Error):
            text = str(exc).lower()
            for needle, kind in _SQLITE_MESSAGES:
                if needle in text:
                    return StorageFailure(kind, str(exc))
        elif isinstance(exc, OSError) and exc.errno in _ERRNOS:
            return StorageFailure(_ERRNOS[exc.errno], exc.strerror or str(exc))
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
