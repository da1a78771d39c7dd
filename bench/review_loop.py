"""Review loop: Sift's learning loop as a user runs it, measured on any labelled CSV.

For each seed: a new project in a new SQLite file, the CSV imported through `core.ingest`
(the label column as gold labels; the seed shuffles the documents' order, and picks the
sample when --sample is given), labels from --taxonomy or, by default, the label column's
distinct values as names only; classified with the app's default techniques
(`core.techniques.DEFAULT_TECHNIQUES`). Then a simulated reviewer works through the Review
page's own queue (`core.review_queue.ReviewPass`, batch by batch, in --order), saving each
document's gold labels: an accept when the suggestion shown was right, a correction
otherwise. After every review the app's refresh policy decides whether to learn, and when it
does the app's one learning path (`core.learning.loop.learn`) runs, here synchronously. At
each checkpoint (k reviews per label on average: k x the number of labels reviews) the
suggestions the Review page would show (`core.predictions.load_predictions`) are scored
against gold on the documents not yet reviewed (`core.evaluation.metrics.suggestion_scores`).

    python -m bench.review_loop --csv FILE --text-column COL --label-column COL
        [--label-delimiter D] [--taxonomy FILE] [--checkpoints 0,1,2,4,8,16]
        [--seeds 3] [--order needed|random|needed,random] [--sample N] [--json OUT]

`--suite` runs the standard matrix (BBC news, banking77, SMS spam from ../shared/data, each
with its names and with bench/taxonomies/<name>.yaml, both orders), adds the plain
LogisticRegression baseline, judges the targets and, with --write-docs, rewrites the
"## Review loop" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import machine_info, verdict, write_json
from bench.data import REPO, data_dir

CHECKPOINTS = (0, 1, 2, 4, 8, 16)
SUITE = {  # name -> (csv under ../shared/data, text column, label column)
    "bbc_news": ("bbc_news/bbc_news.csv", "text", "label"),
    "banking77": ("banking77/banking77_test.csv", "text", "label"),
    "sms_spam": ("sms_spam/sms_spam.csv", "text", "label"),
}
TAXONOMIES = REPO / "bench" / "taxonomies"
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Review loop"
REVIEWER = "bench"


@dataclass
class Project:
    store: object
    project_id: int
    gold: dict[str, tuple[str, ...]]  # document id -> gold labels
    labels: list[str]
    multi_label: bool
    workdir: tempfile.TemporaryDirectory


# --- one run --------------------------------------------------------------------------------


def read_rows(path: Path, text_column: str, label_column: str) -> int:
    """Checks the columns exist (a clear error before anything is built); returns row count."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(
                f"{path}: no column {', '.join(map(repr, missing))}; columns are: "
                f"{', '.join(reader.fieldnames or [])}"
            )
        return sum(1 for _ in reader)


def build_project(args, seed: int) -> Project:
    """A new project holding the CSV's documents (gold labels kept), classified."""
    from core.engine import run_techniques
    from core.ingest import IngestOptions, ingest_path
    from core.store import Store
    from core.taxonomy import Label, Taxonomy, load_taxonomy_file, validate
    from core.techniques import DEFAULT_TECHNIQUES, create_technique

    parsed = ingest_path(
        Path(args.csv),
        IngestOptions(
            text_column=args.text_column,
            label_column=args.label_column,
            label_delimiter=args.label_delimiter or ";",
        ),
    )
    documents = [doc for doc in parsed.documents if doc.gold_labels or args.label_delimiter]
    order = np.random.default_rng(seed).permutation(len(documents))
    if args.sample and args.sample < len(documents):
        order = order[: args.sample]
    documents = [documents[i] for i in order]
    multi_label = bool(args.label_delimiter)
    if args.taxonomy:
        taxonomy = load_taxonomy_file(args.taxonomy)
    else:
        names = sorted({name for doc in documents for name in doc.gold_labels})
        taxonomy = Taxonomy(labels=tuple(Label(name) for name in names))
    validate(taxonomy)
    unknown = sorted({n for doc in documents for n in doc.gold_labels} - set(taxonomy.names))
    if unknown:
        raise SystemExit(f"gold labels missing from the taxonomy: {', '.join(unknown[:10])}")
    workdir = tempfile.TemporaryDirectory(prefix="sift-review-loop-")
    store = Store(Path(workdir.name) / "sift.db")
    project = store.create_project(
        "review-loop", settings={"multi_label": multi_label, "threshold": 0.5}
    )
    store.save_taxonomy(project.id, taxonomy)
    store.add_documents(
        project.id,
        documents,
        filename=Path(args.csv).name,
        format=parsed.format,
        encoding=parsed.encoding,
        sha256=parsed.sha256,
    )
    techniques = [create_technique(name, multi_label=multi_label) for name in DEFAULT_TECHNIQUES]
    for outcome in run_techniques(store, project.id, techniques, batch_size=64):
        if outcome.status != "finished":
            raise RuntimeError(f"{outcome.technique}: {outcome.status}: {outcome.error}")
    return Project(
        store=store,
        project_id=project.id,
        gold={doc.id: tuple(doc.gold_labels) for doc in documents},
        labels=list(taxonomy.names),
        multi_label=multi_label,
        workdir=workdir,
    )


