"""What Evaluate's agreement sections cost as a project grows (pure computation, no store).

A synthetic review log: N documents, each labelled by 3 of R reviewers (reviewers agree
with a shared truth 80% of the time), L labels, multi-label sets of 1-2 labels. Times
core.evaluation.agreement.compute_agreement (kappa per pair per label via scikit-learn,
alpha per label via krippendorff) and core.evaluation.reviewers.reviewer_stats, best of 3.

    .venv/bin/python -m bench.agreement [--documents 2000 10000] [--reviewers 5] [--labels 20]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from core.evaluation.agreement import compute_agreement
from core.evaluation.reviewers import reviewer_stats
from core.store.records import Review


def synthetic_log(n_documents: int, n_reviewers: int, n_labels: int, seed: int = 0):
    rng = random.Random(seed)
    labels = [f"label{i}" for i in range(n_labels)]
    reviewers = [f"reviewer{i}" for i in range(n_reviewers)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    log = []
    for doc in range(n_documents):
        truth = rng.sample(labels, rng.choice((1, 2)))
        for reviewer in rng.sample(reviewers, min(3, n_reviewers)):
            chosen = truth if rng.random() < 0.8 else rng.sample(labels, rng.choice((1, 2)))
            log.append(
                Review(
                    id=len(log) + 1,
                    project_id=1,
                    document_id=f"d{doc}",
                    reviewer=reviewer,
                    created_at=(start + timedelta(seconds=20 * len(log))).isoformat(),
                    decision="correct",
                    labels=tuple(chosen),
                    shown=None,
                    undoes=None,
                    note="",
                )
            )
    return log, labels


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, nargs="+", default=[2_000, 10_000])
    parser.add_argument("--reviewers", type=int, default=5)
    parser.add_argument("--labels", type=int, default=20)
    args = parser.parse_args()
    print(
        "| documents | reviews | pairs | labels | agreement s | reviewer stats s | ms / 1k reviews |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.documents:
        log, labels = synthetic_log(n, args.reviewers, args.labels)
        agreement_s = best_of(3, lambda: compute_agreement(log, labels))  # noqa: B023
        result = compute_agreement(log, labels)
        ids = [f"d{i}" for i in range(n)]
        stats_s = best_of(
            3,
            lambda: reviewer_stats(log, document_ids=ids, agreement=result),  # noqa: B023
        )
        print(
            f"| {n:,} | {len(log):,} | {len(result.pairs)} | {len(labels)} | "
            f"{agreement_s:.2f} | {stats_s:.2f} | {1000 * agreement_s / len(log) * 1000:.1f} |"
        )


if __name__ == "__main__":
    main()
