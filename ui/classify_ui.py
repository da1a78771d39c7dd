"""The Classify page's blocks: technique choices and a cancellable background run.

Streamlit reruns the page script on every click, so a run that must survive
clicks (Cancel among them) cannot live inside the script. `start_job` runs
core.engine in a background thread and keeps a `ClassifyJob` in the session:
the thread writes progress into it, the page polls it with a fragment that
reruns every half second, and Cancel sets the job's CancelToken (the engine
checks it between batches, keeping every finished batch).

A running job is also registered per (database, project) for the whole server, so a
reload, another tab or a colleague opening Classify sees the run in progress (and can
cancel it) instead of starting a second one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from core.engine import CancelToken, Progress, RunOutcome, run_techniques
from core.models.loading import ModelLoadError
from core.predictions import Coverage, load_predictions, suggestion_coverage
from core.techniques import UnknownTechniqueError
from core.techniques.build import build_techniques
from ui.background import leave_a_core_for_the_pages
from ui.markdown import md

log = logging.getLogger(__name__)

JOB = "_classify_job"  # the session's ClassifyJob (running or last finished)
START_ERROR = "_classify_start_error"  # why the last Run click could not start, shown once
SETTINGS_FOR = "_classify_settings_for"  # project id the settings widgets were filled from
MULTI_LABEL = "classify_multi_label"
THRESHOLD = "classify_threshold"
POLL_SECONDS = 0.5

# (database path, project id) -> the job running there, across sessions; removed when done
_RUNNING: dict[tuple[str, int], ClassifyJob] = {}
_RUNNING_LOCK = threading.Lock()


@dataclass
class ClassifyJob:
    """One run of several techniques, shared between the worker thread and the page."""

    project_id: int
    techniques: list[str]
    database: str = ""  # the store's path: with project_id, the key in _RUNNING
    token: CancelToken = field(default_factory=CancelToken)
    progress: Progress | None = None  # latest report from the engine
    outcomes: list[RunOutcome] = field(default_factory=list)
    error: str | None = None  # why the run stopped early, for the user
    failed_technique: str | None = None
    done: bool = False
    coverage: Coverage | None = None  # what the suggestions cover once it finished (read once)
    started: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return not self.done

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def cancel(self) -> None:
        self.token.cancel()


def run_job(job: ClassifyJob, store, techniques: Sequence, batch_size: int) -> None:
    """The worker: runs each technique in turn, recording outcomes as they finish."""
    try:
        for technique in techniques:
            if job.token.cancelled:
                break
            job.progress = None
            try:
                job.outcomes.extend(
                    run_techniques(
                        store,
                        job.project_id,
                        [technique],
                        batch_size=batch_size,
                        progress=lambda progress: setattr(job, "progress", progress),
                        cancel=job.token,
                    )
                )
            except Exception as error:  # shown to the user; the run log records it too
                if isinstance(error, ModelLoadError | ValueError):  # the message says the fix
                    log.warning("classify: %s failed: %s", technique.name, error)
                else:  # unexpected: keep the traceback in the server log
                    log.exception("classify: %s failed", technique.name)
                job.failed_technique = technique.name
                job.error = f"{technique.name}: {type(error).__name__}: {error}"
                break
    finally:
        job.done = True
        with _RUNNING_LOCK:
            if _RUNNING.get((job.database, job.project_id)) is job:
                del _RUNNING[(job.database, job.project_id)]


def start_job(store, project_id: int, techniques: Sequence, *, batch_size: int) -> ClassifyJob:
    leave_a_core_for_the_pages()
    job = ClassifyJob(
        project_id=project_id, techniques=[t.name for t in techniques], database=str(store.path)
    )
    job.thread = threading.Thread(
        target=run_job,
        args=(job, store, list(techniques), batch_size),
        name=f"sift-classify-{project_id}",
        daemon=True,  # a server shutdown does not wait; finished batches are already stored
    )
    st.session_state[JOB] = job
    with _RUNNING_LOCK:
        _RUNNING[(job.database, project_id)] = job
    job.thread.start()
    return job


def start_from_choices(
    store,
    project_id: int,
    names: Sequence[str],
    *,
    multi_label: bool,
    options: dict,
    device: str,
    precision: str,
    batch_size: int,
) -> bool:
    """Build the techniques and start the job (True), or leave an error to show (False)."""
    st.session_state.pop(START_ERROR, None)
    job = current_job(store, project_id)
    if job is not None and job.running:  # a second click, or a run from another session
        return False
    try:
        techniques = build_techniques(
            list(names),
            multi_label=multi_label,
            options=options,
            device=device,
            precision=precision,
            store=store,
            project_id=project_id,
        )
    except (ValueError, UnknownTechniqueError, ModelLoadError) as error:
        st.session_state[START_ERROR] = f"Cannot start: {error}"
        return False
    start_job(store, project_id, techniques, batch_size=batch_size)
    return True


def show_start_error() -> None:
    message = st.session_state.pop(START_ERROR, None)
    if message:
        st.error(md(message), icon=":material/error:")


def current_job(store, project_id: int) -> ClassifyJob | None:
    """This session's last job on the project, or the run another session started there
    while it is running (adopted into this session, so its outcome shows here too)."""
    job = st.session_state.get(JOB)
    mine = job if job is not None and job.project_id == project_id else None
    if mine is not None and mine.running:
        return mine
    with _RUNNING_LOCK:
        elsewhere = _RUNNING.get((str(store.path), project_id))
    if elsewhere is not None and not elsewhere.done:
        st.session_state[JOB] = elsewhere
        return elsewhere
    return mine


def _cancel(job: ClassifyJob) -> None:
    job.cancel()
    st.toast("Cancelling: the batch in progress finishes first; finished batches are kept.")


# --- rendering --------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(job: ClassifyJob) -> tuple[float, str]:
    """(fraction done of the current technique, a line saying where the run is)."""
    position = min(len(job.outcomes) + 1, len(job.techniques))
    progress = job.progress
    if progress is None:
        name = job.techniques[position - 1] if job.techniques else "…"
        return 0.0, f"{name} ({position} of {len(job.techniques)}): loading…"
    fraction = progress.done / progress.total if progress.total else 1.0
    text = (
        f"{progress.technique} ({position} of {len(job.techniques)}): "
        f"{progress.done:,} of {progress.total:,} documents"
    )
    if progress.cached:
        text += f" ({progress.cached:,} from the cache)"
    if progress.computed:
        text += f" · {progress.docs_per_s:.1f} documents/s · ETA {_duration(progress.eta_s)}"
    return fraction, text


def render_running(job: ClassifyJob) -> None:
    """Progress bar and Cancel for a running job (drawn inside the polling fragment)."""
    fraction, text = progress_text(job)
    st.caption(f"Running: {', '.join(job.techniques)}.")
    st.progress(min(max(fraction, 0.0), 1.0), text=text)
    if job.cancelled:
        st.warning(
            "Cancelling: the batch in progress finishes first (a slow model can take a while "
            "on one batch); finished batches are kept.",
            icon=":material/hourglass_top:",
        )
    else:
        st.button(
            "Cancel", key="classify_cancel", icon=":material/stop:", on_click=_cancel, args=(job,)
        )


def outcomes_table(outcomes: Sequence[RunOutcome]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Technique": outcome.technique,
                "Status": outcome.status,
                "Documents": outcome.n_documents,
                "Computed": outcome.n_computed,
                "From cache": outcome.n_cached,
                "Seconds": round(outcome.seconds, 2),
                "Precision": outcome.dtype_reason or outcome.dtype or "—",
            }
            for outcome in outcomes
        ]
    )


def outcome_message(outcome: RunOutcome) -> str:
    """One line per technique: computed, answered from the cache, or cancelled part-way."""
    if outcome.status == "cancelled":
        return (
            f"{outcome.technique}: cancelled after {outcome.n_computed:,} new documents "
            f"({outcome.n_cached:,} were cached); the next run continues from there."
        )
    if outcome.n_computed == 0:
        return (
            f"{outcome.technique}: answered from the cache — all {outcome.n_cached:,} "
            "documents were already classified with these settings."
        )
    cached = f", {outcome.n_cached:,} from the cache" if outcome.n_cached else ""
    rate = outcome.n_computed / outcome.seconds if outcome.seconds > 0 else 0.0
    return (
        f"{outcome.technique}: computed {outcome.n_computed:,} documents{cached} "
        f"in {_duration(outcome.seconds)} ({rate:.1f} documents/s)."
    )


def render_finished(job: ClassifyJob, store) -> None:
    """What the last run did, per technique, its error if one stopped it, and how many
    documents now have a suggestion (a run where every technique abstained says so)."""
    if job.error:
        st.error(f"The run stopped: {md(job.error)}", icon=":material/error:")
    if job.cancelled:
        st.warning("The run was cancelled; finished batches are kept.", icon=":material/stop:")
    for outcome in job.outcomes:
        message = outcome_message(outcome)
        if outcome.status == "cancelled":
            st.warning(message, icon=":material/stop:")
        elif outcome.n_computed == 0:
            st.success(message, icon=":material/cached:")
        else:
            st.success(message, icon=":material/check_circle:")
    skipped = job.techniques[len(job.outcomes) + (1 if job.failed_technique else 0) :]
    if skipped:
        st.caption(f"Not run: {', '.join(skipped)}.")
    if job.outcomes:
        st.dataframe(outcomes_table(job.outcomes), hide_index=True, key="classify_outcomes")
        if job.coverage is None:
            job.coverage = suggestion_coverage(load_predictions(store, job.project_id))
        if job.coverage.nothing_suggested:
            st.warning(md(job.coverage.summary().capitalize()), icon=":material/block:")
        else:
            st.caption(md(job.coverage.summary()) + ".")
