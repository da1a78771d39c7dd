"""The driver of a Ray run: decide what is left to do, run it on Ray Data actors, write outputs.

    job = RayJob(output=Path("out"), techniques=("rules", "embeddings"), taxonomy=taxonomy,
                 inputs=("data/*.csv",), ingest=IngestOptions(text_column="body"))
    report = run_ray_job(job)      # RayReport: written / resumed / failed files, counts

1. Techniques are built on the driver exactly as the local command builds them, to compute
   each one's cache key (config hash + model revision) -- the key a local run would use.
2. Each input's output name carries a fingerprint of those keys and the input's content;
   inputs whose output already exists (complete, same fingerprint) are skipped.
3. The other inputs are parsed here (the driver is where the files are), sorted longest
   first and cut into blocks of `batch_size` documents; one Ray Data `map_batches` over all
   blocks runs `TechniqueActor`s, each loading its models once.
4. As results stream back, every input whose documents are all done is written atomically;
   an input with a failed batch is reported by name and batch, and the others carry on.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.ingest import IngestError, IngestOptions
from core.scale.actor import BATCH_COLUMN, FILE_COLUMN, TechniqueActor
from core.scale.inputs import (
    InputBatch,
    InputSource,
    expand_inputs,
    project_sources,
    read_source,
    source_sha256,
)
from core.scale.layout import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    OutputFolderError,
    TechniqueSpec,
    file_fingerprint,
    finished_output,
    output_name,
    read_manifest,
    run_fingerprint,
    utc_now,
    write_json_atomic,
    write_output,
)
from core.taxonomy import Taxonomy

if TYPE_CHECKING:
    from tqdm import tqdm

# Environment variables the workers need to behave like the driver (offline model loading).
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME", "TOKENIZERS_PARALLELISM")
MANIFEST_EVERY_S = 10.0  # rewrite the manifest at most this often while results stream in


@dataclass(frozen=True)
class RayJob:
    """Everything a Ray run needs; the CLI fills it from its flags."""

    output: Path
    techniques: tuple[str, ...]
    taxonomy: Taxonomy
    multi_label: bool = False
    options: dict = field(default_factory=dict)  # technique -> {option: value}
    device: str | None = None  # None: each technique's default ("auto": cuda, mps, cpu)
    precision: str | None = None
    inputs: tuple[str, ...] = ()  # files, folders, globs; empty: the project's documents
    ingest: IngestOptions = field(default_factory=IngestOptions)
    batch_size: int = 64  # documents per actor call (one Ray block)
    num_actors: int | None = None  # None: one per GPU (GPU cluster) or per CPU
    num_gpus_per_actor: float | None = None  # None: 1 when the cluster has GPUs, else 0
    num_cpus_per_actor: float = 1.0
    address: str | None = None  # None: start a local Ray instance sized to this machine


@dataclass
class RayReport:
    output: Path
    written: list[str] = field(default_factory=list)  # output file names written by this run
    resumed: list[str] = field(default_factory=list)  # output files found finished, skipped
    failed: dict[str, str] = field(default_factory=dict)  # input name -> what went wrong
    n_documents: int = 0  # documents classified by this run
    n_predictions: int = 0
    seconds: float = 0.0
    job_error: str | None = None  # the Ray job itself stopped (not one input)

    @property
    def ok(self) -> bool:
        return not self.failed and self.job_error is None


def run_ray_job(
    job: RayJob,
    *,
    store=None,
    project=None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> RayReport:
    """Classify the job's inputs (or the project's documents) on Ray; see the module docstring."""
    from core.techniques.build import build_techniques

    started_at, clock = utc_now(), time.perf_counter()
    _check_job(job, project)
    say = echo or _tqdm_echo
    if job.inputs:  # before any model loads: a mistyped path fails at once
        sources = expand_inputs(job.inputs, exclude=Path(job.output))
    else:
        sources = project_sources(project.name, store.document_ids(project.id))
    output = Path(job.output)
    output.mkdir(parents=True, exist_ok=True)

    techniques = build_techniques(
        list(job.techniques),
        multi_label=job.multi_label,
        options=job.options,
        device=job.device,
        precision=job.precision,
        store=store,
        project_id=project.id if project is not None else None,
    )
    specs = [technique_spec(technique, job.taxonomy) for technique in techniques]
    ingest = _ingest_settings(job.ingest)
    run_fp = run_fingerprint(specs, ingest)
    previous = read_manifest(output)
    if previous is not None and previous.get("run_fingerprint") != run_fp:
        raise OutputFolderError(
            f"{output} holds predictions made with other settings (techniques "
            f"{', '.join(t['name'] for t in previous.get('techniques', []))}, other cache keys "
            "or ingest options); choose a new --output folder, or delete its "
            f"{MANIFEST_NAME} and .parquet files to start over"
        )

    report = RayReport(output=output)
    footers: dict[str, dict] = {}  # output name -> footer, for every finished output
    todo: list[tuple[InputSource, str, Path]] = []
    for source in sources:
        try:
            sha256 = source_sha256(source)
        except OSError as exc:
            report.failed[source.name] = f"cannot be read: {exc}"
            continue
        file_fp = file_fingerprint(run_fp, source.key, sha256)
        path = output / output_name(source.name, file_fp)
        footer = finished_output(path, file_fp)
        if footer is not None:
            footers[path.name] = footer
            report.resumed.append(path.name)
        else:
            todo.append((source, file_fp, path))
    if report.resumed:
        say(f"{len(report.resumed)} of {len(sources)} input(s) already done in {output}, skipped")

    batches: list[tuple[InputBatch, str, Path]] = []
    for source, file_fp, path in todo:
        try:
            batch = read_source(
                source,
                job.ingest,
                store=store,
                project_id=project.id if project is not None else None,
            )
        except (IngestError, OSError) as exc:
            report.failed[source.name] = str(exc)
            say(f"FAILED {exc}")
            continue
        batches.append((batch, file_fp, path))

    manifest = _Manifest(output, previous, job, specs, run_fp, ingest, started_at, sources)
    manifest.footers.update(footers)
    if batches:
        actor_options = _actor_options(job.options, techniques)
        plugins = tuple(
            sorted(
                {
                    type(t).__module__
                    for t in techniques
                    if not type(t).__module__.startswith("core.techniques.")
                }
            )
        )
        _run_on_ray(
            job,
            batches,
            specs,
            run_fp,
            actor_options,
            plugins,
            report,
            manifest,
            say,
            progress,
        )
    report.seconds = time.perf_counter() - clock
    manifest.finish(report)
    return report


def technique_spec(technique, taxonomy: Taxonomy) -> TechniqueSpec:
    """The identity of a technique's predictions, computed as core.engine computes it."""
    from core.engine import technique_cache_key

    config_hash = technique.config_hash(taxonomy)
    info = technique.model_info()  # may load the model: its revision is part of the key
    return TechniqueSpec(
        name=technique.name,
        config=technique.config(),
        config_hash=config_hash,
        cache_key=technique_cache_key(config_hash, info),
        model_id=info.model_id,
        model_revision=info.revision,
    )


