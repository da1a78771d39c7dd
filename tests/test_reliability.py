"""Reliability: concurrent reviewers, conflicting saves, kill -9 mid-write, backup and restore.

Worker processes come from a fork server that has already imported Sift, so a
worker starts in milliseconds and kills land in the middle of real work rather
than during Python start-up. The workers run the same code as the real entry
points (`core.cli.main([... "classify" ...])` is `python -m core classify`);
the real `python -m core` is also run, killed and resumed once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

from core.documents import Document
from core.store import ReviewConflict, Store
from core.taxonomy import Keyword, Label, Taxonomy

ROOT = Path(__file__).parent.parent
LABELS = ("billing", "shipping", "account")
TAXONOMY = Taxonomy(
    labels=(
        Label("billing", keywords=(Keyword("invoice"), Keyword("refund")), patterns=(r"refund",)),
        Label("shipping", keywords=(Keyword("parcel"),), patterns=(r"tracking",)),
        Label("account", keywords=(Keyword("password"),)),
    )
)

FORKSERVER = multiprocessing.get_context("forkserver")
# Imported once in the fork server; every worker forks from it with these loaded.
FORKSERVER.set_forkserver_preload(
    [
        "tests.test_reliability",
        "core.cli",
        "core.engine",
        "core.progress",
        "core.store",
        "core.techniques.rules",
        "core.techniques.lexicon",
        "core.techniques.zero_shot",
        "core.ingest.worker",  # the one fork server of this process also parses pdf/docx/eml
    ]
)


def make_project(db_path, n_docs: int) -> tuple[int, list[str]]:
    with Store(db_path) as store:
        project = store.create_project("reliability")
        store.save_taxonomy(project.id, TAXONOMY)
        documents = [
            Document.from_text(
                f"Ticket {i}: please refund invoice {i}; the parcel {i * 7} has no tracking."
            )
            for i in range(n_docs)
        ]
        store.add_documents(
            project.id,
            documents,
            filename="tickets.txt",
            format="txt",
            encoding="utf-8",
            sha256="0" * 64,
        )
        return project.id, store.document_ids(project.id)


def _guarded(error_path: str, work, *args) -> None:
    """Worker entry: run work(*args); any exception is written out for the test to show."""
    try:
        work(*args)
    except BaseException:
        Path(error_path).write_text(traceback.format_exc())
        raise SystemExit(1) from None


def run_workers(tmp_path, jobs, timeout=120) -> list[str]:
    """Run every (function, args) in its own worker process; returns the errors they hit."""
    processes = []
    for n, (work, args) in enumerate(jobs):
        error_path = tmp_path / f"error-{n}.txt"
        process = FORKSERVER.Process(target=_guarded, args=(str(error_path), work, *args))
        processes.append((process, error_path))
    for process, _ in processes:
        process.start()
    errors = []
    for process, error_path in processes:
        process.join(timeout=timeout)
        if process.is_alive():
            process.kill()
            errors.append(f"{process.name} hung")
        elif process.exitcode != 0:
            errors.append(error_path.read_text() if error_path.exists() else process.exitcode)
    return errors


# --- eight reviewers at once -----------------------------------------------------------------

N_REVIEWERS = 8
REVIEW_SECONDS = 20.0


def _review_for_a_while(db_path, project_id, doc_ids, worker, barrier, seconds, out_path):
    """Review like a person does: look at a document's current review, then save over it.

    A conflict (someone saved in between) is shown to the reviewer, who then decides
    again knowing the other review; both steps are counted.
    """
    rng = random.Random(worker)
    saved, conflicts = [], 0
    with Store(db_path) as store:
        barrier.wait(timeout=60)
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            n += 1
            document_id = rng.choice(doc_ids)
            seen = store.current_review(project_id, document_id)
            decision = rng.choice(("accept", "correct", "correct", "skip", "flag"))
            labels = [rng.choice(LABELS)] if decision in ("accept", "correct") else []
            expected = None if seen is None else seen.id
            for _attempt in range(5):
                try:
                    review = store.add_review(
                        project_id,
                        document_id,
                        reviewer=f"reviewer-{worker}",
                        decision=decision,
                        labels=labels,
                        note=f"{worker}:{n}",
                        expected_current=expected,
                    )
                except ReviewConflict as conflict:
                    conflicts += 1
                    expected = None if conflict.current is None else conflict.current.id
                    continue
                saved.append(review.id)
                break
            if n % 25 == 0:
                store.count_reviews(project_id)  # readers among the writers
                store.flagged_document_ids(project_id)
    Path(out_path).write_text(json.dumps({"saved": saved, "conflicts": conflicts}))


def test_eight_processes_reviewing_for_twenty_seconds_lose_nothing(db_path, tmp_path):
    project_id, doc_ids = make_project(db_path, 60)
    barrier = FORKSERVER.Barrier(N_REVIEWERS)
    outputs = [tmp_path / f"worker-{n}.json" for n in range(N_REVIEWERS)]
    jobs = [
        (
            _review_for_a_while,
            (str(db_path), project_id, doc_ids, n, barrier, REVIEW_SECONDS, str(outputs[n])),
        )
        for n in range(N_REVIEWERS)
    ]

    assert run_workers(tmp_path, jobs, timeout=REVIEW_SECONDS + 60) == []  # no lock errors

    results = [json.loads(path.read_text()) for path in outputs]
    saved_ids = [review_id for result in results for review_id in result["saved"]]
    with Store(db_path) as store:
        history = store.review_history(project_id)
        assert store.integrity_check() == "ok"
        assert sorted(r.id for r in history) == sorted(saved_ids)  # every save, nothing else
        assert len(saved_ids) > N_REVIEWERS * 100  # they really did work concurrently
        by_worker = {r.id: r.note.split(":")[0] for r in history}
        for worker, result in enumerate(results):
            assert {by_worker[i] for i in result["saved"]} <= {str(worker)}
        latest = {}
        for review in history:  # ordered by id: the last labelling review per document wins
            if review.decision in ("accept", "correct"):
                latest[review.document_id] = review
        assert store.count_reviews(project_id) == len(latest)
        assert {d: r.id for d, r in store.current_reviews(project_id).items()} == {
            d: r.id for d, r in latest.items()
        }


# --- two reviewers saving the same document --------------------------------------------------


def _save_after_looking(db_path, project_id, document_id, reviewer, label, looked, go, out_path):
    with Store(db_path) as store:
        seen = store.current_review(project_id, document_id)
        looked.wait(timeout=30)  # both have opened the document
        go.wait(timeout=30)  # this reviewer's turn to save
        outcome = {"seen": None if seen is None else seen.id}
        try:
            review = store.add_review(
                project_id,
                document_id,
                reviewer=reviewer,
                decision="correct",
                labels=[label],
                expected_current=outcome["seen"],
            )
            outcome["saved"] = review.id
        except ReviewConflict as conflict:
            outcome["conflict"] = str(conflict)
            outcome["current"] = conflict.current.id
            # The reviewer has now seen the other decision and chooses to keep their own.
            review = store.add_review(
                project_id,
                document_id,
                reviewer=reviewer,
                decision="correct",
                labels=[label],
                expected_current=conflict.current.id,
            )
            outcome["saved_after_choosing"] = review.id
    Path(out_path).write_text(json.dumps(outcome))


def test_second_reviewer_of_a_document_sees_the_first_decision_instead_of_overwriting_it(
    db_path, tmp_path
):
    project_id, doc_ids = make_project(db_path, 3)
    document_id = doc_ids[0]
    looked = FORKSERVER.Barrier(2)
    ann_go, bob_go = FORKSERVER.Event(), FORKSERVER.Event()
    ann_out, bob_out = tmp_path / "ann.json", tmp_path / "bob.json"
    ann_go.set()
    jobs = [
        (
            _save_after_looking,
            (str(db_path), project_id, document_id, "ann", "billing", looked, ann_go, ann_out),
        ),
        (
            _save_after_looking,
            (str(db_path), project_id, document_id, "bob", "shipping", looked, bob_go, bob_out),
        ),
    ]
    processes = []
    for n, (work, args) in enumerate(jobs):
        error_path = str(tmp_path / f"error-{n}.txt")
        processes.append(FORKSERVER.Process(target=_guarded, args=(error_path, work, *args)))
        processes[-1].start()
    processes[0].join(timeout=60)  # ann saves first ...
    bob_go.set()  # ... then bob, who opened the document before ann saved
    processes[1].join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0]

    ann, bob = json.loads(ann_out.read_text()), json.loads(bob_out.read_text())
    assert ann["seen"] is None and bob["seen"] is None
    assert bob["current"] == ann["saved"]
    assert "reviewed by ann" in bob["conflict"] and "billing" in bob["conflict"]
    with Store(db_path) as store:
        history = store.review_history(project_id, document_id)
        assert [(r.reviewer, r.labels) for r in history] == [
            ("ann", ("billing",)),
            ("bob", ("shipping",)),
        ]
        assert store.current_review(project_id, document_id).id == bob["saved_after_choosing"]


# --- kill -9 in the middle of a classification run -------------------------------------------

N_DOCS = 4000
BATCH = 10


def _classify(db_path: str, batch_size: int) -> None:
    from core.cli import main

    code = main(
        ["--db", db_path, "classify", "reliability", "-t", "rules", "-t", "lexicon", "-q"]
        + ["--batch-size", str(batch_size)]
    )
    raise SystemExit(code)


def predictions_per_run(db_path) -> dict[int, int]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT run_id, count(*) FROM predictions GROUP BY run_id").fetchall()
    return dict(rows)


def prediction_count(db_path) -> int:
    return sum(predictions_per_run(db_path).values())


def kill_when_writing(process_or_popen, db_path, rng, before: int, max_delay_s: float):
    """SIGKILL the worker a random moment after it starts writing.

    Returns (killed, predictions written per second between its first write and the kill).
    """
    deadline = time.monotonic() + 60
    while prediction_count(db_path) == before and time.monotonic() < deadline:
        if _exited(process_or_popen):
            raise AssertionError(
                f"the classify worker exited ({_exit_code(process_or_popen)}) before writing"
            )
        time.sleep(0.002)
    first_write = time.monotonic()
    time.sleep(rng.uniform(0, max_delay_s))
    if _exited(process_or_popen):
        return False, None
    os.kill(process_or_popen.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    _wait(process_or_popen)
    return True, (prediction_count(db_path) - before) / max(killed_at - first_write, 1e-3)


def _exited(process_or_popen) -> bool:
    if isinstance(process_or_popen, subprocess.Popen):
        return process_or_popen.poll() is not None
    return not process_or_popen.is_alive()


def _exit_code(process_or_popen):
    if isinstance(process_or_popen, subprocess.Popen):
        return process_or_popen.returncode
    return process_or_popen.exitcode


def _wait(process_or_popen) -> None:
    if isinstance(process_or_popen, subprocess.Popen):
        process_or_popen.wait(timeout=30)
    else:
        process_or_popen.join(timeout=30)


def assert_no_partial_batch(db_path) -> None:
    with Store(db_path) as store:
        assert store.integrity_check() == "ok"
    counts = predictions_per_run(db_path)
    assert all(count % BATCH == 0 for count in counts.values()), counts


def cli(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_classification_killed_at_random_points_keeps_whole_batches_and_resumes(db_path, tmp_path):
    project_id, doc_ids = make_project(db_path, N_DOCS)
    rng = random.Random(20)
    kills = 0

    # Once through the real entry point: `python -m core classify`.
    command = [sys.executable, "-m", "core", "--db", str(db_path), "classify", "reliability"]
    command += ["-t", "rules", "-t", "lexicon", "-q", "--batch-size", str(BATCH)]
    popen = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    killed, rate = kill_when_writing(popen, db_path, rng, before=0, max_delay_s=0.2)
    kills += killed
    assert_no_partial_batch(db_path)

    # Then 24 more kills at random moments, each from a warm worker. The delay before each
    # kill is scaled to this machine's speed so that about 1/240 of the work gets done per
    # worker on average, leaving work for every kill.
    for _ in range(24):
        before = prediction_count(db_path)
        max_delay = 0.2 if not rate else min(0.2, 2 * (2 * N_DOCS / 240) / rate)
        worker = FORKSERVER.Process(target=_classify, args=(str(db_path), BATCH))
        worker.start()
        killed, measured = kill_when_writing(worker, db_path, rng, before, max_delay)
        kills += killed
        rate = measured or rate
        assert_no_partial_batch(db_path)
    assert kills >= 20
    assert prediction_count(db_path) < 2 * N_DOCS  # the kills left work to do

    done = cli("--db", str(db_path), "classify", "reliability", "-t", "rules", "-t", "lexicon")
    assert done.returncode == 0, done.stderr
    assert_no_partial_batch(db_path)
    with Store(db_path) as store:
        finished = [r for r in store.list_runs(project_id) if r.status == "finished"]
        keys = {r.technique: r.cache_key for r in finished}
        for technique in ("rules", "lexicon"):
            assert store.cached_document_ids(project_id, keys[technique]) == set(doc_ids)


# --- kill -9 in the middle of a bulk review save ---------------------------------------------

BULK = 1000  # reviews per add_reviews call: one transaction
N_BULKS = 40


def _save_bulks(db_path: str, project_id: int, doc_ids: list[str], calls=None) -> None:
    """Save N_BULKS bulk reviews, skipping those already saved (so a rerun resumes).

    calls: a shared counter bumped just before each add_reviews, so the test can time its kill.
    """
    with Store(db_path) as store:
        done = {review.note for review in store.review_history(project_id)}
        for bulk in range(N_BULKS):
            note = f"bulk-{bulk}"
            if note in done:
                continue
            items = [
                {"document_id": d, "decision": "accept", "labels": [LABELS[bulk % 3]], "note": note}
                for d in doc_ids
            ]
            if calls is not None:
                with calls.get_lock():
                    calls.value += 1
            store.add_reviews(project_id, items, reviewer="bulk")


def review_count(db_path) -> int:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM reviews").fetchone()[0]


def bulk_sizes(db_path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT note, count(*) FROM reviews GROUP BY note").fetchall())


def _wait_for_call(calls, n: int, worker) -> float | None:
    """Wait until the worker has begun its n-th add_reviews; the time it did, or None."""
    deadline = time.monotonic() + 60
    while calls.value < n:
        if not worker.is_alive() or time.monotonic() > deadline:
            return None
        time.sleep(0.001)
    return time.monotonic()


def test_bulk_review_save_killed_at_random_points_is_all_or_nothing_and_resumes(db_path, tmp_path):
    project_id, doc_ids = make_project(db_path, BULK)
    rng = random.Random(7)
    bulk_s = 0.2  # how long one add_reviews takes here, measured as the test goes
    kills = 0
    for _ in range(24):
        calls = FORKSERVER.Value("i", 0)
        worker = FORKSERVER.Process(
            target=_save_bulks, args=(str(db_path), project_id, doc_ids, calls)
        )
        worker.start()
        # Kill inside the first or second bulk: a random moment within that transaction.
        nth = rng.choice((1, 2))
        first = _wait_for_call(calls, 1, worker)
        started = first if nth == 1 else _wait_for_call(calls, 2, worker)
        if nth == 2 and first is not None and started is not None:
            bulk_s = started - first
        time.sleep(rng.uniform(0, bulk_s))
        if worker.is_alive():
            worker.kill()
            kills += 1
        worker.join(timeout=30)
        with Store(db_path) as store:
            assert store.integrity_check() == "ok"
        assert set(bulk_sizes(db_path).values()) <= {BULK}  # every bulk whole, or absent
    assert kills >= 20
    assert len(bulk_sizes(db_path)) < N_BULKS  # the kills left work to do

    finisher = FORKSERVER.Process(target=_save_bulks, args=(str(db_path), project_id, doc_ids))
    finisher.start()
    finisher.join(timeout=120)
    assert finisher.exitcode == 0
    assert bulk_sizes(db_path) == {f"bulk-{b}": BULK for b in range(N_BULKS)}
    with Store(db_path) as store:
        assert store.integrity_check() == "ok"
        assert store.count_reviews(project_id) == BULK


# --- backup while writing, and restore -------------------------------------------------------


def _review_until_stopped(db_path: str, project_id: int, doc_ids: list[str], stop) -> None:
    with Store(db_path) as store:
        n = 0
        while not stop.is_set():
            store.add_review(
                project_id, doc_ids[n % len(doc_ids)], reviewer="w", decision="accept", labels=[]
            )
            n += 1


@pytest.fixture
def busy_db(db_path):
    """A project being reviewed by another process for as long as the test runs."""
    project_id, doc_ids = make_project(db_path, 50)
    stop = FORKSERVER.Event()
    writer = FORKSERVER.Process(
        target=_review_until_stopped, args=(str(db_path), project_id, doc_ids, stop)
    )
    writer.start()
    deadline = time.monotonic() + 60
    while review_count(db_path) < 50:
        assert writer.is_alive() and time.monotonic() < deadline, "the writer never got going"
        time.sleep(0.01)
    yield db_path, project_id
    stop.set()
    writer.join(timeout=30)
    assert writer.exitcode == 0


def test_backup_command_copies_consistently_while_the_app_writes(busy_db, tmp_path):
    db_path, project_id = busy_db
    before = review_count(db_path)
    result = cli("--db", str(db_path), "backup", str(tmp_path / "copy.db"))
    after = review_count(db_path)
    assert result.returncode == 0, result.stderr
    assert "integrity ok" in result.stdout
    with Store(tmp_path / "copy.db") as copy:
        assert copy.integrity_check() == "ok"
        assert [p.name for p in copy.list_projects()] == ["reliability"]
        assert before <= len(copy.review_history(project_id)) <= after


def test_backup_refuses_to_overwrite_without_being_asked(db_path, tmp_path):
    make_project(db_path, 1)
    (tmp_path / "copy.db").write_bytes(b"precious")
    result = cli("--db", str(db_path), "backup", str(tmp_path / "copy.db"))
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert (tmp_path / "copy.db").read_bytes() == b"precious"


def test_restore_as_documented_brings_back_the_backup(db_path, tmp_path):
    project_id, doc_ids = make_project(db_path, 5)
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    assert cli("--db", str(db_path), "backup", str(backup_dir)).returncode == 0
    [backup] = list(backup_dir.glob("sift-*.db"))
    with Store(db_path) as store:  # later work that the restore must undo
        store.add_review(project_id, doc_ids[0], reviewer="late", decision="accept", labels=[])
    # docs/security.md, "Restore": SQLite's backup API from the copy into the database file.
    restore = (
        "import sqlite3, sys; source = sqlite3.connect(sys.argv[1]); "
        "target = sqlite3.connect(sys.argv[2]); source.backup(target); "
        "target.close(); source.close()"
    )
    subprocess.run([sys.executable, "-c", restore, str(backup), str(db_path)], check=True)
    with Store(db_path) as store:
        assert store.integrity_check() == "ok"
        assert store.review_history(project_id) == []
        assert store.count_documents(project_id) == 5


def test_a_backup_killed_midway_never_leaves_a_plausible_file_at_dest(db_path, tmp_path):
    """kill -9 at different moments of `backup DEST`: DEST is either absent or a whole copy
    (never an empty database that passes its integrity check), and nothing half-written
    is left under DEST's name."""
    make_project(db_path, 3000)
    with sqlite3.connect(db_path) as source:
        expected = source.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    for attempt, delay in enumerate((0.2, 0.4, 0.6, 0.8, 1.0, 1.5)):
        dest = tmp_path / f"copy{attempt}.db"
        process = subprocess.Popen(
            [sys.executable, "-m", "core", "--db", str(db_path), "backup", str(dest)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if dest.exists():
            with sqlite3.connect(dest) as copy:
                assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert copy.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == expected
        assert not (tmp_path / f"copy{attempt}.db-journal").exists()


def test_a_backup_that_cannot_be_written_whole_leaves_nothing_at_dest(db_path, tmp_path):
    """A full disk (here: a file-size limit on the backup process) mid-copy: a clear error
    naming the backup, exit 3 (storage), and no file under DEST's name, not even a truncated
    one."""
    make_project(db_path, 2000)
    assert db_path.stat().st_size > 400_000
    backups = tmp_path / "backups"
    backups.mkdir()
    dest = backups / "copy.db"
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail (EFBIG)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
        "from core.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "--db", str(db_path), "backup", str(dest)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert f"could not write the backup {dest}" in result.stderr
    assert "nothing was written there" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(backups.iterdir()) == []  # neither DEST nor a partial copy beside it
