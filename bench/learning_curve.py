"""Learning curve: how fast Sift learns from a simulated reviewer, on real labelled data.

For each data set (BBC news, banking77, SMS spam from `<repo>/../shared/data`, or --data):
the taxonomy is the data set's label names (description = the name with underscores as
spaces; no keywords, patterns or entity hints, so rules, lexicon and NER abstain and the
ensemble is embeddings + supervised). Starting from zero reviews, a reviewer labels `step`
documents at a time, picked

  (a) by Sift's active-learning queue (`core.active_learning.priority`, given the reviewed
      labels' counts as the app gives them, + `select_batch`), or
  (b) in random order (mean of --seeds seeds),

and after each step Sift relearns exactly as the app does: `core.learn.fit_linear_model`
with the zero-shot prior (`core.learn.label_prior`) and self-training on the unreviewed
documents (once MIN_REVIEWS_FOR_SUPERVISED reviews exist), the ensemble of the embeddings
technique's zero-shot probabilities and the supervised model's, with weights fitted by
`core.learn.fit_technique_weights` once MIN_REVIEWS_FOR_ENSEMBLE_FIT reviews exist (equal
before). Accuracy and macro-F1 of the ensemble's top label are measured on the documents not
yet reviewed, after 0, 1, 2, 4, 8 and 16 reviews per label on average.

Baselines: plain zero-shot (MiniLM, "This text is about {label}.", argmax) and plain
logistic regression (scikit-learn, C=4, class-balanced) on MiniLM embeddings of randomly
ordered reviews. Each data set is embedded once (the packaged MiniLM, bf16 where the CPU
has it: cosine 1.000 to fp32) and kept in memory.

    python -m bench.learning_curve [--datasets bbc_news,banking77,sms_spam] [--sample N]
        [--seeds 3] [--write-docs] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from bench.common import machine_info, verdict, write_json
from bench.data import REPO, BenchDataError, data_dir

DATASETS = {
    "bbc_news": "bbc_news/bbc_news.csv",
    "banking77": "banking77/banking77_test.csv",
    "sms_spam": "sms_spam/sms_spam.csv",
}
CHECKPOINTS = (0, 1, 2, 4, 8, 16)  # reviews per label, on average
BASELINE_TEMPLATE = "This text is about {}."
# Targets at 8 reviews per label (accuracy, except SMS spam: macro-F1, the classes are 87/13).
TARGETS_AT_8 = {
    "bbc_news": ("accuracy", 0.95),
    "banking77": ("accuracy", 0.88),
    "sms_spam": ("macro_f1", 0.90),
}
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Learning curve"


@dataclass
class Dataset:
    name: str
    texts: list[str]
    truth: np.ndarray  # (N,) label index
    labels: list[str]
    embeddings: np.ndarray  # (N, D)


def readable(name: str) -> str:
    """The generic label description used for every data set: underscores as spaces."""
    return " ".join(name.replace("_", " ").split())


def load_dataset(name: str, data, sample: int | None, precision: str) -> Dataset:
    from core.models import load_sentence_encoder
    from core.techniques.embeddings import encode

    path = data_dir(data) / DATASETS[name]
    if not path.is_file():
        raise BenchDataError(f"{path} not found: pass --data DIR (the folder holding {name}/)")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    if sample and sample < len(rows):
        picked = np.sort(np.random.default_rng(0).choice(len(rows), sample, replace=False))
        rows = [rows[i] for i in picked]
    labels = sorted({label for _, label in rows})
    index = {label: i for i, label in enumerate(labels)}
    texts = [text for text, _ in rows]
    started = time.perf_counter()
    embeddings = encode(load_sentence_encoder(precision=precision), texts)
    print(
        f"{name}: {len(texts)} texts, {len(labels)} labels, embedded in "
        f"{time.perf_counter() - started:.0f} s ({precision})",
        file=sys.stderr,
        flush=True,
    )
    truth = np.array([index[label] for _, label in rows])
    return Dataset(name, texts, truth, labels, embeddings)


def taxonomy_of(dataset: Dataset):
    from core.taxonomy import Label, Taxonomy

    return Taxonomy(
        labels=tuple(Label(name, description=readable(name)) for name in dataset.labels)
    )


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
    }


# --- Sift, as the app runs it ---------------------------------------------------------------


class Sift:
    """The app's learning loop over precomputed embeddings (encode is deterministic, so this
    equals running the embeddings and supervised techniques through the engine)."""

    def __init__(self, dataset: Dataset, precision: str) -> None:
        from core.learn import label_prior
        from core.techniques.embeddings import Embeddings, similarities_to_probabilities

        self.dataset = dataset
        taxonomy = taxonomy_of(dataset)
        technique = Embeddings(precision=precision)
        vectors = technique.label_vectors(taxonomy)
        # (N, L) the embeddings technique's scores: softmax of cosine / temperature
        self.zero_shot = similarities_to_probabilities(
            dataset.embeddings @ vectors.T, temperature=technique.options["temperature"]
        )
        self.prior = label_prior(taxonomy, multi_label=False, precision=precision)

    def predict(self, reviewed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reviewed document indices -> ensemble (N, L), technique scores (T, N, L), present."""
        from core.learn import (
            MIN_REVIEWS_FOR_ENSEMBLE_FIT,
            MIN_REVIEWS_FOR_SUPERVISED,
            fit_linear_model,
            fit_technique_weights,
            weighted_average,
        )
        from core.models import DEFAULT_EMBEDDING_MODEL

        data = self.dataset
        components = [self.zero_shot]
        if len(reviewed) >= MIN_REVIEWS_FOR_SUPERVISED:
            unreviewed = np.setdiff1d(np.arange(len(data.truth)), reviewed)
            model, _ = fit_linear_model(
                data.embeddings[reviewed],
                [[data.labels[data.truth[i]]] for i in reviewed],
                multi_label=False,
                embedding_model=DEFAULT_EMBEDDING_MODEL,
                prior=self.prior,
                unlabelled=data.embeddings[unreviewed],
                cross_validate=False,
            )
            supervised = np.zeros_like(self.zero_shot)
            positions = [data.labels.index(name) for name in model.classes]
            supervised[:, positions] = model.probabilities(data.embeddings)
            components.append(supervised)
        technique_scores = np.stack(components)  # (T, N, L)
        present = np.ones(technique_scores.shape[:2], dtype=bool)
        weights = np.ones(len(components))
        if len(reviewed) >= MIN_REVIEWS_FOR_ENSEMBLE_FIT:
            targets = np.eye(len(data.labels))[data.truth[reviewed]]
            weights = fit_technique_weights(
                technique_scores[:, reviewed], present[:, reviewed], targets, False
            )
        ensemble, _ = weighted_average(weights, technique_scores, present, False)
        return ensemble, technique_scores, present


