"""Sentence embeddings: Sift's encode path against sentence-transformers' `encode` defaults.

Model: the packaged all-MiniLM-L6-v2 (max 256 tokens). Inputs: --long BBC news texts (every
one truncated at 256 tokens) and --short banking77 texts. Contenders, each in its own process
(its own peak RSS), each warmed up on two other texts:

  st        SentenceTransformer(folder).encode(texts)              (defaults: fp32, batch 32)
  st-bf16   the same after model.to(torch.bfloat16)                 (bf16 alone, for reference)
  sift      core.models.encoder.encode, fp32  (load_sentence_encoder + length-sorted
            batches, inference_mode, torch threads = usable CPUs)
  sift-bf16 the same, precision="bf16"

Embedding zero-shot on BBC: each text gets the label (business, entertainment, politics,
sport, tech) whose *name*, embedded by the same contender, is most cosine-similar; accuracy
against BBC's gold labels. Cosine to the sentence-transformers fp32 embedding of the same text
shows how far each contender's vectors are from the reference.

    python -m bench.embeddings                       # 400 long + 1000 short
    python -m bench.embeddings --long 2225 --short 3080 --json results/embeddings.json
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
from bench.data import BBC_LABELS, long_texts, short_texts

MODULE = "bench.embeddings"


def _sentence_transformers(spec: dict, clock: CpuShare) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    from core.models.catalog import PACKAGED_MINILM
    from core.models.loading import resolve_model_path

    model = SentenceTransformer(str(resolve_model_path(PACKAGED_MINILM)), device="cpu")
    if spec["precision"] == "bf16":
        model.to(torch.bfloat16)

    def encode(texts):
        return np.asarray(model.encode(texts), dtype=np.float32)

    return _run_sets(spec, encode, clock)


def _sift(spec: dict, clock: CpuShare) -> dict:
    from core.models.encoder import encode as sift_encode
    from core.models.loading import load_sentence_encoder

    loaded = load_sentence_encoder(device="cpu", precision=spec["precision"])

    def encode(texts):
        return sift_encode(loaded, texts)

    return _run_sets(spec, encode, clock)


def _run_sets(spec: dict, encode, clock: CpuShare) -> dict:
    encode(spec["warmup"])
    runs = {}
    for name, texts in spec["sets"].items():
        started = time.perf_counter()
        with clock.timed():
            vectors = encode(texts)
        runs[name] = {"seconds": time.perf_counter() - started, "vectors": vectors.tolist()}
    labels = encode(spec["labels"])
    return {"sets": runs, "label_vectors": labels.tolist()}


def _peak(spec: dict, clock: CpuShare) -> dict:
    from bench.peak import matmul_peak

    return {"fp32": matmul_peak("fp32"), "bf16": matmul_peak("bf16") if spec["bf16"] else None}


CONTENDERS = {"st": _sentence_transformers, "sift": _sift, "peak": _peak}


def _child(spec: dict) -> dict:
    from core.models.loading import configure_torch_threads

    threads = configure_torch_threads()
    clock = CpuShare()
    result = CONTENDERS[spec["contender"]](spec, clock)
    result["cpu_share"] = clock.share(threads)
    return result


def token_counts(texts: list[str]) -> list[int]:
    """Tokens MiniLM sees per text (special tokens included, truncated at 256)."""
    from transformers import AutoTokenizer

    from core.models.catalog import PACKAGED_MINILM
    from core.models.loading import resolve_model_path

    folder = resolve_model_path(PACKAGED_MINILM)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return [len(ids) for ids in tokenizer(texts, truncation=True, max_length=256)["input_ids"]]


def main(argv: list[str] | None = None) -> None:
    from transformers import AutoConfig

    from bench.peak import bert_flops
    from core.models.catalog import PACKAGED_MINILM
    from core.models.loading import resolve_model_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", type=int, default=400, help="BBC news texts (default 400)")
    parser.add_argument("--short", type=int, default=1000, help="banking77 texts (default 1000)")
    parser.add_argument("--data", help="folder holding banking77/ and bbc_news/")
    parser.add_argument("--json", help="write every measurement to this JSON file")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    info = machine_info()
    print(f"Machine: {describe_machine(info)}\n", flush=True)
    peaks = run_child(MODULE, {"contender": "peak", "bf16": info["bf16"]}, label="matmul peak")
    long = long_texts(args.long, args.data)
    short = short_texts(args.short, args.data)
    sets = {"long": [e.text for e in long], "short": [e.text for e in short]}
    gold = np.asarray([BBC_LABELS.index(e.label) for e in long])
    warmup = [e.text for e in short_texts(args.short + 2, args.data)[-2:]]
    config = AutoConfig.from_pretrained(str(resolve_model_path(PACKAGED_MINILM)))
    tokens = {name: token_counts(texts) for name, texts in sets.items()}
    flops = {name: bert_flops(config, counts) for name, counts in tokens.items()}

    contenders = [("st", "st", "fp32"), ("st-bf16", "st", "bf16")]
    contenders += [("sift", "sift", "fp32"), ("sift-bf16", "sift", "bf16")]
    if not info["bf16"]:
        contenders = [c for c in contenders if c[2] == "fp32"]
    results = {}
    for name, contender, precision in contenders:
        spec = {
            "contender": contender,
            "precision": precision,
            "sets": sets,
            "warmup": warmup,
            "labels": list(BBC_LABELS),
        }
        raw = run_child(MODULE, spec, label=name)
        results[name] = raw

    reference = {k: np.asarray(v["vectors"]) for k, v in results["st"]["sets"].items()}
    header = [
        "contender", "set", "texts", "texts/s", "tokens/s", "x st defaults", "model GFLOP/s",
        "% of peak", "peak RSS MiB", "CPU share %", "min cosine to st fp32", "BBC accuracy %",
    ]  # fmt: skip
    rows, table = [], []
    for name, raw in results.items():
        precision = "bf16" if name.endswith("bf16") else "fp32"
        label_vectors = np.asarray(raw["label_vectors"])
        for set_name, run in raw["sets"].items():
            vectors = np.asarray(run["vectors"])
            seconds = run["seconds"]
            cosine = float((vectors * reference[set_name]).sum(1).min())
            accuracy = None
            if set_name == "long":
                accuracy = 100 * float(((vectors @ label_vectors.T).argmax(1) == gold).mean())
            gflops = flops[set_name] / seconds / 1e9
            row = {
                "contender": name,
                "set": set_name,
                "texts": len(sets[set_name]),
                "seconds": seconds,
                "texts_per_s": len(sets[set_name]) / seconds,
                "tokens_per_s": sum(tokens[set_name]) / seconds,
                "vs_st": results["st"]["sets"][set_name]["seconds"] / seconds,
                "model_gflops": gflops,
                "pct_of_peak": 100 * gflops / peaks[precision]["gflops"],
                "peak_rss_mib": raw["peak_rss_mib"],
                "cpu_share": raw["cpu_share"],
                "min_cosine": cosine,
                "accuracy": accuracy,
            }
            rows.append(row)
            table.append(
                [
                    name, set_name, row["texts"], row["texts_per_s"], row["tokens_per_s"],
                    row["vs_st"], gflops, row["pct_of_peak"], row["peak_rss_mib"],
                    100 * row["cpu_share"], cosine, accuracy,
                ]
            )  # fmt: skip
    by = {(row["contender"], row["set"]): row for row in rows}
    targets = []
    fast = by.get(("sift-bf16", "long"))
    if fast is None:
        targets.append(["BBC: sift bf16 >= 2.5x st defaults", "n/a", "no bf16 on this CPU"])
    else:
        accuracy_gap = abs(fast["accuracy"] - by[("sift", "long")]["accuracy"])
        targets.append(
            [
                "BBC: sift bf16 >= 2.5x st defaults, zero-shot accuracy within 0.5 points of fp32",
                verdict(fast["vs_st"] >= 2.5 and accuracy_gap <= 0.5),
                f"{fast['vs_st']:.2f}x; accuracy bf16 {fast['accuracy']:.2f}% vs fp32 "
                f"{by[('sift', 'long')]['accuracy']:.2f}%",
            ]
        )
        targets.append(
            [
                "BBC: sift bf16 >= 50% of the bf16 matmul peak",
                verdict(fast["pct_of_peak"] >= 50),
                f"{fast['pct_of_peak']:.0f}% ({fast['model_gflops']:.0f} of "
                f"{peaks['bf16']['gflops']:.0f} GFLOP/s)",
            ]
        )
    text = (
        "### Embeddings (packaged all-MiniLM-L6-v2)\n\n"
        f"{args.long} BBC texts (mean {np.mean(tokens['long']):.0f} tokens after truncation "
        f"at 256), {args.short} banking77 texts (mean {np.mean(tokens['short']):.1f} tokens). "
        f"Matmul peak: fp32 {peaks['fp32']['gflops']:.0f} GFLOP/s"
        + (f", bf16 {peaks['bf16']['gflops']:.0f} GFLOP/s" if peaks.get("bf16") else "")
        + ". Zero-shot: label names as prototypes.\n\n"
        + markdown_table(header, table)
        + "\n\n"
        + markdown_table(["target", "verdict", "measured"], targets)
    )
    print(text + "\n")
    total = time.perf_counter() - started
    print(f"Whole run: {total / 60:.1f} min", flush=True)
    write_json(
        args.json,
        {"machine": info, "peaks": peaks, "rows": rows, "targets": targets, "markdown": text},
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(_child)
    else:
        main()
