"""What `import-reviews` costs as the file grows: read, check (plan) and write, into a fresh
project and again into the same project (every row already recorded: the check's lookups
by id and text hash against stored documents and opinions, and nothing written).

A synthetic Prodigy choice export (db-out JSONL): N texts, 2 annotators, 3 labels. Real
SQLite file in a temporary folder; one run per size (seconds, not micro-timings).

    .venv/bin/python -m bench.import_reviews [--rows 2000 20000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from core.annotations import apply_import, plan_import, read_annotations
from core.store import Store
from core.taxonomy import Label, Taxonomy

LABELS = ("POLITICS", "BUSINESS", "SPORT")


def prodigy_file(n: int) -> bytes:
    lines = [
        json.dumps(
            {
                "text": f"Document {i}: a short business text about item {i * 7919 % 1000}.",
                "options": [{"id": label, "text": label} for label in LABELS],
                "accept": [LABELS[i % 3]],
                "answer": "accept",
                "_annotator_id": f"news-{'ab'[i % 2]}",
            }
        )
        for i in range(n)
    ]
    return "\n".join(lines).encode("utf-8")


def run(n: int) -> dict[str, float]:
    data = prodigy_file(n)
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        project = store.create_project("bench")
        store.save_taxonomy(project.id, Taxonomy(labels=[Label(name=x.title()) for x in LABELS]))
        start = time.perf_counter()
        annotations = read_annotations(data, "bench.jsonl")
        read = time.perf_counter()
        plan = plan_import(store, project.id, annotations)
        planned = time.perf_counter()
        outcome = apply_import(store, project.id, plan)
        written = time.perf_counter()
        again = plan_import(store, project.id, read_annotations(data, "bench.jsonl"))
        rechecked = time.perf_counter()
        assert len(outcome.reviews) == n and again.unchanged == n and not again.reviews
    return {
        "MB": len(data) / 1e6,
        "read s": read - start,
        "check s": planned - read,
        "write s": written - planned,
        "re-import check s": rechecked - written,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 20000])
    args = parser.parse_args()
    print("rows     MB  read s  check s  write s  re-import check s")
    for n in args.rows:
        r = run(n)
        print(
            f"{n:>6,} {r['MB']:>5.1f} {r['read s']:>7.2f} {r['check s']:>8.2f} "
            f"{r['write s']:>8.2f} {r['re-import check s']:>18.2f}"
        )


if __name__ == "__main__":
    main()
