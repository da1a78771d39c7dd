"""`python -m core ...`: the command line, a thin shell over the same core functions the app uses.

Exit codes: 0 success, 1 some input was rejected (the rest was processed),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A usage/configuration problem, printed without a traceback (exit 2)."""


def _store(args):
    from core.store import Store

    return Store(args.db)


def _project(store, name: str, *, create: bool = False):
    from core.store import ProjectNotFound

    try:
        return store.get_project(name)
    except ProjectNotFound:
        if create:
            return store.create_project(name)
        raise


# --- commands ---------------------------------------------------------------


def cmd_projects(args) -> int:
    store = _store(args)
    for project in store.list_projects():
        print(f"{project.id}\t{project.name}\t{store.count_documents(project.id)} documents")
    return EXIT_OK


def cmd_create(args) -> int:
    store = _store(args)
    project = store.create_project(args.project)
    if args.taxonomy:
        _import_taxonomy(store, project.id, args.taxonomy)
    print(f"created project {project.name!r} (id {project.id})")
    return EXIT_OK


def _import_taxonomy(store, project_id: int, path: str) -> None:
    from core.taxonomy import load_taxonomy_file, validate

    taxonomy = load_taxonomy_file(path)
    validate(taxonomy)
    store.save_taxonomy(project_id, taxonomy)


def cmd_taxonomy(args) -> int:
    from core.taxonomy import dump_taxonomy

    store = _store(args)
    project = _project(store, args.project)
    if args.import_file:
        _import_taxonomy(store, project.id, args.import_file)
        print(f"imported {len(store.load_taxonomy(project.id))} labels from {args.import_file}")
    else:
        sys.stdout.write(dump_taxonomy(store.load_taxonomy(project.id), args.format))
    return EXIT_OK


def _expand_paths(paths: list[str]) -> list[Path]:
    from core.ingest import SUPPORTED_EXTENSIONS

    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower().lstrip(".") in _extensions(SUPPORTED_EXTENSIONS)
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise CliError(f"{raw}: no such file or folder")
    return files


def _extensions(supported) -> set[str]:
    return {ext.lower().lstrip(".") for ext in supported}


def cmd_ingest(args) -> int:
    from core.ingest import IngestError, IngestOptions, ingest_path

    store = _store(args)
    project = _project(store, args.project, create=args.create)
    if args.taxonomy:
        _import_taxonomy(store, project.id, args.taxonomy)
    options = IngestOptions(
        text_column=args.text_column,
        id_column=args.id_column,
        label_column=args.label_column,
        label_delimiter=args.label_delimiter,
        split_paragraphs=args.split_paragraphs,
    )
    bad = 0
    for path in _expand_paths(args.paths):
        try:
            parsed = ingest_path(path, options)
        except IngestError as exc:
            bad += 1
            print(f"REJECTED {exc}", file=sys.stderr)
            continue
        summary = store.add_documents(
            project.id,
            parsed.documents,
            filename=parsed.filename,
            format=parsed.format,
            encoding=parsed.encoding,
            sha256=parsed.sha256,
            by=args.by,
        )
        print(
            f"imported {path}: {summary.n_added} new, "
            f"{summary.n_duplicates + parsed.duplicates_in_file} duplicate"
            + (f" ({parsed.encoding})" if parsed.encoding else "")
        )
    if bad:
        print(f"{bad} file(s) rejected; fix them and run ingest again", file=sys.stderr)
    return EXIT_PARTIAL if bad else EXIT_OK


