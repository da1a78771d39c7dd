"""Zero-shot NLI: Sift's engine against the usual ways of running the same model, side by side.

Inputs: N short texts (banking77) and N long texts (BBC news, truncated to the model's 1024
tokens as the pipeline does) x 5 labels (BBC's topics, hypothesis "This text is about {}.",
multi_label=True). "mixed" is the two sets shuffled together, as an inbox arrives.

Contenders, each in its own process (so its peak RSS is its own), each warmed up on two
other texts first:
  loop      per-text loop over pipeline("zero-shot-classification") (the fp32 reference)
  manual    per-text-per-label loop of tokenizer + model calls (the classic blog recipe)
  batched   the pipeline given the whole mixed list, for each --pipeline-batch-sizes
  sift      Sift's zero_shot technique (core.models.nli.NliEngine), fp32
  sift-bf16 the same in bf16 (only where cpu_supports_bf16())

Models: "tiny" (overhead-bound) and "large" (bart-large-mnli's shape, random weights; see
bench/nli_models.py). The per-text loops time every text, so their short/long/mixed times come
from one pass over the mixed list.

    python -m bench.zero_shot                      # both models, 20 short + 20 long
    python -m bench.zero_shot --model tiny --short 200 --long 100
    python -m bench.zero_shot --model large --json results/zero_shot.json
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bench.common import (
    CpuShare,
    child_main,
    describe_machine,
    machine_info,
    markdown_table,
    run_child,
    verdict,
    write_json,
)
from bench.data import BBC_LABELS, long_texts, mixed, short_texts

TEMPLATE = "This text is about {}."
MODULE = "bench.zero_shot"


# --------------------------------------------------------------------------- contenders (child)


def _softmax_entailment(logits, entailment: int, contradiction: int) -> float:
    pair = np.asarray([logits[contradiction], logits[entailment]], dtype=np.float64)
    pair = np.exp(pair - pair.max())
    return float(pair[1] / pair.sum())


def _loop(spec: dict, clock: CpuShare) -> dict:
    """(a) for text in texts: pipeline(text, labels, multi_label=True)."""
    from transformers import pipeline

    labels = spec["labels"]
    pipe = pipeline("zero-shot-classification", model=spec["model"], device="cpu")

    def classify(text: str) -> list[float]:
        out = pipe(text, candidate_labels=labels, hypothesis_template=TEMPLATE, multi_label=True)
        by_label = dict(zip(out["labels"], out["scores"]))
        return [by_label[label] for label in labels]

    for text in spec["warmup"]:
        classify(text)
    return _per_text(spec["texts"], classify, clock)


def _manual(spec: dict, clock: CpuShare) -> dict:
    """(b) for text: for label: tokenizer(text, hypothesis) -> model -> softmax."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    model = AutoModelForSequenceClassification.from_pretrained(spec["model"]).eval()
    label2id = {name.lower(): index for name, index in model.config.label2id.items()}
    entailment, contradiction = label2id["entailment"], label2id["contradiction"]

    def classify(text: str) -> list[float]:
        scores = []
        for label in spec["labels"]:
            inputs = tokenizer(
                text, TEMPLATE.format(label), return_tensors="pt", truncation="only_first"
            )
            with torch.no_grad():
                logits = model(**inputs).logits[0]
            scores.append(_softmax_entailment(logits.tolist(), entailment, contradiction))
        return scores

    for text in spec["warmup"]:
        classify(text)
    return _per_text(spec["texts"], classify, clock)


def _per_text(texts: list[str], classify, clock: CpuShare) -> dict:
    seconds, scores = [], []
    for text in texts:
        started = time.perf_counter()
        with clock.timed():
            scores.append(classify(text))
        seconds.append(time.perf_counter() - started)
    return {"per_text_seconds": seconds, "scores": scores}


def _batched(spec: dict, clock: CpuShare) -> dict:
    """(c) pipeline(all_texts, labels, multi_label=True, batch_size=B)."""
    from transformers import pipeline

    labels, batch_size = spec["labels"], spec["batch_size"]
    pipe = pipeline("zero-shot-classification", model=spec["model"], device="cpu")
    kwargs = dict(
        candidate_labels=labels, hypothesis_template=TEMPLATE, multi_label=True,
        batch_size=batch_size,
    )  # fmt: skip
    pipe(spec["warmup"], **kwargs)
    started = time.perf_counter()
    with clock.timed():
        outputs = pipe(spec["texts"], **kwargs)
    seconds = time.perf_counter() - started
    scores = []
    for out in outputs:
        by_label = dict(zip(out["labels"], out["scores"]))
        scores.append([by_label[label] for label in labels])
    return {"seconds": seconds, "scores": scores}


