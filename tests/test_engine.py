"""Engine: cache, resume, cancellation and the run log, against a real SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from core.documents import Document
from core.engine import CancelToken, cache_key, run_techniques
from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique, register
from core.techniques.base import Technique, TextResult

TAXONOMY = Taxonomy(
    labels=(
        Label(name="billing", keywords=(Keyword("invoice"), Keyword("refund"))),
        Label(name="shipping", keywords=(Keyword("parcel"), Keyword("delivery"))),
    )
)


@register
class CountingTechnique(Technique):
    """A plug-in registered the same way as built-ins; counts the texts it computes.

    `fail_after` is a class attribute, not an option, so a crashed run and its
    resumption share one config hash (as a crash does not change the config).
    """

    name = "test_counting"
    calls: list[int] = []
    fail_after: int | None = None

    def predict(self, texts, taxonomy):
        done = sum(CountingTechnique.calls)
        if CountingTechnique.fail_after is not None and done >= CountingTechnique.fail_after:
            raise RuntimeError("simulated crash")
        CountingTechnique.calls.append(len(texts))
        return [
            TextResult(scores={name: 1.0 / len(taxonomy.names) for name in taxonomy.names})
            for _ in texts
        ]


@pytest.fixture
def project(db_path):
    store = Store(db_path)
    project = store.create_project("engine")
    store.save_taxonomy(project.id, TAXONOMY)
    docs = [
        Document.from_text(f"Document {i}: the {'invoice' if i % 2 else 'parcel'} number {i}")
        for i in range(50)
    ]
    store.add_documents(
        project.id, docs, filename="docs.txt", format="txt", encoding="utf-8", sha256="x"
    )
    CountingTechnique.calls = []
    CountingTechnique.fail_after = None
    return store, project


def test_second_run_computes_nothing(project):
    store, project = project
    first = run_techniques(store, project.id, [create_technique("test_counting")], batch_size=8)
    assert first[0].n_computed == 50
    computed_before = sum(CountingTechnique.calls)
    second = run_techniques(store, project.id, [create_technique("test_counting")], batch_size=8)
    assert second[0].n_computed == 0 and second[0].n_cached == 50
    assert sum(CountingTechnique.calls) == computed_before  # no model call at all
    assert second[0].cache_key == first[0].cache_key


def test_taxonomy_change_invalidates_cache(project):
    store, project = project
    run_techniques(store, project.id, [create_technique("test_counting")])
    store.save_taxonomy(project.id, Taxonomy(labels=TAXONOMY.labels + (Label(name="other"),)))
    again = run_techniques(store, project.id, [create_technique("test_counting")])
    assert again[0].n_computed == 50


def test_crash_midway_keeps_finished_batches_and_resumes(project):
    store, project = project
    CountingTechnique.fail_after = 20
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_techniques(store, project.id, [create_technique("test_counting")], batch_size=10)
    failed = store.list_runs(project.id)[-1]
    assert failed.status == "failed" and failed.n_computed == 20
    assert "simulated crash" in failed.error
    CountingTechnique.fail_after = None
    resumed = run_techniques(store, project.id, [create_technique("test_counting")], batch_size=10)
    assert resumed[0].n_cached == 20 and resumed[0].n_computed == 30
    assert sum(CountingTechnique.calls) == 50  # nothing computed twice


def test_cancel_keeps_finished_batches_and_resume_completes(project, tmp_path):
    store, project = project
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p)
        if p.computed >= 10:
            token.cancel()

    outcome = run_techniques(
        store,
        project.id,
        [create_technique("lexicon")],
        batch_size=10,
        progress=progress,
        cancel=token,
    )[0]
    assert outcome.status == "cancelled" and outcome.n_computed == 10
    resumed = run_techniques(store, project.id, [create_technique("lexicon")], batch_size=10)[0]
    assert resumed.n_cached == 10 and resumed.n_computed == 40

    # Same predictions as an uninterrupted run in a fresh DB.
    fresh = Store(tmp_path / "fresh.db")
    other = fresh.create_project("engine")
    fresh.save_taxonomy(other.id, TAXONOMY)
    fresh.add_documents(
        other.id,
        store.get_documents(project.id),
        filename="docs.txt",
        format="txt",
        encoding="utf-8",
        sha256="x",
    )
    full = run_techniques(fresh, other.id, [create_technique("lexicon")], batch_size=10)[0]
    assert full.cache_key == resumed.cache_key
    assert fresh.get_predictions(other.id, full.cache_key) == store.get_predictions(
        project.id, resumed.cache_key
    )


def test_progress_reports_rate_and_eta(project):
    store, project = project
    seen = []
    run_techniques(
        store, project.id, [create_technique("lexicon")], batch_size=25, progress=seen.append
    )
    assert [p.done for p in seen] == [0, 25, 50]
    assert all(p.total == 50 for p in seen)
    assert seen[-1].eta_s == 0 or seen[-1].eta_s is None or seen[-1].eta_s < 1e-9


def test_run_log_records_technique_config_and_model(project):
    store, project = project
    outcome = run_techniques(store, project.id, [create_technique("rules")])[0]
    run = next(r for r in store.list_runs(project.id) if r.id == outcome.run_id)
    assert run.technique == "rules" and run.status == "finished"
    assert run.cache_key == outcome.cache_key == cache_key(run.config_hash, run.model_revision)
    assert run.n_documents == 50 and run.device == "cpu"


def test_kill_9_midway_then_resume(tmp_path):
    """`kill -9` of `python -m core classify` mid-run: no partial batch; the run resumes."""
    db = tmp_path / "kill.db"
    store = Store(db)
    project = store.create_project("kill")
    store.save_taxonomy(project.id, TAXONOMY)
    text = " ".join(
        ["invoice refund parcel delivery"] * 400
    )  # long texts: each batch takes a while
    docs = [Document.from_text(f"{i} {text}") for i in range(3000)]
    store.add_documents(
        project.id, docs, filename="big.txt", format="txt", encoding="utf-8", sha256="y"
    )
    env = {**os.environ, "SIFT_DB": str(db)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core",
            "classify",
            "kill",
            "-t",
            "lexicon",
            "--batch-size",
            "50",
            "-q",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    key = None
    while time.monotonic() < deadline:
        runs = store.list_runs(project.id)
        if runs:
            key = runs[-1].cache_key
            if len(store.cached_document_ids(project.id, key)) >= 100:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert key is not None, proc.stderr.read().decode()
    done = len(store.cached_document_ids(project.id, key))
    assert done % 50 == 0 and 0 < done < 3000  # whole batches only
    assert store.integrity_check() == "ok"
    [killed] = store.list_runs(project.id)
    assert killed.status == "running"  # the store cannot know yet that nobody will finish it
    assert store.abandoned_run_ids(project.id) == [killed.id]
    resumed = run_techniques(store, project.id, [create_technique("lexicon")], batch_size=50)[0]
    assert resumed.n_cached == done and resumed.n_computed == 3000 - done
    killed = store.get_run(killed.id)
    assert (killed.status, killed.n_computed) == ("failed", done)
    assert "interrupted" in killed.error and str(proc.pid) in killed.error
    assert store.abandoned_run_ids(project.id) == []
