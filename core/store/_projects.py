"""Projects and their taxonomies."""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

from core.store._base import StoreBase
from core.store.connection import dumps, loads, utc_now
from core.store.errors import ProjectNotFound, StoreError
from core.store.records import Project
from core.taxonomy import Keyword, Label, Taxonomy


class ProjectsMixin(StoreBase):
    def create_project(self, name: str, *, settings: dict | None = None) -> Project:
        clean = _clean_name(name)
        settings_json = _settings_json(settings or {})
        try:
            with self._write():
                project_id = self._insert_row(
                    "projects", {"name": clean, "created_at": utc_now(), "settings": settings_json}
                )
        except sqlite3.IntegrityError as exc:
            raise _duplicate_name_error(clean, exc) from exc
        return self.get_project(project_id)

    def get_project(self, name_or_id: str | int) -> Project:
        if isinstance(name_or_id, int) and not isinstance(name_or_id, bool):
            row = self._row("SELECT * FROM projects WHERE id = ?", [name_or_id])
            wanted = f"with id {name_or_id}"
        else:
            row = self._row("SELECT * FROM projects WHERE name = ?", [str(name_or_id)])
            wanted = f"named {name_or_id!r}"
        if row is None:
            raise ProjectNotFound(f"No project {wanted}. {self._existing_projects()}")
        return _project(row)

    def list_projects(self) -> list[Project]:
        return [_project(row) for row in self._rows("SELECT * FROM projects ORDER BY id")]

    def rename_project(self, project_id: int, new_name: str) -> Project:
        clean = _clean_name(new_name)
        try:
            with self._write():
                self._require_project(project_id)
                self._db.table("projects").update(project_id, {"name": clean})
        except sqlite3.IntegrityError as exc:
            raise _duplicate_name_error(clean, exc) from exc
        return self.get_project(project_id)

    def update_project_settings(self, project_id: int, settings: dict) -> Project:
        """Replace the project's settings with `settings` (a JSON-able dict)."""
        settings_json = _settings_json(settings)
        with self._write():
            self._require_project(project_id)
            self._db.table("projects").update(project_id, {"settings": settings_json})
        return self.get_project(project_id)

    def delete_project(self, project_id: int) -> None:
        """Remove the project and every row that belongs to it, in one transaction."""
        with self._write() as conn:
            self._require_project(project_id)
            # The project row goes first (foreign keys checked at COMMIT), which is what
            # lets the append-only trigger on reviews allow this one kind of delete.
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for statement in (
                "DELETE FROM projects WHERE id = ?",
                "DELETE FROM predictions WHERE project_id = ?",
                "DELETE FROM reviews WHERE project_id = ?",
                "DELETE FROM runs WHERE project_id = ?",
                "DELETE FROM documents WHERE project_id = ?",
                "DELETE FROM imports WHERE project_id = ?",
                "DELETE FROM labels WHERE project_id = ?",
                "DELETE FROM exports WHERE project_id = ?",
                "DELETE FROM model_pins WHERE project_id = ?",
                "DELETE FROM model_versions WHERE project_id = ?",
                "DELETE FROM trained_models WHERE project_id = ?",
                "DELETE FROM embeddings WHERE project_id = ?",
            ):
                conn.execute(statement, [project_id])

    # --- taxonomy ---------------------------------------------------------------------------

    def save_taxonomy(self, project_id: int, taxonomy: Taxonomy) -> None:
        """Replace the project's labels with `taxonomy`'s, keeping their order."""
        counts = Counter(label.name for label in taxonomy.labels)
        repeated = sorted(name for name, n in counts.items() if n > 1)
        if repeated:
            raise StoreError(
                f"The taxonomy names label(s) {', '.join(map(repr, repeated))} more than once; "
                "label names must be unique."
            )
        rows = [
            {
                "project_id": project_id,
                "position": position,
                "name": label.name,
                "description": label.description,
                "keywords": dumps(
                    [{"term": kw.term, "weight": float(kw.weight)} for kw in label.keywords]
                ),
                "patterns": dumps(list(label.patterns)),
                "entity_types": dumps(list(label.entity_types)),
                "colour": label.colour,
            }
            for position, label in enumerate(taxonomy.labels)
        ]
        with self._write() as conn:
            self._require_project(project_id)
            conn.execute("DELETE FROM labels WHERE project_id = ?", [project_id])
            if rows:
                self._db.table("labels").insert_all(rows)

    def load_taxonomy(self, project_id: int) -> Taxonomy:
        with self._read():
            self._require_project(project_id)
            rows = self._rows(
                "SELECT * FROM labels WHERE project_id = ? ORDER BY position", [project_id]
            )
        return Taxonomy(labels=tuple(_label(row) for row in rows))


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise StoreError(f"Project name {name!r} is empty; give the project a name.")
    return name.strip()


def _settings_json(settings: Any) -> str:
    if not isinstance(settings, dict):
        raise StoreError(f"Project settings must be a dict, not {type(settings).__name__}.")
    try:
        return dumps(settings)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"Project settings are not JSON-serialisable: {exc}") from exc


def _duplicate_name_error(name: str, exc: sqlite3.IntegrityError) -> StoreError:
    if "UNIQUE" in str(exc):
        return StoreError(
            f"A project named {name!r} already exists; pick another name or open that project."
        )
    return StoreError(f"Cannot save project {name!r}: {exc}")


def _project(row: dict) -> Project:
    return Project(
        id=row["id"],
        name=row["name"],
        created_at=row["created_at"],
        settings=loads(row["settings"]),
    )


def _label(row: dict) -> Label:
    return Label(
        name=row["name"],
        description=row["description"],
        keywords=tuple(
            Keyword(term=kw["term"], weight=kw["weight"]) for kw in loads(row["keywords"])
        ),
        patterns=tuple(loads(row["patterns"])),
        entity_types=tuple(loads(row["entity_types"])),
        colour=row["colour"],
    )