def _sift(spec: dict, clock: CpuShare) -> dict:
    """(d, e) Sift's zero_shot technique, multi-label, on each set in one call."""
    from core.taxonomy import Label, Taxonomy
    from core.techniques.zero_shot import ZeroShot

    taxonomy = Taxonomy(tuple(Label(name) for name in spec["labels"]))
    technique = ZeroShot(
        multi_label=True, model=spec["model"], device="cpu", precision=spec["precision"]
    )
    technique.predict(spec["warmup"], taxonomy)
    runs = {}
    for name, texts in spec["sets"].items():
        started = time.perf_counter()
        with clock.timed():
            results = technique.predict(texts, taxonomy)
        seconds = time.perf_counter() - started
        scores = [[result.scores[label] for label in spec["labels"]] for result in results]
        runs[name] = {"seconds": seconds, "scores": scores}
    return {"sets": runs}


def _peak(spec: dict, clock: CpuShare) -> dict:
    from bench.peak import matmul_peak

    return {"fp32": matmul_peak("fp32"), "bf16": matmul_peak("bf16") if spec["bf16"] else None}


CONTENDERS = {"loop": _loop, "manual": _manual, "batched": _batched, "sift": _sift, "peak": _peak}


def _child(spec: dict) -> dict:
    from core.models.loading import configure_torch_threads

    threads = configure_torch_threads()
    clock = CpuShare()
    result = CONTENDERS[spec["contender"]](spec, clock)
    result["cpu_share"] = clock.share(threads)
    return result


# --------------------------------------------------------------------------- the bench (parent)


def pair_token_counts(folder: str, texts: list[str], labels: list[str]) -> list[list[int]]:
    """[text][label] token count of each (text, hypothesis) pair as the pipeline builds it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    return [
        [
            len(tokenizer(text, TEMPLATE.format(label), truncation="only_first")["input_ids"])
            for label in labels
        ]
        for text in texts
    ]


def bench_model(shape: str, args, info: dict, peaks: dict) -> dict:
    from transformers import AutoConfig

    from bench.nli_models import nli_model_folder
    from bench.peak import bart_flops

    folder = str(nli_model_folder(shape, args.data))
    config = AutoConfig.from_pretrained(folder)
    short = short_texts(args.short, args.data)
    long = long_texts(args.long, args.data)
    everything = mixed(short, long)
    warmup = [example.text for example in short_texts(len(short) + 2, args.data)[-2:]]
    labels = list(BBC_LABELS)
    # short and long keep the mixed list's order, so every contender's rows line up.
    sets = {
        "short": [e.text for e in everything if e.kind == "short"],
        "long": [e.text for e in everything if e.kind == "long"],
        "mixed": [e.text for e in everything],
    }
    kinds = [e.kind for e in everything]
    tokens = pair_token_counts(folder, sets["mixed"], labels)
    set_tokens = {
        name: [n for kind, row in zip(kinds, tokens) if name in ("mixed", kind) for n in row]
        for name in sets
    }
    flops = {name: bart_flops(config, counts) for name, counts in set_tokens.items()}
    base = {"model": folder, "labels": labels, "warmup": warmup}
    large = shape == "large"
    print(
        f"\n## {shape} model: {len(short)} short + {len(long)} long texts x {len(labels)} labels;"
        f" mean pair tokens short {np.mean(set_tokens['short']):.1f}, "
        f"long {np.mean(set_tokens['long']):.1f}",
        file=sys.stderr,
    )

    results: dict[str, dict] = {}
    timeout = args.timeout
    # (a), (b): one pass over the mixed list, every text timed.
    for name in ("loop", "manual"):
        raw = run_child(
            MODULE,
            {**base, "contender": name, "texts": sets["mixed"]},
            label=f"{shape}/{name}",
            timeout=timeout,
        )
        per_text = np.asarray(raw["per_text_seconds"])
        scores = np.asarray(raw["scores"])
        mask = {k: np.asarray([kind == k or k == "mixed" for kind in kinds]) for k in sets}
        results[name] = {
            "sets": {
                k: {"seconds": float(per_text[mask[k]].sum()), "scores": scores[mask[k]]}
                for k in sets
            },
            "peak_rss_mib": raw["peak_rss_mib"],
            "cpu_share": raw["cpu_share"],
        }
    # (c): the pipeline over the whole mixed list, several batch sizes.
    # On the large model only 5 (one text's pairs per batch, the best size on the tiny sweep
    # and in docs/benchmarks.md's exploratory large run) fits the run in ~15 minutes.
    sizes = args.pipeline_batch_sizes or ([5] if large else [4, 5, 8, 16, 32, 64])
    for size in sizes:
        raw = run_child(
            MODULE,
            {**base, "contender": "batched", "texts": sets["mixed"], "batch_size": size},
            label=f"{shape}/batched-{size}",
            timeout=timeout,
        )
        results[f"batched-{size}"] = {
            "sets": {"mixed": {"seconds": raw["seconds"], "scores": np.asarray(raw["scores"])}},
            "peak_rss_mib": raw["peak_rss_mib"],
            "cpu_share": raw["cpu_share"],
        }
    # (d), (e): Sift, each set in its own call.
    precisions = ["fp32"] + (["bf16"] if info["bf16"] else [])
    for precision in precisions:
        wanted = ["short", "long", "mixed"] if precision == "fp32" or not large else ["mixed"]
        name = "sift" if precision == "fp32" else f"sift-{precision}"
        raw = run_child(
            MODULE,
            {
                **base,
                "contender": "sift",
                "precision": precision,
                "sets": {k: sets[k] for k in wanted},
            },
            label=f"{shape}/{name}",
            timeout=timeout,
        )
        results[name] = {
            "sets": {
                k: {"seconds": v["seconds"], "scores": np.asarray(v["scores"])}
                for k, v in raw["sets"].items()
            },
            "peak_rss_mib": raw["peak_rss_mib"],
            "cpu_share": raw["cpu_share"],
        }
    return summarise(shape, results, sets, set_tokens, flops, peaks, labels)


def median_margin(scores: np.ndarray) -> float:
    """Median gap between each text's two best label scores: near-ties flip under any noise."""
    top_two = np.sort(scores, axis=1)[:, -2:]
    return float(np.median(top_two[:, 1] - top_two[:, 0]))


