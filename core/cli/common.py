"""What every command shares: exit codes, the usage error, opening the store, finding the
project, and the ingest flags (declared once, read once, for `ingest` and `--engine ray`)."""

from __future__ import annotations

import argparse

# The exit codes, documented in `python -m core --help`, the README and docs/security.md:
EXIT_OK = 0  # everything asked for was done
EXIT_PARTIAL = 1  # some input was rejected (named on stderr); the rest was processed
EXIT_USAGE = 2  # usage or configuration error: bad flags, unknown project, bad taxonomy...
EXIT_STORAGE = 3  # the database could not be written: disk full, read-only, I/O error
EXIT_INTERNAL = 70  # a bug (EX_SOFTWARE): the traceback is printed; please report it
EXIT_CODES_HELP = (
    "exit codes: 0 success; 1 some input was rejected (each named), the rest processed; "
    "2 usage or configuration error; 3 storage error (disk full, database read-only or "
    "unreadable), nothing half-written; 70 internal error (a bug; the traceback is printed)"
)


class CliError(Exception):
    """A usage/configuration problem, printed without a traceback (exit 2)."""


class StorageStop(Exception):
    """A command stopped because the database could not be written (exit 3); the message says
    what was done before and what to do."""


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
    "EXIT_CODES_HELP",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_STORAGE",
    "EXIT_USAGE",
    "CliError",
    "StorageStop",
    "add_ingest_arguments",
    "find_project",
    "import_taxonomy",
    "ingest_options",
    "open_store",
    "printable",
]