# --- checks and settings ----------------------------------------------------------------------


def _check_job(job: RayJob, project) -> None:
    if not job.techniques:
        raise ValueError("choose at least one technique (-t rules -t embeddings ...)")
    if not job.taxonomy.labels:
        raise ValueError(
            "the taxonomy has no labels: pass --taxonomy FILE, or --project with a project "
            "that has labels"
        )
    if job.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {job.batch_size}")
    if job.num_actors is not None and job.num_actors < 1:
        raise ValueError(f"--num-actors must be at least 1, got {job.num_actors}")
    if job.num_gpus_per_actor is not None and job.num_gpus_per_actor < 0:
        raise ValueError(f"--num-gpus-per-actor must be >= 0, got {job.num_gpus_per_actor}")
    if job.num_cpus_per_actor <= 0:
        raise ValueError(f"--num-cpus-per-actor must be > 0, got {job.num_cpus_per_actor}")
    if not job.inputs and project is None:
        raise ValueError("say what to classify: --input FILES_OR_FOLDER, or --project NAME")


def _ingest_settings(options: IngestOptions) -> dict[str, Any]:
    """The ingest options that change documents (limits only reject; they are not included)."""
    settings = asdict(options)
    settings.pop("limits", None)
    return settings


def _actor_options(options: dict, techniques) -> dict:
    """Options for the actors' build_techniques: what the driver read from the store travels."""
    actor_options = {name: dict(values) for name, values in options.items()}
    for technique in techniques:
        if technique.name == "supervised":  # the trained model the driver loaded from the store
            actor_options.setdefault("supervised", {})["trained"] = technique.trained
    return actor_options


