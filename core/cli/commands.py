"""The commands behind `python -m core COMMAND`: each reads its argparse namespace, calls the
same core functions the app uses, prints what happened and returns an exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli.common import (
    EXIT_OK,
    EXIT_PARTIAL,
    CliError,
    StorageStop,
    find_project,
    import_taxonomy,
    ingest_options,
    open_store,
    printable,
)


def cmd_projects(args) -> int:
    store = open_store(args)
    for project in store.list_projects():
        print(f"{project.id}\t{project.name}\t{store.count_documents(project.id)} documents")
    return EXIT_OK


def cmd_create(args) -> int:
    store = open_store(args)
    project = store.create_project(args.project)
    if args.taxonomy:
        import_taxonomy(store, project.id, args.taxonomy)
    print(f"created project {project.name!r} (id {project.id})")
    return EXIT_OK


def cmd_taxonomy(args) -> int:
    from core.taxonomy import dump_taxonomy

    store = open_store(args)
    project = find_project(store, args.project)
    if args.import_file:
        import_taxonomy(store, project.id, args.import_file)
        print(
            f"imported {len(store.load_taxonomy(project.id))} labels from "
            f"{printable(args.import_file)}"
        )
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
            raise CliError(f"{printable(raw)}: no such file or folder")
    return files


def _extensions(supported) -> set[str]:
    return {ext.lower().lstrip(".") for ext in supported}


def cmd_ingest(args) -> int:
    """Each file whole or not at all. A file whose text column does not look like text is
    rejected unless --text-column named it (that is the confirmation); gold labels are
    reported as they match the taxonomy's labels (ignoring case), and stored as given.
    A file that cannot be read is rejected (exit 1) and the others carry on; when the
    database cannot be written (disk full, read-only) the import stops there with a
    StorageStop naming the files imported before and those not stored (exit 3)."""
    import shlex

    from core.ingest import IngestError, ingest_path, match_gold_labels
    from core.store.failures import storage_failure

    store = open_store(args)
    project = find_project(store, args.project, create=args.create)
    if args.taxonomy:
        import_taxonomy(store, project.id, args.taxonomy)
    options = ingest_options(args)
    label_names = store.load_taxonomy(project.id).names
    bad = 0
    paths = _expand_paths(args.paths)
    imported: list[Path] = []
    for position, path in enumerate(paths):
        try:
            parsed = ingest_path(path, options)
        except IngestError as exc:
            bad += 1
            print(f"REJECTED {exc}", file=sys.stderr)
            continue
        except OSError as exc:  # the input file, not the database: unreadable, vanished, ...
            bad += 1
            reason = exc.strerror or str(exc)
            print(f"REJECTED {printable(path)}: cannot be read ({reason})", file=sys.stderr)
            continue
        if parsed.warnings and args.text_column is None:
            bad += 1
            column = shlex.quote(parsed.text_column or "NAME")
            for warning in parsed.warnings:
                print(
                    f"REJECTED {warning}; pass --text-column NAME to choose the text column, "
                    f"or --text-column {column} to import this one anyway",
                    file=sys.stderr,
                )
            continue
        for warning in parsed.warnings:
            print(f"warning: {warning} (confirmed by --text-column)", file=sys.stderr)
        gold = [doc.gold_labels for doc in parsed.documents if doc.gold_labels]
        gold_notes = match_gold_labels(gold, label_names).notes() if gold else []
        try:
            summary = store.add_documents(
                project.id,
                parsed.documents,
                filename=parsed.filename,
                format=parsed.format,
                encoding=parsed.encoding,
                sha256=parsed.sha256,
                by=args.by,
            )
        except Exception as exc:
            failure = storage_failure(exc)
            if failure is None:
                raise
            raise StorageStop(
                _storage_stop_message(failure, path, imported, paths[position + 1 :])
            ) from exc
        imported.append(path)
        print(
            f"imported {printable(path)}: {summary.n_added} new, "
            f"{summary.n_duplicates + parsed.duplicates_in_file} duplicate"
            + (f" ({parsed.encoding})" if parsed.encoding else "")
        )
        for note in gold_notes:
            print(f"  {parsed.filename}: {note}")
    if bad:
        print(f"{bad} file(s) rejected; fix them and run ingest again", file=sys.stderr)
    return EXIT_PARTIAL if bad else EXIT_OK


def _storage_stop_message(failure, path: Path, imported: list[Path], rest: list[Path]) -> str:
    """'cannot store a.csv: the disk ... is full (...); nothing from it was stored. Imported
    before it: x.csv. Not tried: b.csv. <fix>, then import a.csv, b.csv again.'"""

    def names(paths: list[Path]) -> str:
        return ", ".join(printable(p) for p in paths) or "none"

    return (
        f"cannot store {printable(path)}: {failure.reason} ({failure.detail}); nothing from "
        f"it was stored. Imported before it: {names(imported)}. Not tried: {names(rest)}. "
        f"To finish: {failure.fix}, then import {names([path, *rest])} again."
    )


