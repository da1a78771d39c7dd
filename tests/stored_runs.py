"""One finished run of a technique written straight into a store, as the engine would write it."""

from __future__ import annotations


def store_run(store, project_id: int, technique: str, rows: list[tuple[str, dict]], key: str):
    """rows: (document id, TextResult JSON); returns the run's id."""
    run_id = store.start_run(
        project_id,
        technique=technique,
        config_hash=key,
        config={},
        cache_key=key,
        model_id="",
        model_revision="",
        device="cpu",
        dtype="",
        n_documents=len(rows),
    )
    store.write_predictions(project_id, run_id, key, technique, rows)
    store.finish_run(run_id, status="finished", n_computed=len(rows), n_cached=0, seconds=0.1)
    return run_id
