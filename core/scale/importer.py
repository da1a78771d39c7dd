"""`import-predictions`: a Ray run's output folder -> a project, as if the run had been local.

Documents travel inside the output files (normalised text plus source, location, external id,
gold labels and meta), so the folder is self-contained: the input files are not needed, and
each text is checked against its id (sha256 of the normalised text) before anything is stored.
Documents the project lacks are added per input file, with the import record a local
`ingest` of that file would leave (filename, format, encoding, sha256).

Predictions are written through the same store calls as the local engine (start_run ->
write_predictions -> finish_run), one run per technique, under the cache keys the driver
computed with the local engine's own function: a later local run with the same techniques,
options and taxonomy is answered from the cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.documents import Document, document_id
from core.scale.layout import (
    MANIFEST_NAME,
    OutputFolderError,
    output_files,
    read_footer,
    read_manifest,
)
from core.taxonomy import Taxonomy
from core.techniques.base import taxonomy_fingerprint

WRITE_CHUNK = 2000  # predictions per store transaction


class ImportMismatchError(ValueError):
    """The predictions cannot go into this project as they are; the message says why."""


@dataclass
class ImportReport:
    n_files: int = 0
    n_documents: int = 0  # distinct documents in the imported files
    n_documents_added: int = 0  # of those, new to the project
    runs: dict[str, int] = field(default_factory=dict)  # technique -> run id
    n_new: dict[str, int] = field(default_factory=dict)  # technique -> predictions stored
    n_existing: dict[str, int] = field(default_factory=dict)  # already stored under the key
    skipped: list[str] = field(default_factory=list)  # parquet files of another run, ignored
    failed_inputs: dict[str, str] = field(default_factory=dict)  # from the run's manifest


def import_predictions(
    store: SiftStore,
    project,
    folder: str | Path,
    *,
    by: str = "ray-import",
    echo: Callable[[str], None] | None = None,
) -> ImportReport:
    """Load a Ray output folder into `project` (a core.store Project); see the module docstring."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise OutputFolderError(
            f"{folder} has no {MANIFEST_NAME}: it is not the output folder of "
            "`python -m core classify --engine ray --output FOLDER`"
        )
    _match_project(store, project, manifest)
    report = ImportReport(failed_inputs=dict(manifest.get("failed") or {}))
    files = []
    for path in output_files(folder):
        footer = read_footer(path)
        if footer is None or footer.get("run_fingerprint") != manifest["run_fingerprint"]:
            report.skipped.append(path.name)
            continue
        files.append((path, footer))
    if not files:
        raise OutputFolderError(
            f"{folder} holds no finished output of its run ({MANIFEST_NAME} fingerprint "
            f"{manifest['run_fingerprint']}); run the classify command again to produce them"
        )
    specs = {spec["name"]: spec for spec in manifest["techniques"]}
    all_ids = _all_document_ids(files)
    report.n_files, report.n_documents = len(files), len(all_ids)
    runs = {
        name: store.start_run(
            project.id,
            technique=name,
            config_hash=spec["config_hash"],
            config=spec["config"],
            cache_key=spec["cache_key"],
            model_id=spec["model_id"],
            model_revision=spec["model_revision"],
            device=",".join(spec.get("devices") or []) or "unknown",
            dtype=",".join(spec.get("dtypes") or []),
            n_documents=len(all_ids),
        )
        for name, spec in specs.items()
    }
    report.runs = dict(runs)
    seconds = {name: 0.0 for name in specs}
    try:
        known = set(store.document_ids(project.id))
        for path, footer in files:
            columns = _read_checked(path, specs)
            report.n_documents_added += _add_documents(store, project, columns, footer, known, by)
            for name, spec in specs.items():
                new, existing, spent = _write_predictions(store, project, runs[name], spec, columns)
                report.n_new[name] = report.n_new.get(name, 0) + new
                report.n_existing[name] = report.n_existing.get(name, 0) + existing
                seconds[name] += spent
            if echo is not None:
                echo(f"imported {path.name} ({footer['input']['name']})")
    except Exception as exc:
        for name, run_id in runs.items():
            store.finish_run(
                run_id,
                status="failed",
                n_computed=report.n_new.get(name, 0),
                n_cached=report.n_existing.get(name, 0),
                seconds=seconds[name],
                error=f"{type(exc).__name__}: {exc}",
            )
        raise
    for name, run_id in runs.items():
        store.finish_run(
            run_id,
            status="finished",
            n_computed=report.n_new.get(name, 0),
            n_cached=report.n_existing.get(name, 0),
            seconds=seconds[name],
        )
    return report


