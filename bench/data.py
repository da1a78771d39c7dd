"""The benchmark data sets (never copied into the repo) and deterministic samples of them.

Data lives in `<repo>/../shared/data` unless `--data DIR` or $SIFT_BENCH_DATA says otherwise.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BANKING77 = "banking77/banking77_test.csv"
BBC_NEWS = "bbc_news/bbc_news.csv"
# BBC's five topics; used as the zero-shot labels for every bench text.
BBC_LABELS = ["business", "entertainment", "politics", "sport", "tech"]


class BenchDataError(FileNotFoundError):
    """A benchmark data file is missing; the message says where it was looked for."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    kind: str  # "short" (banking77) | "long" (BBC news)


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """--data, else $SIFT_BENCH_DATA, else <repo>/../shared/data."""
    chosen = override or os.environ.get("SIFT_BENCH_DATA") or REPO.parent / "shared" / "data"
    return Path(chosen).expanduser().resolve()


def read_csv(relative: str, data: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """(text, label) rows of one data set's CSV."""
    path = data_dir(data) / relative
    if not path.is_file():
        raise BenchDataError(
            f"{path} not found: pass --data DIR (the folder holding banking77/ and bbc_news/) "
            "or set SIFT_BENCH_DATA"
        )
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["text"], row["label"]) for row in csv.DictReader(handle)]


def sample(rows: list[tuple[str, str]], n: int, kind: str, seed: int = 0) -> list[Example]:
    """n rows drawn without replacement by a seeded RNG (the same rows every run)."""
    if n > len(rows):
        raise ValueError(f"asked for {n} {kind} texts but the data set has {len(rows)}")
    picked = random.Random(seed).sample(rows, n)
    return [Example(text=text, label=label, kind=kind) for text, label in picked]


def short_texts(n: int, data=None, seed: int = 0) -> list[Example]:
    return sample(read_csv(BANKING77, data), n, "short", seed)


def long_texts(n: int, data=None, seed: int = 0) -> list[Example]:
    return sample(read_csv(BBC_NEWS, data), n, "long", seed)


def mixed(short: list[Example], long: list[Example], seed: int = 0) -> list[Example]:
    """Short and long texts shuffled together, as an inbox arrives."""
    examples = [*short, *long]
    random.Random(seed).shuffle(examples)
    return examples