# --- running on Ray ---------------------------------------------------------------------------


def _run_on_ray(
    job, batches, specs, run_fp, actor_options, plugins, report, manifest, say, progress
) -> None:
    import ray
    from tqdm import tqdm

    started_here = False
    if not ray.is_initialized():
        ray.init(**_init_kwargs(job, plugins))
        started_here = True
    data_context = ray.data.DataContext.get_current()
    saved = (data_context.enable_progress_bars, data_context.print_on_execution_start)
    data_context.enable_progress_bars = False  # one bar of ours instead of one per operator
    data_context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    collector = _Collector(batches, specs, run_fp, job.batch_size, report, manifest)
    try:
        blocks = _blocks(batches, job.batch_size)
        resources = ray.cluster_resources()
        gpus, actors = _actor_resources(job, resources, len(blocks))
        say(
            f"classifying {collector.total_documents} documents from {len(batches)} input(s) "
            f"on Ray: {actors} actor(s), {gpus:g} GPU and {job.num_cpus_per_actor:g} CPU each, "
            f"{len(blocks)} batch(es) of up to {job.batch_size}"
        )
        dataset = ray.data.from_pandas(blocks).map_batches(
            TechniqueActor,
            fn_constructor_kwargs={
                "techniques": list(job.techniques),
                "multi_label": job.multi_label,
                "options": actor_options,
                "device": job.device,
                "precision": job.precision,
                "taxonomy": job.taxonomy.to_dict(),
                "expected_cache_keys": {spec.name: spec.cache_key for spec in specs},
                "plugin_modules": plugins,
            },
            batch_format="pandas",
            # Each block is already one batch of one input (built above), so a failed batch
            # names exactly one file; batch_size=None hands whole blocks to the actor.
            batch_size=None,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_gpus=gpus,
            num_cpus=job.num_cpus_per_actor,
            runtime_env=_task_runtime_env(job, plugins),
        )
        with tqdm(
            total=collector.total_documents, unit="doc", desc="ray", disable=not progress
        ) as bar:
            collector.bar = bar
            for frame in dataset.iter_batches(batch_format="pandas", batch_size=None):
                collector.add(frame, say)
    except Exception as exc:  # the job stopped: keep what is written, name what is not
        report.job_error = _short_error(exc)
        for name in collector.unfinished():
            report.failed.setdefault(
                name, f"not finished: the Ray job stopped ({report.job_error})"
            )
    finally:
        data_context.enable_progress_bars, data_context.print_on_execution_start = saved
        if started_here:
            ray.shutdown()


