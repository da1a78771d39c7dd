"""Schema migrations: recorded by name, applied once, in order, to old databases with data."""

import pytest
import sqlite_utils

from core.documents import Document
from core.store import Store, StoreError
from core.store.connection import connect
from core.store.migrations import MIGRATIONS, applied_migrations, apply_migrations

ALL = [fn.__name__ for fn in MIGRATIONS]
FIRST = ALL[0]


def test_there_is_more_than_one_migration():
    assert len(ALL) >= 2
    assert FIRST == "m001_initial_schema"


def test_a_new_database_records_every_migration_in_order(db_path):
    with Store(db_path) as store:
        assert store.applied_migrations() == ALL
    rows = list(sqlite_utils.Database(db_path)["schema_migrations"].rows)
    assert [row["name"] for row in rows] == ALL
    assert all(row["applied_at"] for row in rows)


def _old_database_with_data(path):
    """A database as the first released Sift left it: only m001 applied, a project with data."""
    conn = connect(path)
    assert apply_migrations(conn, up_to=FIRST) == [FIRST]
    doc = Document.from_text("An invoice from the old days")
    db = sqlite_utils.Database(conn)
    with db.atomic():
        project_id = (
            db["projects"]
            .insert({"name": "legacy", "created_at": "2025-01-01T00:00:00.000000+00:00"})
            .last_pk
        )
        db["labels"].insert({"project_id": project_id, "position": 0, "name": "billing"})
        import_id = (
            db["imports"]
            .insert(
                {
                    "project_id": project_id,
                    "filename": "old.txt",
                    "format": "txt",
                    "sha256": "0" * 64,
                    "n_documents": 1,
                    "n_added": 1,
                    "n_duplicates": 0,
                    "created_at": "2025-01-01T00:00:00.000000+00:00",
                }
            )
            .last_pk
        )
        db["documents"].insert(
            {
                "project_id": project_id,
                "id": doc.id,
                "text": doc.text,
                "import_id": import_id,
                "added_at": "2025-01-01T00:00:00.000000+00:00",
            }
        )
        db["reviews"].insert(
            {
                "project_id": project_id,
                "document_id": doc.id,
                "reviewer": "ann",
                "created_at": "2025-01-02T00:00:00.000000+00:00",
                "decision": "accept",
                "labels": '["billing"]',
            }
        )
    assert applied_migrations(conn) == [FIRST]
    conn.close()
    return doc


def test_an_old_database_is_migrated_and_keeps_its_data(db_path):
    doc = _old_database_with_data(db_path)
    with Store(db_path) as store:
        assert store.applied_migrations() == ALL
        project = store.get_project("legacy")
        [stored] = store.get_documents(project.id)
        assert stored.to_document() == doc
        assert stored.n_chars == len(doc.text)  # m003 filled the new column for old rows
        assert store.current_reviews(project.id)[doc.id].labels == ("billing",)
        assert store.integrity_check() == "ok"
    indexes = {index.name for index in sqlite_utils.Database(db_path)["reviews"].indexes}
    assert "idx_reviews_project_id_document_id_id" in indexes  # from m002


def test_reopening_applies_nothing_again(db_path):
    Store(db_path).close()
    before = list(sqlite_utils.Database(db_path)["schema_migrations"].rows)
    conn = connect(db_path)
    assert apply_migrations(conn) == []
    conn.close()
    Store(db_path).close()
    assert list(sqlite_utils.Database(db_path)["schema_migrations"].rows) == before


def test_a_failing_migration_leaves_neither_changes_nor_record(db_path):
    def m001_make_table(db):
        db["kept"].create({"id": int}, pk="id")

    def m002_breaks_halfway(db):
        db["half_done"].create({"id": int}, pk="id")
        raise RuntimeError("boom")

    conn = connect(db_path)
    with pytest.raises(RuntimeError, match="boom"):
        apply_migrations(conn, migrations=[m001_make_table, m002_breaks_halfway])
    assert applied_migrations(conn) == ["m001_make_table"]
    assert set(sqlite_utils.Database(conn).table_names()) == {"schema_migrations", "kept"}
    conn.close()


def test_a_database_from_a_newer_sift_is_refused(db_path):
    Store(db_path).close()
    sqlite_utils.Database(db_path)["schema_migrations"].insert(
        {"name": "m999_from_the_future", "applied_at": "2099-01-01T00:00:00.000000+00:00"}
    )
    with pytest.raises(StoreError, match="m999_from_the_future.*newer Sift"):
        Store(db_path)
