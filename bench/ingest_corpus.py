"""The ingest-budget corpus: good and adversarial upload files at a chosen scale.

    for case in corpus(scale=1.0):       # full size: every file <= 50 MB
        data = case.generate()
    corpus(scale=0.001)                  # tiny, for tests; still over each limit it tests

Each Case says what must happen: "imported", "refused" (with `reason`, words the refusal
must contain), or "either" (the pdf/docx/eml parsers run in their own worker with its own
limits: reading them or refusing them is both fine, within budget). A refused case stays
over its limit at any scale (its size is at least limit + 1), except those marked
`at_scale=False`, which only exist at full size (e.g. 5,000,001 JSON values need 10 MB).

The full-size files reproduce issue 12's measurements: a CSV of 100k columns (0.9 MB), a
JSON list of 20k objects each with its own key (0.5 MB), a .json of 16M integers (32 MB), a
JSONL of 2M lines (4 MB), a .txt of 16M paragraphs (32 MB), and more (see CASES).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from core.ingest.limits import IngestLimits

MB = 1024 * 1024
LIMITS = IngestLimits()
_WORDS = tuple(
    [
        "card",
        "declined",
        "refund",
        "invoice",
        "password",
        "login",
        "delivery",
        "late",
        "broken",
        "order",
        "account",
        "billing",
        "charge",
        "twice",
        "cancel",
        "subscription",
        "upgrade",
        "plan",
        "support",
        "ticket",
        "thanks",
        "please",
        "urgent",
        "help",
        "shipping",
        "address",
        "changed",
        "payment",
        "failed",
        "error",
        "message",
        "app",
        "crash",
        "screen",
        "update",
    ]
)


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    expect: str  # "imported" | "refused" | "either"
    reason: str  # words the refusal names ("" for imported)
    make: Callable[[], bytes]
    at_scale: bool = True  # False: only meaningful at full size (see module docstring)

    def generate(self) -> bytes:
        return self.make()


def _sentence(rng: random.Random, words: int = 12) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _at_least(full: int, scale: float, floor: int) -> int:
    return max(floor, int(full * scale))


# --- good files -------------------------------------------------------------------------


def csv_rows(rows: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    lines = ["id,text,label"]
    lines += [f"{i},{_sentence(rng)} {i},{rng.choice(_WORDS)}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def csv_wide(columns: int, rows: int, seed: int = 1) -> bytes:
    """`columns` columns (one 'text', the others short numbers): many cells per byte."""
    rng = random.Random(seed)
    header = ["text", *(f"c{i}" for i in range(columns - 1))]
    lines = [",".join(header)]
    for i in range(rows):
        numbers = ",".join(str(rng.randrange(100)) for _ in range(columns - 1))
        lines.append(f"{_sentence(rng, 6)} {i},{numbers}")
    return ("\n".join(lines) + "\n").encode()


def jsonl_rows(rows: int, seed: int = 2) -> bytes:
    rng = random.Random(seed)
    return "".join(
        json.dumps({"id": i, "text": f"{_sentence(rng)} {i}", "labels": [rng.choice(_WORDS)]})
        + "\n"
        for i in range(rows)
    ).encode()


def json_list(rows: int, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    items = [{"id": i, "body": f"{_sentence(rng)} {i}", "meta": {"n": i}} for i in range(rows)]
    return json.dumps({"documents": items}).encode()


def txt_paragraphs(paragraphs: int, seed: int = 4) -> bytes:
    rng = random.Random(seed)
    return "\n\n".join(f"{_sentence(rng, 20)} {i}" for i in range(paragraphs)).encode()


def cp1252_csv(rows: int, seed: int = 5) -> bytes:
    rng = random.Random(seed)
    lines = ["text;note"] + [f"Café {_sentence(rng)} {i};Grüße" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode("cp1252")


# --- adversarial files ------------------------------------------------------------------


def csv_columns(columns: int) -> bytes:
    return (
        ",".join(f"c{i}" for i in range(columns)) + "\n" + ",".join("x" * columns) + "\n"
    ).encode()


def json_own_keys(items: int) -> bytes:
    return json.dumps([{f"k{i}": f"text number {i}"} for i in range(items)]).encode()


def json_ints(count: int) -> bytes:
    return ("[" + ",".join("1" for _ in range(count)) + "]").encode()


def json_empty_objects(count: int) -> bytes:
    return ("[" + ",".join("{}" for _ in range(count)) + "]").encode()


def json_one_item_many_values(values: int) -> bytes:
    return ('[{"text": "one", "v": [' + ",".join("0" for _ in range(values)) + "]}]").encode()


def jsonl_lines(lines: int) -> bytes:
    return b"{}\n" * lines


def jsonl_one_huge_line(values: int) -> bytes:
    return ('{"text": "one", "v": [' + ",".join("0" for _ in range(values)) + "]}\n").encode()


def json_deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def txt_many_paragraphs(paragraphs: int) -> bytes:
    return b"a\n\n" * paragraphs


def txt_one_document(chars: int) -> bytes:
    return ("word " * (chars // 5 + 1)).encode()


def csv_many_rows(rows: int) -> bytes:
    return b"text\n" + b"".join(b"r%d\n" % i for i in range(rows))


def binary_bytes(size: int) -> bytes:
    return b"\x01\x02" * (size // 2)


def sniffer_bomb(repeats: int) -> bytes:
    """Quotes that never pair up: csv.Sniffer's regex was quadratic on it (24 s for 64 KB)."""
    return (', "x' * repeats).encode()


