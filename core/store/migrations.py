"""Schema migrations: named functions applied in order, each recorded in `schema_migrations`.

The shape of sqlite_utils/migrations.py (a decorator registers a function that
receives a `sqlite_utils.Database`), recorded in our own table, and each
migration runs in its own `BEGIN IMMEDIATE` transaction together with its
record, re-checking inside the lock, so several processes opening the same
new file at once apply each migration exactly once. A migration that raises
leaves neither its changes nor its record.

Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

import sqlite_utils

from core.store.connection import immediate_transaction, utc_now
from core.store.errors import StoreError

Migration = Callable[[sqlite_utils.Database], None]

MIGRATIONS: list[Migration] = []  # in the order they apply


def migration(fn: Migration) -> Migration:
    if any(existing.__name__ == fn.__name__ for existing in MIGRATIONS):
        raise ValueError(f"migration {fn.__name__!r} is already registered")
    MIGRATIONS.append(fn)
    return fn


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations applied to this database, in the order they were applied."""
    if not _has_migrations_table(conn):
        return []
    return [name for (name,) in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]


def apply_migrations(
    conn: sqlite3.Connection,
    *,
    migrations: Sequence[Migration] = MIGRATIONS,
    up_to: str | None = None,
) -> list[str]:
    """Apply the pending migrations (all, or up to and including `up_to`); returns their names.

    Raises StoreError when the database holds migrations this code does not
    know: it was written by a newer version of Sift.
    """
    names = [fn.__name__ for fn in migrations]
    if up_to is not None and up_to not in names:
        raise ValueError(f"unknown migration {up_to!r}; migrations are: {', '.join(names)}")
    already = applied_migrations(conn)
    unknown = [name for name in already if name not in names]
    if unknown:
        raise StoreError(
            f"This database has migrations this version of Sift does not know "
            f"({', '.join(unknown)}): it was written by a newer Sift. Upgrade Sift to open it."
        )
    wanted = names if up_to is None else names[: names.index(up_to) + 1]
    if set(wanted) <= set(already):
        return []  # the common case: no write lock taken at all
    read_only = getattr(conn, "read_only_reason", "")
    if read_only:
        pending = [name for name in wanted if name not in already]
        raise StoreError(
            f"the database {getattr(conn, 'path', '')} needs upgrading to this version of "
            f"Sift ({', '.join(pending)}), which writes to it, but it is read-only: "
            f"{read_only}. Open it once where it is writable, or use the Sift that wrote it."
        )

    db = sqlite_utils.Database(conn, execute_plugins=False)
    if not _has_migrations_table(conn):
        with immediate_transaction(conn):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL) STRICT"
            )
    applied_now = []
    for fn in migrations[: len(wanted)]:
        with immediate_transaction(conn):
            done = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE name = ?", [fn.__name__]
            ).fetchone()
            if done:  # another process got here first
                continue
            fn(db)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                [fn.__name__, utc_now()],
            )
        applied_now.append(fn.__name__)
    return applied_now


def _has_migrations_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    return row is not None


# --- the migrations --------------------------------------------------------------------------
# JSON columns are TEXT; shapes are given in comments. Tables are STRICT so a wrong
# type (bytes for text) is refused by SQLite itself, not only by our own checks.