def summarise(shape, results, sets, set_tokens, flops, peaks, labels) -> dict:
    reference = results["loop"]["sets"]
    batched = [name for name in results if name.startswith("batched-")]
    best_batched = min(batched, key=lambda name: results[name]["sets"]["mixed"]["seconds"])
    rows, table = [], []
    for name, result in results.items():
        for set_name in ("short", "long", "mixed"):
            run = result["sets"].get(set_name)
            if run is None:
                continue
            seconds = run["seconds"]
            n_texts = len(sets[set_name])
            n_pairs = n_texts * len(labels)
            ref_scores = reference[set_name]["scores"]
            diff = float(np.abs(run["scores"] - ref_scores).max())
            top_same = float((run["scores"].argmax(1) == ref_scores.argmax(1)).mean())
            precision = "bf16" if "bf16" in name else "fp32"
            peak = peaks[precision]["gflops"] if peaks.get(precision) else None
            gflops = flops[set_name] / seconds / 1e9
            best_seconds = results[best_batched]["sets"]["mixed"]["seconds"]
            row = {
                "contender": name,
                "set": set_name,
                "texts": n_texts,
                "pairs": n_pairs,
                "seconds": seconds,
                "texts_per_s": n_texts / seconds,
                "pairs_per_s": n_pairs / seconds,
                "vs_loop": reference[set_name]["seconds"] / seconds,
                "vs_best_batched": best_seconds / seconds if set_name == "mixed" else None,
                "model_gflops": gflops,
                "pct_of_peak": 100 * gflops / peak if peak else None,
                "peak_rss_mib": result["peak_rss_mib"],
                "cpu_share": result["cpu_share"],
                "max_abs_diff": diff,
                "top_label_same": top_same,
            }
            rows.append(row)
            table.append(
                [
                    name, set_name, n_texts, row["texts_per_s"], row["pairs_per_s"],
                    row["vs_loop"], row["vs_best_batched"], gflops, row["pct_of_peak"],
                    row["peak_rss_mib"], 100 * row["cpu_share"], diff,
                ]
            )  # fmt: skip
    header = [
        "contender", "set", "texts", "texts/s", "pairs/s", "x loop", "x best batched",
        "model GFLOP/s", "% of peak", "peak RSS MiB", "CPU share %", "max abs diff vs loop",
    ]  # fmt: skip
    by = {(row["contender"], row["set"]): row for row in rows}
    targets = []

    def target(name: str, passed: bool | None, detail: str) -> None:
        targets.append([name, "n/a" if passed is None else verdict(passed), detail])

    short, long_, mix = by[("sift", "short")], by[("sift", "long")], by[("sift", "mixed")]
    target(
        "short: sift fp32 >= 3x loop, scores equal to 1e-4",
        short["vs_loop"] >= 3 and short["max_abs_diff"] <= 1e-4,
        f"{short['vs_loop']:.2f}x, max diff {short['max_abs_diff']:.1e}",
    )
    target(
        "long: sift fp32 >= 0.95x loop and >= 70% of fp32 peak",
        long_["vs_loop"] >= 0.95 and (long_["pct_of_peak"] or 0) >= 70,
        f"{long_['vs_loop']:.2f}x, {long_['pct_of_peak']:.0f}% of peak "
        f"(loop: {by[('loop', 'long')]['pct_of_peak']:.0f}%)",
    )
    target(
        "mixed: sift fp32 >= 1.2x best batched pipeline",
        mix["vs_best_batched"] >= 1.2,
        f"{mix['vs_best_batched']:.2f}x {best_batched}",
    )
    bf16 = by.get(("sift-bf16", "mixed"))
    if bf16 is None:
        target("mixed: sift bf16 >= 2.5x loop, top label >= 99%, |dp| <= 0.02", None, "no bf16")
    else:
        target(
            "mixed: sift bf16 >= 2.5x loop, top label same on >= 99%, probabilities within 0.02",
            bf16["vs_loop"] >= 2.5 and bf16["top_label_same"] >= 0.99 and bf16["max_abs_diff"] <= 0.02,
            f"{bf16['vs_loop']:.2f}x, top label same {100 * bf16['top_label_same']:.0f}%, "
            f"max diff {bf16['max_abs_diff']:.4f}; median fp32 gap between the top two "
            f"labels {median_margin(reference['mixed']['scores']):.4f}",
        )  # fmt: skip
    text = (
        f"### Zero-shot NLI, {shape} model\n\n"
        f"Mean tokens per (text, hypothesis) pair: short "
        f"{np.mean(set_tokens['short']):.1f}, long {np.mean(set_tokens['long']):.1f} "
        f"(max {max(set_tokens['long'])}). Best batched pipeline: {best_batched}.\n\n"
        + markdown_table(header, table)
        + "\n\n"
        + markdown_table(["target", "verdict", "measured"], targets)
    )
    print(text + "\n", flush=True)
    return {"shape": shape, "rows": rows, "targets": targets, "markdown": text}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tiny", "large", "all"], default="all")
    parser.add_argument("--short", type=int, default=20, help="banking77 texts (default 20)")
    parser.add_argument("--long", type=int, default=20, help="BBC news texts (default 20)")
    parser.add_argument(
        "--pipeline-batch-sizes",
        type=lambda value: [int(v) for v in value.split(",")],
        help="batch sizes tried for the batched pipeline (default: large 5; tiny 4,5,8,16,32,64)",
    )
    parser.add_argument("--data", help="folder holding banking77/ and bbc_news/")
    parser.add_argument("--json", help="write every measurement to this JSON file")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per contender")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    info = machine_info()
    print(f"Machine: {describe_machine(info)}\n", flush=True)
    peaks = run_child(MODULE, {"contender": "peak", "bf16": info["bf16"]}, label="matmul peak")
    print(
        f"Measured matmul peak: fp32 {peaks['fp32']['gflops']:.0f} GFLOP/s"
        + (f", bf16 {peaks['bf16']['gflops']:.0f} GFLOP/s" if peaks.get("bf16") else "")
        + "\n",
        flush=True,
    )
    shapes = ["tiny", "large"] if args.model == "all" else [args.model]
    reports = [bench_model(shape, args, info, peaks) for shape in shapes]
    total = time.perf_counter() - started
    print(f"Whole run: {total / 60:.1f} min", flush=True)
    write_json(
        args.json,
        {"machine": info, "peaks": peaks, "reports": reports, "seconds": total,
         "short": args.short, "long": args.long},
    )  # fmt: skip


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(_child)
    else:
        main()