def _parse_options(pairs: list[str]) -> dict[str, dict]:
    """["zero_shot.model=path", "lexicon.scale=2"] -> {"zero_shot": {"model": "path"}, ...}."""
    options: dict[str, dict] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        technique, dot, name = key.partition(".")
        if not sep or not dot or not technique or not name:
            raise CliError(f"--option {pair!r}: write it as TECHNIQUE.NAME=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # bare strings need no quotes
        options.setdefault(technique, {})[name] = value
    return options


def build_techniques(
    names: list[str],
    *,
    multi_label: bool,
    options: dict,
    device,
    precision,
    store=None,
    project_id: int | None = None,
):
    """Technique instances from CLI/app choices; device/precision go only to model techniques.

    `supervised` needs the project's trained model, read from the store.
    """
    from core.techniques import create_technique, get_technique

    techniques = []
    for name in names:
        cls = get_technique(name)
        kwargs = dict(options.get(name, {}))
        if name == "supervised" and "trained" not in kwargs:
            from core.learning.trained import current_supervised_model

            trained = current_supervised_model(store, project_id) if store is not None else None
            if trained is None:
                raise CliError(
                    "this project has no learned supervised model yet: review some "
                    "documents, then run `python -m core train PROJECT`"
                )
            kwargs["trained"] = trained
        if cls.needs_model:
            if device:
                kwargs.setdefault("device", device)
            if precision:
                kwargs.setdefault("precision", precision)
        techniques.append(create_technique(name, multi_label=multi_label, **kwargs))
    return techniques


def cmd_classify(args) -> int:
    if args.engine == "ray":
        from core.scale import classify_with_ray

        return classify_with_ray(args)
    from core.engine import run_techniques
    from core.progress import ConsoleProgress

    store = _store(args)
    project = _project(store, args.project)
    settings = dict(project.settings or {})
    if args.multi_label is not None:
        settings["multi_label"] = args.multi_label
        if args.threshold is not None:
            settings["threshold"] = args.threshold
        store.update_project_settings(project.id, settings)
    from core.techniques import DEFAULT_TECHNIQUES

    techniques = build_techniques(
        args.technique or list(DEFAULT_TECHNIQUES),
        multi_label=bool(settings.get("multi_label", False)),
        options=_parse_options(args.option),
        device=args.device,
        precision=args.precision,
        store=store,
        project_id=project.id,
    )
    with ConsoleProgress(enabled=not args.quiet) as progress:
        outcomes = run_techniques(
            store, project.id, techniques, batch_size=args.batch_size, progress=progress
        )
    for outcome in outcomes:
        print(
            f"{outcome.technique}: {outcome.status}, {outcome.n_computed} computed, "
            f"{outcome.n_cached} from cache, {outcome.seconds:.2f}s (run {outcome.run_id})"
        )
    return EXIT_OK


def cmd_import_predictions(args) -> int:
    from core.scale import import_predictions_command

    return import_predictions_command(args)


def cmd_export(args) -> int:
    from core.export import ExportOptions, export_project

    store = _store(args)
    project = _project(store, args.project)
    options = ExportOptions(
        reviewed_only=args.reviewed_only,
        include_scores=args.scores,
        test_fraction=args.test_fraction,
        seed=args.seed,
    )
    result = export_project(store, project.id, args.format, Path(args.out), options, by=args.by)
    print(
        f"wrote {result.n_rows} rows to {result.path} "
        f"({result.format}, sha256 {result.sha256[:12]})"
    )
    return EXIT_OK


def cmd_train(args) -> int:
    """The one learning path, as the app's background refresh runs it."""
    from core.learning.loop import learn

    store = _store(args)
    project = _project(store, args.project)
    outcome = learn(store, project.id, by=args.by)
    if outcome.skipped:
        raise CliError(outcome.skipped)
    if args.json:
        print(json.dumps(_outcome_json(outcome), indent=2, sort_keys=True))
        return EXIT_OK
    print(f"learned from {outcome.n_reviews} reviewed documents (out of fold):")
    names = {
        "candidate": "candidate",
        "current": "current version's recipe, same folds",
        "baseline": "zero-review baseline",
    }
    for name, scores in outcome.scores.items():
        print(
            f"  {names[name]}: accuracy {scores.accuracy:.3f}  macro-F1 {scores.macro_f1:.3f}  "
            f"ECE {scores.ece:.3f}  ({scores.n} documents)"
        )
    version = f"v{outcome.version_id}"
    print(f"{version} {outcome.reason}")
    changes = store.get_model_version(project.id, outcome.version_id, with_blob=False)
    print(f"  what it changes: {changes.config.get('changes', '')}")
    if outcome.adopted:
        print(f"scored {outcome.predicted} documents with the new supervised model")
    return EXIT_OK


def _outcome_json(outcome) -> dict:
    return {
        "n_reviews": outcome.n_reviews,
        "adopted": outcome.adopted,
        "version": outcome.version_id,
        "reason": outcome.reason,
        "scores": {name: scores.to_json() for name, scores in outcome.scores.items()},
        "predicted": outcome.predicted,
    }


def cmd_versions(args) -> int:
    """List learned configurations; pin, unpin or roll back."""
    from core.learning import versions

    store = _store(args)
    project = _project(store, args.project)
    if args.pin is not None:
        versions.pin(store, project.id, args.pin, by=args.by)
        print(f"pinned {project.name!r} to v{args.pin}: suggestions stay on it until unpinned")
        return EXIT_OK
    if args.unpin:
        versions.pin(store, project.id, None, by=args.by)
        current = store.current_model_version(project.id)
        print(
            "unpinned: suggestions follow the latest adopted version"
            + (f" (v{current.id})" if current else "")
        )
        return EXIT_OK
    if args.rollback is not None:
        version = versions.rollback(store, project.id, args.rollback, by=args.by)
        print(f"v{version.id}: {version.reason}")
        return EXIT_OK
    rows = versions.history(store, project.id)
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return EXIT_OK
    if not rows:
        print("nothing learned yet: review some documents, then `python -m core train PROJECT`")
        return EXIT_OK
    for row in rows:
        mark = "*" if row["current"] else " "
        scores = row["candidate"] or {}
        print(
            f"{mark} v{row['id']:<4} {row['status']:8} {row['created_at'][:16]}  "
            f"{row['n_reviews']:>5} reviews  accuracy {scores.get('accuracy', 0):.3f}  "
            f"macro-F1 {scores.get('macro_f1', 0):.3f}  {row['reason']}"
        )
    return EXIT_OK


def cmd_stats(args) -> int:
    from core.stats import project_stats

    store = _store(args)
    project = _project(store, args.project)
    stats = project_stats(store, project.id)
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
    else:
        for key, value in stats.items():
            print(
                f"{key}: {json.dumps(value, sort_keys=True) if isinstance(value, dict) else value}"
            )
    return EXIT_OK


def cmd_backup(args) -> int:
    """A consistent copy of the whole database, safe while the app is writing."""
    from datetime import UTC, datetime

    from core.store import Store

    store = _store(args)
    dest = Path(args.dest).expanduser()
    if dest.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        dest = dest / f"{store.path.stem}-{stamp}.db"
    if dest.exists() and not args.overwrite:
        raise CliError(
            f"{dest} already exists; pass --overwrite to replace it, or pick another name"
        )
    written = store.backup(dest)
    copy = Store(written)
    try:
        problems = copy.integrity_check()
    finally:
        copy.close()
    if problems != "ok":
        print(
            f"error: the copy at {written} fails its integrity check: {problems}", file=sys.stderr
        )
        return EXIT_PARTIAL
    print(f"backed up {store.path} to {written} ({written.stat().st_size:,} bytes, integrity ok)")
    return EXIT_OK


# --- parser -----------------------------------------------------------------


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
    ray.add_argument("--text-column")
    ray.add_argument("--id-column")
    ray.add_argument("--label-column", help="gold labels (multi-label: delimited list)")
    ray.add_argument("--label-delimiter", default=";")
    ray.add_argument(
        "--split-paragraphs", action="store_true", help="txt/md: one document per paragraph"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Sift: classify business text with an ensemble of techniques, headless.",
    )
    parser.add_argument(
        "--db", help="SQLite file (default: $SIFT_DB, else ~/.local/share/sift/sift.db)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("projects", help="list projects")
    p.set_defaults(func=cmd_projects)

    p = sub.add_parser("create", help="create a project")
    p.add_argument("project")
    p.add_argument("--taxonomy", help="YAML/JSON taxonomy file to import")
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("taxonomy", help="print a project's taxonomy, or import one")
    p.add_argument("project")
    p.add_argument("--import", dest="import_file", metavar="FILE", help="YAML/JSON file to import")
    p.add_argument("--format", choices=["yaml", "json"], default="yaml")
    p.set_defaults(func=cmd_taxonomy)

    p = sub.add_parser(
        "ingest",
        help="import files or folders into a project",
        description="Import files (txt, md, csv, tsv, jsonl, json, eml, docx, pdf) or folders. "
        "Good files are imported whole; each bad file is named with its reason and the exit "
        "code is 1.",
    )
    p.add_argument("project")
    p.add_argument("paths", nargs="+")
    p.add_argument("--create", action="store_true", help="create the project if it is missing")
    p.add_argument("--taxonomy", help="YAML/JSON taxonomy file to import first")
    p.add_argument("--text-column")
    p.add_argument("--id-column")
    p.add_argument("--label-column", help="gold labels (multi-label: delimited list)")
    p.add_argument("--label-delimiter", default=";")
    p.add_argument(
        "--split-paragraphs", action="store_true", help="txt/md: one document per paragraph"
    )
    p.add_argument("--by", default="cli", help="who imported (recorded)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("classify", help="run techniques over a project's documents")
    p.add_argument("project", nargs="?", help="project name (local engine)")
    p.add_argument(
        "--technique",
        "-t",
        action="append",
        help="technique name; repeat (default: rules, lexicon, embeddings)",
    )
    p.add_argument("--option", "-o", action="append", default=[], metavar="TECHNIQUE.NAME=VALUE")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--multi-label", dest="multi_label", action="store_true", default=None)
    group.add_argument("--single-label", dest="multi_label", action="store_false")
    p.add_argument("--threshold", type=float, help="multi-label decision threshold (default 0.5)")
    p.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], help="default: auto")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    _add_ray_arguments(p)
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_classify)

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
    p.set_defaults(func=cmd_import_predictions)

    p = sub.add_parser("export", help="export documents with their current labels")
    p.add_argument("project")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet", "hf"], default="csv")
    p.add_argument("--out", required=True, help="file (folder for hf)")
    p.add_argument("--reviewed-only", action="store_true")
    p.add_argument("--scores", action="store_true", help="include per-technique scores")
    p.add_argument("--test-fraction", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--by", default="cli")
    p.set_defaults(func=cmd_export)

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
    p.set_defaults(func=cmd_train)

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
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("stats", help="counts of documents, reviews, runs and labels")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "backup",
        help="copy the database consistently, even while the app is writing",
        description="Copy the whole database with SQLite's backup API (one consistent "
        "snapshot, safe while others write). DEST is a file, or a folder to hold "
        "<name>-<UTC time>.db. Restore: see docs/security.md.",
    )
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--overwrite", action="store_true", help="replace DEST if it exists")
    p.set_defaults(func=cmd_backup)

    return parser


# Errors that are the user's to fix: printed without a traceback, exit 2. Named by module so
# that checking them never imports a heavy module (torch, sklearn) that the command didn't load.
USER_ERRORS = (
    ("core.cli", "CliError"),
    ("core.store.errors", "StoreError"),
    ("core.taxonomy", "TaxonomyError"),
    ("core.techniques", "UnknownTechniqueError"),
    ("core.ingest.errors", "IngestError"),
    ("core.learning.linear", "NotEnoughReviews"),
    ("core.models", "ModelLoadError"),
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
