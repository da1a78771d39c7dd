"""The output folder of a Ray run: one Parquet file per input, and a `_run.json` manifest.

    <output>/<input-stem>-<fingerprint[:12]>.parquet   one row per (document, technique)
    <output>/_run.json                                   what ran, where, when, and counts

A file's fingerprint covers the run's techniques (config hash + model revision = cache key),
the ingest options, the input's path and the input's content hash. The file is written to a
temporary name and renamed, so a file that exists is complete; its Parquet footer repeats the
fingerprint and what is known about the input. A later run with the same settings finds the
file, checks the footer and skips the input: that is what makes runs resumable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANIFEST_NAME = "_run.json"
FORMAT = "sift-ray-predictions"
FORMAT_VERSION = 1
FOOTER_KEY = b"sift"
OUTPUT_SUFFIX = ".parquet"

# Column -> Arrow type name; one row per (document, technique), grouped by document.
COLUMNS: dict[str, str] = {
    "document_id": "string",  # sha256 of the normalised text (core.documents.document_id)
    "text": "string",  # normalised text, so import needs no input files
    "n_chars": "int64",
    "source": "string",
    "location": "string",
    "external_id": "string",
    "gold_labels": "string",  # JSON list
    "meta": "string",  # JSON object
    "technique": "string",
    "cache_key": "string",  # core.engine.technique_cache_key(config_hash, model info)
    "config_hash": "string",
    "model_id": "string",
    "model_revision": "string",
    "device": "string",  # where the worker ran the technique ("cpu", "cuda", ...)
    "dtype": "string",
    "scores": "string",  # JSON {label: score}; null = the technique abstained
    "evidence": "string",  # JSON list of Span dicts
    "summary": "string",
    "compute_seconds": "float64",  # this row's share of its batch's predict() time
}


class OutputFolderError(ValueError):
    """The output folder cannot be used as asked; the message says why and what to do."""


@dataclass(frozen=True)
class TechniqueSpec:
    """What identifies one technique's predictions: the same values the local engine logs."""

    name: str
    config: dict
    config_hash: str
    cache_key: str
    model_id: str
    model_revision: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_fingerprint(specs: Sequence[TechniqueSpec], ingest: dict) -> str:
    """Same techniques (cache keys, in order) and ingest options -> same fingerprint."""
    keys = [(spec.name, spec.config_hash, spec.cache_key) for spec in specs]
    return _digest({"techniques": keys, "ingest": ingest})[:24]


def file_fingerprint(run_fp: str, source_key: str, input_sha256: str) -> str:
    return _digest({"run": run_fp, "source": source_key, "sha256": input_sha256})[:24]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def output_name(source_name: str, file_fp: str) -> str:
    """'Q3 tickets.csv' + fingerprint -> 'Q3_tickets-1a2b3c4d5e6f.parquet'."""
    stem = Path(source_name).stem if "." in source_name else source_name
    stem = _UNSAFE.sub("_", stem).strip("._") or "input"
    return f"{stem[:60]}-{file_fp[:12]}{OUTPUT_SUFFIX}"


def read_footer(path: Path) -> dict | None:
    """The Sift metadata in a Parquet file's footer, or None (missing, unreadable, foreign)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
        return json.loads(metadata[FOOTER_KEY])
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None


def finished_output(path: Path, file_fp: str) -> dict | None:
    """The footer of `path` if it is a complete output for `file_fp`, else None."""
    if not path.is_file():
        return None
    footer = read_footer(path)
    if footer is None or footer.get("fingerprint") != file_fp:
        return None
    return footer


def write_output(path: Path, columns: dict[str, list], footer: dict) -> None:
    """Write one output file atomically (temporary file in the same folder, then rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [(name, getattr(pa, kind)()) for name, kind in COLUMNS.items()],
        metadata={FOOTER_KEY: json.dumps(footer, sort_keys=True).encode()},
    )
    table = pa.Table.from_pydict({name: columns[name] for name in COLUMNS}, schema=schema)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_manifest(folder: Path) -> dict | None:
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OutputFolderError(
            f"{path}: the run manifest is unreadable ({exc}); delete it to start the run afresh "
            "(finished Parquet files are still found and kept)"
        ) from exc
    if manifest.get("format") != FORMAT:
        raise OutputFolderError(f"{path} is not a Sift Ray manifest (no format {FORMAT!r})")
    return manifest


def output_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob(f"*{OUTPUT_SUFFIX}") if not p.name.startswith("."))
