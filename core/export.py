"""Export a project's labelled documents: CSV, JSONL, Parquet, or a Hugging Face datasets folder.

A row is a document with its final labels: the reviewer's labels when the
document was reviewed, else the labels the Review page suggests for it
(`core.predictions`, with the project's learned configuration); `label_source`
says which (`LABEL_SOURCES`). Options choose reviewed-only or all, whether
per-technique scores (soft labels) are included, and an optional seeded
train/test split whose test rows are reviewed documents only.

Types: `labels` and `gold_labels` are lists of label names; a `scores_<technique>`
column is one float per label (taxonomy order), null where the technique abstained:
an object in JSONL, a struct in Parquet and in the Hugging Face folder, JSON text in
CSV. The Hugging Face folder is written by `datasets` itself (`save_to_disk`), so
`datasets.load_from_disk` reads it: `labels` is a ClassLabel over the taxonomy's
labels (single-label projects) or a list of them (multi-label), and a split export
is a DatasetDict with train and test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

import csv
import hashlib
import io
import json
import logging
import random
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.predictions import ENSEMBLE, load_predictions, project_settings
from core.store.errors import DatabaseReadOnly

log = logging.getLogger(__name__)

# --- where a row's labels came from (the `label_source` column) -------------------------------
REVIEWED = "reviewed"  # a reviewer accepted or corrected them
ADJUDICATED = "adjudicated"  # settled between reviewers: the current review is an adjudication
MACHINE = "machine"  # the ensemble's suggestion, nobody reviewed the document
NO_LABEL = "none"  # nobody reviewed it and no technique suggested a label
LABEL_SOURCES = (REVIEWED, ADJUDICATED, MACHINE, NO_LABEL)
HUMAN_SOURCES = frozenset({REVIEWED, ADJUDICATED})  # the only rows a test split takes

SCORES_PREFIX = "scores_"
LIST_COLUMNS = ("labels", "gold_labels")
TEST_SPLIT_HELP = (
    "Share of the exported rows to hold out as a test split (0 = no split). Test rows are "
    "reviewed documents only; machine-labelled ones go to train. With too few reviewed "
    "documents the test split holds as many as there are."
)

# Spreadsheet apps execute cells that start with these (OWASP, CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportOptions:
    reviewed_only: bool = False
    include_scores: bool = False
    test_fraction: float = 0.0  # 0 -> no split column; test rows are reviewed documents
    seed: int = 0


@dataclass(frozen=True)
class SplitSummary:
    """How a split export came out: the test split takes reviewed documents only."""

    rows: int
    requested: int  # test rows asked for: round(rows x test fraction)
    test: int  # test rows written (reviewed documents)
    reviewed: int  # reviewed documents among the rows

    @property
    def short(self) -> bool:
        return self.test < self.requested

    def note(self) -> str:
        if not self.short:
            return (
                f"Test split: {_count(self.test, 'reviewed document')}; "
                f"{_count(self.rows - self.test, 'other row')} in train."
            )
        return (
            f"Test split: {_count(self.test, 'row')}, not the {self.requested:,} asked for: "
            f"only {_count(self.reviewed, 'document')} reviewed, and test rows must be "
            "reviewed. Review more documents for a larger test split."
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    n_rows: int
    sha256: str
    split: SplitSummary | None = None  # None: no train/test split


@dataclass(frozen=True)
class LabelSpace:
    """The label names the typed formats are built over (ClassLabel, score struct fields)."""

    names: tuple[str, ...]  # the taxonomy's, in taxonomy order; then any others the rows hold
    multi_label: bool


def build_rows(
    store: SiftStore, project_id: int, options: ExportOptions = ExportOptions()
) -> list[dict]:
    table = load_predictions(store, project_id)
    reviews = store.current_reviews(project_id)
    flag_reasons = _flag_reasons(store, project_id)
    rows = []
    for doc in store.get_documents(project_id):
        review = reviews.get(doc.id)
        if options.reviewed_only and review is None:
            continue
        i = table.index_of(doc.id)
        if review is not None:
            # current_reviews prefers an adjudication (the final word) over plain reviews
            labels = list(review.labels)
            source = ADJUDICATED if review.decision == "adjudicate" else REVIEWED
        else:
            labels = list(table.suggested_labels(i))
            source = MACHINE if labels else NO_LABEL
        row: dict[str, object] = {
            "id": doc.id,
            "external_id": doc.external_id or "",
            "text": doc.text,
            "labels": labels,
            "label_source": source,
            "reviewer": review.reviewer if review else "",
            "reviewed_at": review.created_at if review else "",
            "review_note": review.note if review else "",  # the reviewer's comment, if any
            "flag_reason": flag_reasons.get(doc.id, ""),
            "gold_labels": list(doc.gold_labels),
            "source": doc.source,
        }
        if options.include_scores:
            suggestion = table.suggestion(i)
            for technique, scores in suggestion.techniques.items():
                row[f"{SCORES_PREFIX}{technique}"] = scores
            row[f"{SCORES_PREFIX}{ENSEMBLE}"] = suggestion.ensemble
        rows.append(row)
    if options.test_fraction > 0:
        _assign_split(rows, options.test_fraction, options.seed)
    return rows


def _flag_reasons(store: SiftStore, project_id: int) -> dict[str, str]:
    """document_id -> the reason given with its standing flag (flagged documents whose flag
    came with a note; an unflag or an undo takes the flag, and its reason, away)."""
    flagged = store.flagged_document_ids(project_id)
    if not flagged:
        return {}
    history = store.review_history(project_id)
    undone = {review.undoes for review in history if review.decision == "undo"}
    reasons: dict[str, str] = {}
    for review in history:  # oldest first: the last flag not undone wins
        if review.document_id in flagged and review.decision == "flag" and review.id not in undone:
            reasons[review.document_id] = review.note
    return {document_id: note for document_id, note in reasons.items() if note}


def _assign_split(rows: list[dict], test_fraction: float, seed: int) -> None:
    """Seeded test split of round(len(rows) x test_fraction) rows, drawn from the reviewed
    ones only (fewer when fewer are reviewed); every other row is train."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1, got {test_fraction}")
    reviewed = [i for i, row in enumerate(rows) if row["label_source"] in HUMAN_SOURCES]
    order = sorted(reviewed, key=lambda i: rows[i]["id"])  # stable across runs
    random.Random(seed).shuffle(order)
    test = set(order[: round(len(rows) * test_fraction)])
    for i, row in enumerate(rows):
        row["split"] = "test" if i in test else "train"