def run_arm(sift: Sift, arm: str, seed: int, step: int, checkpoints) -> dict[int, dict]:
    """One simulated reviewer: checkpoint (reviews per label) -> metrics on the rest."""
    from core.active_learning import priority, select_batch

    data = sift.dataset
    n_docs, n_labels = len(data.truth), len(data.labels)
    order = np.random.default_rng(seed).permutation(n_docs)
    reviewed = np.zeros(0, dtype=np.int64)
    out = {}
    for per_label in checkpoints:
        goal = min(per_label * n_labels, n_docs - 1)
        while len(reviewed) < goal:
            size = min(step, goal - len(reviewed))
            if arm == "random":
                picks = order[len(reviewed) : len(reviewed) + size]
            else:
                ensemble, technique_scores, present = sift.predict(reviewed)
                candidates = np.ones(n_docs, dtype=bool)
                candidates[reviewed] = False
                counts = np.bincount(data.truth[reviewed], minlength=n_labels)
                picks = select_batch(
                    priority(ensemble, technique_scores, present, label_counts=counts),
                    data.embeddings,
                    size,
                    candidates=candidates,
                )
            reviewed = np.concatenate([reviewed, picks])
        ensemble, _, _ = sift.predict(reviewed)
        rest = np.setdiff1d(np.arange(n_docs), reviewed)
        out[per_label] = {
            "n_reviews": len(reviewed),
            **scores(data.truth[rest], ensemble[rest].argmax(axis=1)),
        }
    return out


# --- baselines ---------------------------------------------------------------------------------


def zero_shot_baseline(dataset: Dataset, precision: str) -> dict[str, float]:
    from core.models import load_sentence_encoder
    from core.techniques.embeddings import encode

    loaded = load_sentence_encoder(precision=precision)
    vectors = encode(loaded, [BASELINE_TEMPLATE.format(readable(n)) for n in dataset.labels])
    return scores(dataset.truth, (dataset.embeddings @ vectors.T).argmax(axis=1))


def plain_lr(dataset: Dataset, per_label: int, seeds: int) -> dict[str, float]:
    n_docs, n_labels = len(dataset.truth), len(dataset.labels)
    results = []
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(n_docs)
        train, rest = order[: per_label * n_labels], order[per_label * n_labels :]
        if len(set(dataset.truth[train])) < 2:
            predicted = np.full(len(rest), dataset.truth[train][0])
        else:
            model = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
            predicted = model.fit(dataset.embeddings[train], dataset.truth[train]).predict(
                dataset.embeddings[rest]
            )
        results.append(scores(dataset.truth[rest], predicted))
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]}


# --- the run -------------------------------------------------------------------------------------


def mean_curve(curves: list[dict[int, dict]]) -> dict[int, dict]:
    return {
        k: {
            "n_reviews": curves[0][k]["n_reviews"],  # the same for every seed
            **{
                key: float(np.mean([c[k][key] for c in curves])) for key in ("accuracy", "macro_f1")
            },
        }
        for k in curves[0]
    }