def _match_project(store: SiftStore, project, manifest: dict) -> None:
    """The project's taxonomy and mode must be the run's (they are part of every cache key)."""
    from core.predictions import project_settings

    taxonomy = Taxonomy.from_dict(manifest["taxonomy"])
    multi_label = bool(manifest.get("multi_label", False))
    current = store.load_taxonomy(project.id)
    if not current.labels:  # a new project takes the run's taxonomy and mode
        store.save_taxonomy(project.id, taxonomy)
        settings = dict(project.settings or {})
        settings["multi_label"] = multi_label
        store.update_project_settings(project.id, settings)
        return
    if taxonomy_fingerprint(current) != taxonomy_fingerprint(taxonomy):
        differing = sorted(set(current.names) ^ set(taxonomy.names)) or [
            mine.name for mine, theirs in zip(current.labels, taxonomy.labels) if mine != theirs
        ]
        raise ImportMismatchError(
            f"project {project.name!r} has another taxonomy than the run "
            f"(differing labels: {', '.join(differing) or 'order'}); predictions are tied to "
            "the taxonomy they were made with. Import into a new project (--create), or rerun "
            "classify with --project so it uses this project's taxonomy"
        )
    mode = project_settings(project)["multi_label"]
    if bool(mode) != multi_label:
        raise ImportMismatchError(
            f"project {project.name!r} is {'multi' if mode else 'single'}-label but the "
            f"predictions were made {'multi' if multi_label else 'single'}-label; rerun "
            f"classify with --{'multi' if mode else 'single'}-label, or import into a new project"
        )


def _all_document_ids(files) -> set[str]:
    import pyarrow.parquet as pq

    ids: set[str] = set()
    for path, _footer in files:
        ids.update(pq.read_table(path, columns=["document_id"]).column(0).to_pylist())
    return ids


def _read_checked(path: Path, specs: dict) -> dict[str, list]:
    """An output file as column -> values, after checking its techniques, keys and ids."""
    import pyarrow.parquet as pq

    columns = pq.read_table(path).to_pydict()  # plain lists: nulls are None
    for name, key in set(zip(columns["technique"], columns["cache_key"])):
        if name not in specs or specs[name]["cache_key"] != key:
            raise OutputFolderError(
                f"{path.name}: holds {name!r} predictions under cache key {key}, which the "
                f"run's {MANIFEST_NAME} does not list; the folder mixes runs"
            )
    checked: dict[str, str] = {}
    for row, (doc_id, text) in enumerate(zip(columns["document_id"], columns["text"]), start=1):
        if doc_id not in checked and document_id(text) != doc_id:
            raise OutputFolderError(
                f"{path.name}, row {row}: the text does not hash to its document id {doc_id}; "
                "the file was changed after it was written. Rerun classify for its input"
            )
        checked[doc_id] = text
    return columns


def _add_documents(
    store: SiftStore, project, columns: dict, footer: dict, known: set[str], by: str
) -> int:
    """Add the file's documents when any is new to the project, as one import of its input."""
    first: dict[str, int] = {}  # document id -> its first row
    for row, doc_id in enumerate(columns["document_id"]):
        first.setdefault(doc_id, row)
    if set(first) <= known:
        return 0
    documents = [
        Document(
            text=columns["text"][row],
            id=doc_id,
            source=columns["source"][row],
            location=columns["location"][row],
            external_id=columns["external_id"][row],
            gold_labels=tuple(json.loads(columns["gold_labels"][row])),
            meta=json.loads(columns["meta"][row]),
        )
        for doc_id, row in first.items()
    ]
    source = footer["input"]
    summary = store.add_documents(
        project.id,
        documents,
        filename=source["filename"],
        format=source["format"],
        encoding=source["encoding"],
        sha256=source["sha256"],
        by=by,
    )
    known.update(first)
    return summary.n_added


def _write_predictions(store: SiftStore, project, run_id: int, spec: dict, columns: dict):
    """-> (new predictions, ones already stored, compute seconds spent on them on Ray)."""
    name = spec["name"]
    rows = [i for i, technique in enumerate(columns["technique"]) if technique == name]
    items = [
        (
            columns["document_id"][i],
            {
                "scores": None
                if columns["scores"][i] is None
                else json.loads(columns["scores"][i]),
                "evidence": json.loads(columns["evidence"][i]),
                "summary": columns["summary"][i],
            },
        )
        for i in rows
    ]
    new = 0
    for start in range(0, len(items), WRITE_CHUNK):
        new += store.write_predictions(
            project.id, run_id, spec["cache_key"], name, items[start : start + WRITE_CHUNK]
        )
    return new, len(items) - new, sum(columns["compute_seconds"][i] for i in rows)
