"""Export a project's labelled documents: CSV, JSONL, Parquet, or a Hugging Face datasets folder.

A row is a document with its final labels: the reviewer's labels when the
document was reviewed, else the labels the Review page suggests for it
(`core.predictions`, with the project's learned configuration). Options
choose reviewed-only or all, whether per-technique scores (soft labels) are
included, and an optional seeded train/test split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

import csv
import hashlib
import io
import json
import random
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.predictions import ENSEMBLE, load_predictions

# Spreadsheet apps execute cells that start with these: prefix them with a quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportOptions:
    reviewed_only: bool = False
    include_scores: bool = False
    test_fraction: float = 0.0  # 0 -> no split column
    seed: int = 0


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    n_rows: int
    sha256: str


def build_rows(
    store: SiftStore, project_id: int, options: ExportOptions = ExportOptions()
) -> list[dict]:
    table = load_predictions(store, project_id)
    reviews = store.current_reviews(project_id)
    rows = []
    for doc in store.get_documents(project_id):
        review = reviews.get(doc.id)
        if options.reviewed_only and review is None:
            continue
        i = table.index_of(doc.id)
        if review is not None:
            labels, source = list(review.labels), "review"
        else:
            labels = list(table.suggested_labels(i))
            source = "prediction" if labels else "none"
        row: dict[str, object] = {
            "id": doc.id,
            "external_id": doc.external_id or "",
            "text": doc.text,
            "labels": labels,
            "label_source": source,
            "reviewer": review.reviewer if review else "",
            "reviewed_at": review.created_at if review else "",
            "gold_labels": list(doc.gold_labels),
            "source": doc.source,
        }
        if options.include_scores:
            suggestion = table.suggestion(i)
            for technique, scores in suggestion.techniques.items():
                row[f"scores_{technique}"] = scores
            row[f"scores_{ENSEMBLE}"] = suggestion.ensemble
        rows.append(row)
    if options.test_fraction > 0:
        _assign_split(rows, options.test_fraction, options.seed)
    return rows


def _assign_split(rows: list[dict], test_fraction: float, seed: int) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1, got {test_fraction}")
    order = sorted(range(len(rows)), key=lambda i: rows[i]["id"])  # stable across runs
    random.Random(seed).shuffle(order)
    n_test = round(len(rows) * test_fraction)
    test = set(order[:n_test])
    for i, row in enumerate(rows):
        row["split"] = "test" if i in test else "train"


def neutralise_cell(value: str) -> str:
    """Stop spreadsheet formula injection: '=cmd|...' becomes \"'=cmd|...\"."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _flat(value) -> str:
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def to_csv(rows: Iterable[dict]) -> bytes:
    rows = list(rows)
    buffer = io.StringIO()
    if rows:
        # QUOTE_ALL: a bare CR inside a cell must not end the row (and start a formula cell).
        writer = csv.DictWriter(
            buffer, fieldnames=list(rows[0]), lineterminator="\n", quoting=csv.QUOTE_ALL
        )
        writer.writeheader()
        for row in rows:
            writer.writerow({key: neutralise_cell(_flat(value)) for key, value in row.items()})
    return buffer.getvalue().encode("utf-8")


