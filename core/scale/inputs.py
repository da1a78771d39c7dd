"""What a Ray run classifies: input files (parsed as a local import does) or project documents.

Every source becomes an `InputBatch`: the documents of one input file (or one slice of a
project), with what a local import records about the file (name, format, encoding, sha256).
CSV/TSV/JSON(L)/TXT/MD/EML/DOCX/PDF go through `core.ingest` so documents get the same ids,
normalisation, locations and de-duplication as `python -m core ingest`; Parquet is read with
pyarrow and its rows go through the same `build_documents` step.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.documents import Document
from core.ingest import SUPPORTED_EXTENSIONS, IngestError, IngestOptions, ingest_path
from core.ingest.columns import choose_columns, external_id, label_tuple
from core.ingest.errors import display_name
from core.ingest.limits import check_file_size
from core.ingest.parsed import Record, build_documents

PARQUET_EXTENSIONS = (".parquet",)
INPUT_EXTENSIONS = tuple(SUPPORTED_EXTENSIONS) + PARQUET_EXTENSIONS
_HASH_CHUNK = 1 << 20
PROJECT_FORMAT = "sift-project"


class InputNotFound(ValueError):
    """An --input path or pattern matched nothing; the message names it."""


@dataclass(frozen=True)
class InputSource:
    """One thing to classify: a file on disk, or one slice of a project's documents."""

    name: str  # shown in messages and used for the output file's stem ("tickets.csv")
    key: str  # stable identity of the source: the path as given (files) or project/slice
    path: Path | None = None  # None for project slices
    project_slice: str | None = None  # hex digit, for project slices
    document_ids: tuple[str, ...] = ()  # project slices: the slice's ids, sorted


@dataclass(frozen=True)
class InputBatch:
    """A source's documents plus what a local import would record about it."""

    source: InputSource
    documents: list[Document]  # de-duplicated, in file order
    filename: str  # display name, as ingest records it
    format: str  # "csv", "parquet", ..., or "sift-project"
    encoding: str | None
    sha256: str  # of the file's bytes; for a project slice, of its sorted document ids
    duplicates_in_file: int = 0


def expand_inputs(patterns: Iterable[str], *, exclude: Path | None = None) -> list[InputSource]:
    """Files, folders (searched recursively) and glob patterns -> sorted, de-duplicated sources.

    A folder contributes only files with a supported extension; a file or glob named
    explicitly is taken as it is (an unsupported one is then reported as failed, by name).
    Files under `exclude` (the run's output folder) are never inputs.
    """
    excluded = Path(exclude).resolve() if exclude is not None else None
    found: dict[Path, None] = {}
    for raw in patterns:
        path = Path(raw).expanduser()
        if path.is_dir():
            matches = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_EXTENSIONS
            )
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(raw):
            matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(raw), recursive=True))
            matches = [p for p in matches if p.is_file()]
        else:
            matches = []
        if not matches:
            raise InputNotFound(
                f"--input {raw!r} matches no file; give a file, a folder or a glob such as "
                f"'data/*.csv' (readable: {', '.join(INPUT_EXTENSIONS)})"
            )
        for match in matches:
            resolved = match.resolve()
            if excluded is None or not resolved.is_relative_to(excluded):
                found.setdefault(resolved, None)
    return [InputSource(name=display_name(p.name), key=str(p), path=p) for p in found]


def project_sources(project_name: str, document_ids: Iterable[str]) -> list[InputSource]:
    """The non-empty slices of a project's documents, by the first hex digit of their ids.

    A document added later changes only its own slice, so a resumed run recomputes one
    slice (about 1/16 of the project), not the whole project.
    """
    slices: dict[str, list[str]] = {}
    for doc_id in document_ids:
        slices.setdefault(doc_id[:1], []).append(doc_id)
    return [
        InputSource(
            name=f"{project_name}-{digit}",
            key=f"project:{project_name}/{digit}",
            project_slice=digit,
            document_ids=tuple(sorted(slices[digit])),
        )
        for digit in sorted(slices)
    ]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_sha256(source: InputSource) -> str:
    """Content hash of a source, computed without parsing it (used to decide what is done)."""
    if source.path is not None:
        return file_sha256(source.path)
    return hashlib.sha256("\n".join(source.document_ids).encode()).hexdigest()


def read_source(
    source: InputSource,
    options: IngestOptions,
    *,
    store=None,
    project_id: int | None = None,
) -> InputBatch:
    """Parse one source; raises IngestError naming the file (and row) when it is unreadable."""
    if source.path is None:
        return _read_project_slice(source, store, project_id)
    if source.path.suffix.lower() in PARQUET_EXTENSIONS:
        return _read_parquet(source, options)
    parsed = ingest_path(source.path, options)
    return InputBatch(
        source=source,
        documents=parsed.documents,
        filename=parsed.filename,
        format=parsed.format,
        encoding=parsed.encoding,
        sha256=parsed.sha256,
        duplicates_in_file=parsed.duplicates_in_file,
    )


def _read_parquet(source: InputSource, options: IngestOptions) -> InputBatch:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = source.path
    assert path is not None  # read_source sends only file sources (with a path) here
    name = source.name
    check_file_size(path.stat().st_size, name, options.limits)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(name, f"is not a readable Parquet file ({exc}); re-export it") from exc
    columns = list(table.column_names)
    first_rows = table.slice(0, 50).to_pylist()
    text_col, id_col, label_col, _notes = choose_columns(
        columns, first_rows, options, name, is_text=lambda value: isinstance(value, str)
    )
    texts = table.column(text_col).to_pylist()
    ids = table.column(id_col).to_pylist() if id_col else [None] * len(texts)
    labels = table.column(label_col).to_pylist() if label_col else [None] * len(texts)
    records = []
    for number, (text, ext_id, gold) in enumerate(zip(texts, ids, labels), start=1):
        location = f"row {number}"
        if not isinstance(text, str) or not text.strip():
            raise IngestError(
                name,
                f"the text column {text_col!r} is empty or not text; remove or fill row {number}",
                location,
            )
        records.append(
            Record(
                text,
                location=location,
                external_id=external_id(ext_id) if id_col else None,
                gold_labels=label_tuple(gold, options.label_delimiter) if label_col else (),
            )
        )
    documents, duplicates = build_documents(records, name, options.limits)
    return InputBatch(
        source=source,
        documents=documents,
        filename=name,
        format="parquet",
        encoding=None,
        sha256=file_sha256(path),
        duplicates_in_file=duplicates,
    )


def _read_project_slice(source: InputSource, store, project_id: int | None) -> InputBatch:
    if store is None or project_id is None:
        raise ValueError("reading a project's documents needs the store and the project id")
    ids = list(source.document_ids)
    documents: list[Document] = []
    chunk = 5000  # bounded memory per store call
    for start in range(0, len(ids), chunk):
        documents.extend(
            stored.to_document()
            for stored in store.get_documents(project_id, ids[start : start + chunk])
        )
    documents.sort(key=lambda doc: doc.id)
    return InputBatch(
        source=source,
        documents=documents,
        filename=source.name,
        format=PROJECT_FORMAT,
        encoding=None,
        sha256=source_sha256(source),
    )
