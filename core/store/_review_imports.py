"""Reviews brought in from a file (Label Studio, Prodigy, a spreadsheet), with the documents
they need, in one transaction: all of it or nothing (core/annotations plans what to write)."""

from __future__ import annotations

from collections.abc import Sequence

from core.documents import Document
from core.store._documents import DocumentsMixin
from core.store._reviews import ReviewsMixin
from core.store.connection import dumps
from core.store.records import ImportSummary, Review


class ReviewImportsMixin(DocumentsMixin, ReviewsMixin):
    # Store lists this mixin first: it builds on the documents' and reviews' writes.

    def lookup_documents(self, project_id: int, keys: Sequence[str]) -> dict[str, list[str]]:
        """key -> the ids of the project's documents whose id (the text hash) or external id
        is that key (a match on the id first, then external ids in added order); keys naming
        no document are left out."""
        wanted = dumps(list(dict.fromkeys(keys)))
        with self._read():
            self._require_project(project_id)
            # two queries, not one join on `id = key OR external_id = key` (no index serves an
            # OR: 20,000 keys took two minutes): ids through the primary key, external ids in
            # one pass over the project's documents against the keys' set
            by_id = self._rows(
                "SELECT id AS key, id FROM documents WHERE project_id = ? "
                "AND id IN (SELECT value FROM json_each(?))",
                [project_id, wanted],
            )
            by_external = self._rows(
                "SELECT external_id AS key, id FROM documents WHERE project_id = ? "
                "AND external_id IN (SELECT value FROM json_each(?)) ORDER BY rowid",
                [project_id, wanted],
            )
        found: dict[str, list[str]] = {}
        for row in by_id + by_external:
            ids = found.setdefault(row["key"], [])
            if row["id"] not in ids:
                ids.append(row["id"])
        return found

    def import_reviews(
        self,
        project_id: int,
        documents: Sequence[Document],
        reviews: Sequence[tuple[str, Sequence[dict]]],
        *,
        filename: str,
        format: str,
        sha256: str,
        by: str = "",
    ) -> tuple[ImportSummary | None, list[Review]]:
        """Add `documents` (as add_documents does; skipped when empty), then each (reviewer,
        items) group as add_reviews does (one action per reviewer), in one transaction: an
        invalid review, an unknown label or a full disk leaves nothing of the file behind."""
        with self._write():
            summary = None
            if documents:
                summary = self.add_documents(
                    project_id,
                    documents,
                    filename=filename,
                    format=format,
                    encoding=None,
                    sha256=sha256,
                    by=by,
                )
            written: list[Review] = []
            for reviewer, items in reviews:
                written.extend(self.add_reviews(project_id, items, reviewer=reviewer))
            return summary, written
