"""The Upload page's blocks: per-file column pickers and the import itself.

`import_files` does the work without Streamlit: each file goes through
core.ingest.ingest_bytes and then one store.add_documents call (one
transaction), so a file is imported whole or not at all, and one bad file does
not stop the others. The page draws the pickers and the per-file result table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.ingest import IngestError, IngestOptions, ingest_bytes, preview_columns
from core.ingest.formats import TABULAR_FORMATS
from core.ingest.options import GUESSED_TEXT_COLUMNS
from core.store import StoreError
from ui.markdown import md

RESULTS = "_upload_results"  # (project id, [FileOutcome]) of the last import, shown until the next
SPLIT_PARAGRAPHS = "upload_split_paragraphs"
PREVIEW_ROWS = 5
_GUESSED_ID_COLUMNS = ("id", "external_id", "ticket_id", "message_id", "doc_id")
_GUESSED_LABEL_COLUMNS = ("gold", "label", "labels", "category", "categories", "topic")
STATUS_TEXT = {"imported": "Imported", "duplicate": "Already present", "rejected": "Rejected"}


@dataclass(frozen=True)
class FileOutcome:
    filename: str
    status: str  # "imported" (some new) | "duplicate" (nothing new) | "rejected" (nothing stored)
    n_documents: int  # distinct documents in the file (0 when rejected)
    n_added: int  # new to the project
    n_already_present: int  # in the project before this import
    message: str  # what happened, in words: counts and notes, or why the file was rejected


def import_files(
    store,
    project_id: int,
    files: Sequence[tuple[str, bytes, IngestOptions]],
    *,
    by: str = "",
) -> list[FileOutcome]:
    """(filename, bytes, options) per file -> one outcome per file, in order."""
    return [
        import_file(store, project_id, name, data, options, by=by) for name, data, options in files
    ]


def import_file(
    store, project_id: int, name: str, data: bytes, options: IngestOptions, *, by: str = ""
) -> FileOutcome:
    try:
        parsed = ingest_bytes(data, name, options)
        summary = store.add_documents(
            project_id,
            parsed.documents,
            filename=parsed.filename,
            format=parsed.format,
            encoding=parsed.encoding,
            sha256=parsed.sha256,
            by=by,
        )
    except (IngestError, StoreError) as error:
        return FileOutcome(name, "rejected", 0, 0, 0, str(error))
    parts = [f"{summary.n_added:,} new"]
    if summary.n_duplicates:
        parts.append(f"{summary.n_duplicates:,} already present")
    if parsed.duplicates_in_file:
        parts.append(f"{parsed.duplicates_in_file:,} repeated in the file (kept once)")
    if parsed.encoding and parsed.encoding.lower() not in ("utf-8", "ascii"):
        parts.append(f"read as {parsed.encoding}")
    notes = [note for note in parsed.notes if "duplicate" not in note]
    message = ", ".join(parts) + ("; " + "; ".join(notes) if notes else "")
    return FileOutcome(
        filename=parsed.filename,
        status="imported" if summary.n_added else "duplicate",
        n_documents=summary.n_documents,
        n_added=summary.n_added,
        n_already_present=summary.n_duplicates,
        message=message,
    )


def outcomes_table(outcomes: Sequence[FileOutcome]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "File": outcome.filename,
                "Result": STATUS_TEXT[outcome.status],
                "Documents": outcome.n_documents,
                "New": outcome.n_added,
                "Details": outcome.message,
            }
            for outcome in outcomes
        ]
    )


# --- per-file options -------------------------------------------------------------------


def file_key(kind: str, filename: str) -> str:
    """Widget key for one file's picker, stable while the same file stays uploaded."""
    digest = hashlib.sha1(filename.encode("utf-8", "replace")).hexdigest()[:10]  # noqa: S324
    return f"upload_{kind}_{digest}"


def is_tabular(filename: str) -> bool:
    return filename.rsplit(".", 1)[-1].lower() in TABULAR_FORMATS if "." in filename else False


@st.cache_data(max_entries=16, show_spinner=False)
def _preview(data: bytes, filename: str) -> tuple[list[str], list[dict]]:
    # Cached per file content: Streamlit reruns the page on every click.
    return preview_columns(data, filename, rows=PREVIEW_ROWS)


def _guess(columns: list[str], candidates: Sequence[str]) -> str | None:
    folded = {column.casefold(): column for column in columns}
    return next((folded[name] for name in candidates if name in folded), None)


def _guess_text_column(columns: list[str], rows: list[dict]) -> str:
    guessed = _guess(columns, GUESSED_TEXT_COLUMNS)
    if guessed is not None:
        return guessed

    def mean_length(column: str) -> float:
        values = [str(row.get(column) or "") for row in rows]
        return sum(map(len, values)) / max(len(values), 1)

    return max(columns, key=mean_length)  # the longest values are most likely the text


def render_tabular_options(filename: str, data: bytes) -> IngestOptions | None:
    """Preview and column pickers for a csv/tsv/json(l) file; None if it cannot be previewed."""
    try:
        columns, rows = _preview(data, filename)
    except IngestError as error:
        st.error(md(error), icon=":material/error:")
        return None
    if not columns:
        st.error(f"{md(filename)}: no columns found", icon=":material/error:")
        return None
    st.dataframe(
        pd.DataFrame(rows, columns=columns).astype(str),
        hide_index=True,
        key=file_key("preview", filename),
    )
    optional = [None, *columns]
    cols = st.columns(4)
    text_column = cols[0].selectbox(
        "Text column",
        columns,
        index=columns.index(_guess_text_column(columns, rows)),
        key=file_key("text", filename),
    )
    id_column = cols[1].selectbox(
        "Id column (optional)",
        optional,
        index=optional.index(_guess(columns, _GUESSED_ID_COLUMNS)),
        format_func=lambda c: "—" if c is None else c,
        key=file_key("id", filename),
    )
    label_column = cols[2].selectbox(
        "Gold label column (optional)",
        optional,
        index=optional.index(_guess(columns, _GUESSED_LABEL_COLUMNS)),
        format_func=lambda c: "—" if c is None else c,
        key=file_key("label", filename),
        help="Known correct labels; Evaluate can score the techniques against them.",
    )
    delimiter = cols[3].text_input(
        "Label delimiter",
        value=";",
        max_chars=3,
        key=file_key("delimiter", filename),
        disabled=label_column is None,
        help="Separates several gold labels in one cell, e.g. billing;complaint",
    )
    return IngestOptions(
        text_column=text_column,
        id_column=id_column,
        label_column=label_column,
        label_delimiter=delimiter or ";",
    )