def cmd_classify(args) -> int:
    if args.engine == "ray":
        from core.cli.ray import classify_with_ray

        return classify_with_ray(args)
    from core.engine import run_techniques
    from core.progress import ConsoleProgress

    store = open_store(args)
    project = find_project(store, args.project)
    settings = dict(project.settings or {})
    if args.multi_label is not None:
        settings["multi_label"] = args.multi_label
        if args.threshold is not None:
            settings["threshold"] = args.threshold
        store.update_project_settings(project.id, settings)
    from core.predictions import load_predictions, suggestion_coverage
    from core.techniques import DEFAULT_TECHNIQUES
    from core.techniques.build import build_techniques, parse_option_pairs

    techniques = build_techniques(
        args.technique or list(DEFAULT_TECHNIQUES),
        multi_label=bool(settings.get("multi_label", False)),
        options=parse_option_pairs(args.option),
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
        precision = f", {outcome.dtype_reason}" if outcome.dtype_reason else ""
        print(
            f"{outcome.technique}: {outcome.status}, {outcome.n_computed} computed, "
            f"{outcome.n_cached} from cache, {outcome.seconds:.2f}s (run {outcome.run_id}"
            f"{precision})"
        )
    coverage = suggestion_coverage(load_predictions(store, project.id))
    if coverage.nothing_suggested:
        print(f"warning: {coverage.summary()}", file=sys.stderr)
    else:
        print(coverage.summary())
    return EXIT_OK


def cmd_import_predictions(args) -> int:
    from core.cli.ray import import_predictions_command

    return import_predictions_command(args)


def cmd_export(args) -> int:
    from core.export import ExportOptions, export_project

    store = open_store(args)
    project = find_project(store, args.project)
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
    if result.split is not None and result.split.short:  # test rows must be reviewed
        print(f"warning: {result.split.note()}", file=sys.stderr)
    elif result.split is not None:
        print(result.split.note())
    return EXIT_OK


def cmd_train(args) -> int:
    """The one learning path, as the app's background refresh runs it."""
    from core.learning.loop import learn

    store = open_store(args)
    project = find_project(store, args.project)
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

    store = open_store(args)
    project = find_project(store, args.project)
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

    store = open_store(args)
    project = find_project(store, args.project)
    stats = project_stats(store, project.id)
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
    else:
        for key, value in stats.items():
            print(
                f"{key}: {json.dumps(value, sort_keys=True) if isinstance(value, dict) else value}"
            )
    return EXIT_OK


def cmd_agreement(args) -> int:
    """Inter-reviewer agreement (core.evaluation.agreement) as a table, or JSON."""
    from core.evaluation.agreement import project_agreement

    store = open_store(args)
    project = find_project(store, args.project)
    result = project_agreement(store, project.id)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return EXIT_OK
    print(
        f"{result.n_multi} documents with reviews by 2 or more reviewers "
        f"({result.n_reviewed} reviewed; reviewers: {printable(', '.join(result.reviewers))})"
    )
    if not result.n_multi:
        print("no agreement to measure yet: ask a second reviewer to review the same documents")
        return EXIT_OK

    def number(value) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    print(f"{'label':24} {'kappa':>7} {'alpha':>7} {'agree':>7} {'docs':>6} {'differ':>6}")
    for row in result.rows():
        print(
            f"{printable(row.label)[:24]:24} {number(row.kappa):>7} {number(row.alpha):>7} "
            f"{number(row.percent):>7} {row.n_documents:>6} {row.n_disagreements:>6}"
        )
    for pair in result.pairs:
        print(
            f"pair {printable(pair.reviewer_a)} / {printable(pair.reviewer_b)}: "
            f"{pair.n_documents} documents, kappa {number(pair.kappa)}, "
            f"same labels {number(pair.percent)}"
        )
    return EXIT_OK


def cmd_backup(args) -> int:
    """A consistent copy of the whole database, safe while the app is writing."""
    from datetime import UTC, datetime

    from core.store import Store

    store = open_store(args)
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