def checkpoint_row(project: Project) -> dict:
    """The Review page's suggestions on the documents not reviewed yet, against gold."""
    from core.evaluation.metrics import suggestion_scores, truth_matrix
    from core.predictions import load_predictions

    store, pid = project.store, project.project_id
    table = load_predictions(store, pid)
    reviews = store.current_reviews(pid)
    rest = ~table.mask(reviews)
    ids = [doc for doc, keep in zip(table.document_ids, rest) if keep]
    truth = truth_matrix(project.gold, ids, table.labels)
    scores = suggestion_scores(
        table.suggested[rest], table.ensemble[rest], truth, multi_label=project.multi_label
    )
    reviewed_labels = {name for review in reviews.values() for name in review.labels}
    return {
        "reviews": len(reviews),
        "accuracy": scores.accuracy,
        "macro_f1": scores.macro_f1,
        "micro_f1": scores.micro_f1,
        "ece": scores.ece,
        "labels_reviewed": len(reviewed_labels & set(project.labels)),
        "version": table.version,
    }


def simulate(project: Project, order: str, checkpoints, seed: int) -> list[dict]:
    """A reviewer working through the Review page's queue; a row per checkpoint."""
    from core.learning.loop import learn, refresh_due
    from core.predictions import load_predictions, table_signature
    from core.review_queue import ReviewPass, next_batch

    store, pid = project.store, project.project_id
    n_labels, n_docs = len(project.labels), len(project.gold)
    review_pass = ReviewPass(order=order, seed=seed)
    signature, table = None, None
    done, rows, learned = 0, [], 0
    for k in checkpoints:
        goal = min(k * n_labels, n_docs - 1)
        while done < goal:
            if review_pass.needs_batch:
                fresh = table_signature(store, pid)
                if fresh != signature:  # what the page's cached table does
                    signature, table = fresh, load_predictions(store, pid)
                next_batch(store, pid, table, review_pass)
            item = review_pass.current
            if item is None:
                break
            truth = project.gold[item.document_id]
            decision = "accept" if set(item.suggestion.labels) == set(truth) else "correct"
            store.add_review(
                pid,
                item.document_id,
                reviewer=REVIEWER,
                decision=decision,
                labels=list(truth),
                shown=item.shown(),
            )
            review_pass.act(item.document_id)
            review_pass.move(+1)
            done += 1
            if refresh_due(store, pid):
                learn(store, pid, by=REVIEWER)
                learned += 1
        rows.append({"checkpoint": k, "seed": seed, "order": order, **checkpoint_row(project)})
        last = rows[-1]
        print(
            f"    {order} seed {seed} k={k}: {last['reviews']} reviews, accuracy "
            f"{last['accuracy']:.3f}, macro-F1 {last['macro_f1']:.3f}, ECE {last['ece']:.3f}, "
            f"labels reviewed {last['labels_reviewed']}/{n_labels}, v{last['version']} "
            f"({learned} candidates judged)",
            file=sys.stderr,
            flush=True,
        )
    return rows


