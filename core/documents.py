"""The Document: one piece of text to classify, and its content-hash id.

A document's id is the sha256 of its *normalised* text, so re-uploading the
same text (with different line endings, trailing spaces or Unicode form) never
creates a second document within a project.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field


def normalise_text(text: str) -> str:
    """NFC; \\r\\n and \\r -> \\n; trailing spaces stripped per line; outer blank lines trimmed."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def document_id(text: str) -> str:
    """Content hash (hex sha256, 64 chars) of the normalised text."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    text: str  # normalised text, as stored and classified
    id: str  # document_id(text)
    source: str = ""  # file name it came from
    location: str = ""  # where in the file: "row 12", "line 3", "paragraph 2", ""
    external_id: str | None = None  # user's own id column, if any
    gold_labels: tuple[str, ...] = ()  # labels given in the upload (gold column)
    meta: dict = field(default_factory=dict, compare=False)  # e.g. email subject/from/date

    @classmethod
    def from_text(cls, text: str, **kwargs) -> Document:
        clean = normalise_text(text)
        return cls(text=clean, id=document_id(clean), **kwargs)
