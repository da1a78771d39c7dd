"""Review page speed: open pages/review.py on a project of --docs documents, server-side.

Builds a real SQLite project (a temporary file, $SIFT_DB pointed at it) with synthetic
business texts and the rules + lexicon predictions of the real engine, then times
`AppTest.from_file("app.py").switch_page("pages/review.py").run()`:

  first     the first load in this process (Python imports of the pages included)
  fresh     a new session, Streamlit's data caches cleared (imports warm): what a user
            opening the page on a running server waits for the first time (the target)
  cached    a new session with the caches left warm
  rerun     .run() again on an open session (what every click costs)

With --refresh capped|uncapped, 40 reviews are added and a background thread runs the learning
refresh (`core.learning.loop.learn`) over and over while the page is timed, each time from
scratch (embedding cache and stored vectors dropped: the first refresh after a server
restart, the worst case). "capped" first reserves a core for the page as the server does
(`ui.background.leave_a_core_for_the_pages` -> `core.models.loading.reserve_cores(1)`);
"uncapped" lets the refresh use every core (Sift before the cap).

    python -m bench.review_page                 # 20,000 documents
    python -m bench.review_page --docs 2000 --repeats 3
    python -m bench.review_page --refresh capped
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import describe_machine, machine_info, markdown_table, verdict, write_json
from bench.data import REPO

TOPICS = {
    "billing": ["invoice", "refund", "charge", "payment", "overcharged"],
    "shipping": ["parcel", "delivery", "courier", "tracking number", "shipment"],
    "account": ["password", "login", "account locked", "two-factor", "username"],
    "complaint": ["unacceptable", "disappointed", "complaint", "escalate", "manager"],
    "sales": ["quote", "discount", "pricing", "renewal", "upgrade"],
}
FILLER = [
    "please",
    "could",
    "you",
    "check",
    "this",
    "for",
    "me",
    "as",
    "soon",
    "as",
    "possible",
    "thanks",
    "we",
    "noticed",
    "that",
    "the",
    "team",
    "said",
    "yesterday",
    "our",
    "customer",
    "reported",
    "an",
    "issue",
    "with",
    "the",
    "order",
    "from",
    "last",
    "week",
]


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """n distinct short business messages, each mentioning one or two topics' keywords."""
    rng = random.Random(seed)
    names = list(TOPICS)
    texts = []
    for number in range(n):
        words = rng.sample(FILLER, 12)
        for topic in rng.sample(names, rng.choice([1, 1, 2])):
            words.insert(rng.randrange(len(words)), rng.choice(TOPICS[topic]))
        texts.append(f"Ticket {number}: " + " ".join(words).capitalize() + ".")
    return texts


def build_project(db_path: Path, n_docs: int) -> int:
    from core.documents import Document
    from core.engine import run_techniques
    from core.store import Store
    from core.taxonomy import Keyword, Label, Taxonomy
    from core.techniques import create_technique

    store = Store(db_path)
    project = store.create_project("bench-review", settings={"multi_label": False})
    labels = tuple(
        Label(name, keywords=tuple(Keyword(word) for word in words), patterns=(rf"\b{words[0]}\b",))
        for name, words in TOPICS.items()
    )
    store.save_taxonomy(project.id, Taxonomy(labels))
    documents = [Document.from_text(text, source="tickets.csv") for text in synthetic_texts(n_docs)]
    store.add_documents(
        project.id, documents, filename="tickets.csv", format="csv", encoding="utf-8",
        sha256="0" * 64,
    )  # fmt: skip
    run_techniques(store, project.id, [create_technique("rules"), create_technique("lexicon")])
    store.close()
    return project.id


def add_reviews(db_path: Path, project_id: int, per_label: int = 8) -> int:
    """per_label reviews per topic, on documents that mention the topic's first word."""
    from core.store import Store

    store = Store(db_path)
    added = 0
    documents = store.get_documents(project_id, store.document_ids(project_id)[:5000])
    for label, words in TOPICS.items():
        matching = [doc for doc in documents if words[0] in doc.text][:per_label]
        for doc in matching:
            store.add_review(
                project_id, doc.id, reviewer="bench", decision="correct", labels=[label]
            )
            added += 1
    store.close()
    return added


