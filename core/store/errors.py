"""Errors raised by the store; each message says what is wrong and how to fix it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.records import Review


class StoreError(Exception):
    """Invalid input or state for a store operation; nothing was written."""


class ProjectNotFound(StoreError):
    """No project with that name or id; the message lists the existing ones."""


class DocumentNotFound(StoreError):
    """A document id that is not in the project."""


class RunNotFound(StoreError):
    """A run id that is not in the store."""


class ReviewConflict(StoreError):
    """Someone else reviewed the document after the reviewer loaded it; nothing was written."""

    def __init__(self, message: str, *, current: Review | None) -> None:
        super().__init__(message)
        self.current = current  # the review that is current now (None: no current review)


class DatabaseReadOnly(StoreError):
    """A write to a database opened read-only (its file or folder is not writable)."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(
            f"the database {path} is read-only: {reason}, so nothing was written. Reading "
            "works; to change it, make the file and its folder writable for this user "
            "(or work on a copy: python -m core backup)."
        )
        self.path = path
        self.reason = reason