_INITIAL_SCHEMA = [
    """
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
        created_at TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}'  -- JSON object
    ) STRICT
    """,
    """
    CREATE TABLE labels (
        project_id INTEGER NOT NULL REFERENCES projects (id),
        position INTEGER NOT NULL,  -- order in the taxonomy, from 0
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        keywords TEXT NOT NULL DEFAULT '[]',  -- [{"term": str, "weight": float}]
        patterns TEXT NOT NULL DEFAULT '[]',  -- [regex, ...]
        entity_types TEXT NOT NULL DEFAULT '[]',  -- ["MONEY", ...]
        colour TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (project_id, name)
    ) STRICT
    """,
    """
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects (id),
        filename TEXT NOT NULL,
        format TEXT NOT NULL,
        encoding TEXT,
        sha256 TEXT NOT NULL,  -- of the file's bytes
        n_documents INTEGER NOT NULL,
        n_added INTEGER NOT NULL,
        n_duplicates INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        "by" TEXT NOT NULL DEFAULT '',
        UNIQUE (project_id, id)
    ) STRICT
    """,
    """
    CREATE TABLE documents (
        project_id INTEGER NOT NULL REFERENCES projects (id),
        id TEXT NOT NULL,  -- sha256 of the normalised text
        text TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT '',
        external_id TEXT,
        gold_labels TEXT NOT NULL DEFAULT '[]',  -- [label name, ...]
        meta TEXT NOT NULL DEFAULT '{}',  -- JSON object
        import_id INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (project_id, id),
        FOREIGN KEY (project_id, import_id) REFERENCES imports (project_id, id)
    ) STRICT
    """,
    "CREATE INDEX documents_by_import ON documents (project_id, import_id)",
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects (id),
        technique TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        config TEXT NOT NULL DEFAULT '{}',  -- JSON object
        cache_key TEXT NOT NULL,
        model_id TEXT NOT NULL DEFAULT '',
        model_revision TEXT NOT NULL DEFAULT '',
        device TEXT NOT NULL DEFAULT '',
        dtype TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'cancelled', 'failed')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        n_documents INTEGER NOT NULL DEFAULT 0,
        n_computed INTEGER NOT NULL DEFAULT 0,
        n_cached INTEGER NOT NULL DEFAULT 0,
        seconds REAL,
        error TEXT,
        UNIQUE (project_id, id)
    ) STRICT
    """,
    """
    CREATE TABLE predictions (
        project_id INTEGER NOT NULL REFERENCES projects (id),
        cache_key TEXT NOT NULL,
        document_id TEXT NOT NULL,
        run_id INTEGER NOT NULL,  -- the run that computed it
        technique TEXT NOT NULL,
        scores TEXT,  -- {label: score in [0, 1]}; NULL = the technique abstained
        evidence TEXT NOT NULL DEFAULT '[]',  -- [{"start", "end", "kind", "label", "detail"}]
        summary TEXT,
        PRIMARY KEY (project_id, cache_key, document_id),
        FOREIGN KEY (project_id, document_id) REFERENCES documents (project_id, id),
        FOREIGN KEY (project_id, run_id) REFERENCES runs (project_id, id)
    ) STRICT
    """,
    """
    CREATE TABLE reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: order of ids = order of actions
        project_id INTEGER NOT NULL REFERENCES projects (id),
        document_id TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        created_at TEXT NOT NULL,
        decision TEXT NOT NULL
            CHECK (decision IN ('accept', 'correct', 'skip', 'flag', 'unflag', 'undo')),
        labels TEXT NOT NULL DEFAULT '[]',  -- [label name, ...]
        shown TEXT,  -- {"labels": [...], "scores": {...}, "run_ids": [...]}: what the reviewer saw
        undoes INTEGER REFERENCES reviews (id),  -- for 'undo': the review it retracts
        note TEXT NOT NULL DEFAULT '',
        CHECK ((decision = 'undo') = (undoes IS NOT NULL)),
        FOREIGN KEY (project_id, document_id) REFERENCES documents (project_id, id)
    ) STRICT
    """,
    # Reviews are an audit trail: the database itself refuses to change or drop one.
    # Deleting a whole project is the one exception: its row goes first, then its reviews.
    """
    CREATE TRIGGER reviews_are_append_only_update BEFORE UPDATE ON reviews
    BEGIN
        SELECT RAISE(ABORT, 'reviews are append-only: add a new review instead of changing one');
    END
    """,
    """
    CREATE TRIGGER reviews_are_append_only_delete BEFORE DELETE ON reviews
    WHEN EXISTS (SELECT 1 FROM projects WHERE id = OLD.project_id)
    BEGIN
        SELECT RAISE(ABORT, 'reviews are append-only: they are removed only with their project');
    END
    """,
    """
    CREATE TABLE exports (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects (id),
        created_at TEXT NOT NULL,
        format TEXT NOT NULL,
        n_rows INTEGER NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',  -- JSON object
        sha256 TEXT NOT NULL,  -- of the exported file
        "by" TEXT NOT NULL DEFAULT ''
    ) STRICT
    """,
    """
    CREATE TABLE trained_models (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects (id),
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',  -- JSON object
        metrics TEXT NOT NULL DEFAULT '{}',  -- JSON object
        blob BLOB,
        n_reviews INTEGER NOT NULL DEFAULT 0
    ) STRICT
    """,
]


@migration
def m001_initial_schema(db: sqlite_utils.Database) -> None:
    for statement in _INITIAL_SCHEMA:
        db.execute(statement)


@migration
def m002_lookup_indexes(db: sqlite_utils.Database) -> None:
    """Indexes for the queries the app runs and for foreign-key checks when a project goes."""
    db.table("predictions").create_index(["project_id", "document_id"])
    db.table("predictions").create_index(["project_id", "run_id"])
    db.table("runs").create_index(["project_id", "technique", "id"])
    db.table("reviews").create_index(["project_id", "document_id", "id"])
    db.table("reviews").create_index(["project_id", "reviewer", "id"])
    # a review is retracted at most once (NULLs do not collide in a UNIQUE index)
    db.table("reviews").create_index(["undoes"], unique=True)
    db.table("exports").create_index(["project_id", "id"])
    db.table("trained_models").create_index(["project_id", "kind", "id"])


@migration
def m003_documents_n_chars(db: sqlite_utils.Database) -> None:
    """Text length per document, so the engine can length-sort batches without loading texts."""
    db.table("documents").add_column("n_chars", int, not_null_default=0)
    db.execute("UPDATE documents SET n_chars = length(text)")


@migration
def m004_runs_owner(db: sqlite_utils.Database) -> None:
    """Which process runs a run ("host:pid:start time"), so a run whose process was killed can
    be told from one still working."""
    db.table("runs").add_column("owner", str, not_null_default="")


@migration
def m005_reviews_action(db: sqlite_utils.Database) -> None:
    """Which call wrote a review (one id per click or bulk save), so a bulk accept can be
    undone as one action. Adding a column is not an update of any review."""
    db.table("reviews").add_column("action", str, not_null_default="")


@migration
def m006_model_versions(db: sqlite_utils.Database) -> None:
    """Learned configurations, one row per candidate the learning loop judged: the adopted
    ones are the project's versions (the current one drives its suggestions), the rejected
    ones say why they were kept out. A pin freezes the project on one version."""
    db.execute(
        """
        CREATE TABLE model_versions (
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects (id),
            created_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('adopted', 'rejected')),
            -- {"combination": {...}, "learned_cache_keys": {technique: cache key},
            --  "supervised_model_id": int | null, "base_cache_keys": {...}, "origin": str}
            config TEXT NOT NULL DEFAULT '{}',
            metrics TEXT NOT NULL DEFAULT '{}',  -- {"candidate"|"current"|"baseline": scores}
            reason TEXT NOT NULL DEFAULT '',  -- what changed, or why it was not adopted
            n_reviews INTEGER NOT NULL,  -- labelled reviews it learned from
            by TEXT NOT NULL DEFAULT '',
            blob BLOB,  -- npz: the reviews it learned from and its out-of-fold predictions
            UNIQUE (project_id, id)
        ) STRICT
        """
    )
    db.table("model_versions").create_index(["project_id", "status", "id"])
    db.execute(
        """
        CREATE TABLE model_pins (
            project_id INTEGER PRIMARY KEY REFERENCES projects (id),
            version_id INTEGER NOT NULL,
            pinned_at TEXT NOT NULL,
            by TEXT NOT NULL DEFAULT '',
            FOREIGN KEY (project_id, version_id) REFERENCES model_versions (project_id, id)
        ) STRICT
        """
    )


@migration
def m007_embeddings(db: sqlite_utils.Database) -> None:
    """Document embeddings kept for good, so no process embeds a text twice with one model:
    one row per (project, model key, text digest). model_key is "model id|revision|dtype|max
    length"; digest is the 16-byte blake2b of the text; vector is `dim` little-endian float32.
    Derived data: deleted with its project, recomputed when missing or malformed.
    Also: why a run's precision was chosen (runs.dtype_reason)."""
    db.execute(
        """
        CREATE TABLE embeddings (
            project_id INTEGER NOT NULL REFERENCES projects (id),
            model_key TEXT NOT NULL,
            digest BLOB NOT NULL CHECK (length(digest) = 16),
            vector BLOB NOT NULL,
            PRIMARY KEY (project_id, model_key, digest)
        ) STRICT, WITHOUT ROWID
        """
    )
    db.table("runs").add_column("dtype_reason", str, not_null_default="")


