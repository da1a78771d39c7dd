"""`python -m core ...`: the command line, a thin shell over the same core functions the app uses.

common.py    exit codes, CliError, opening the store and the project, the ingest flags
commands.py  one function per command (projects, create, taxonomy, ingest, classify, export,
             train, versions, stats, agreement, backup)
ray.py       classify --engine ray and import-predictions, over core.scale
parser.py    the argparse tree; `classify --help` lists every technique's typed options

Nothing in core imports this package: it sits on top, like the app's pages.

Exit codes (common.py, also in --help): 0 success, 1 some input was rejected (the rest
was processed), 2 usage or configuration error, 3 storage error (disk full, read-only
database: nothing half-written, the message says what was done), 70 internal error (a bug;
the traceback is printed).
"""

from __future__ import annotations

import sys
import traceback

from core.cli.common import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_STORAGE,
    EXIT_USAGE,
    CliError,
    StorageStop,
)
from core.cli.parser import build_parser

# Errors that are the user's to fix: printed without a traceback, exit 2. Named by module so
# that checking them never imports a heavy module (torch, sklearn) that the command didn't load.
USER_ERRORS = (
    ("core.cli.common", "CliError"),
    ("core.techniques.options", "OptionsError"),
    ("core.techniques.build", "NoLearnedModelError"),
    ("core.store.errors", "StoreError"),
    ("core.taxonomy", "TaxonomyError"),
    ("core.techniques", "UnknownTechniqueError"),
    ("core.ingest.errors", "IngestError"),
    ("core.learning.linear", "NotEnoughReviews"),
    ("core.models.loading", "ModelLoadError"),
    ("builtins", "ValueError"),
)


def is_user_error(exc: BaseException) -> bool:
    for module_name, class_name in USER_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StorageStop as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except Exception as exc:
        from core.store.failures import storage_failure

        failure = storage_failure(exc)  # before user errors: DatabaseReadOnly is a StoreError
        if failure is not None:
            # A user error (a StoreError) already names the file and what was, or was not,
            # written (a backup's destination is not "the database"): print it as it is.
            if is_user_error(exc):
                print(f"error: {exc}", file=sys.stderr)
            else:
                print(f"error: cannot use the database: {failure.message()}", file=sys.stderr)
            return EXIT_STORAGE
        if is_user_error(exc):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        traceback.print_exc()
        print(
            f"internal error: {type(exc).__name__} (a bug in Sift, not in your input); "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


__all__ = [
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_STORAGE",
    "EXIT_USAGE",
    "CliError",
    "build_parser",
    "main",
]
