"""The Ray Data actor: the local techniques, built once per worker, applied to batches.

No technique logic lives here. The actor builds its techniques with the same
`core.techniques.build.build_techniques` the local command uses, checks that each one's cache
key equals the driver's (same config, taxonomy and model weights on this worker), then calls
`technique.predict(texts, taxonomy)` per batch and serialises the results as the store does.

A batch whose technique raises is not fatal to the run: its rows come back with `error` set
and the driver reports the file and batch by name, while the other files carry on.
"""

from __future__ import annotations

import importlib
import json
import logging
import socket
import time
import traceback
from typing import Any

log = logging.getLogger(__name__)

# Columns the driver puts in every input block.
FILE_COLUMN, BATCH_COLUMN = "_file", "_batch"
# Columns of every output block (one row per document and technique).
RESULT_COLUMNS = (
    FILE_COLUMN,
    BATCH_COLUMN,
    "document_id",
    "technique",
    "scores",
    "evidence",
    "summary",
    "device",
    "dtype",
    "compute_seconds",
    "error",
)


class WorkerMismatchError(RuntimeError):
    """A worker would compute different predictions than the driver expects."""


class TechniqueActor:
    """Callable class for `Dataset.map_batches`: one instance per actor, models loaded once."""

    def __init__(
        self,
        *,
        techniques: list[str],
        multi_label: bool,
        options: dict[str, dict[str, Any]],
        device: str | None,
        precision: str | None,
        taxonomy: dict,
        expected_cache_keys: dict[str, str],
        plugin_modules: tuple[str, ...] = (),
    ) -> None:
        from core.engine import technique_cache_key
        from core.taxonomy import Taxonomy
        from core.techniques.build import build_techniques

        # Plug-in techniques register themselves when their module is imported.
        for module in plugin_modules:
            importlib.import_module(module)
        self.host = socket.gethostname()
        self.taxonomy = Taxonomy.from_dict(taxonomy)
        self.techniques = build_techniques(
            techniques, multi_label=multi_label, options=options, device=device, precision=precision
        )
        self.model_info = {}
        for technique in self.techniques:
            info = technique.model_info()  # loads the model, once per actor
            key = technique_cache_key(technique.config_hash(self.taxonomy), info)
            expected = expected_cache_keys[technique.name]
            if key != expected:
                raise WorkerMismatchError(
                    f"worker {self.host}: technique {technique.name!r} has cache key {key} "
                    f"(model {info.model_id!r} revision {info.revision!r}, {info.dtype or 'no'}"
                    f" dtype on {info.device}) but the driver computed {expected}; the worker "
                    "has different model files, Sift code, or runs another precision (with "
                    "--precision auto a GPU worker runs bf16 while a CPU driver expects fp32: "
                    "pass --precision explicitly). Install the same model and Sift version on "
                    "every node."
                )
            self.model_info[technique.name] = info

    def __call__(self, batch):
        """DataFrame (_file, _batch, document_id, text) -> one row per document and technique."""
        import pandas as pd

        from core.engine import predict_batch

        texts = batch["text"].tolist()
        rows: dict[str, list] = {column: [] for column in RESULT_COLUMNS}
        for technique in self.techniques:
            info = self.model_info[technique.name]
            started = time.perf_counter()
            try:
                results = predict_batch(technique, texts, self.taxonomy)
                encoded = [_encode(result) for result in results]
                error = None
            except Exception as exc:  # reported per file and batch by the driver
                log.error(
                    "technique %s failed on %s:\n%s",
                    technique.name,
                    self.host,
                    traceback.format_exc(),
                )
                encoded = [(None, "[]", None)] * len(texts)
                error = (
                    f"technique {technique.name!r} failed on worker {self.host}: "
                    f"{type(exc).__name__}: {exc}"
                )
            share = (time.perf_counter() - started) / max(len(texts), 1)
            for (scores, evidence, summary), file_index, batch_index, doc_id in zip(
                encoded, batch[FILE_COLUMN], batch[BATCH_COLUMN], batch["document_id"]
            ):
                rows[FILE_COLUMN].append(int(file_index))
                rows[BATCH_COLUMN].append(int(batch_index))
                rows["document_id"].append(doc_id)
                rows["technique"].append(technique.name)
                rows["scores"].append(scores)
                rows["evidence"].append(evidence)
                rows["summary"].append(summary)
                rows["device"].append(info.device)
                rows["dtype"].append(info.dtype)
                rows["compute_seconds"].append(share)
                rows["error"].append(error)
        return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _encode(result) -> tuple[str | None, str, str | None]:
    """TextResult -> (scores JSON or None for abstain, evidence JSON, summary), as stored."""
    data = result.to_json()
    scores = data["scores"]
    # allow_nan=False: a NaN score fails here, naming the batch, not later in the store.
    scores_json = None if scores is None else json.dumps(scores, allow_nan=False)
    return scores_json, json.dumps(data["evidence"]), data["summary"]
