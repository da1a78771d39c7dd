"""`python -m core ...`: the command line, a thin shell over the same core functions the app uses.

common.py    exit codes, CliError, opening the store and the project, the ingest flags
commands.py  one function per command (projects, create, taxonomy, ingest, classify, export,
             train, versions, stats, backup)
ray.py       classify --engine ray and import-predictions, over core.scale
parser.py    the argparse tree; `classify --help` lists every technique's typed options

Nothing in core imports this package: it sits on top, like the app's pages.

Exit codes: 0 success, 1 some input was rejected (the rest was processed),
2 usage or configuration error.
"""

from __future__ import annotations

import sys

from core.cli.common import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, CliError
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
    except Exception as exc:
        if not is_user_error(exc):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


__all__ = ["EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "CliError", "build_parser", "main"]