def run(args) -> dict:
    """Every seed and order of one data set (+ taxonomy): {"dataset", "multi_label", "rows"}."""
    rows = []
    multi_label = bool(args.label_delimiter)
    for seed in range(args.seeds):
        for order in args.orders:
            started = time.perf_counter()
            project = build_project(args, seed)
            try:
                rows += simulate(project, order, args.checkpoints, seed)
            finally:
                project.store.close()
                project.workdir.cleanup()
            print(
                f"  {args.name} {order} seed {seed}: {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    return {"dataset": args.name, "multi_label": multi_label, "rows": rows}


# --- baselines and reporting --------------------------------------------------------------------


def plain_lr(args, per_label: int = 16) -> dict:
    """LogisticRegression (scikit-learn, C=4, class-balanced) on the same MiniLM embeddings,
    trained on a stratified random sample of per_label x labels documents, scored on the
    rest; mean over the seeds. Single-label only."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    from core.ingest import IngestOptions, ingest_path
    from core.models.embedding_cache import cached_encode
    from core.models.loading import load_sentence_encoder

    parsed = ingest_path(
        Path(args.csv), IngestOptions(text_column=args.text_column, label_column=args.label_column)
    )
    documents = [doc for doc in parsed.documents if doc.gold_labels]
    labels = sorted({doc.gold_labels[0] for doc in documents})
    y = np.array([labels.index(doc.gold_labels[0]) for doc in documents])
    x = cached_encode(load_sentence_encoder(), [doc.text for doc in documents])
    out = []
    for seed in range(args.seeds):
        train, test = train_test_split(
            np.arange(len(y)), train_size=per_label * len(labels), stratify=y, random_state=seed
        )
        model = LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced")
        predicted = model.fit(x[train], y[train]).predict(x[test])
        out.append(
            {
                "accuracy": float(accuracy_score(y[test], predicted)),
                "macro_f1": float(f1_score(y[test], predicted, average="macro")),
            }
        )
    return {key: float(np.mean([row[key] for row in out])) for key in out[0]}


def summary(rows: list[dict], metric: str, order: str, checkpoint: int) -> tuple[float, float]:
    values = [
        row[metric]
        for row in rows
        if row["order"] == order and row["checkpoint"] == checkpoint and row[metric] is not None
    ]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values))


def table_markdown(result: dict, checkpoints) -> str:
    rows, multi = result["rows"], result["multi_label"]
    orders = sorted({row["order"] for row in rows}, key=["needed", "random"].index)
    metrics = ["accuracy", "macro_f1", *(["micro_f1"] if multi else []), "ece"]
    header = "| order | reviews/label | reviews | " + " | ".join(metrics) + " | labels reviewed |"
    lines = [header, "|" + "---|" * (4 + len(metrics))]
    for order in orders:
        for k in checkpoints:
            cells = []
            for metric in metrics:
                mean, sd = summary(rows, metric, order, k)
                cells.append(f"{mean:.3f} ± {sd:.3f}")
            reviews, _ = summary(rows, "reviews", order, k)
            covered, _ = summary(rows, "labels_reviewed", order, k)
            lines.append(
                f"| {order} | {k} | {reviews:.0f} | " + " | ".join(cells) + f" | {covered:.1f} |"
            )
    return "\n".join(lines)


def targets(result: dict, n_labels: int, lr: dict | None) -> list[tuple[str, str, bool]]:
    """The review-loop targets of one data set + taxonomy: (what, measured, passed)."""
    rows, out = result["rows"], []
    checkpoints = sorted({row["checkpoint"] for row in rows})
    for metric in ("accuracy", "macro_f1"):
        zero, _ = summary(rows, metric, "needed", 0)
        worst = min(summary(rows, metric, "needed", k)[0] for k in checkpoints)
        out.append(
            (
                f"never worse: needed {metric} >= 0-review - 0.01",
                f"min {worst:.3f} vs {zero:.3f}",
                worst >= zero - 0.01,
            )
        )
    if 8 in checkpoints:
        for metric in ("accuracy", "macro_f1"):
            at8, _ = summary(rows, metric, "needed", 8)
            zero, _ = summary(rows, metric, "needed", 0)
            floor = max(zero, lr[metric]) if lr else zero
            what = "max(0-review, plain LR 16/label)" if lr else "0-review"
            out.append((f"8/label {metric} >= {what}", f"{at8:.3f} vs {floor:.3f}", at8 >= floor))
        needed, _ = summary(rows, "macro_f1", "needed", 8)
        rand, _ = summary(rows, "macro_f1", "random", 8)
        if rand == rand:  # random order was run
            out.append(
                (
                    "queue earns its keep: needed > random macro-F1 at 8/label",
                    f"{needed:.3f} vs {rand:.3f}",
                    needed > rand,
                )
            )
        ece, _ = summary(rows, "ece", "needed", 8)
        out.append(("calibrated: ECE <= 0.10 at 8/label", f"{ece:.3f}", ece <= 0.10))
    if 2 in checkpoints:
        covered = min(
            row["labels_reviewed"]
            for row in rows
            if row["order"] == "needed" and row["checkpoint"] == 2
        )
        out.append(
            (
                "every label reviewed by 2/label (needed)",
                f"{covered}/{n_labels}",
                covered == n_labels,
            )
        )
    return out


# --- the suite --------------------------------------------------------------------------------


def suite(args) -> dict:
    results = {}
    for name, (relative, text_column, label_column) in SUITE.items():
        if args.datasets and name not in args.datasets:
            continue
        for taxonomy in ("names", "described"):
            run_args = argparse.Namespace(**vars(args))
            run_args.csv = str(data_dir(args.data) / relative)
            run_args.text_column, run_args.label_column = text_column, label_column
            run_args.label_delimiter = None
            run_args.taxonomy = (
                str(TAXONOMIES / f"{name}.yaml") if taxonomy == "described" else None
            )
            run_args.name = f"{name} ({taxonomy})"
            print(f"{run_args.name}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            result = run(run_args)
            result["seconds"] = time.perf_counter() - started
            result["n_labels"] = len({row for row in _labels_of(run_args)})
            results[run_args.name] = result
        results[f"{name} (plain LR)"] = {"plain_lr_16": plain_lr(run_args)}
    return results


def _labels_of(args) -> set[str]:
    with Path(args.csv).open(newline="", encoding="utf-8-sig") as handle:
        return {row[args.label_column] for row in csv.DictReader(handle)}


def render_suite(results: dict, info: dict, args, seconds: float) -> str:
    lines = [
        SECTION,
        "",
        "`python -m bench.review_loop --suite` runs the whole loop as a reviewer meets it: a new "
        "project per seed, the app's default techniques (rules, lexicon, embeddings), the Review "
        "page's own queue batch by batch, each document saved with its gold labels (accept when "
        "the suggestion was right, correct otherwise), the app's refresh policy and learning "
        "path after every review. Each checkpoint scores the suggestions the Review page shows "
        "on the documents not reviewed yet. Two taxonomies per data set: the label names only, "
        "and bench/taxonomies/<name>.yaml (a one-line description and a few keywords per label, "
        "written from the label names alone). One set of defaults for every data set. "
        f"Mean ± sd over {args.seeds} seeds (a seed shuffles the documents' order).",
        "",
        f"Machine: {info['cpu']}, {info['usable_cpus']} usable CPUs, load average at start "
        f"{info['load_average_1m']}; {seconds / 60:.0f} min in all.",
        "",
    ]
    verdicts = []
    for name, result in results.items():
        if "rows" not in result:
            continue
        base = name.split(" (")[0]
        lr = results.get(f"{base} (plain LR)", {}).get("plain_lr_16")
        lines += [f"### {name}", "", table_markdown(result, args.checkpoints), ""]
        if lr:
            lines += [
                f"Plain LogisticRegression, 16 stratified random reviews/label: accuracy "
                f"{lr['accuracy']:.3f}, macro-F1 {lr['macro_f1']:.3f}.",
                "",
            ]
        verdicts += [
            (f"{name}: {what}", measured, ok)
            for what, measured, ok in targets(result, result["n_labels"], lr)
        ]
    lines += ["### Targets", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {what} | {measured} | {verdict(ok)} |" for what, measured, ok in verdicts]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = DOCS) -> None:
    """Replace (or append) the `## Review loop` section of docs/benchmarks.md only."""
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", help="labelled CSV")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--label-delimiter", help="multi-label: labels split on this")
    parser.add_argument("--taxonomy", help="YAML/JSON taxonomy (default: label names only)")
    parser.add_argument("--checkpoints", default=",".join(map(str, CHECKPOINTS)))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--order", default="needed", help="needed, random, or both: needed,random")
    parser.add_argument("--sample", type=int, help="use a seeded sample of this many documents")
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--suite", action="store_true", help="the standard matrix (see above)")
    parser.add_argument("--datasets", help="--suite: only these (comma-separated)")
    parser.add_argument("--data", help="--suite: folder holding the data sets")
    parser.add_argument("--write-docs", action="store_true", help=f"--suite: rewrite {SECTION!r}")
    args = parser.parse_args(argv)
    args.checkpoints = [int(k) for k in args.checkpoints.split(",")]
    args.orders = [order.strip() for order in args.order.split(",") if order.strip()]
    args.datasets = [d.strip() for d in args.datasets.split(",")] if args.datasets else None
    from core.review_queue import ORDERS

    bad = [order for order in args.orders if order not in ORDERS]
    if bad:
        parser.error(f"unknown order {', '.join(bad)}; choose from: {', '.join(ORDERS)}")
    started = time.perf_counter()
    if args.suite:
        info = machine_info()
        args.orders = ["needed", "random"]
        results = suite(args)
        text = render_suite(results, info, args, time.perf_counter() - started)
        print(text)
        if args.write_docs:
            write_section(text)
        write_json(args.json, {"machine": info, "results": results})
        return
    if not args.csv:
        parser.error("--csv is required (or --suite)")
    read_rows(Path(args.csv), args.text_column, args.label_column)
    args.name = Path(args.csv).stem
    result = run(args)
    print(table_markdown(result, args.checkpoints))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