def split_summary(rows: Sequence[dict], test_fraction: float) -> SplitSummary | None:
    """How `build_rows` split these rows (None when they were not split)."""
    if test_fraction <= 0:
        return None
    return SplitSummary(
        rows=len(rows),
        requested=round(len(rows) * test_fraction),
        test=sum(row.get("split") == "test" for row in rows),
        reviewed=sum(row["label_source"] in HUMAN_SOURCES for row in rows),
    )


def label_space(store: SiftStore, project_id: int, rows: Sequence[dict] = ()) -> LabelSpace:
    """The project's labels (taxonomy order) and whether it is multi-label, widened to fit
    `rows` (see `_fit`)."""
    multi_label = bool(project_settings(store.get_project(project_id))["multi_label"])
    return _fit(LabelSpace(tuple(store.load_taxonomy(project_id).names), multi_label), rows)


def infer_label_space(rows: Sequence[dict]) -> LabelSpace:
    """A label space from the rows alone (rows built without a store at hand)."""
    seen: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith(SCORES_PREFIX) and isinstance(value, dict):
                seen.update(dict.fromkeys(value))
    return _fit(LabelSpace(tuple(seen), False), rows)


def _fit(space: LabelSpace, rows: Sequence[dict]) -> LabelSpace:
    """Labels the rows hold that the taxonomy no longer has (a review saved before a label
    was renamed or removed) go after the taxonomy's, sorted; a single-label project with a
    row holding several labels is written as multi-label rather than lose any."""
    known = set(space.names)
    extra = sorted({label for row in rows for label in row["labels"] if label not in known})
    multi_label = space.multi_label or any(len(row["labels"]) > 1 for row in rows)
    return LabelSpace(space.names + tuple(extra), multi_label)


# --- CSV ---------------------------------------------------------------------------------------


def _skipped_before_formula(char: str) -> bool:
    """Whitespace and invisible characters a spreadsheet may skip before a formula: spaces
    (Zs, NBSP included), format characters (Cf: BOM, zero-width, bidi controls) and other
    whitespace (line breaks). TAB and CR are formula starts themselves."""
    if char in FORMULA_PREFIXES:
        return False
    return unicodedata.category(char) in ("Zs", "Cf") or char.isspace()


def starts_formula(value: str) -> bool:
    """Whether a spreadsheet could read `value` as a formula: after leading whitespace and
    invisible characters, its first character, as written or NFKC-normalised (full-width
    `＝＋－＠`, small and superscript forms), is one of `FORMULA_PREFIXES`.

    The first visible character is normalised on its own, so a combining mark after it
    (`＝` + U+0338 composes to `≠`) cannot hide it."""
    for char in value:
        if _skipped_before_formula(char):
            continue
        if char in FORMULA_PREFIXES:
            return True
        folded = [c for c in unicodedata.normalize("NFKC", char) if not _skipped_before_formula(c)]
        if folded:
            return folded[0] in FORMULA_PREFIXES
    return False