def _init_kwargs(job: RayJob, plugins: Sequence[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "include_dashboard": False}
    if job.address is None:
        kwargs["num_cpus"] = os.cpu_count()
        return kwargs
    # A remote cluster gets this driver's Sift code (and plug-in packages) shipped with the
    # job, so workers run exactly the technique code the driver fingerprinted.
    kwargs["address"] = job.address
    kwargs["runtime_env"] = {"py_modules": _code_dirs(plugins)}
    return kwargs


def _code_dirs(plugins: Sequence[str]) -> list[str]:
    import core

    dirs = [str(Path(core.__file__).parent)]
    for module in plugins:
        package = sys.modules[module.split(".")[0]]
        if package.__file__ is None:  # a namespace package: no single folder to ship
            raise ValueError(
                f"plug-in {module!r} is in a namespace package; give it an __init__.py"
            )
        folder = Path(package.__file__)
        folder = folder.parent if folder.name == "__init__.py" else folder
        if str(folder) not in dirs:
            dirs.append(str(folder))
    return dirs


def _task_runtime_env(job: RayJob, plugins: Sequence[str]) -> dict[str, Any]:
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    if job.address is None:  # same machine: put the driver's code folders on the path
        roots = [str(Path(d).parent) for d in _code_dirs(plugins)]
        existing = os.environ.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(roots + ([existing] if existing else [])))
    return {"env_vars": env}