@migration
def m008_reviews_adjudicate(db: sqlite_utils.Database) -> None:
    """Allow the decision 'adjudicate': the final label(s) a permitted user records for a
    document whose reviewers disagree.

    Why a table rebuild rather than a side column or table: the decision is what every query
    and the CHECK already key on, and an adjudication is a review like the others (undone by
    an 'undo', shown in the history, exported). SQLite cannot alter a CHECK, so the table is
    rebuilt the way https://www.sqlite.org/lang_altertable.html#otheralter describes, inside
    this migration's one transaction (PRAGMA foreign_keys cannot be switched off there, so
    the old table is renamed first: its self-reference (undoes) follows the rename, the new
    table's rows are copied in id order so each undo's target is already there, and dropping
    the old table breaks no reference). Ids, the AUTOINCREMENT counter (ids are never
    reused), every index and the append-only triggers are kept.
    """
    conn = db.conn
    extras = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'reviews' "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL"
    ).fetchall()
    for kind, name, _sql in extras:  # names are global: free them for the new table
        conn.execute(f'DROP {kind.upper()} "{name}"')
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'reviews'").fetchone()
    conn.execute("ALTER TABLE reviews RENAME TO reviews_before_m008")
    conn.execute(
        """
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: order of ids = order of actions
            project_id INTEGER NOT NULL REFERENCES projects (id),
            document_id TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            created_at TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN
                ('accept', 'correct', 'skip', 'flag', 'unflag', 'undo', 'adjudicate')),
            labels TEXT NOT NULL DEFAULT '[]',  -- [label name, ...]
            shown TEXT,  -- {"labels": [...], "scores": {...}, "run_ids": [...]}: what was seen
            undoes INTEGER REFERENCES reviews (id),  -- for 'undo': the review it retracts
            note TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL DEFAULT '',
            CHECK ((decision = 'undo') = (undoes IS NOT NULL)),
            FOREIGN KEY (project_id, document_id) REFERENCES documents (project_id, id)
        ) STRICT
        """
    )
    columns = "id, project_id, document_id, reviewer, created_at, decision, labels, shown, "
    columns += "undoes, note, action"
    conn.execute(
        f"INSERT INTO reviews ({columns}) SELECT {columns} FROM reviews_before_m008 ORDER BY id"
    )
    conn.execute("DROP TABLE reviews_before_m008")
    if seq is not None:
        conn.execute("DELETE FROM sqlite_sequence WHERE name IN ('reviews', 'reviews_before_m008')")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('reviews', ?)", [seq[0]])
    for _kind, _name, sql in extras:
        conn.execute(sql)


@migration
def m009_predictions_estimated(db: sqlite_utils.Database) -> None:
    """Which labels of a prediction were scored by a cheaper technique than the one named
    (zero_shot's cascade: the embeddings ranker's estimate for labels outside its top k),
    as a JSON list, so the Review page can say so."""
    db.table("predictions").add_column("estimated", str, not_null_default="[]")
