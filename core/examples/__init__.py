"""The "Try it" example: a customer inbox to classify, review and evaluate in a few clicks.

Files (written for Sift, not copied from any dataset):
  customer_inbox.yaml  eight labels with descriptions, weighted keywords, patterns,
                       entity-type hints and colours;
  customer_inbox.csv   50 emails, tickets, chats, web forms and internal memos to an
                       invented thermostat company; columns id, channel, text, gold
                       (gold labels, ';'-separated, for 32 of them; some have two or three).

The documents go through core.ingest exactly as an upload of that CSV would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.protocol import SiftStore

from importlib import resources

from core.ingest import IngestOptions, ingest_bytes
from core.store import ProjectNotFound, StoreError
from core.taxonomy import load_taxonomy

EXAMPLE_NAME = "Example: customer inbox"
TAXONOMY_FILE = "customer_inbox.yaml"
DOCUMENTS_FILE = "customer_inbox.csv"
DOCUMENT_OPTIONS = IngestOptions(
    text_column="text", id_column="id", label_column="gold", label_delimiter=";"
)


def example_bytes(filename: str) -> bytes:
    """The raw bytes of one example file shipped in this package."""
    return resources.files(__package__).joinpath(filename).read_bytes()


def create_example_project(store: SiftStore, name: str = EXAMPLE_NAME, *, by: str = ""):
    """The example project called `name`: opened if it exists, else created and filled.

    Creation saves the taxonomy and imports the documents; if either step fails
    the half-made project is deleted again, so a retry starts clean.
    """
    try:
        return store.get_project(name)
    except ProjectNotFound:
        pass
    taxonomy = load_taxonomy(example_bytes(TAXONOMY_FILE), "yaml")
    parsed = ingest_bytes(example_bytes(DOCUMENTS_FILE), DOCUMENTS_FILE, DOCUMENT_OPTIONS)
    try:
        project = store.create_project(name, settings={"multi_label": True})
    except StoreError as error:  # created meanwhile by another session: open that one
        try:
            return store.get_project(name)
        except ProjectNotFound:
            raise error from None
    try:
        store.save_taxonomy(project.id, taxonomy)
        store.add_documents(
            project.id,
            parsed.documents,
            filename=parsed.filename,
            format=parsed.format,
            encoding=parsed.encoding,
            sha256=parsed.sha256,
            by=by,
        )
    except BaseException:
        store.delete_project(project.id)
        raise
    return store.get_project(project.id)
