"""The CLI side of the Ray engine (core.scale): argparse namespace -> RayJob / import, and what
is printed."""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import (
    EXIT_OK,
    EXIT_PARTIAL,
    CliError,
    find_project,
    ingest_options,
    open_store,
)


def classify_with_ray(args) -> int:
    """`python -m core classify --engine ray ...`; exit 0, or 1 when an input failed."""
    from core.predictions import project_settings
    from core.scale.ray_job import RayJob, run_ray_job
    from core.taxonomy import load_taxonomy_file, validate
    from core.techniques import DEFAULT_TECHNIQUES
    from core.techniques.build import parse_option_pairs

    if not args.output:
        raise CliError("--engine ray needs --output DIR: the folder the Parquet predictions go to")
    project_name = getattr(args, "project_flag", None) or args.project
    store = project = None
    if project_name:
        store = open_store(args)
        project = find_project(store, project_name)
    if args.taxonomy:
        taxonomy = load_taxonomy_file(args.taxonomy)
        validate(taxonomy)
    elif store is not None and project is not None:
        taxonomy = store.load_taxonomy(project.id)
    else:
        raise CliError("--engine ray needs the labels: --taxonomy FILE, or --project NAME")
    if args.multi_label is not None:
        multi_label = args.multi_label
    else:
        multi_label = bool(project_settings(project)["multi_label"]) if project else False
    job = RayJob(
        output=Path(args.output),
        techniques=tuple(args.technique or DEFAULT_TECHNIQUES),
        taxonomy=taxonomy,
        multi_label=multi_label,
        options=parse_option_pairs(args.option),
        device=args.device,
        precision=args.precision,
        inputs=tuple(args.input or ()),
        ingest=ingest_options(args),
        batch_size=args.batch_size,
        num_actors=args.num_actors,
        num_gpus_per_actor=args.num_gpus_per_actor,
        num_cpus_per_actor=args.num_cpus_per_actor,
        address=args.address,
    )
    report = run_ray_job(job, store=store, project=project, progress=not args.quiet)
    print(
        f"ray: {len(report.written)} written, {len(report.resumed)} already done, "
        f"{len(report.failed)} failed; {report.n_documents} documents, "
        f"{report.n_predictions} predictions in {report.seconds:.1f}s -> {report.output}"
    )
    if report.job_error:
        print(f"error: the Ray job stopped: {report.job_error}", file=sys.stderr)
    for name, reason in sorted(report.failed.items()):
        print(f"FAILED {name}: {reason}", file=sys.stderr)
    if report.failed:
        print(
            f"{len(report.failed)} input(s) failed; fix them and run the same command again "
            "(finished inputs are kept and skipped)",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    print(f"load them into a project: python -m core import-predictions PROJECT {report.output}")
    return EXIT_OK


def import_predictions_command(args) -> int:
    """`python -m core import-predictions PROJECT FOLDER`; exit 1 when the run had failures."""
    from core.scale.importer import import_predictions

    store = open_store(args)
    project = find_project(store, args.project, create=args.create)
    report = import_predictions(
        store, project, args.folder, by=args.by, echo=None if args.quiet else print
    )
    for name, run_id in report.runs.items():
        print(
            f"{name}: {report.n_new.get(name, 0)} stored, {report.n_existing.get(name, 0)} "
            f"already stored (run {run_id})"
        )
    print(
        f"{report.n_documents} documents from {report.n_files} file(s), "
        f"{report.n_documents_added} new to project {project.name!r}"
    )
    for name in report.skipped:
        print(f"skipped {name}: not from this folder's run", file=sys.stderr)
    for name, reason in sorted(report.failed_inputs.items()):
        print(f"NOT IN THE RUN {name}: {reason}", file=sys.stderr)
    return EXIT_PARTIAL if report.failed_inputs else EXIT_OK
