"""The Upload page's blocks: per-file column pickers and the import itself.

`import_files` does the work without Streamlit: each file goes through
core.ingest.ingest_bytes and then one store.add_documents call (one
transaction), so a file is imported whole or not at all, and one bad file does
not stop the others. A file whose ingest came back with warnings (its text column does
not look like text) is not stored until the person confirms it ("Import anyway",
`render_confirmations`). When the database cannot be written (disk full, read-only:
core.store.failures) that file is "Not stored", its transaction rolled back whole, and the
files after it are not tried (they would fail the same way); each row says what to do.
The page draws the pickers and the per-file result table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.ingest import (
    IngestError,
    IngestOptions,
    ParsedFile,
    check_text_column,
    ingest_bytes,
    match_gold_labels,
    preview_columns,
)
from core.ingest.formats import TABULAR_FORMATS
from core.ingest.options import GUESSED_TEXT_COLUMNS
from core.store import StoreError
from core.store.failures import StorageFailure, storage_failure
from ui.markdown import md

RESULTS = "_upload_results"  # (project id, [FileOutcome]) of the last import, shown until the next
# (project id, {uploaded name: (sha256 of its bytes, IngestOptions, position in RESULTS)}): the
# files of the last import that wait for "Import anyway", with exactly what was checked
PENDING = "_upload_pending"
SPLIT_PARAGRAPHS = "upload_split_paragraphs"
PREVIEW_ROWS = 5
_GUESSED_ID_COLUMNS = ("id", "external_id", "ticket_id", "message_id", "doc_id")
_GUESSED_LABEL_COLUMNS = ("gold", "label", "labels", "category", "categories", "topic")
STATUS_TEXT = {
    "imported": "Imported",
    "duplicate": "Already present",
    "rejected": "Rejected",
    "unconfirmed": "Needs confirmation",
    "not_stored": "Not stored",
}


@dataclass(frozen=True)
class FileOutcome:
    filename: str
    # "imported" (some new) | "duplicate" (nothing new) | "rejected" (nothing stored) |
    # "unconfirmed" (nothing stored yet: `warnings` wait for the person's confirmation) |
    # "not_stored" (the database could not be written: nothing stored, import it again)
    status: str
    n_documents: int  # distinct documents in the file (0 when rejected)
    n_added: int  # new to the project
    n_already_present: int  # in the project before this import
    message: str  # what happened, in words: counts and notes, or why the file was rejected
    warnings: tuple[str, ...] = ()  # "unconfirmed": what to confirm, each naming file and column
    gold_notes: tuple[str, ...] = ()  # how the file's gold labels match the taxonomy's labels


def import_files(
    store,
    project_id: int,
    files: Sequence[tuple[str, bytes, IngestOptions]],
    *,
    by: str = "",
) -> list[FileOutcome]:
    """(filename, bytes, options) per file -> one outcome per file, in order. After a file
    is not stored for a storage failure, the rest are not tried and say so."""
    outcomes: list[FileOutcome] = []
    for position, (name, data, options) in enumerate(files):
        outcome = import_file(store, project_id, name, data, options, by=by)
        outcomes.append(outcome)
        if outcome.status == "not_stored":
            for later, _, _ in files[position + 1 :]:
                outcomes.append(
                    FileOutcome(
                        later,
                        "not_stored",
                        0,
                        0,
                        0,
                        f"not tried: the import stopped at {name} (see there); import this "
                        "file again once that is fixed",
                    )
                )
            break
    return outcomes


def import_file(
    store,
    project_id: int,
    name: str,
    data: bytes,
    options: IngestOptions,
    *,
    by: str = "",
    confirmed: bool = False,
) -> FileOutcome:
    """One file; with warnings (ParsedFile.warnings) it is stored only once `confirmed`."""
    try:
        parsed = ingest_bytes(data, name, options)
        if parsed.warnings and not confirmed:
            return FileOutcome(
                filename=parsed.filename,
                status="unconfirmed",
                n_documents=len(parsed.documents),
                n_added=0,
                n_already_present=0,
                message="nothing stored yet: " + "; ".join(parsed.warnings),
                warnings=tuple(parsed.warnings),
            )
        gold_notes = _gold_notes(store, project_id, parsed)
        summary = store.add_documents(
            project_id,
            parsed.documents,
            filename=parsed.filename,
            format=parsed.format,
            encoding=parsed.encoding,
            sha256=parsed.sha256,
            by=by,
        )
    except Exception as error:
        failure = storage_failure(error)  # first: DatabaseReadOnly is also a StoreError
        if failure is not None:
            return _not_stored(name, failure)
        if isinstance(error, IngestError | StoreError):
            return FileOutcome(name, "rejected", 0, 0, 0, str(error))
        raise
    parts = [f"{summary.n_added:,} new"]
    if summary.n_duplicates:
        parts.append(f"{summary.n_duplicates:,} already present")
    if parsed.duplicates_in_file:
        parts.append(f"{parsed.duplicates_in_file:,} repeated in the file (kept once)")
    if parsed.encoding and parsed.encoding.lower() not in ("utf-8", "ascii"):
        parts.append(f"read as {parsed.encoding}")
    notes = [note for note in parsed.notes if "duplicate" not in note]
    if parsed.warnings:
        notes.append(f"text column {parsed.text_column!r} imported as confirmed")
    message = ", ".join(parts) + ("; " + "; ".join(notes) if notes else "")
    return FileOutcome(
        filename=parsed.filename,
        status="imported" if summary.n_added else "duplicate",
        n_documents=summary.n_documents,
        n_added=summary.n_added,
        n_already_present=summary.n_duplicates,
        message=message,
        gold_notes=tuple(gold_notes),
    )


def _not_stored(name: str, failure: StorageFailure) -> FileOutcome:
    return FileOutcome(
        name,
        "not_stored",
        0,
        0,
        0,
        f"{name}: not stored: {failure.reason} ({failure.detail}). Nothing from this file was "
        f"stored; {failure.fix}, then import it again.",
    )


def _gold_notes(store, project_id: int, parsed: ParsedFile) -> list[str]:
    """How the file's gold labels match the project's labels (case-insensitive), in words."""
    gold = [doc.gold_labels for doc in parsed.documents if doc.gold_labels]
    if not gold:
        return []
    return match_gold_labels(gold, store.load_taxonomy(project_id).names).notes()


def pending_confirmations(
    files: Sequence[tuple[str, bytes, IngestOptions]], outcomes: Sequence[FileOutcome]
) -> dict[str, tuple[str, IngestOptions, int]]:
    """{uploaded name: (sha256 of its bytes, options checked, position in outcomes)} of the
    files that wait for confirmation."""
    return {
        name: (hashlib.sha256(data).hexdigest(), options, position)
        for position, ((name, data, options), outcome) in enumerate(
            zip(files, outcomes, strict=True)
        )
        if outcome.status == "unconfirmed"
    }


def render_confirmations(
    store, project_id: int, files: Sequence[tuple[str, bytes, IngestOptions]], *, by: str
) -> None:
    """Each file of the last import that waits for confirmation: its warning and "Import
    anyway", which stores it with exactly the bytes and options that were checked. A file
    whose columns were changed since is checked again by Import instead."""
    pending_project, pending = st.session_state.get(PENDING, (None, {}))
    results_project, outcomes = st.session_state.get(RESULTS, (None, []))
    if pending_project != project_id or results_project != project_id:
        return
    current = {name: (data, options) for name, data, options in files}
    for name, (digest, checked, position) in pending.items():
        if name not in current:
            continue  # no longer uploaded
        data, options = current[name]
        if hashlib.sha256(data).hexdigest() != digest or options != checked:
            st.info(
                f"{md(name)}: its columns changed since the check; click Import to check "
                "them again.",
                icon=":material/info:",
            )
            continue
        with st.container(border=True):
            for warning in outcomes[position].warnings:
                st.warning(md(warning), icon=":material/warning:")
            st.caption(
                "Nothing from this file is stored yet. Pick the column that holds the text "
                "above and click Import again, or import it with this column."
            )
            if st.button("Import anyway", key=file_key("confirm", name), icon=":material/done:"):
                outcome = import_file(store, project_id, name, data, options, by=by, confirmed=True)
                outcomes = [*outcomes[:position], outcome, *outcomes[position + 1 :]]
                st.session_state[RESULTS] = (project_id, outcomes)
                st.session_state[PENDING] = (
                    project_id,
                    {other: entry for other, entry in pending.items() if other != name},
                )
                st.rerun()


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

    def values(column: str) -> list[str]:
        return [str(row.get(column) or "") for row in rows]

    def reads_as_text(column: str) -> bool:
        check = check_text_column(column, values(column))
        return bool(check.n_sampled) and check.looks_like_text

    def mean_length(column: str) -> float:
        return sum(map(len, values(column))) / max(len(rows), 1)

    # Of the columns that read as text (else all), the longest values are most likely the text.
    return max([c for c in columns if reads_as_text(c)] or columns, key=mean_length)


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
