"""A small classified project in a real SQLite file, for the page tests (AppTest).

Built only through core: create the project, save a taxonomy, import ten
documents in two batches, run rules + lexicon with the real engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.documents import Document
from core.engine import run_techniques
from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique

TAXONOMY = Taxonomy(
    labels=(
        Label(
            name="billing",
            description="Invoices, charges and refunds",
            keywords=(Keyword("invoice"), Keyword("refund"), Keyword("charge")),
            patterns=(r"invoice\s*#?\d+",),
            colour="#4e79a7",
        ),
        Label(
            name="shipping",
            description="Parcels and deliveries",
            keywords=(Keyword("parcel"), Keyword("delivery"), Keyword("courier")),
            patterns=(r"tracking number",),
            colour="#f28e2b",
        ),
        Label(
            name="account",
            description="Logins and passwords",
            keywords=(Keyword("password"), Keyword("login")),
            colour="#59a14f",
        ),
    )
)

FIRST_BATCH = [
    "Please refund invoice #1042, the charge was made twice.",
    "The parcel never arrived; the courier lost the delivery.",
    "I cannot login, my password reset link expired.",
    "Invoice 77 shows a charge I do not recognise. Refund please.",
    "Where is my parcel? The tracking number does not work.",
    "The delivery of invoice #5 paperwork was late and the refund is missing.",
]
SECOND_BATCH = [
    "My parcel and the delivery were fine but the invoice charge is wrong.",
    "Password change failed after login.",
    "A courier left the parcel at the wrong door.",
    "Thanks for the lovely meeting yesterday.",
]


@dataclass(frozen=True)
class PageProject:
    store: Store
    project_id: int
    document_ids: list[str]  # in added order
    import_ids: tuple[int, int]


def build_project(db_path, *, multi_label: bool = False) -> PageProject:
    store = Store(db_path)
    project = store.create_project("pages", settings={"multi_label": multi_label})
    store.save_taxonomy(project.id, TAXONOMY)
    imports = []
    for number, texts in enumerate((FIRST_BATCH, SECOND_BATCH), start=1):
        summary = store.add_documents(
            project.id,
            [Document.from_text(text, source=f"batch{number}.txt") for text in texts],
            filename=f"batch{number}.txt",
            format="txt",
            encoding="utf-8",
            sha256=f"{number:064d}",
        )
        imports.append(summary.import_id)
    run_techniques(
        store,
        project.id,
        [
            create_technique("rules", multi_label=multi_label),
            create_technique("lexicon", multi_label=multi_label),
        ],
    )
    return PageProject(
        store=store,
        project_id=project.id,
        document_ids=store.document_ids(project.id),
        import_ids=tuple(imports),
    )
