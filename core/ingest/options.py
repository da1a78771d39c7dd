"""IngestOptions: how the user wants a file read (which columns, how to split)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.ingest.limits import IngestLimits

GUESSED_TEXT_COLUMNS = ("text", "body", "message", "content")  # in order of preference


@dataclass(frozen=True)
class IngestOptions:
    text_column: str | None = None  # csv/tsv/json(l); None -> guessed, and a note says which
    id_column: str | None = None  # becomes Document.external_id
    label_column: str | None = None  # gold labels
    label_delimiter: str = ";"  # multi-label gold "a;b"
    split_paragraphs: bool = False  # .txt/.md: one document per blank-line-separated paragraph
    csv_delimiter: str | None = None  # None -> sniffed (comma, semicolon, tab, pipe); .tsv -> tab
    limits: IngestLimits = field(default_factory=IngestLimits)

    def __post_init__(self):
        if not self.label_delimiter:
            raise ValueError("IngestOptions.label_delimiter must not be empty")
        if self.csv_delimiter is not None and len(self.csv_delimiter) != 1:
            raise ValueError("IngestOptions.csv_delimiter must be one character, e.g. ';'")