def bench_dataset(name: str, args) -> dict:
    dataset = load_dataset(name, args.data, args.sample, args.precision)
    n_labels = len(dataset.labels)
    step = args.step or max(1, n_labels // 2)
    sift = Sift(dataset, args.precision)
    started = time.perf_counter()
    active = run_arm(sift, "active", 0, step, args.checkpoints)
    print(f"{name}: active arm {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    started = time.perf_counter()
    random_curves = [run_arm(sift, "random", s, step, args.checkpoints) for s in range(args.seeds)]
    print(f"{name}: random arm {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return {
        "n_documents": len(dataset.truth),
        "n_labels": n_labels,
        "step": step,
        "zero_shot_baseline": zero_shot_baseline(dataset, args.precision),
        "plain_lr": {k: plain_lr(dataset, k, args.seeds) for k in (8, 16)},
        "active": active,
        "random": mean_curve(random_curves),
    }


def targets(results: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, passed) rows."""
    rows = []
    for name, r in results.items():
        zero, base = r["active"][0]["accuracy"], r["zero_shot_baseline"]["accuracy"]
        rows.append(
            (
                f"{name}: 0 reviews beats plain zero-shot (accuracy)",
                f"{zero:.3f} vs {base:.3f}",
                zero > base,
            )
        )
    for name, r in results.items():
        metric, goal = TARGETS_AT_8[name]
        value = r["active"][8][metric]
        rows.append((f"{name}: 8/label {metric} >= {goal}", f"{value:.3f}", value >= goal))
    halves = 0
    for name, r in results.items():
        active8, random16 = r["active"][8]["accuracy"], r["random"][16]["accuracy"]
        halves += active8 >= random16
        rows.append(
            (
                f"{name}: active 8/label reaches random 16/label (accuracy)",
                f"{active8:.3f} vs {random16:.3f}",
                active8 >= random16,
            )
        )
    rows.append(
        (
            "active learning halves the reviews on >= 2 data sets",
            f"{halves} of {len(results)}",
            halves >= 2,
        )
    )
    return rows


def render(results: dict, info: dict, args, seconds: float) -> str:
    lines = [
        SECTION,
        "",
        "`python -m bench.learning_curve` simulates a reviewer on labelled data: zero reviews, "
        "then `step` documents at a time (half the number of labels) picked by Sift's "
        "active-learning queue or in random order (mean of "
        f"{args.seeds} seeds); Sift retrains after each step exactly as the app does (zero-shot "
        "prior + self-training supervised model, ensemble with fitted weights). Accuracy / "
        "macro-F1 on the documents not yet reviewed. Label descriptions are the label names "
        "(underscores as spaces); one set of defaults for every data set.",
        "",
        f"Machine: {info['cpu']}, {info['usable_cpus']} usable CPUs, load average "
        f"{info['load_average_1m']}; MiniLM in {args.precision}"
        + (f"; each data set sampled to {args.sample} documents" if args.sample else "")
        + f"; {seconds / 60:.0f} min in all.",
        "",
        "| data set | reviews/label | reviews | active acc | active F1 | random acc | random F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for k in args.checkpoints:
            a, b = r["active"][k], r["random"][k]
            lines.append(
                f"| {name} | {k} | {a['n_reviews']} | {a['accuracy']:.3f} | {a['macro_f1']:.3f} "
                f"| {b['accuracy']:.3f} | {b['macro_f1']:.3f} |"
            )
    lines += ["", "Baselines (accuracy / macro-F1):", ""]
    lines += [
        '| data set | zero-shot "This text is about {label}." | plain LR 8/label (random) '
        "| plain LR 16/label (random) |",
        "|---|---|---|---|",
    ]
    for name, r in results.items():
        z, p8, p16 = r["zero_shot_baseline"], r["plain_lr"][8], r["plain_lr"][16]
        lines.append(
            f"| {name} | {z['accuracy']:.3f} / {z['macro_f1']:.3f} | {p8['accuracy']:.3f} / "
            f"{p8['macro_f1']:.3f} | {p16['accuracy']:.3f} / {p16['macro_f1']:.3f} |"
        )
    lines += ["", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {verdict(p)} |" for t, m, p in targets(results)]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = DOCS) -> None:
    """Replace (or append) the `## Learning curve` section of docs/benchmarks.md only."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = "".join(lines[end:])
        updated = "".join(lines[:start]) + text + ("\n" + tail if tail else "")
    path.write_text(updated, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    from core.models import cpu_supports_bf16

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder holding the data sets (default ../shared/data)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--sample", type=int, help="use at most this many documents per set")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the random arm")
    parser.add_argument("--step", type=int, help="reviews per retrain (default: labels / 2)")
    parser.add_argument("--checkpoints", default=",".join(map(str, CHECKPOINTS)))
    parser.add_argument("--precision", default="bf16" if cpu_supports_bf16() else "fp32")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"rewrite the {SECTION!r} section of docs/benchmarks.md",
    )
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    args.checkpoints = [int(k) for k in args.checkpoints.split(",")]
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")

    started = time.perf_counter()
    info = machine_info()
    results = {name: bench_dataset(name, args) for name in names}
    text = render(results, info, args, time.perf_counter() - started)
    print(text)
    if args.write_docs:
        write_section(text)
    write_json(args.json, {"machine": info, "results": results})


if __name__ == "__main__":
    main()