def neutralise_cell(value: str) -> str:
    """Stop spreadsheet formula injection: '=cmd|...' becomes \"'=cmd|...\" (a quote prefix,
    as OWASP recommends), also behind leading spaces, NBSP, a BOM or in full-width form."""
    return "'" + value if starts_formula(value) else value


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


# --- Arrow: Parquet and the Hugging Face folder ------------------------------------------------

BASE_COLUMNS = (
    "id",
    "external_id",
    "text",
    "labels",
    "label_source",
    "reviewer",
    "reviewed_at",
    "review_note",
    "flag_reason",
    "gold_labels",
    "source",
)


def _columns(rows: Sequence[dict]) -> list[str]:
    return list(rows[0]) if rows else list(BASE_COLUMNS)


def _table(rows: Sequence[dict], space: LabelSpace, *, encode_labels: bool = False):
    """rows -> a pyarrow Table with typed columns. Scores: a struct with one float64 field per
    label (taxonomy order; the whole struct null where the technique abstained): struct and
    not map, because the labels are fixed per export, and pandas, Polars and `datasets` read
    a struct as named fields (a map is a list of key/value pairs to them). Arrow field names
    may be any string, so any label name is one. `encode_labels`: labels as indices into
    `space.names` (a list of them when multi-label), as a ClassLabel stores them."""
    import pyarrow as pa

    scores_type = pa.struct([pa.field(name, pa.float64()) for name in space.names])
    index = {name: i for i, name in enumerate(space.names)}
    arrays, names = [], []
    for column in _columns(rows):
        values = [row.get(column) for row in rows]
        if column == "labels" and encode_labels:
            encoded = [[index[label] for label in row["labels"]] for row in rows]
            if space.multi_label:
                array = pa.array(encoded, type=pa.list_(pa.int64()))
            else:
                array = pa.array([e[0] if e else None for e in encoded], type=pa.int64())
        elif column in LIST_COLUMNS:
            array = pa.array(values, type=pa.list_(pa.string()))
        elif column.startswith(SCORES_PREFIX):
            array = pa.array(values, type=scores_type)
        elif all(isinstance(value, str) for value in values):
            array = pa.array(values, type=pa.string())
        else:
            array = pa.array(values)
        arrays.append(array)
        names.append(column)
    return pa.Table.from_arrays(arrays, names=names)


def to_parquet(rows: list[dict], labels: LabelSpace | None = None) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(_table(rows, labels or infer_label_space(rows)), buffer)
    return buffer.getvalue()


@contextmanager
def _quiet_datasets(datasets: Any) -> Iterator[None]:
    """No "Saving the dataset" progress bars on the command line or in the server log."""
    was_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def _hf_dataset(datasets: Any, rows: Sequence[dict], space: LabelSpace, split: str):
    label = datasets.ClassLabel(names=list(space.names))
    table = _table(rows, space, encode_labels=True)
    features = datasets.Features.from_arrow_schema(table.schema)
    if "labels" in features:
        features["labels"] = datasets.List(label) if space.multi_label else label
    # A fingerprint from the content (not a random one) makes the folder, and its sha256,
    # the same for the same rows, whoever writes them.
    fingerprint = hashlib.sha256(
        json.dumps([split, features.to_dict(), list(rows)], sort_keys=True, default=str).encode(
            "utf-8"
        )
    ).hexdigest()[:16]
    return datasets.Dataset(
        table.cast(features.arrow_schema),
        info=datasets.DatasetInfo(
            description="Labelled with Sift: documents with their final labels.",
            features=features,
        ),
        split=datasets.NamedSplit(split),
        fingerprint=fingerprint,
    )


def _dataset_card(space: LabelSpace, splits: Sequence[str]) -> str:
    kind = "a list of ClassLabel (multi-label)" if space.multi_label else "a ClassLabel"
    loaded = "a DatasetDict (" + ", ".join(splits) + ")" if splits else "a Dataset"
    return (
        "# Sift export\n\n"
        "Labelled with Sift. Load it with `datasets.load_from_disk(path)`: it is "
        f"{loaded}.\n\n"
        f"- `labels`: {kind} over {', '.join(map(repr, space.names)) or 'no labels'}\n"
        "- `label_source`: reviewed (a reviewer's labels), adjudicated, machine (the "
        "suggestion, not reviewed) or none\n"
        "- also id, external_id, text, reviewer, reviewed_at, review_note, flag_reason, "
        "gold_labels, source, and "
        "`scores_<technique>` (one float per label, null where the technique abstained) "
        "when exported with scores\n"
        + ("- the test split holds reviewed documents only\n" if splits else "")
    )


