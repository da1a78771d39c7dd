"""The argument parser of `python -m core`: every command, its flags and help."""

from __future__ import annotations

import argparse

from core.cli import commands
from core.cli.common import EXIT_CODES_HELP, add_ingest_arguments
from core.models.catalog import DEVICES, PRECISIONS


def technique_help() -> str:
    """classify --help's epilog: every technique and its options (read from each technique's
    typed Options; importing a technique module may import torch, so only --help does it)."""
    from core.techniques import get_technique, known_techniques

    lines = ["techniques and their options (-o TECHNIQUE.NAME=VALUE):"]
    for name in known_techniques():
        cls = get_technique(name)
        lines.append(f"  {name}: {cls.description}")
        for info in cls.Options.describe():
            how = " [how it runs; not part of the cache key]" if info.runtime else ""
            lines.append(f"      {info.help_line()}{how}")
    return "\n".join(lines)


class SiftParser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog may be a function, called only when help is printed."""

    def __init__(self, *args, lazy_epilog=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_epilog = lazy_epilog

    def format_help(self) -> str:
        if self.lazy_epilog is not None:
            self.epilog = self.lazy_epilog()
        return super().format_help()


def _add_ray_arguments(p: argparse.ArgumentParser) -> None:
    """classify's flags for --engine ray (see docs/scale.md)."""
    ray = p.add_argument_group("--engine ray", "batch classification on a Ray cluster")
    ray.add_argument(
        "--input",
        action="append",
        metavar="PATH",
        help="file, folder or glob (csv, tsv, jsonl, json, txt, md, parquet, ...); repeat. "
        "Default: the --project's documents",
    )
    ray.add_argument(
        "--output", metavar="DIR", help="folder for <input>-<hash>.parquet + _run.json"
    )
    ray.add_argument(
        "--project", dest="project_flag", metavar="NAME", help="taxonomy (and documents) from it"
    )
    ray.add_argument("--taxonomy", metavar="FILE", help="YAML/JSON taxonomy (else the project's)")
    ray.add_argument("--address", help="join this Ray cluster (default: start one locally)")
    ray.add_argument("--num-actors", type=int, help="default: one per GPU, else one per CPU")
    ray.add_argument(
        "--num-gpus-per-actor", type=float, help="default: 1 when the cluster has GPUs, else 0"
    )
    ray.add_argument("--num-cpus-per-actor", type=float, default=1.0)
    add_ingest_arguments(ray)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Sift: classify business text with an ensemble of techniques, headless.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument(
        "--db", help="SQLite file (default: $SIFT_DB, else ~/.local/share/sift/sift.db)"
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=SiftParser
    )

    p = sub.add_parser("projects", help="list projects")
    p.set_defaults(func=commands.cmd_projects)

    p = sub.add_parser("create", help="create a project")
    p.add_argument("project")
    p.add_argument("--taxonomy", help="YAML/JSON taxonomy file to import")
    p.set_defaults(func=commands.cmd_create)

    p = sub.add_parser("taxonomy", help="print a project's taxonomy, or import one")
    p.add_argument("project")
    p.add_argument("--import", dest="import_file", metavar="FILE", help="YAML/JSON file to import")
    p.add_argument("--format", choices=["yaml", "json"], default="yaml")
    p.set_defaults(func=commands.cmd_taxonomy)

    p = sub.add_parser(
        "ingest",
        help="import files or folders into a project",
        description="Import files (txt, md, csv, tsv, jsonl, json, eml, docx, pdf) or folders. "
        "Good files are imported whole; each bad file is named with its reason and the exit "
        "code is 1. Every file is read within fixed limits (50 MB, 200,000 documents, 1,000 "
        "columns, JSON depth 64 and 5,000,000 values, 100,000 characters per text), refused "
        "at the first item over one. When the database cannot be written (disk full, "
        "read-only) the import stops, names what was imported before, and the exit code is 3.",
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument("project")
    p.add_argument("paths", nargs="+")
    p.add_argument("--create", action="store_true", help="create the project if it is missing")
    p.add_argument("--taxonomy", help="YAML/JSON taxonomy file to import first")
    add_ingest_arguments(p)
    p.add_argument("--by", default="cli", help="who imported (recorded)")
    p.set_defaults(func=commands.cmd_ingest)

    p = sub.add_parser(
        "classify",
        help="run techniques over a project's documents",
        description="Run techniques over a project's documents; results are cached per "
        "technique, options and model, so a second run computes only what changed.",
        lazy_epilog=technique_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("project", nargs="?", help="project name (local engine)")
    p.add_argument(
        "--technique",
        "-t",
        action="append",
        help="technique name; repeat (default: rules, lexicon, embeddings)",
    )
    p.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="TECHNIQUE.NAME=VALUE",
        help="a technique's option (listed below); repeat",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--multi-label", dest="multi_label", action="store_true", default=None)
    group.add_argument("--single-label", dest="multi_label", action="store_false")
    p.add_argument("--threshold", type=float, help="multi-label decision threshold (default 0.5)")
    p.add_argument("--device", choices=DEVICES, help="default: auto")
    p.add_argument("--precision", choices=PRECISIONS)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    _add_ray_arguments(p)
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=commands.cmd_classify)

    p = sub.add_parser(
        "import-predictions",
        help="load the output folder of `classify --engine ray` into a project",
        description="Adds the documents carried in the folder's Parquet files that the project "
        "lacks, then stores the predictions under the same cache keys a local run uses "
        "(one run per technique). Exit 1 when some inputs of the Ray run had failed.",
    )
    p.add_argument("project")
    p.add_argument("folder", metavar="OUTPUT_DIR")
    p.add_argument("--create", action="store_true", help="create the project if it is missing")
    p.add_argument("--by", default="ray-import", help="who imported (recorded)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=commands.cmd_import_predictions)

    from core.cli.reviews_import import add_parser as add_import_reviews

    add_import_reviews(sub)  # import-reviews: annotations made elsewhere, as reviews

    from core.export import FORMATS, TEST_SPLIT_HELP

    p = sub.add_parser("export", help="export documents with their current labels")
    p.add_argument("project")
    p.add_argument("--format", choices=list(FORMATS), default="csv")
    p.add_argument("--out", required=True, help="file (folder for hf)")
    p.add_argument("--reviewed-only", action="store_true")
    p.add_argument("--scores", action="store_true", help="include per-technique scores")
    p.add_argument("--test-fraction", type=float, default=0.0, help=TEST_SPLIT_HELP)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--by", default="cli")
    p.set_defaults(func=commands.cmd_export)

    p = sub.add_parser(
        "train",
        help="learn from reviews now: train, judge, adopt if no worse",
        description="The path the app runs in the background as reviews arrive: a supervised "
        "model and the ensemble's weights, calibration and thresholds are fitted out of fold "
        "on the current reviews; the candidate is adopted as a new version only if, on the "
        "same reviewed documents, it is no worse than the current version and the zero-review "
        "baseline. Prints the three out-of-fold scores and the verdict.",
    )
    p.add_argument("project")
    p.add_argument("--by", default="cli", help="who asked (recorded with the version)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.cmd_train)

    p = sub.add_parser(
        "versions",
        help="learned configurations: list, pin, unpin, roll back",
        description="Each candidate the learning loop judged, adopted or not, with its "
        "out-of-fold scores; * marks the one driving suggestions.",
    )
    p.add_argument("project")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--pin", type=int, metavar="N", help="freeze suggestions on version N")
    group.add_argument("--unpin", action="store_true", help="follow the latest version again")
    group.add_argument(
        "--rollback", type=int, metavar="N", help="adopt version N's configuration again"
    )
    p.add_argument("--by", default="cli", help="who asked (recorded)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.cmd_versions)

    p = sub.add_parser(
        "agreement",
        help="agreement between reviewers: kappa and alpha per label and overall",
        description="Each reviewer's opinion of a document is their latest accept/correct not "
        "undone; documents with opinions from two or more reviewers are compared. Per label "
        "(present or absent): Cohen's kappa, the mean over pairs of reviewers, and "
        "Krippendorff's alpha (nominal). Overall: the same on whole label sets. Undefined "
        "values (no variation) print as n/a.",
    )
    p.add_argument("project")
    p.add_argument("--json", action="store_true", help="also the pairs and disagreeing documents")
    p.set_defaults(func=commands.cmd_agreement)

    p = sub.add_parser("stats", help="counts of documents, reviews, runs and labels")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.cmd_stats)

    p = sub.add_parser(
        "backup",
        help="copy the database consistently, even while the app is writing",
        description="Copy the whole database with SQLite's backup API (one consistent "
        "snapshot, safe while others write). DEST is a file, or a folder to hold "
        "<name>-<UTC time>.db. Restore: see docs/security.md.",
    )
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--overwrite", action="store_true", help="replace DEST if it exists")
    p.set_defaults(func=commands.cmd_backup)

    return parser
