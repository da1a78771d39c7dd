"""Zero-shot cascade: how often the cheap ranker keeps the gold label in its top k, how many
NLI pairs the cascade saves, and the wall-time ratio full / cascade.

Part 1, recall@k (real data, the real packaged MiniLM): every text of banking77 (77 intents)
and BBC news (5 topics), each with its label names and with bench/taxonomies/<name>.yaml, is
ranked by the cascade's ranker (`core.techniques.zero_shot.rank_labels`: the embeddings
technique). recall@k = share of texts whose gold label is among the k best-ranked labels.
The default k (core.techniques.zero_shot.DEFAULT_CASCADE_TOP_K) must reach recall >= 0.95
on both data sets.

Part 2, NLI cost: banking77 texts x 77 labels through the zero_shot technique with the
cascade off and on (default k), on the tiny and the bart-large-shaped random NLI models
(bench/nli_models.py); NLI pairs actually run (NliEngine.pairs_computed) and wall time, in
one process, the same texts, each contender warmed up first.

    python -m bench.cascade                       # recall on everything + cost on 40/4 texts
    python -m bench.cascade --recall-only
    python -m bench.cascade --cost-texts 40 --large-texts 4
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import describe_machine, machine_info, markdown_table, write_json
from bench.data import BANKING77, BBC_NEWS, read_csv

TAXONOMIES = Path(__file__).parent / "taxonomies"
KS = (1, 3, 5, 7, 10, 12, 15, 16, 17, 18, 19, 20, 25)
SETS = {"banking77": (BANKING77, "banking77.yaml"), "bbc_news": (BBC_NEWS, "bbc_news.yaml")}


def taxonomy_for(rows, described: str | None):
    from core.taxonomy import Label, Taxonomy, load_taxonomy_file

    if described:
        return load_taxonomy_file(TAXONOMIES / described)
    return Taxonomy(labels=tuple(Label(name) for name in sorted({label for _, label in rows})))


def recall_at_k(args) -> list[dict]:
    from core.techniques.zero_shot import rank_labels

    results = []
    for name, (relative, yaml_name) in SETS.items():
        rows = read_csv(relative, args.data)
        if args.sample and args.sample < len(rows):
            picked = np.random.default_rng(0).permutation(len(rows))[: args.sample]
            rows = [rows[i] for i in picked]
        texts = [text for text, _ in rows]
        for kind, described in (("names", None), ("described", yaml_name)):
            taxonomy = taxonomy_for(rows, described)
            started = time.perf_counter()
            ranked = rank_labels(texts, taxonomy, multi_label=False)  # [n, L] label indices
            seconds = time.perf_counter() - started
            gold = np.array([taxonomy.names.index(label) for _, label in rows])
            position = np.argmax(ranked == gold[:, None], axis=1)  # rank of the gold label
            row = {
                "data": name,
                "taxonomy": kind,
                "labels": len(taxonomy.names),
                "texts": len(texts),
                "rank_s": round(seconds, 1),
            }
            for k in KS:
                row[f"r@{k}"] = round(float(np.mean(position < k)), 3)
            results.append(row)
            print(row, flush=True)
    return results


def nli_cost(args) -> list[dict]:
    from bench.nli_models import nli_model_folder
    from core.models.loading import clear_model_cache
    from core.taxonomy import load_taxonomy_file
    from core.techniques import create_technique
    from core.techniques.zero_shot import DEFAULT_CASCADE_TOP_K

    rows = read_csv(BANKING77, args.data)
    picked = np.random.default_rng(1).permutation(len(rows))
    taxonomy = load_taxonomy_file(TAXONOMIES / "banking77.yaml")
    results = []
    for model, n_texts in (("tiny", args.cost_texts), ("large", args.large_texts)):
        if not n_texts:
            continue
        texts = [rows[i][0] for i in picked[:n_texts]]
        warm = [rows[i][0] for i in picked[n_texts : n_texts + 2]]
        for cascade in ("off", "on"):
            clear_model_cache()
            technique = create_technique(
                "zero_shot",
                model=str(nli_model_folder(model, args.data)),
                cascade=cascade,
                precision="fp32",
            )
            technique.predict(warm, taxonomy)
            technique.engine.pairs_computed = 0
            started = time.perf_counter()
            technique.predict(texts, taxonomy)
            seconds = time.perf_counter() - started
            results.append(
                {
                    "model": model,
                    "cascade": cascade if cascade == "off" else f"on (k={DEFAULT_CASCADE_TOP_K})",
                    "texts": n_texts,
                    "labels": len(taxonomy.names),
                    "nli_pairs": technique.engine.pairs_computed,
                    "seconds": round(seconds, 2),
                }
            )
            print(results[-1], flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder holding banking77/ and bbc_news/")
    parser.add_argument("--sample", type=int, default=0, help="texts per data set (0: all)")
    parser.add_argument("--recall-only", action="store_true")
    parser.add_argument("--cost-texts", type=int, default=40, help="texts for the tiny model")
    parser.add_argument("--large-texts", type=int, default=4, help="texts for bart-large shape")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    from core.techniques.zero_shot import DEFAULT_CASCADE_TOP_K

    info = machine_info()
    print(describe_machine(info))
    recall = recall_at_k(args)
    columns = ["data", "taxonomy", "labels", "texts", *[f"r@{k}" for k in KS], "rank_s"]
    print(markdown_table(columns, [[row[c] for c in columns] for row in recall]))
    k = DEFAULT_CASCADE_TOP_K
    worst = min(row[f"r@{k}"] for row in recall)
    print(f"\ndefault k = {k}: worst recall@{k} {worst:.3f} (target >= 0.95)")
    cost = [] if args.recall_only else nli_cost(args)
    if cost:
        header = ["model", "cascade", "texts", "labels", "nli_pairs", "seconds"]
        print(markdown_table(header, [[row[c] for c in header] for row in cost]))
        for model in ("tiny", "large"):
            pair = [row for row in cost if row["model"] == model]
            if len(pair) == 2:
                full, cascade = pair
                print(
                    f"{model}: NLI pairs full/cascade {full['nli_pairs'] / cascade['nli_pairs']:.1f}x,"
                    f" wall time full/cascade {full['seconds'] / cascade['seconds']:.1f}x"
                )
    if args.json:
        write_json(args.json, {"machine": info, "recall": recall, "cost": cost, "k": k})


if __name__ == "__main__":
    main()