def _actor_resources(job: RayJob, resources: dict, n_blocks: int) -> tuple[float, int]:
    """-> (GPUs per actor, number of actors) for this cluster."""
    cluster_gpus = float(resources.get("GPU", 0))
    gpus = job.num_gpus_per_actor
    if gpus is None:
        gpus = 1.0 if cluster_gpus >= 1 else 0.0
    if job.num_actors is not None:
        actors = job.num_actors
    elif gpus > 0:
        actors = max(1, int(cluster_gpus // gpus))
    else:
        actors = max(1, int(float(resources.get("CPU", 1)) // job.num_cpus_per_actor))
    return gpus, max(1, min(actors, n_blocks))  # more actors than batches would sit idle


def _blocks(batches, batch_size: int):
    """One pandas block per (input, batch): documents longest first, like the local engine."""
    import pandas as pd

    blocks = []
    for file_index, (batch, _fp, _path) in enumerate(batches):
        documents = sorted(batch.documents, key=lambda doc: len(doc.text), reverse=True)
        for batch_index, start in enumerate(range(0, len(documents), batch_size)):
            chunk = documents[start : start + batch_size]
            blocks.append(
                pd.DataFrame(
                    {
                        FILE_COLUMN: [file_index] * len(chunk),
                        BATCH_COLUMN: [batch_index] * len(chunk),
                        "document_id": [doc.id for doc in chunk],
                        "text": [doc.text for doc in chunk],
                    }
                )
            )
    return blocks


def _short_error(exc: BaseException) -> str:
    """Ray wraps worker errors in long tracebacks; keep the last line that names the error."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return f"{type(exc).__name__}: {last}" if last else type(exc).__name__


def _tqdm_echo(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr if message.startswith("FAILED") else sys.stdout)


# --- collecting results -----------------------------------------------------------------------


class _Collector:
    """Gathers result rows per input; writes an input's file once all its rows have arrived."""

    def __init__(self, batches, specs, run_fp, batch_size, report, manifest) -> None:
        self.batches = batches
        self.specs = {spec.name: spec for spec in specs}
        self.order = [spec.name for spec in specs]
        self.run_fp = run_fp
        self.batch_size = batch_size
        self.report = report
        self.manifest = manifest
        self.expected = [len(batch.documents) * len(specs) for batch, _, _ in batches]
        self.frames: dict[int, list] = {index: [] for index in range(len(batches))}
        self.received = [0] * len(batches)
        self.done: set[int] = set()
        self.total_documents = sum(len(batch.documents) for batch, _, _ in batches)
        self.bar: tqdm | None = None  # _run_on_ray's progress bar while it collects

    def add(self, frame, say) -> None:
        for file_index, part in frame.groupby(FILE_COLUMN, sort=False):
            file_index = int(file_index)
            self.frames[file_index].append(part)
            self.received[file_index] += len(part)
            if self.bar is not None:
                self.bar.update(len(part) // len(self.order))
            if self.received[file_index] >= self.expected[file_index]:
                self._finish(file_index, say)

    def unfinished(self) -> list[str]:
        return [
            batch.source.name
            for index, (batch, _, _) in enumerate(self.batches)
            if index not in self.done
        ]

    def _finish(self, file_index: int, say) -> None:
        import pandas as pd

        self.done.add(file_index)
        batch, file_fp, path = self.batches[file_index]
        rows = pd.concat(self.frames.pop(file_index), ignore_index=True)
        errors = rows[rows["error"].notna()]
        if len(errors):
            self.report.failed[batch.source.name] = self._describe_failure(batch, errors)
            say(f"FAILED {batch.source.name}: {self.report.failed[batch.source.name]}")
            return
        columns, per_technique = self._columns(batch, rows)
        footer = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "fingerprint": file_fp,
            "run_fingerprint": self.run_fp,
            "input": {
                "name": batch.source.name,
                "key": batch.source.key,
                "filename": batch.filename,
                "format": batch.format,
                "encoding": batch.encoding,
                "sha256": batch.sha256,
                "n_documents": len(batch.documents),
                "duplicates_in_file": batch.duplicates_in_file,
            },
            "techniques": per_technique,
            "n_predictions": len(columns["document_id"]),
            "written_at": utc_now(),
        }
        write_output(path, columns, footer)
        self.report.written.append(path.name)
        self.report.n_documents += len(batch.documents)
        self.report.n_predictions += len(columns["document_id"])
        self.manifest.footers[path.name] = footer
        self.manifest.save_now_and_then(self.report)
        say(
            f"wrote {path.name}: {len(batch.documents)} documents from {batch.source.name} "
            f"({len(self.done)} of {len(self.batches)} inputs done)"
        )

    def _describe_failure(self, batch: InputBatch, errors) -> str:
        first = errors.sort_values(BATCH_COLUMN).iloc[0]
        index = int(first[BATCH_COLUMN])
        n = len(batch.documents)
        n_batches = -(-n // self.batch_size)
        start, end = index * self.batch_size + 1, min((index + 1) * self.batch_size, n)
        failed_batches = errors[BATCH_COLUMN].nunique()
        more = f" ({failed_batches} batches failed)" if failed_batches > 1 else ""
        return (
            f"batch {index + 1} of {n_batches} (documents {start}-{end} of {n}, longest first) "
            f"failed{more}: {first['error']}"
        )

    def _columns(self, batch: InputBatch, rows) -> tuple[dict[str, list], dict[str, dict]]:
        """Result rows + the driver's document fields -> output columns in file order."""
        import json

        by_key = {
            (doc_id, technique): index
            for index, (doc_id, technique) in enumerate(zip(rows["document_id"], rows["technique"]))
        }
        records = rows.to_dict("list")
        columns: dict[str, list] = {name: [] for name in _OUTPUT_FIELDS}
        per_technique: dict[str, dict] = {}
        for doc in batch.documents:
            for name in self.order:
                spec = self.specs[name]
                i = by_key[(doc.id, name)]
                columns["document_id"].append(doc.id)
                columns["text"].append(doc.text)
                columns["n_chars"].append(len(doc.text))
                columns["source"].append(doc.source)
                columns["location"].append(doc.location)
                columns["external_id"].append(doc.external_id)
                columns["gold_labels"].append(json.dumps(list(doc.gold_labels)))
                columns["meta"].append(json.dumps(doc.meta, default=str))
                columns["technique"].append(name)
                columns["cache_key"].append(spec.cache_key)
                columns["config_hash"].append(spec.config_hash)
                columns["model_id"].append(spec.model_id)
                columns["model_revision"].append(spec.model_revision)
                for field_name in ("device", "dtype", "scores", "evidence", "summary"):
                    columns[field_name].append(_text_or_none(records[field_name][i]))
                columns["compute_seconds"].append(float(records["compute_seconds"][i]))
                seen = per_technique.setdefault(
                    name,
                    {"cache_key": spec.cache_key, "devices": [], "dtypes": [], "seconds": 0.0},
                )
                if records["device"][i] not in seen["devices"]:
                    seen["devices"].append(records["device"][i])
                if records["dtype"][i] not in seen["dtypes"]:
                    seen["dtypes"].append(records["dtype"][i])
                seen["seconds"] += float(records["compute_seconds"][i])
        return columns, per_technique


def _text_or_none(value) -> str | None:
    """Arrow/pandas may hand a missing string back as NaN; the output wants None."""
    return value if isinstance(value, str) else None


_OUTPUT_FIELDS = (
    "document_id",
    "text",
    "n_chars",
    "source",
    "location",
    "external_id",
    "gold_labels",
    "meta",
    "technique",
    "cache_key",
    "config_hash",
    "model_id",
    "model_revision",
    "device",
    "dtype",
    "scores",
    "evidence",
    "summary",
    "compute_seconds",
)


# --- the manifest ------------------------------------------------------------------------------


class _Manifest:
    """`_run.json`: the run's settings, every finished output's input, failures and counts."""

    def __init__(self, output, previous, job, specs, run_fp, ingest, started_at, sources) -> None:
        self.path = Path(output) / MANIFEST_NAME
        self.output = Path(output)
        self.job = job
        self.specs = specs
        self.run_fp = run_fp
        self.ingest = ingest
        self.started_at = started_at
        self.sources = sources
        # Outputs listed by earlier runs into this folder (other inputs) stay listed.
        self.footers: dict[str, dict] = {}
        for name, entry in ((previous or {}).get("files") or {}).items():
            if (self.output / name).is_file() and "footer" in entry:
                self.footers[name] = entry["footer"]
        self._saved_at = 0.0

    def save_now_and_then(self, report: RayReport) -> None:
        if time.monotonic() - self._saved_at >= MANIFEST_EVERY_S:
            self._write(report, status="running", finished_at=None)

    def finish(self, report: RayReport) -> None:
        status = "failed" if report.job_error else "partial" if report.failed else "finished"
        self._write(report, status=status, finished_at=utc_now())

    def _write(self, report: RayReport, *, status: str, finished_at: str | None) -> None:
        techniques = []
        for spec in self.specs:
            devices, dtypes = [], []
            for footer in self.footers.values():
                seen = footer.get("techniques", {}).get(spec.name, {})
                devices += [d for d in seen.get("devices", []) if d not in devices]
                dtypes += [d for d in seen.get("dtypes", []) if d not in dtypes]
            techniques.append({**spec.to_dict(), "devices": devices, "dtypes": dtypes})
        job = self.job
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "run_fingerprint": self.run_fp,
            "status": status,
            "started_at": self.started_at,
            "finished_at": finished_at,
            "seconds": round(report.seconds, 3),
            "taxonomy": job.taxonomy.to_dict(),
            "multi_label": job.multi_label,
            "techniques": techniques,
            "ingest": self.ingest,
            "inputs": list(job.inputs),
            "ray": {
                "version": _ray_version(),
                "address": job.address,
                "num_actors": job.num_actors,
                "num_gpus_per_actor": job.num_gpus_per_actor,
                "num_cpus_per_actor": job.num_cpus_per_actor,
                "batch_size": job.batch_size,
            },
            "files": {
                name: {"input": footer["input"]["name"], "footer": footer}
                for name, footer in sorted(self.footers.items())
            },
            "failed": dict(sorted(report.failed.items())),
            "job_error": report.job_error,
            "counts": {
                "inputs": len(self.sources),
                "written": len(report.written),
                "resumed": len(report.resumed),
                "failed": len(report.failed),
                "documents": report.n_documents,
                "predictions": report.n_predictions,
                "outputs_in_folder": len(self.footers),
            },
        }
        write_json_atomic(self.path, manifest)
        self._saved_at = time.monotonic()


def _ray_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("ray")
    except Exception:  # noqa: BLE001 - Ray missing is fine for the manifest
        return None
