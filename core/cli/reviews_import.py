"""`python -m core import-reviews PROJECT FILE`: reviews made elsewhere into a project.

Reads the file (core.annotations: csv, jsonl, Label Studio's JSON export, Prodigy's JSONL;
guessed from the extension and content unless --format names it), checks it against the
project and prints what it would do (reviews per reviewer, documents matched and created,
labels mapped ignoring case, rows skipped and why), then writes it in one transaction.
Exit 0: imported (or --dry-run checked); 1: the file was refused (unreadable, unknown
labels, rows without reviewer or document; each named), nothing written; 2: usage
(unknown project, bad flags); 3: the database could not be written, nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import EXIT_OK, EXIT_PARTIAL, find_project, open_store, printable


def add_parser(sub) -> None:
    from core.annotations import FORMATS

    p = sub.add_parser(
        "import-reviews",
        help="import reviews made elsewhere (CSV, JSONL, Label Studio, Prodigy)",
        description="Import existing annotations as reviews. Documents are matched by id "
        "(Sift's or your own) or by text, and created from the file's text when missing. "
        "Labels are matched to the taxonomy ignoring case (the matches are listed); a label "
        "the taxonomy lacks refuses the whole file. Each row is a review by its reviewer "
        "(from the file: reviewer column, Label Studio completed_by, Prodigy _annotator_id; "
        "else --reviewer). All of the file is written in one transaction, or none of it; "
        "rows equal to what a reviewer already recorded are not written again.",
        epilog="exit codes: 0 imported; 1 the file was refused (the reasons are printed), "
        "nothing written; 2 usage error; 3 storage error, nothing written",
    )
    p.add_argument("project")
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--reviewer", metavar="NAME", help="who made the rows whose file names no reviewer"
    )
    p.add_argument(
        "--format", choices=list(FORMATS), help="default: guessed from the extension and content"
    )
    p.add_argument("--by", default="cli", help="who imported (recorded)")
    p.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    p.set_defaults(func=cmd_import_reviews)


def cmd_import_reviews(args: argparse.Namespace) -> int:
    from core.annotations import apply_import, plan_import, read_annotations
    from core.ingest import IngestError

    path = Path(args.file)
    store = open_store(args)
    project = find_project(store, args.project)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"REFUSED {printable(path)}: cannot be read ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_PARTIAL
    try:
        annotations = read_annotations(data, path.name, args.format)
        plan = plan_import(store, project.id, annotations, reviewer=args.reviewer)
    except IngestError as exc:
        print(f"REFUSED {printable(exc)}", file=sys.stderr)
        print("nothing was imported", file=sys.stderr)
        return EXIT_PARTIAL
    print(f"{printable(plan.filename)} ({plan.format}):")
    for line in plan.report():
        print(f"  {printable(line)}")
    if args.dry_run:
        print("dry run: nothing written")
        return EXIT_OK
    outcome = apply_import(store, project.id, plan, by=args.by)
    created = outcome.documents.n_added if outcome.documents else 0
    print(f"imported {len(outcome.reviews):,} review(s); {created:,} new document(s)")
    return EXIT_OK
