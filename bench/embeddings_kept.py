"""Embeddings computed once for good, and bf16 where the CPU has it: the whole-process times a
user waits for, each command in its own new process (`python -m core ...`), on BBC news
(2,127 texts, its five topics with bench/taxonomies/bbc_news.yaml).

  load       a process that imports Sift and loads the packaged MiniLM, nothing else
             (the "model load" every command below pays too)
  fp32       classify -t embeddings --precision fp32 (the default before precision auto)
  auto       classify -t embeddings (the default: bf16 where the CPU has AMX/AVX512_BF16,
             kept if its probe set agrees with fp32), on a fresh database
  edited     the same after one label's description was edited: every prediction is
             recomputed (new cache key), document vectors come from the store
  train      train with 40 reviews (8 per label, drawn at random), a new process
  supervised classify -t supervised, a new process

Ratios: fp32 / auto (target >= 2.5), edited / auto (target <= 0.2), and train + supervised
against 5 s + two model loads. Accuracy: each run's top label vs the gold topic.

    python -m bench.embeddings_kept
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import describe_machine, machine_info, markdown_table, write_json
from bench.data import BBC_NEWS, REPO, data_dir

TAXONOMY = Path(__file__).parent / "taxonomies" / "bbc_news.yaml"


def sift(db: Path, *args: str, env: dict | None = None) -> float:
    """Run `python -m core --db DB ARGS` in a new process; its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "core", "--db", str(db), *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sift {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    print(f"  $ sift {' '.join(args)}  # {seconds:.1f} s\n    {done.stdout.strip()[-300:]}")
    return seconds


def load_only() -> float:
    code = (
        "from core.models.loading import load_sentence_encoder as l; "
        "from core.models.encoder import encode; encode(l(), ['warm'])"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - started


def accuracy(db: Path, technique: str) -> float:
    from core.predictions import latest_results
    from core.store import Store

    store = Store(db)
    project = store.get_project("bbc")
    gold = {doc.id: doc.gold_labels[0] for doc in store.get_documents(project.id)}
    results = latest_results(store, project.id)[technique]
    hits = [max(r.scores, key=r.scores.get) == gold[d] for d, r in results.items() if r.scores]
    store.close()
    return float(np.mean(hits))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder holding bbc_news/")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    info = machine_info()
    print(describe_machine(info))
    csv = data_dir(args.data) / BBC_NEWS
    times: dict[str, float] = {}
    scores: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sift-kept-") as work:
        fp32_db, db = Path(work) / "fp32.db", Path(work) / "sift.db"
        for path in (fp32_db, db):
            sift(
                path,
                "ingest",
                "bbc",
                str(csv),
                "--create",
                "--taxonomy",
                str(TAXONOMY),
                "--label-column",
                "label",
            )
        times["load"] = load_only()
        times["fp32"] = sift(fp32_db, "classify", "bbc", "-t", "embeddings", "--precision", "fp32")
        scores["fp32"] = accuracy(fp32_db, "embeddings")
        times["auto"] = sift(db, "classify", "bbc", "-t", "embeddings")
        scores["auto"] = accuracy(db, "embeddings")

        from core.store import Store

        store = Store(db)
        project = store.get_project("bbc")
        taxonomy = store.load_taxonomy(project.id)
        first = taxonomy.labels[0]
        edited = dataclasses.replace(first, description=first.description + " (edited)")
        store.save_taxonomy(project.id, taxonomy.replace_label(first.name, edited))
        store.close()
        times["edited"] = sift(db, "classify", "bbc", "-t", "embeddings")
        scores["edited"] = accuracy(db, "embeddings")

        store = Store(db)
        project = store.get_project("bbc")
        documents = store.get_documents(project.id)
        rng = np.random.default_rng(0)
        for label in sorted({doc.gold_labels[0] for doc in documents}):
            pool = [doc for doc in documents if doc.gold_labels[0] == label]
            for i in rng.choice(len(pool), 8, replace=False):
                store.add_review(
                    project.id, pool[i].id, reviewer="bench", decision="correct", labels=[label]
                )
        store.close()
        times["train"] = sift(db, "train", "bbc")
        times["supervised"] = sift(db, "classify", "bbc", "-t", "supervised")
        scores["supervised"] = accuracy(db, "supervised")
    rows = [[name, round(seconds, 1), scores.get(name)] for name, seconds in times.items()]
    print(markdown_table(["run", "wall s (new process)", "accuracy"], rows))
    speedup = times["fp32"] / times["auto"]
    kept = times["edited"] / times["auto"]
    pair = times["train"] + times["supervised"]
    print(
        f"fp32 / auto: {speedup:.2f}x (target >= 2.5); accuracy {scores['fp32']:.4f} fp32, "
        f"{scores['auto']:.4f} auto"
    )
    print(f"edited / auto: {kept:.2f} (target <= 0.2)")
    print(
        f"train + supervised: {pair:.1f} s; 5 s + two model loads = {5 + 2 * times['load']:.1f} s"
    )
    write_json(args.json, {"machine": info, "times": times, "accuracy": scores})


if __name__ == "__main__":
    main()
