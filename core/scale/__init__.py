"""Batch classification on Ray Data: the local techniques, on many workers, same results.

    python -m core classify --engine ray --input data/ --taxonomy labels.yaml \
        -t rules -t embeddings --output out/
    python -m core import-predictions PROJECT out/

Modules: inputs (files or a project -> documents, parsed as a local import), layout (the
output folder: Parquet per input, `_run.json`, fingerprints, atomic writes), actor (the Ray
Data actor: builds the techniques once, predicts batches), ray_job (the driver: what is left
to do, running it, collecting and writing), importer (output folder -> a project's store).
The command-line side lives in core.cli.ray. Ray itself is imported only when a job runs.
"""

from __future__ import annotations

from core.scale.importer import ImportMismatchError, ImportReport, import_predictions
from core.scale.layout import MANIFEST_NAME, OutputFolderError
from core.scale.ray_job import RayJob, RayReport, run_ray_job

__all__ = [
    "MANIFEST_NAME",
    "ImportMismatchError",
    "ImportReport",
    "OutputFolderError",
    "RayJob",
    "RayReport",
    "import_predictions",
    "run_ray_job",
]
