"""Several processes and threads on one database file at once: no errors, no lost writes."""

import multiprocessing
import threading
import traceback
from pathlib import Path

from core.documents import Document
from core.store import Store
from core.store.migrations import MIGRATIONS
from core.taxonomy import Label, Taxonomy

LABELS = ("billing", "complaint", "praise")
N_REVIEWERS = 4
REVIEWS_EACH = 50
SPAWN = multiprocessing.get_context("spawn")


def _docs(prefix, n):
    return [Document.from_text(f"{prefix} document {i}: please check my invoice") for i in range(n)]


def _setup_project(db_path, n_docs=100):
    with Store(db_path) as store:
        project = store.create_project("shared")
        store.save_taxonomy(project.id, Taxonomy(labels=tuple(Label(n) for n in LABELS)))
        store.add_documents(
            project.id,
            _docs("first", n_docs),
            filename="first.txt",
            format="txt",
            encoding="utf-8",
            sha256="0" * 64,
        )
        return project.id, store.document_ids(project.id)


def _guarded(error_path, work, *args):
    """Process target: run work(*args); on any exception leave the traceback for the test."""
    try:
        work(*args)
    except BaseException:
        Path(error_path).write_text(traceback.format_exc())
        raise SystemExit(1) from None


def _review_many(db_path, project_id, doc_ids, reviewer, barrier):
    with Store(db_path) as store:
        barrier.wait(timeout=60)
        for i in range(REVIEWS_EACH):
            decision = "accept" if i % 2 else "correct"
            store.add_review(
                project_id,
                doc_ids[i % len(doc_ids)],
                reviewer=reviewer,
                decision=decision,
                labels=[LABELS[i % len(LABELS)]],
            )
            if i % 10 == 0:
                store.current_reviews(project_id)  # readers interleaved with writers


def _import_and_predict(db_path, project_id, barrier):
    with Store(db_path) as store:
        barrier.wait(timeout=60)
        for batch in range(3):
            store.add_documents(
                project_id,
                _docs(f"batch {batch}", 100),
                filename=f"b{batch}.txt",
                format="txt",
                encoding="utf-8",
                sha256=str(batch) * 64,
            )
        ids = store.document_ids(project_id)
        run = store.start_run(
            project_id,
            technique="lexicon",
            config_hash="c",
            config={},
            cache_key="k",
            model_id="",
            model_revision="",
            device="cpu",
            dtype="",
            n_documents=len(ids),
        )
        for start in range(0, len(ids), 50):
            rows = [
                (d, {"scores": {"billing": 1.0}, "evidence": []}) for d in ids[start : start + 50]
            ]
            store.write_predictions(project_id, run, "k", "lexicon", rows)
        store.finish_run(run, status="finished", n_computed=len(ids), n_cached=0, seconds=1.0)


def _open_fresh(db_path, barrier):
    barrier.wait(timeout=60)
    Store(db_path).close()


def _run_processes(tmp_path, jobs):
    """Start every (function, args) in its own spawned process; returns error texts."""
    processes = []
    for n, (work, args) in enumerate(jobs):
        error_path = tmp_path / f"error-{n}.txt"
        process = SPAWN.Process(target=_guarded, args=(str(error_path), work, *args))
        processes.append((process, error_path))
    for process, _ in processes:
        process.start()
    for process, _ in processes:
        process.join(timeout=120)
    errors = []
    for process, error_path in processes:
        if process.is_alive():
            process.kill()
            errors.append(f"{process.name} hung")
        elif process.exitcode != 0:
            errors.append(error_path.read_text() if error_path.exists() else process.exitcode)
    return errors


def test_processes_writing_at_once_lose_nothing(db_path, tmp_path):
    project_id, doc_ids = _setup_project(db_path)
    barrier = SPAWN.Barrier(N_REVIEWERS + 1)
    jobs = [
        (_review_many, (str(db_path), project_id, doc_ids, f"reviewer-{n}", barrier))
        for n in range(N_REVIEWERS)
    ]
    jobs.append((_import_and_predict, (str(db_path), project_id, barrier)))

    assert _run_processes(tmp_path, jobs) == []

    with Store(db_path) as store:
        assert len(store.review_history(project_id)) == N_REVIEWERS * REVIEWS_EACH
        assert store.count_documents(project_id) == len(doc_ids) + 300
        assert store.cached_document_ids(project_id, "k") == set(store.document_ids(project_id))
        assert store.integrity_check() == "ok"


def test_processes_opening_a_new_file_at_once_migrate_it_once(db_path, tmp_path):
    barrier = SPAWN.Barrier(4)
    jobs = [(_open_fresh, (str(db_path), barrier)) for _ in range(4)]

    assert _run_processes(tmp_path, jobs) == []

    with Store(db_path) as store:
        assert store.applied_migrations() == [fn.__name__ for fn in MIGRATIONS]
        assert store.integrity_check() == "ok"


def test_one_store_shared_by_threads(db_path):
    project_id, doc_ids = _setup_project(db_path)
    errors = []
    with Store(db_path) as store:

        def work(reviewer):
            try:
                for i in range(25):
                    store.add_review(
                        project_id,
                        doc_ids[i],
                        reviewer=reviewer,
                        decision="accept",
                        labels=[LABELS[i % len(LABELS)]],
                    )
                    store.current_reviews(project_id)
                    store.get_documents(project_id, doc_ids[i : i + 5])
            except BaseException:
                errors.append(traceback.format_exc())

        threads = [threading.Thread(target=work, args=(f"r{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert errors == []
        assert len(store.review_history(project_id)) == 100
        assert len(store.current_reviews(project_id)) == 25


def test_backup_while_another_connection_writes(db_path, tmp_path):
    project_id, doc_ids = _setup_project(db_path)
    stop = threading.Event()
    written = []
    errors = []

    def keep_writing():
        try:
            with Store(db_path) as writer:
                while not stop.is_set():
                    i = len(written)
                    writer.add_review(
                        project_id,
                        doc_ids[i % len(doc_ids)],
                        reviewer="w",
                        decision="accept",
                        labels=[LABELS[i % len(LABELS)]],
                    )
                    written.append(i)
        except BaseException:
            errors.append(traceback.format_exc())

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        with Store(db_path) as store:
            copies = []
            for n in range(3):
                while len(written) < 20 * (n + 1) and thread.is_alive():  # writes between copies
                    stop.wait(0.01)
                copies.append(store.backup(tmp_path / f"copy-{n}.db"))
    finally:
        stop.set()
        thread.join(timeout=60)

    assert errors == []
    counts = []
    for copy_path in copies:
        with Store(copy_path) as copy:
            assert copy.integrity_check() == "ok"
            assert [p.name for p in copy.list_projects()] == ["shared"]
            counts.append(len(copy.review_history(project_id)))
    assert counts == sorted(counts)
    assert 0 < counts[-1] <= len(written)
