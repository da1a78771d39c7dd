"""Documents and the imports (upload batches) that brought them in."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from core.documents import Document
from core.store._base import StoreBase
from core.store.connection import dumps, loads, utc_now
from core.store.errors import DocumentNotFound, StoreError
from core.store.records import ImportRecord, ImportSummary, StoredDocument

_INSERT_DOCUMENT = """
    INSERT INTO documents (project_id, id, text, source, location, external_id, gold_labels,
                           meta, import_id, added_at, n_chars)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (project_id, id) DO NOTHING
"""  # ON CONFLICT names the key: NOT NULL and type errors still fail, unlike INSERT OR IGNORE

_DOCUMENT_COLUMNS = (
    "id, text, source, location, external_id, gold_labels, meta, import_id, added_at, n_chars"
)


class DocumentsMixin(StoreBase):
    def add_documents(
        self,
        project_id: int,
        documents: Sequence[Document],
        *,
        filename: str,
        format: str,
        encoding: str | None,
        sha256: str,
        by: str = "",
    ) -> ImportSummary:
        """Store one imported file's documents; texts already in the project are skipped.

        One transaction: a bad document anywhere in the file leaves nothing of
        the file behind (no documents, no import record).
        """
        documents = list(documents)
        with self._write() as conn:
            self._require_project(project_id)
            import_id = self._insert_row(
                "imports",
                {
                    "project_id": project_id,
                    "filename": filename,
                    "format": format,
                    "encoding": encoding,
                    "sha256": sha256,
                    "n_documents": len(documents),
                    "n_added": 0,
                    "n_duplicates": 0,
                    "created_at": utc_now(),
                    "by": by,
                },
            )
            rows = _document_rows(project_id, import_id, documents, filename)
            n_added = conn.executemany(_INSERT_DOCUMENT, rows).rowcount
            n_duplicates = len(documents) - n_added
            conn.execute(
                "UPDATE imports SET n_added = ?, n_duplicates = ? WHERE id = ?",
                [n_added, n_duplicates, import_id],
            )
        return ImportSummary(
            import_id=import_id,
            n_documents=len(documents),
            n_added=n_added,
            n_duplicates=n_duplicates,
        )

    def count_documents(self, project_id: int) -> int:
        with self._read():
            self._require_project(project_id)
            return self._scalar("SELECT count(*) FROM documents WHERE project_id = ?", [project_id])

    def get_documents(
        self,
        project_id: int,
        ids: Sequence[str] | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredDocument]:
        """Documents in the order they were added, or in the order of `ids` when given.

        Unknown ids raise DocumentNotFound. `limit`/`offset` page through the result.
        """
        with self._read():
            self._require_project(project_id)
            if ids is None:
                rows = self._rows(
                    f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE project_id = ? "
                    "ORDER BY rowid LIMIT ? OFFSET ?",
                    [project_id, -1 if limit is None else limit, offset],
                )
                return [_stored_document(row) for row in rows]
            wanted = list(ids)
            rows = self._rows(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE project_id = ? "
                "AND id IN (SELECT value FROM json_each(?))",
                [project_id, dumps(wanted)],
            )
        by_id = {row["id"]: row for row in rows}
        missing = [doc_id for doc_id in wanted if doc_id not in by_id]
        if missing:
            raise DocumentNotFound(
                f"{len(missing)} document id(s) are not in project {project_id}, e.g. "
                f"{', '.join(map(repr, missing[:3]))}; list them with document_ids()."
            )
        page = wanted[offset:] if limit is None else wanted[offset : offset + limit]
        return [_stored_document(by_id[doc_id]) for doc_id in page]

    def document_ids(self, project_id: int, *, import_id: int | None = None) -> list[str]:
        """Ids in the order they were added; only those first added by `import_id` if given."""
        with self._read():
            self._require_project(project_id)
            if import_id is None:
                rows = self._rows(
                    "SELECT id FROM documents WHERE project_id = ? ORDER BY rowid", [project_id]
                )
            else:
                rows = self._rows(
                    "SELECT id FROM documents WHERE project_id = ? AND import_id = ? "
                    "ORDER BY rowid",
                    [project_id, import_id],
                )
        return [row["id"] for row in rows]

    def list_imports(self, project_id: int) -> list[ImportRecord]:
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT * FROM imports WHERE project_id = ? ORDER BY id", [project_id]
            )
        return [ImportRecord(**row) for row in rows]

    def search_documents(self, project_id: int, query: str, *, limit: int = 1000) -> list[str]:
        """Ids (in added order) of documents whose text contains `query`, ignoring case."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT id FROM documents WHERE project_id = ? "
                "AND instr(sift_casefold(text), ?) > 0 ORDER BY rowid LIMIT ?",
                [project_id, query.casefold(), limit],
            )
        return [row["id"] for row in rows]

    def context_fields(self, project_id: int, *, limit: int = 50) -> list[str]:
        """The context fields (a table's other columns, e-mail headers: documents' meta keys)
        the project's documents carry, in first-seen order, at most `limit`."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT key FROM documents, json_each(documents.meta) "
                "WHERE documents.project_id = ? GROUP BY key ORDER BY MIN(documents.rowid) "
                "LIMIT ?",
                [project_id, limit],
            )
        return [row["key"] for row in rows]

    def search_context(
        self, project_id: int, field: str, query: str, *, limit: int = 1000
    ) -> list[str]:
        """Ids (in added order) of documents whose context field `field` contains `query`,
        ignoring case."""
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT id FROM documents WHERE project_id = ? AND EXISTS ("
                "SELECT 1 FROM json_each(documents.meta) WHERE key = ? "
                "AND instr(sift_casefold(CAST(value AS TEXT)), ?) > 0) ORDER BY rowid LIMIT ?",
                [project_id, field, query.casefold(), limit],
            )
        return [row["id"] for row in rows]


def _document_rows(
    project_id: int, import_id: int, documents: Sequence[Document], filename: str
) -> Iterator[tuple]:
    """Rows for _INSERT_DOCUMENT, checked one by one as executemany pulls them.

    A bad document raises in the middle of the insert, and the surrounding
    transaction rolls back what came before it.
    """
    added_at = utc_now()
    for index, doc in enumerate(documents):
        problem = _document_problem(doc)
        if problem is None:
            try:
                meta = dumps(doc.meta)
            except (TypeError, ValueError) as exc:
                problem = f"meta is not JSON-serialisable ({exc})"
        if problem is not None:
            location = getattr(doc, "location", "")
            where = f" ({location})" if isinstance(location, str) and location else ""
            raise StoreError(
                f"Cannot import {filename!r}: document {index + 1}{where}: {problem}. "
                "Nothing from this file was imported."
            )
        yield (
            project_id,
            doc.id,
            doc.text,
            doc.source,
            doc.location,
            doc.external_id,
            dumps(list(doc.gold_labels)),
            meta,
            import_id,
            added_at,
            len(doc.text),
        )


def _document_problem(doc: Any) -> str | None:
    """What is wrong with a document's fields, or None."""
    for field in ("text", "id", "source", "location"):
        value = getattr(doc, field, None)
        if not isinstance(value, str):
            return f"{field} is {type(value).__name__}, expected str"
    if not doc.id:
        return "id is empty"
    if doc.external_id is not None and not isinstance(doc.external_id, str):
        return f"external_id is {type(doc.external_id).__name__}, expected str or None"
    gold = doc.gold_labels
    if not isinstance(gold, tuple | list) or not all(isinstance(label, str) for label in gold):
        return f"gold_labels is {gold!r}, expected a tuple of label names (str)"
    if not isinstance(doc.meta, dict):
        return f"meta is {type(doc.meta).__name__}, expected dict"
    return None


def _stored_document(row: dict) -> StoredDocument:
    return StoredDocument(
        id=row["id"],
        text=row["text"],
        source=row["source"],
        location=row["location"],
        external_id=row["external_id"],
        gold_labels=tuple(loads(row["gold_labels"])),
        meta=loads(row["meta"]),
        import_id=row["import_id"],
        added_at=row["added_at"],
        n_chars=row["n_chars"],
    )
