"""What every command shares: exit codes, the usage error, opening the store, finding the
project, and the ingest flags (declared once, read once, for `ingest` and `--engine ray`)."""

from __future__ import annotations

import argparse

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A usage/configuration problem, printed without a traceback (exit 2)."""


def printable(text: object) -> str:
    """`text` safe for a terminal and a log: control and format characters (ANSI escapes,
    newlines, right-to-left overrides) written as escapes, so a file name cannot forge
    output lines or recolour the terminal; other characters (Ärger.csv) kept."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text)
    )


def open_store(args):
    from core.store import Store

    return Store(args.db)


def find_project(store, name: str, *, create: bool = False):
    from core.store import ProjectNotFound

    try:
        return store.get_project(name)
    except ProjectNotFound:
        if create:
            return store.create_project(name)
        raise


def import_taxonomy(store, project_id: int, path: str) -> None:
    from core.taxonomy import load_taxonomy_file, validate

    taxonomy = load_taxonomy_file(path)
    validate(taxonomy)
    store.save_taxonomy(project_id, taxonomy)


def add_ingest_arguments(group) -> None:
    """How files become documents (a parser or an argument group)."""
    group.add_argument("--text-column", help="CSV/JSON column with the text (default: guessed)")
    group.add_argument("--id-column", help="column with each document's id")
    group.add_argument("--label-column", help="gold labels (multi-label: delimited list)")
    group.add_argument("--label-delimiter", default=";")
    group.add_argument(
        "--split-paragraphs", action="store_true", help="txt/md: one document per paragraph"
    )


def ingest_options(args: argparse.Namespace):
    """The flags `add_ingest_arguments` declared -> IngestOptions."""
    from core.ingest import IngestOptions

    return IngestOptions(
        text_column=args.text_column,
        id_column=args.id_column,
        label_column=args.label_column,
        label_delimiter=args.label_delimiter,
        split_paragraphs=args.split_paragraphs,
    )


__all__ = [
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "CliError",
    "add_ingest_arguments",
    "find_project",
    "import_taxonomy",
    "ingest_options",
    "open_store",
    "printable",
]