def _looks_like_a_dataset(folder: Path) -> bool:
    if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        return True
    readme = folder / "README.md"  # a folder the earlier parquet-per-split writer made
    return readme.is_file() and "# Sift export" in readme.read_text(
        encoding="utf-8", errors="ignore"
    )


def write_hf_folder(rows: list[dict], folder: Path, labels: LabelSpace | None = None) -> Path:
    """A folder `datasets.load_from_disk(str(folder))` loads, written by `datasets` itself: a
    Dataset, or a DatasetDict (train, test) when the rows carry a split. Replaces an earlier
    export in `folder`; refuses any other non-empty folder."""
    import datasets  # type: ignore[import-untyped]

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not _looks_like_a_dataset(folder):
        raise ValueError(f"{folder} is a non-empty folder that holds no dataset; name another")
    space = labels or infer_label_space(rows)
    split_names = ["train", "test"] if any("split" in row for row in rows) else []
    partial = folder.resolve().with_name(folder.resolve().name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with _quiet_datasets(datasets):
        if split_names:
            dataset_dict = datasets.DatasetDict(
                {
                    split: _hf_dataset(
                        datasets,
                        [_without_split(row) for row in rows if row["split"] == split],
                        space,
                        split,
                    )
                    for split in split_names
                }
            )
            empty = {split: 1 for split, part in dataset_dict.items() if len(part) == 0}
            dataset_dict.save_to_disk(str(partial), num_shards=empty or None)
        else:
            dataset = _hf_dataset(datasets, rows, space, "train")
            dataset.save_to_disk(str(partial), num_shards=1 if len(dataset) == 0 else None)
    (partial / "README.md").write_text(_dataset_card(space, split_names), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)  # never leave a half-written export behind
    return folder


def _without_split(row: dict) -> dict:
    return {key: value for key, value in row.items() if key != "split"}


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


# --- the format registry -----------------------------------------------------------------------


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


def export_format(name: str) -> ExportFormat:
    if name not in FORMATS:
        raise ValueError(f"unknown export format {name!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name]


@dataclass(frozen=True)
class Rendered:
    data: bytes  # the file (the hf folder zipped)
    sha256: str  # of the file; of the folder's files for hf (as `export_project` records it)


def render(rows: list[dict], fmt: str, labels: LabelSpace | None = None) -> Rendered:
    """rows -> the export's bytes, as a download holds them. `labels` types the Parquet and
    Hugging Face columns (`label_space`); without it they are inferred from the rows."""
    export_format(fmt)
    if FORMATS[fmt].folder:
        with tempfile.TemporaryDirectory(prefix="sift-export-") as tmp:
            folder = write_hf_folder(rows, Path(tmp) / "dataset", labels)
            return Rendered(_zip_folder(folder), folder_digest(folder))
    if fmt == "parquet":
        data = to_parquet(rows, labels)
    else:
        data = {"csv": to_csv, "jsonl": to_jsonl}[fmt](rows)
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
    rendered = render(rows, fmt, label_space(store, project_id, rows))
    _record(store, project_id, fmt, rows, options, rendered.sha256, by)
    return rows, rendered


def _record(store: SiftStore, project_id, fmt, rows, options, sha256, by) -> None:
    try:
        store.record_export(
            project_id,
            format=fmt,
            n_rows=len(rows),
            options={**options.__dict__},
            sha256=sha256,
            by=by,
        )
    except DatabaseReadOnly as error:  # reading works; only this export's record is not kept
        log.warning("the export was not recorded: %s", error)


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
    space = label_space(store, project_id, rows)
    destination = Path(destination)
    if FORMATS[fmt].folder:
        write_hf_folder(rows, destination, space)
        sha = folder_digest(destination)
    else:
        data = render(rows, fmt, space).data
        tmp = destination.with_name(destination.name + ".partial")
        tmp.write_bytes(data)
        tmp.replace(destination)  # never leave a half-written export behind
        sha = hashlib.sha256(data).hexdigest()
    _record(store, project_id, fmt, rows, options, sha, by)
    return ExportResult(
        path=destination,
        format=fmt,
        n_rows=len(rows),
        sha256=sha,
        split=split_summary(rows, options.test_fraction),
    )
