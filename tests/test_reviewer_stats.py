"""Per-reviewer numbers (core.evaluation.reviewers): progress against reviews wanted,
throughput over active time, agreement with the others, the activity log."""

from __future__ import annotations

import pytest

from core.evaluation.reviewers import (
    activity_log,
    documents_done,
    project_reviewer_stats,
    reviewer_stats,
    throughput,
)
from tests.test_agreement import make_store, review


def at(minutes: float) -> str:
    hours, rest = divmod(minutes, 60)
    return f"2026-01-01T{int(hours):02d}:{int(rest):02d}:{round((rest % 1) * 60):02d}.000000+00:00"


def test_throughput_counts_active_gaps_only():
    # 0, 10, 20 min; a two-hour break; 140, 145 min -> 25 active minutes, 2 sessions,
    # three actions end an active gap
    hours, sessions, counted = throughput([at(140), at(0), at(10), at(20), at(145)])
    assert hours == pytest.approx(25 / 60)
    assert (sessions, counted) == (2, 3)
    assert throughput([at(5)]) == (0.0, 1, 0)
    assert throughput([]) == (0.0, 0, 0)
    # exactly 30 minutes is still work; a second more is a break
    assert throughput([at(0), at(30)])[1] == 1
    assert throughput([at(0), at(30 + 1 / 60)])[1] == 2


def test_reviewer_stats_progress_throughput_and_agreement():
    reviews = [
        review(1, "d1", "ann", labels=["a"], at=at(0)),
        review(2, "d2", "ann", labels=["b"], at=at(10)),
        review(3, "d3", "ann", decision="skip", at=at(20)),
        review(4, "d1", "bob", labels=["a"], at=at(0)),
        review(5, "d2", "bob", labels=["a"], at=at(120)),
        review(6, "d2", "bob", decision="undo", undoes=5, at=at(121)),
        review(7, "d2", "bob", labels=["b"], at=at(122)),
    ]
    docs = ["d1", "d2", "d3", "d4"]
    rows = {row.reviewer: row for row in reviewer_stats(reviews, document_ids=docs)}
    ann, bob = rows["ann"], rows["bob"]
    assert (ann.n_actions, ann.n_reviewed, ann.share) == (3, 2, 0.5)
    assert ann.active_hours == pytest.approx(20 / 60) and ann.sessions == 1
    assert ann.per_hour == pytest.approx(2 / (20 / 60))
    # bob: 0 | break | 120, 122 (the undo is not an action) -> 2 active minutes, 1 counted
    assert (bob.n_actions, bob.n_reviewed, bob.sessions) == (3, 2, 2)
    assert bob.per_hour == pytest.approx(1 / (2 / 60))
    assert ann.agreement == 1.0 and ann.n_shared == 2
    assert ann.kappa == {"bob": pytest.approx(1.0)}
    # k = 1: d1, d2 are done; d3, d4 are open to both
    assert ann.n_open == 2 and bob.n_open == 2
    # cat labels d3: with k = 1 it is done, so only d4 is open to ann; with k = 2 d3 still
    # wants a second reviewer (ann's, not cat's again), and d1, d2 have their two
    three = [*reviews, review(8, "d3", "cat", labels=["a"], at=at(30))]
    rows1 = {r.reviewer: r for r in reviewer_stats(three, document_ids=docs)}
    assert (rows1["cat"].n_open, rows1["ann"].n_open) == (1, 1)
    rows3 = {r.reviewer: r for r in reviewer_stats(three, document_ids=docs, reviews_wanted=2)}
    assert (rows3["cat"].n_open, rows3["ann"].n_open) == (1, 2)
    assert rows3["cat"].per_hour is None and rows3["cat"].agreement is None


def test_activity_log_is_newest_first_with_notes():
    reviews = [
        review(1, "d1", "ann", labels=["a", "b"], note="first"),
        review(2, "d2", "bob", decision="flag", note="<b>unclear</b>"),
        review(3, "d1", "ann", decision="undo", undoes=1),
    ]
    log = activity_log(reviews, limit=2)
    assert [row["decision"] for row in log] == ["undo", "flag"]
    assert log[1]["note"] == "<b>unclear</b>" and log[0]["undoes"] == 1
    (only,) = activity_log(reviews, reviewer="ann", limit=1)
    assert only["decision"] == "undo"
    assert activity_log(reviews, reviewer="ann")[-1]["labels"] == "a, b"


def test_project_reviewer_stats_reads_reviews_wanted_from_the_project(tmp_path):
    store, project_id, ids = make_store(tmp_path, ["a", "b"], 3, settings={"reviews_wanted": 2})
    store.add_review(project_id, ids[0], reviewer="ann", decision="correct", labels=["a"])
    store.add_review(project_id, ids[0], reviewer="bob", decision="correct", labels=["b"])
    store.add_review(project_id, ids[1], reviewer="ann", decision="correct", labels=["a"])
    rows = {row.reviewer: row for row in project_reviewer_stats(store, project_id)}
    # k = 2: bob may still review ids[1] (one reviewer so far) and ids[2]; ann only ids[2]
    assert (rows["ann"].n_open, rows["bob"].n_open) == (1, 2)
    # one shared document, a vs b: no agreement observed, none expected by chance
    assert rows["ann"].agreement == 0.0 and rows["ann"].kappa == {"bob": 0.0}


def test_a_document_is_done_at_k_opinions_or_once_adjudicated():
    reviews = [
        review(1, "d1", "ann", labels=["a"]),
        review(2, "d1", "bob", labels=["b"]),
        review(3, "d2", "ann", labels=["a"]),
        review(4, "d3", "ann", labels=["a"]),
        review(5, "d3", "bob", labels=["a"]),
        review(6, "d3", "bob", decision="undo", undoes=5),
        review(7, "d4", "boss", decision="adjudicate", labels=["a"]),
        review(8, "d5", "ann", decision="skip"),
    ]
    docs = ["d1", "d2", "d3", "d4", "d5"]
    assert documents_done(reviews, docs, 1) == 4  # d1, d2, d3 (ann), d4 (adjudicated)
    assert documents_done(reviews, docs, 2) == 2  # d1 and d4
