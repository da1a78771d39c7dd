"""What rules, keywords and highlighting cost now that they are bounded (issue 12):

rules        the hostile patterns of issue 12 and a harmless one, 10 documents each, on
             RE2 (`core.techniques.rules`); with --with-regex, the same searches on the
             `regex` module under the 0.25 s timeout the rules technique used to pass
             (each timed-out search counted as no match)
lexicon      a 5,000-keyword taxonomy (one keyword of 200 characters): building the one
             RE2 program, then one pass over a 100,000-character text
highlight    core.highlight.highlight_html on a 99 KB document with 8,000 and 10,000
             entity spans; with --with-old, the quadratic cut (every segment against every
             span) it replaced, on the same input

  python -m bench.text_matching
  python -m bench.text_matching --with-regex --with-old
"""

from __future__ import annotations

import argparse
import contextlib
import random
import string
import time

from bench.common import markdown_table

HOSTILE = [
    r"(?V1)(?:a+)+b",  # refused at validation now; timed on regex only
    r"(?r)(a+)+$",  # refused at validation now; timed on regex only
    r"(a{1,30}){1,30}$",
    r"\w*\w*\w*\w*\w*!",
    r"(a+)+$",
    r"(\w+\s?)+$",
    r"(a|aa)+b",
    r"\b(?:plc|Inc\.?|Ltd)\b",
]


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def rules_rows(docs: int, with_regex: bool) -> list[list[str]]:
    from core.taxonomy import Label, Taxonomy, taxonomy_problems
    from core.techniques import create_technique

    texts = ["a" * 2_500 + "-!" + " Acme Ltd" * (i + 1) for i in range(docs)]
    rows = []
    for pattern in HOSTILE:
        taxonomy = Taxonomy((Label("P", patterns=(pattern,)), Label("Other")))
        refused = bool(taxonomy_problems(taxonomy))
        re2_s = (
            "refused"
            if refused
            else f"{_timed(lambda t=taxonomy: create_technique('rules').predict(texts, t)):.4f}"
        )
        shown = pattern.replace("|", "\\|")  # a bare | would end the table cell
        row = [f"`{shown}`", re2_s]
        if with_regex:
            import regex

            compiled = regex.compile(pattern, regex.IGNORECASE)
            row.append(f"{_timed(lambda c=compiled: _search_with_timeout(c, texts)):.4f}")
        rows.append(row)
    return rows


def _search_with_timeout(compiled, texts: list[str]) -> None:
    for text in texts:
        with contextlib.suppress(TimeoutError):  # counted as "no match" by the old technique
            list(compiled.finditer(text, timeout=0.25, concurrent=True))


def lexicon_rows() -> list[list[str]]:
    from core.taxonomy import Keyword, Label, Taxonomy, validate
    from core.techniques.lexicon import keyword_matcher

    rng = random.Random(0)
    terms = sorted(
        {"".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 30))) for _ in range(5_200)}
    )[:4_999]
    labels = tuple(
        Label(f"L{n}", keywords=tuple(Keyword(t) for t in terms[n::10])) for n in range(10)
    ) + (Label("Long", keywords=(Keyword("q" * 200),)),)
    taxonomy = Taxonomy(labels)
    validate(taxonomy)
    by_label = tuple(label.keywords for label in taxonomy.labels)
    build = _timed(lambda: keyword_matcher(by_label))
    matcher = keyword_matcher(by_label)
    text = " ".join(rng.choice(terms) if i % 5 == 0 else "filler" for i in range(14_000))[:100_000]
    hits: list = []
    scan = _timed(lambda: hits.extend(matcher.finditer(text)))
    return [
        ["build the matcher (5,000 keywords)", f"{build:.3f}"],
        [f"scan 100,000 characters ({len(hits):,} hits)", f"{scan:.3f}"],
    ]


def _old_segments(text, spans):
    """The cut highlight_html used before: every segment against every span."""
    from core.highlight import _marks

    marks = _marks(spans, len(text))
    bounds = sorted({0, len(text), *(m.start for m in marks), *(m.end for m in marks)})
    pieces = []
    for start, end in zip(bounds, bounds[1:]):
        covering = [m for m in marks if m.start <= start and m.end >= end]
        chosen = min(covering, key=lambda m: (m.end - m.start, m.order)) if covering else None
        pieces.append((start, end, chosen))
    return pieces


def highlight_rows(with_old: bool) -> list[list[str]]:
    from core.highlight import highlight_html
    from core.techniques.base import Span

    rows = []
    for count in (8_000, 10_000):
        text = ("Acme <Ltd> & co. " * 6_000)[:99_000]
        step = len(text) // count
        spans = [Span(i * step, i * step + 5, "entity", "ORG", "ORG") for i in range(count)]
        new = _timed(lambda t=text, s=spans: highlight_html(t, s, {}))
        row = [f"{count:,} spans on 99 KB", f"{new:.3f}"]
        if with_old:
            row.append(f"{_timed(lambda t=text, s=spans: _old_segments(t, s)):.3f}")
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--with-regex", action="store_true", help="also time the regex module")
    parser.add_argument("--with-old", action="store_true", help="also time the old highlight")
    args = parser.parse_args()
    head = ["pattern", f"RE2, {args.docs} docs (s)"]
    if args.with_regex:
        head.append(f"regex + 0.25 s timeout, {args.docs} docs (s)")
    print(markdown_table(head, rules_rows(args.docs, args.with_regex)))
    print()
    print(markdown_table(["lexicon", "seconds"], lexicon_rows()))
    print()
    head = ["highlight_html", "one sweep (s)"] + (["old cut (s)"] if args.with_old else [])
    print(markdown_table(head, highlight_rows(args.with_old)))


if __name__ == "__main__":
    main()
