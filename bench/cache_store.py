"""Cache and store: re-running a finished classification, and writing many predictions.

1. Re-run: a real SQLite project (a temporary file) with --docs documents (half BBC news,
   half banking77) and BBC's five labels (descriptions, keywords, patterns). `run_techniques`
   with rules + lexicon + embeddings (packaged MiniLM, fp32) computes every prediction; the
   same call again finds them all under their cache keys. Models are loaded before either
   timing starts, so both times are the engine's own.
2. Writes: --predictions predictions written with Store.write_predictions (one run, one
   call per --write-batch rows; each call is one transaction), into a project that holds
   that many documents.

    python -m bench.cache_store                     # 2,000 documents, 100,000 predictions
    python -m bench.cache_store --docs 500 --predictions 10000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.common import MIB, describe_machine, machine_info, markdown_table, verdict, write_json
from bench.data import BANKING77, BBC_NEWS, read_csv

LABELS = {
    "business": (["profit", "shares", "market", "company"], [r"\$\d+(\.\d+)?[mb]n"]),
    "entertainment": (["film", "music", "award", "star"], [r"box office"]),
    "politics": (["minister", "election", "party", "government"], [r"\bMPs?\b"]),
    "sport": (["match", "cup", "player", "coach"], [r"\d+-\d+ (win|defeat)"]),
    "tech": (["software", "internet", "phone", "computer"], [r"\bbroadband\b"]),
}


def taxonomy():
    from core.taxonomy import Keyword, Label, Taxonomy

    return Taxonomy(
        tuple(
            Label(
                name,
                description=f"News about {name}",
                keywords=tuple(Keyword(word) for word in words),
                patterns=tuple(patterns),
            )
            for name, (words, patterns) in LABELS.items()
        )
    )


def add_documents(store, project_id: int, texts: list[str], name: str) -> None:
    from core.documents import Document

    documents = [Document.from_text(text, source=name) for text in texts]
    store.add_documents(
        project_id, documents, filename=name, format="txt", encoding="utf-8", sha256="0" * 64
    )


def bench_rerun(folder: Path, n_docs: int, data) -> dict:
    from core.engine import run_techniques
    from core.store import Store
    from core.techniques import create_technique

    bbc = [text for text, _ in read_csv(BBC_NEWS, data)]
    banking = [text for text, _ in read_csv(BANKING77, data)]
    half = n_docs // 2
    if half > len(bbc) or n_docs - half > len(banking):
        raise ValueError(f"--docs {n_docs} needs more texts than the data sets hold")
    store = Store(folder / "rerun.db")
    project = store.create_project("bench-rerun")
    store.save_taxonomy(project.id, taxonomy())
    add_documents(store, project.id, bbc[:half] + banking[: n_docs - half], "bench.txt")
    n_stored = store.count_documents(project.id)
    techniques = [
        create_technique("rules"),
        create_technique("lexicon"),
        create_technique("embeddings", device="cpu"),
    ]
    for technique in techniques:  # load models outside the timings
        technique.model_info()

    started = time.perf_counter()
    first = run_techniques(store, project.id, techniques)
    computed_s = time.perf_counter() - started
    started = time.perf_counter()
    second = run_techniques(store, project.id, techniques)
    cached_s = time.perf_counter() - started
    if any(outcome.n_computed for outcome in second):
        raise RuntimeError("the re-run computed predictions: the cache missed")
    store.close()
    return {
        "documents": n_stored,
        "techniques": [technique.name for technique in techniques],
        "computed_s": computed_s,
        "cached_s": cached_s,
        "speedup": computed_s / cached_s,
        "computed_per_technique_s": {o.technique: o.seconds for o in first},
        "n_cached": sum(o.n_cached for o in second),
    }


def bench_writes(folder: Path, n_predictions: int, write_batch: int) -> dict:
    from core.store import Store
    from core.techniques.base import Span, TextResult

    store = Store(folder / "writes.db")
    project = store.create_project("bench-writes")
    store.save_taxonomy(project.id, taxonomy())
    texts = [f"synthetic document number {i} about quarterly results" for i in range(n_predictions)]
    add_documents(store, project.id, texts, "synthetic.txt")
    ids = store.document_ids(project.id)
    names = list(LABELS)
    # A realistic payload: five label scores and one evidence span per document.
    rows = [
        (
            doc_id,
            TextResult(
                scores={name: ((i + k) % 7) / 7 for k, name in enumerate(names)},
                evidence=[Span(0, 9, "keyword", "business", "synthetic")],
            ).to_json(),
        )
        for i, doc_id in enumerate(ids)
    ]
    run_id = store.start_run(
        project.id, technique="lexicon", config_hash="bench", config={}, cache_key="bench",
        model_id="", model_revision="", device="cpu", dtype="", n_documents=len(ids),
    )  # fmt: skip
    started = time.perf_counter()
    written = 0
    for start in range(0, len(rows), write_batch):
        written += store.write_predictions(
            project.id, run_id, "bench", "lexicon", rows[start : start + write_batch]
        )
    seconds = time.perf_counter() - started
    store.close()
    return {
        "predictions": written,
        "write_batch": write_batch,
        "seconds": seconds,
        "per_s": written / seconds,
        "db_mib": (folder / "writes.db").stat().st_size / MIB,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--predictions", type=int, default=100_000)
    parser.add_argument(
        "--write-batch", type=int, default=10_000, help="rows per write_predictions call"
    )
    parser.add_argument("--data", help="folder holding banking77/ and bbc_news/")
    parser.add_argument("--json", help="write every measurement to this JSON file")
    args = parser.parse_args(argv)

    info = machine_info()
    print(f"Machine: {describe_machine(info)}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="sift-bench-store-") as tmp:
        rerun = bench_rerun(Path(tmp), args.docs, args.data)
        writes = bench_writes(Path(tmp), args.predictions, args.write_batch)
    peak_rss = psutil.Process().memory_info().rss / MIB
    targets = [
        [
            f"re-running {rerun['documents']:,} cached documents >= 50x faster than computing",
            verdict(rerun["speedup"] >= 50),
            f"{rerun['speedup']:,.0f}x ({rerun['computed_s']:.1f} s -> {rerun['cached_s']:.3f} s)",
        ],
        [
            f"{writes['predictions']:,} predictions written in < 3 s",
            verdict(writes["seconds"] < 3),
            f"{writes['seconds']:.2f} s ({writes['per_s']:,.0f}/s)",
        ],
    ]
    text = (
        "### Cache and store\n\n"
        + markdown_table(
            ["measurement", "value"],
            [
                ["documents", rerun["documents"]],
                ["techniques", ", ".join(rerun["techniques"])],
                ["compute all (s)", rerun["computed_s"]],
                *[
                    [f"  of which {name} (s)", seconds]
                    for name, seconds in rerun["computed_per_technique_s"].items()
                ],
                ["re-run, all cached (s)", rerun["cached_s"]],
                ["speed-up", rerun["speedup"]],
                ["predictions written", writes["predictions"]],
                ["rows per write_predictions call", writes["write_batch"]],
                ["write time (s)", writes["seconds"]],
                ["predictions/s", writes["per_s"]],
                ["database size (MiB)", writes["db_mib"]],
                ["process RSS at end (MiB)", peak_rss],
            ],
        )
        + "\n\n"
        + markdown_table(["target", "verdict", "measured"], targets)
    )
    print(text + "\n", flush=True)
    write_json(
        args.json,
        {"machine": info, "rerun": rerun, "writes": writes, "targets": targets, "markdown": text},
    )


if __name__ == "__main__":
    sys.exit(main())