def refresh_forever(db_path: Path, project_id: int, stop: threading.Event, busy: threading.Event):
    """The background refresh, from scratch each time, until `stop`."""
    from core.learning.loop import learn
    from core.models import embedding_cache
    from core.store import Store

    store = Store(db_path)
    while not stop.is_set():
        embedding_cache.clear()
        with store._write() as conn:  # bench only: forget the kept vectors too
            conn.execute("DELETE FROM embeddings")
        busy.set()
        try:
            learn(store, project_id)
        except RuntimeError:  # the interpreter shutting down under a refresh the bench left
            if not stop.is_set():
                raise
            break


def open_review(project_id: int, n_docs: int):
    """A new AppTest session on the Review page; returns (seconds, AppTest).

    Checks that the page rendered the project (its progress bar counts n_docs documents and
    a document is shown), so a page that stopped early cannot pass as fast."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
    at.session_state["sift_project_id"] = project_id
    at.session_state["sift_reviewer"] = "bench"
    started = time.perf_counter()
    at.switch_page("pages/review.py").run()
    seconds = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"the Review page raised: {at.exception}")
    progress = [bar.proto.text for bar in at.get("progress")]
    if not any(f"of {n_docs:,} reviewed" in text for text in progress) or not at.html:
        raise RuntimeError(f"the Review page did not show the project: progress {progress}")
    return seconds, at


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5, help="timed loads of each kind")
    parser.add_argument("--json", help="write every measurement to this JSON file")
    parser.add_argument(
        "--refresh",
        choices=["none", "capped", "uncapped"],
        default="none",
        help="time the page while a learning refresh runs in the background",
    )
    args = parser.parse_args(argv)

    if not (REPO / "pages" / "review.py").is_file():
        sys.exit("pages/review.py does not exist yet: nothing to time")
    info = machine_info()
    print(f"Machine: {describe_machine(info)}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="sift-bench-review-") as tmp:
        db_path = Path(tmp) / "sift.db"
        os.environ["SIFT_DB"] = str(db_path)
        started = time.perf_counter()
        project_id = build_project(db_path, args.docs)
        build_s = time.perf_counter() - started
        print(f"built a project of {args.docs:,} documents in {build_s:.1f} s", file=sys.stderr)

        import streamlit as st

        stop, busy = threading.Event(), threading.Event()
        if args.refresh != "none":
            print(f"{add_reviews(db_path, project_id)} reviews added", file=sys.stderr)
            if args.refresh == "capped":
                from core.models.loading import reserve_cores

                print(f"model work capped to {reserve_cores(1)} thread(s)", file=sys.stderr)
            worker = threading.Thread(
                target=refresh_forever, args=(db_path, project_id, stop, busy), daemon=True
            )
            worker.start()
            busy.wait()
            time.sleep(2.0)  # into the embedding of the pool
        first, _ = open_review(project_id, args.docs)
        fresh, cached, rerun = [], [], []
        for _ in range(args.repeats):
            st.cache_data.clear()
            fresh.append(open_review(project_id, args.docs)[0])
        for _ in range(args.repeats):
            seconds, at = open_review(project_id, args.docs)
            cached.append(seconds)
        for _ in range(args.repeats):
            started = time.perf_counter()
            at.run()
            rerun.append(time.perf_counter() - started)
        stop.set()
    timings = {
        "first": [first],
        "fresh": fresh,
        "cached": cached,
        "rerun": rerun,
    }
    rows = [
        [kind, len(values), statistics.median(values), min(values), max(values)]
        for kind, values in timings.items()
    ]
    target_s = statistics.median(fresh)
    targets = [
        [
            f"Review page, {args.docs:,} documents, fresh session < 1.5 s server-side",
            verdict(target_s < 1.5),
            f"median {target_s:.2f} s over {len(fresh)} loads",
        ]
    ]
    during = "" if args.refresh == "none" else f", a {args.refresh} refresh running"
    text = (
        f"### Review page ({args.docs:,} documents, rules + lexicon predictions{during})\n\n"
        + markdown_table(["load", "n", "median s", "min s", "max s"], rows)
        + "\n\n"
        + markdown_table(["target", "verdict", "measured"], targets)
    )
    print(text + "\n", flush=True)
    write_json(
        args.json,
        {"machine": info, "docs": args.docs, "build_s": build_s, "timings": timings,
         "targets": targets, "markdown": text},
    )  # fmt: skip


if __name__ == "__main__":
    main()
