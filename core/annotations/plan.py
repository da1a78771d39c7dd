"""An annotations file against a project: what would be written, then writing it whole.

    plan = plan_import(store, project_id, read_annotations(data, name), reviewer="carol")
    plan.report()        # lines: reviews per reviewer, documents matched/created, labels mapped
    outcome = apply_import(store, project_id, plan, by="carol")

Documents: a row's ids (Sift's id or the user's external id, store.lookup_documents) name
its document; else its text's hash (core.documents.document_id) does; a row whose document
is not in the project is created from its text (one import record, as an upload). An id
naming several documents is settled by the row's text, else refused.
Labels: matched to the taxonomy as gold labels are (core.ingest.gold: exact name, else the
one name equal under taxonomy.label_key, NFKC + casefold); what matched only ignoring case
is reported; any label matching none is named and the whole file refused.
Reviewers: the row's own (from the file), else `reviewer`, else the file is refused.
One row per (reviewer, document): a later row of the same pair replaces an earlier one
(counted); a row equal to the reviewer's opinion already stored (same label set) is not
written again, so importing the same file twice changes nothing.
Each review is a 'correct' (the labels were chosen, no suggestion was accepted) whose
`shown` records where it came from ({"imported": {"file", "format", "location", ...}}) and
holds no "labels" (no suggestion was shown, so monitoring leaves it out).
Everything is checked before anything is written, and store.import_reviews writes the new
documents and all the reviews in one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.annotations.rows import AnnotationFile, AnnotationRow
from core.documents import Document, document_id
from core.ingest.errors import IngestError
from core.ingest.gold import match_gold_labels
from core.ingest.limits import IngestLimits
from core.ingest.parsed import Record, build_documents

if TYPE_CHECKING:
    from core.store.protocol import SiftStore
    from core.store.records import ImportSummary, Review

DECISION = "correct"
MAX_NAMED = 10  # rows/labels named in one message; the rest are counted


class ImportRefused(IngestError):
    """The file cannot be imported as it is; str(e) names the rows/labels and the fix."""


@dataclass(frozen=True)
class PlannedReview:
    document_id: str
    reviewer: str
    labels: tuple[str, ...]  # taxonomy names
    note: str
    location: str
    created_at: str = ""


@dataclass
class ImportPlan:
    """What apply_import will write; `report()` says it in sentences."""

    filename: str
    format: str
    sha256: str
    reviews: list[PlannedReview]
    new_documents: list[Document]
    matched_by_id: int = 0  # rows whose document an id named
    matched_by_text: int = 0  # rows whose document its text's hash found
    mapped: tuple[tuple[str, str, int], ...] = ()  # (value, label, rows) matched ignoring case
    unchanged: int = 0  # rows equal to the reviewer's stored opinion: not written again
    replaced_in_file: int = 0  # earlier rows of the same (reviewer, document)
    text_differs: int = 0  # rows matched by id whose text is not the stored document's
    over_others: int = 0  # documents another reviewer had reviewed already
    skipped: list[str] = field(default_factory=list)  # AnnotationFile.skipped_summary()
    notes: list[str] = field(default_factory=list)

    def per_reviewer(self) -> list[tuple[str, int]]:
        return Counter(review.reviewer for review in self.reviews).most_common()

    def report(self) -> list[str]:
        lines = [
            f"{_n(len(self.reviews), 'review')} to record"
            + (
                " (" + ", ".join(f"{name}: {n:,}" for name, n in self.per_reviewer()) + ")"
                if self.reviews
                else ""
            ),
            f"documents: {self.matched_by_id:,} matched by id, {self.matched_by_text:,} by "
            f"text, {_n(len(self.new_documents), 'new document')} to create",
        ]
        if self.mapped:
            shown = "; ".join(f"{v!r} → {label}: {_n(n, 'row')}" for v, label, n in self.mapped)
            lines.append(f"labels matched to the taxonomy ignoring case: {shown}")
        if self.unchanged:
            lines.append(
                f"{_n(self.unchanged, 'row')} already recorded with the same labels (not "
                "written again)"
            )
        if self.replaced_in_file:
            lines.append(
                f"{_n(self.replaced_in_file, 'row')} repeated a reviewer and document; the "
                "later row counts"
            )
        if self.text_differs:
            lines.append(
                f"{_n(self.text_differs, 'row')} matched by id whose text differs from the "
                "stored document's (the id decided)"
            )
        if self.over_others:
            lines.append(
                f"{_n(self.over_others, 'document')} already reviewed by someone else: the "
                "imported reviews are added after theirs (both opinions are kept)"
            )
        return lines + self.skipped + self.notes


@dataclass(frozen=True)
class ImportOutcome:
    plan: ImportPlan
    documents: ImportSummary | None  # None: no document had to be created
    reviews: list[Review]


def plan_import(
    store: SiftStore,
    project_id: int,
    annotations: AnnotationFile,
    *,
    reviewer: str | None = None,
    limits: IngestLimits | None = None,
) -> ImportPlan:
    """Check the file against the project; raises ImportRefused naming what to fix."""
    limits = limits or IngestLimits()
    source = annotations.filename
    rows = annotations.rows
    default = " ".join((reviewer or "").split()) or None
    _check_reviewers(rows, default, source)
    label_names = store.load_taxonomy(project_id).names
    labels_of = _match_labels(rows, label_names, source)

    found = store.lookup_documents(
        project_id,
        [key for row in rows for key in row.keys]
        + [document_id(row.text) for row in rows if row.text is not None],
    )
    plan = ImportPlan(
        filename=source,
        format=annotations.format,
        sha256=annotations.sha256,
        reviews=[],
        new_documents=[],
        skipped=annotations.skipped_summary(),
        notes=list(annotations.notes),
    )
    missing: list[str] = []
    new_records: dict[str, Record] = {}
    chosen: dict[tuple[str, str], PlannedReview] = {}
    for row in rows:
        doc_id = _document_of(row, found, plan, source)
        if doc_id is None:
            if row.text is None:
                missing.append(f"{row.location} ({', '.join(map(repr, row.keys))})")
                continue
            doc_id = document_id(row.text)
            external = next((key for key in row.keys if key != doc_id), None)
            new_records.setdefault(
                doc_id, Record(row.text, location=row.location, external_id=external)
            )
        name = row.reviewer or default
        assert name is not None  # _check_reviewers refused rows with neither
        key = (name, doc_id)
        if key in chosen:
            plan.replaced_in_file += 1
        chosen[key] = PlannedReview(
            document_id=doc_id,
            reviewer=name,
            labels=labels_of(row.labels),
            note=row.note,
            location=row.location,
            created_at=row.created_at,
        )
    if missing:
        raise ImportRefused(
            source,
            f"{_n(len(missing), 'row')} name a document by an id the project does not have and "
            f"give no text to create it: {_named(missing)}; add a text column, or import the "
            "documents first",
        )
    if new_records:
        plan.new_documents, _ = build_documents(list(new_records.values()), source, limits)
    opinions = store.reviewer_opinions(project_id) if found else {}
    for planned in chosen.values():
        stored = opinions.get(planned.document_id, {})
        mine = stored.get(planned.reviewer)
        if mine is not None and set(mine.labels) == set(planned.labels):
            plan.unchanged += 1
            continue
        plan.reviews.append(planned)
    plan.over_others = len(
        {r.document_id for r in plan.reviews if set(opinions.get(r.document_id, {})) - {r.reviewer}}
    )
    plan.mapped = _mapped_counts(rows, label_names)
    return plan


def apply_import(
    store: SiftStore, project_id: int, plan: ImportPlan, *, by: str = ""
) -> ImportOutcome:
    """Write the plan in one transaction (store.import_reviews): all of it or nothing."""
    groups: dict[str, list[dict]] = {}
    for review in plan.reviews:
        provenance = {"file": plan.filename, "format": plan.format, "location": review.location}
        if review.created_at:
            provenance["created_at"] = review.created_at
        if by:
            provenance["by"] = by
        groups.setdefault(review.reviewer, []).append(
            {
                "document_id": review.document_id,
                "decision": DECISION,
                "labels": list(review.labels),
                "note": review.note,
                "shown": {"imported": provenance},
            }
        )
    summary, written = store.import_reviews(
        project_id,
        plan.new_documents,
        list(groups.items()),
        filename=plan.filename,
        format=f"annotations:{plan.format}",
        sha256=plan.sha256,
        by=by,
    )
    return ImportOutcome(plan=plan, documents=summary, reviews=written)


# --- internals --------------------------------------------------------------------------------


def _check_reviewers(rows: Sequence[AnnotationRow], default: str | None, source: str) -> None:
    if default is not None:
        return
    nameless = [row.location for row in rows if row.reviewer is None]
    if nameless:
        raise ImportRefused(
            source,
            f"{_n(len(nameless), 'row')} say no reviewer ({_named(nameless)}); add a reviewer "
            "column, or say who made them (--reviewer NAME; on the Upload page, the reviewer "
            "box)",
        )


def _match_labels(rows: Sequence[AnnotationRow], label_names: Sequence[str], source: str):
    match = match_gold_labels([row.labels for row in rows], label_names)
    if match.unknown:
        if not label_names:
            hint = "the project's taxonomy has no labels yet; add them on the Taxonomy page first"
        else:
            hint = (
                f"the taxonomy's labels are {', '.join(map(repr, label_names))}; add the missing "
                "ones to the taxonomy, or rename them in the file"
            )
        named = match.unknown_text(MAX_NAMED).replace("document", "row")  # counted per row
        raise ImportRefused(
            source,
            f"labels not in the taxonomy: {named}; nothing was imported. "
            f"{hint[0].upper()}{hint[1:]}",
        )

    def labels_of(values: Sequence[str]) -> tuple[str, ...]:
        return tuple(match.labels_for(values))

    return labels_of


def _mapped_counts(rows: Sequence[AnnotationRow], label_names: Sequence[str]):
    return match_gold_labels([row.labels for row in rows], label_names).mapped


def _document_of(row: AnnotationRow, found: dict[str, list[str]], plan: ImportPlan, source: str):
    """The stored document a row names (by id first, then by its text's hash), or None."""
    text_id = document_id(row.text) if row.text is not None else None
    for key in row.keys:
        candidates = found.get(key, [])
        if len(candidates) > 1:
            if text_id in candidates:
                plan.matched_by_id += 1
                return text_id
            raise ImportRefused(
                source,
                f"id {key!r} names {len(candidates)} documents of the project and the row's text "
                "settles none of them; give the row the document's text, or use Sift's id "
                "(the `id` column of an export)",
                row.location,
            )
        if candidates:
            plan.matched_by_id += 1
            plan.text_differs += text_id is not None and candidates[0] != text_id
            return candidates[0]
    if text_id is not None and text_id in found.get(text_id, ()):
        plan.matched_by_text += 1
        return text_id
    return None


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _named(items: Sequence[str]) -> str:
    more = len(items) - MAX_NAMED
    return ", ".join(items[:MAX_NAMED]) + (f" and {more:,} more" if more > 0 else "")