def json_huge_integer(digits: int) -> bytes:
    return ('[{"text": "a", "n": ' + "9" * digits + "}]").encode()


def corpus(scale: float = 1.0) -> list[Case]:
    """Every case at `scale` (1.0: full size, each file <= 50 MB)."""
    n_docs = LIMITS.max_documents + 1
    n_cols = LIMITS.max_columns + 1

    def s(full: int, floor: int) -> int:
        return _at_least(full, scale, floor)

    cases = [
        Case("csv 200k rows", "good_rows.csv", "imported", "", lambda: csv_rows(s(200_000, 20))),
        Case(
            "csv 1,000 columns",
            "good_wide.csv",
            "imported",
            "",
            lambda: csv_wide(LIMITS.max_columns, s(14_000, 5)),
        ),
        Case("jsonl 200k lines", "good.jsonl", "imported", "", lambda: jsonl_rows(s(200_000, 20))),
        Case("json 200k objects", "good.json", "imported", "", lambda: json_list(s(200_000, 20))),
        Case(
            "txt 150k paragraphs",
            "good_paragraphs.txt",
            "imported",
            "",
            lambda: txt_paragraphs(s(150_000, 20)),
        ),
        Case("csv cp1252", "good_cp1252.csv", "imported", "", lambda: cp1252_csv(s(150_000, 20))),
        Case(
            "csv 100k columns",
            "wide_100k.csv",
            "refused",
            "column limit",
            lambda: csv_columns(s(100_000, n_cols)),
        ),
        Case(
            "json 20k own keys",
            "own_keys.json",
            "refused",
            "column limit",
            lambda: json_own_keys(s(20_000, n_cols)),
        ),
        Case(
            "json 16M ints",
            "ints.json",
            "refused",
            "documents, over the",
            lambda: json_ints(s(16_000_000, n_docs)),
        ),
        Case(
            "json 16M empty objects",
            "objects.json",
            "refused",
            "documents, over the",
            lambda: json_empty_objects(s(16_000_000, n_docs)),
        ),
        Case(
            "json 1 item, 24M values",
            "one_item.json",
            "refused",
            "JSON values",
            lambda: json_one_item_many_values(24_000_000),
            at_scale=False,
        ),
        Case(
            "json 50M deep",
            "deep.json",
            "refused",
            "deeper than",
            lambda: json_deep(s(25_000_000, LIMITS.max_json_depth + 1)),
        ),
        Case(
            "json 5,000-digit int",
            "huge_int.json",
            "refused",
            "digits",
            lambda: json_huge_integer(5_000),
        ),
        Case(
            "jsonl 2M lines",
            "lines.jsonl",
            "refused",
            "lines, over the",
            lambda: jsonl_lines(s(2_000_000, n_docs)),
        ),
        Case(
            "jsonl 1 line, 24M values",
            "one_line.jsonl",
            "refused",
            "JSON values",
            lambda: jsonl_one_huge_line(24_000_000),
            at_scale=False,
        ),
        Case(
            "txt 10.7M paragraphs",
            "paragraphs.txt",
            "refused",
            "paragraphs, over the",
            lambda: txt_many_paragraphs(s(10_700_000, n_docs)),
        ),
        Case(
            "txt one 40 MB text",
            "one_text.txt",
            "refused",
            "character",
            lambda: txt_one_document(s(40 * MB, LIMITS.max_field_chars + 1)),
        ),
        Case(
            "csv 2.5M rows",
            "rows.csv",
            "refused",
            "rows, over the",
            lambda: csv_many_rows(s(2_500_000, n_docs)),
        ),
        Case(
            "csv of control bytes",
            "binary.csv",
            "refused",
            "binary",
            lambda: binary_bytes(s(40 * MB, 1_000)),
        ),
        Case(
            "csv sniffer bomb",
            "sniff.csv",
            "refused",
            "column limit",
            lambda: sniffer_bomb(s(4_000_000, 20_000)),
        ),
    ]
    return cases + _hostile_binary_cases(scale)


def _hostile_binary_cases(scale: float) -> list[Case]:
    """pdf/docx/eml cases from tests/hostile_files.py (the parser worker's own generators),
    when that module is there."""
    try:
        from tests import hostile_files
    except ImportError:
        return []

    def s(full: int, floor: int) -> int:
        return _at_least(full, scale, floor)

    return [
        Case(
            "eml 1M-deep HTML",
            "deep_html.eml",
            "either",
            "",
            lambda: hostile_files.nested_html_eml(s(1_000_000, 1_000)),
        ),
        Case(
            "eml 1,000-deep multipart",
            "deep_parts.eml",
            "either",
            "",
            lambda: hostile_files.nested_multipart_eml(1_000),
        ),
        Case(
            "docx 156 MB document.xml",
            "big.docx",
            "either",
            "",
            lambda: hostile_files.big_docx(s(156_000_000, 200_000)),
        ),
        Case(
            "pdf 200 pages, one stream",
            "shared.pdf",
            "either",
            "",
            lambda: hostile_files.shared_stream_pdf(200, s(72 * MB, 100_000)),
        ),
    ]