def to_jsonl(rows: Iterable[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def _table(rows: list[dict]):
    import pyarrow as pa

    # Score dicts become JSON strings: their keys (labels) vary per project.
    flat = [
        {k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()} for row in rows
    ]
    return pa.Table.from_pylist(flat)


def to_parquet(rows: list[dict]) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(_table(rows), buffer)
    return buffer.getvalue()


def write_hf_folder(rows: list[dict], folder: Path) -> Path:
    """A folder `datasets.load_dataset(str(folder))` loads: a parquet per split + README config."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    splits: dict[str, list[dict]] = {}
    for row in rows:
        splits.setdefault(row.get("split", "train"), []).append(row)
    if not splits:
        splits["train"] = []
    config = []
    for split, split_rows in sorted(splits.items()):
        pq.write_table(_table(split_rows), folder / "data" / f"{split}.parquet")
        config.append(f"  - split: {split}\n    path: data/{split}.parquet")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n"
        + "\n".join(config)
        + "\n---\n\n# Sift export\n\nLabelled with Sift. Columns: id, text, labels, label_source, "
        "reviewer, reviewed_at, gold_labels, source (and per-technique scores when exported).\n",
        encoding="utf-8",
    )
    return folder


def folder_digest(folder: Path) -> str:
    """sha256 over a folder's files (relative path and bytes, in path order)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder.parent).as_posix())
    return buffer.getvalue()


@dataclass(frozen=True)
class ExportFormat:
    """One export format: what the Export page offers and `python -m core export` writes."""

    name: str  # "csv"
    title: str  # shown on the Export page
    mime: str  # of the file a browser downloads
    extension: str  # of that file
    folder: bool = False  # the command line writes a folder (the page downloads it zipped)


FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ExportFormat("csv", "CSV", "text/csv", "csv"),
        ExportFormat("jsonl", "JSON Lines", "application/jsonl", "jsonl"),
        ExportFormat("parquet", "Parquet", "application/vnd.apache.parquet", "parquet"),
        ExportFormat(
            "hf", "Hugging Face datasets folder (zip)", "application/zip", "zip", folder=True
        ),
    )
}
_WRITERS = {"csv": to_csv, "jsonl": to_jsonl, "parquet": to_parquet}


def export_format(name: str) -> ExportFormat:
    if name not in FORMATS:
        raise ValueError(f"unknown export format {name!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name]


@dataclass(frozen=True)
class Rendered:
    data: bytes  # the file (the hf folder zipped)
    sha256: str  # of the file; of the folder's files for hf (as `export_project` records it)


def render(rows: list[dict], fmt: str) -> Rendered:
    """rows -> the export's bytes, as a download holds them."""
    if export_format(fmt).folder:
        with tempfile.TemporaryDirectory(prefix="sift-export-") as tmp:
            folder = write_hf_folder(rows, Path(tmp) / "dataset")
            return Rendered(_zip_folder(folder), folder_digest(folder))
    data = _WRITERS[fmt](rows)
    return Rendered(data, hashlib.sha256(data).hexdigest())


def prepare_export(
    store: SiftStore,
    project_id: int,
    fmt: str,
    options: ExportOptions = ExportOptions(),
    *,
    by: str = "",
) -> tuple[list[dict], Rendered]:
    """Build, render and record an export held in memory (the Export page's download)."""
    rows = build_rows(store, project_id, options)
    rendered = render(rows, fmt)
    _record(store, project_id, fmt, rows, options, rendered.sha256, by)
    return rows, rendered


def _record(store: SiftStore, project_id, fmt, rows, options, sha256, by) -> None:
    store.record_export(
        project_id,
        format=fmt,
        n_rows=len(rows),
        options={**options.__dict__},
        sha256=sha256,
        by=by,
    )


def export_project(
    store: SiftStore,
    project_id: int,
    fmt: str,
    destination: Path,
    options: ExportOptions = ExportOptions(),
    *,
    by: str = "",
) -> ExportResult:
    """Write the export to `destination` (a file; a folder for "hf") and record it."""
    export_format(fmt)
    rows = build_rows(store, project_id, options)
    destination = Path(destination)
    if FORMATS[fmt].folder:
        write_hf_folder(rows, destination)
        sha = folder_digest(destination)
    else:
        data = render(rows, fmt).data
        tmp = destination.with_name(destination.name + ".partial")
        tmp.write_bytes(data)
        tmp.replace(destination)  # never leave a half-written export behind
        sha = hashlib.sha256(data).hexdigest()
    _record(store, project_id, fmt, rows, options, sha, by)
    return ExportResult(path=destination, format=fmt, n_rows=len(rows), sha256=sha)
