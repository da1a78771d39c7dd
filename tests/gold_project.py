"""A small classified project whose documents carry uploaded gold labels, in a real SQLite
file: for the gold-label tests of core.evaluation and the Evaluate page."""

from __future__ import annotations

from core.documents import Document
from core.engine import run_techniques
from core.store import Store
from core.techniques import create_technique
from tests.page_project import FIRST_BATCH, TAXONOMY


def gold_project(db_path, gold: list[tuple[str, ...]], *, multi_label: bool = False):
    """The page-test taxonomy (billing, shipping, account), the first batch's texts with the
    given gold labels, rules and lexicon run on them."""
    store = Store(db_path)
    project = store.create_project("gold", settings={"multi_label": multi_label})
    store.save_taxonomy(project.id, TAXONOMY)
    documents = [
        Document.from_text(text, source="gold.csv", gold_labels=labels)
        for text, labels in zip(FIRST_BATCH, gold, strict=True)
    ]
    store.add_documents(
        project.id, documents, filename="gold.csv", format="csv", encoding="utf-8", sha256="0" * 64
    )
    techniques = [create_technique(n, multi_label=multi_label) for n in ("rules", "lexicon")]
    run_techniques(store, project.id, techniques)
    return store, project.id


# What a person would label the first batch, as an upload spelled it: no label in the taxonomy's
# case (evaluating them as given used to crash in sklearn), and one unknown value.
GOLD_OTHER_CASE = [
    ("Billing",),
    ("SHIPPING",),
    ("Account",),
    ("BILLING",),
    ("Shipping",),
    ("refunds",),
]
GOLD_AS_NAMED = [("billing",), ("shipping",), ("account",), ("billing",), ("shipping",), ()]
