"""Project counts for the CLI `stats` command and the app's sidebar."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

from collections import Counter


def project_stats(store: SiftStore, project_id: int) -> dict:
    taxonomy = store.load_taxonomy(project_id)
    reviews = store.current_reviews(project_id)
    label_counts = Counter(label for review in reviews.values() for label in review.labels)
    runs = store.list_runs(project_id)
    return {
        "documents": store.count_documents(project_id),
        "labels": len(taxonomy),
        "reviewed": len(reviews),
        "review_events": len(store.review_history(project_id)),
        "flagged": len(store.flagged_document_ids(project_id)),
        "runs": len(runs),
        "imports": len(store.list_imports(project_id)),
        "reviewed_label_counts": {name: label_counts.get(name, 0) for name in taxonomy.names},
    }
