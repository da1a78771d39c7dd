"""The one module that touches SQLite. Everything persistent goes through `Store`.

Tables (JSON columns are TEXT): projects, labels, imports, documents, runs,
predictions (immutable, keyed by cache key), reviews (append-only),
exports, trained_models, model_versions (+ model_pins), embeddings (derived vectors),
schema_migrations. See migrations.py for the schema.
"""

from core.store._predictions import FINAL_RUN_STATUSES, RUN_STATUSES
from core.store._reviews import DECISIONS, LABELLING_DECISIONS
from core.store.errors import (
    DocumentNotFound,
    ProjectNotFound,
    ReviewConflict,
    RunNotFound,
    StoreError,
)
from core.store.protocol import SiftStore
from core.store.records import (
    UNSET,
    ImportRecord,
    ImportSummary,
    ModelVersion,
    Project,
    Review,
    RunRecord,
    StoredDocument,
    TrainedModel,
)
from core.store.store import Store

__all__ = [
    "DECISIONS",
    "FINAL_RUN_STATUSES",
    "LABELLING_DECISIONS",
    "RUN_STATUSES",
    "UNSET",
    "DocumentNotFound",
    "ImportRecord",
    "ImportSummary",
    "ModelVersion",
    "Project",
    "ProjectNotFound",
    "Review",
    "ReviewConflict",
    "RunNotFound",
    "RunRecord",
    "SiftStore",
    "Store",
    "StoreError",
    "StoredDocument",
    "TrainedModel",
]


def _meets_the_protocol(store: Store) -> SiftStore:
    """Never called: mypy (CI) checks here that Store offers everything SiftStore promises."""
    return store
