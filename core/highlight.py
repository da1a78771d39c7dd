"""Evidence spans -> escaped HTML: the document text with rule, keyword and entity hits marked.

Spans may overlap or nest (a keyword inside an entity, two rules on the same
words). The text is cut at every span boundary into non-overlapping segments;
each segment is marked with the most specific span covering it (the shortest;
the first given on ties), and neighbouring segments marked by the same span
are joined. Every piece of text, label and tooltip goes through
`html.escape(quote=True)`, and colours are checked against `#rrggbb`, so the
result is safe to hand to `st.html`.
Stripping the tags (and the note, see below) and unescaping gives back the text exactly.

Cost: one sort of the span boundaries, then one sweep along the text with a heap of
the spans covering the current point (most specific on top): O((text + spans) log spans),
where cutting every segment against every span was quadratic (8,000 entity spans on a
99 KB document took 9.5 s). At most `MAX_RENDERED_SPANS` spans are drawn, the first by
position; a note above the text says how many more there are, and the rest of the text is
shown unmarked.
"""

from __future__ import annotations

import heapq
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

DEFAULT_COLOUR = "#9aa0a6"  # spans whose label has no (valid) colour, e.g. unlabelled entities
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
KIND_NAMES = {"rule": "pattern", "keyword": "keyword", "entity": "entity"}
MAX_RENDERED_SPANS = 2_000  # marks drawn per document: enough to read, bounded to render


@dataclass(frozen=True)
class _Mark:
    start: int
    end: int
    kind: str
    label: str | None
    detail: str
    order: int  # position in the input: the tie-break between equally specific spans


def safe_colour(colour: object, default: str = DEFAULT_COLOUR) -> str:
    """`colour` when it is exactly '#rrggbb', else `default` (never anything else into CSS)."""
    return colour if isinstance(colour, str) and _COLOUR.match(colour) else default


def _field(span: object, name: str, default=None):
    if isinstance(span, Mapping):
        return span.get(name, default)
    return getattr(span, name, default)


def _marks(spans: Iterable[object], length: int) -> list[_Mark]:
    """Spans (Span objects or dicts) clipped to the text; empty and malformed ones dropped."""
    marks = []
    for order, span in enumerate(spans):
        start, end = _field(span, "start"), _field(span, "end")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        start, end = max(0, start), min(length, end)
        if start >= end:
            continue
        label = _field(span, "label")
        marks.append(
            _Mark(
                start=start,
                end=end,
                kind=str(_field(span, "kind", "") or ""),
                label=None if label is None else str(label),
                detail=str(_field(span, "detail", "") or ""),
                order=order,
            )
        )
    return marks


def segments(text: str, spans: Iterable[object]) -> list[tuple[int, int, _Mark | None]]:
    """Non-overlapping (start, end, mark-or-None) pieces covering the whole text, in order."""
    return _segments(len(text), _marks(spans, len(text)))


def _segments(length: int, marks: list[_Mark]) -> list[tuple[int, int, _Mark | None]]:
    """The sweep: boundaries in order; `covering` holds (span length, order, mark) of every
    mark begun so far, the most specific on top; marks that have ended are dropped when
    they reach the top (each is pushed and popped once)."""
    by_start = sorted(marks, key=lambda mark: mark.start)
    bounds = sorted({0, length, *(m.start for m in marks), *(m.end for m in marks)})
    covering: list[tuple[int, int, _Mark]] = []
    pieces: list[tuple[int, int, _Mark | None]] = []
    next_mark = 0
    for start, end in zip(bounds, bounds[1:]):
        while next_mark < len(by_start) and by_start[next_mark].start <= start:
            mark = by_start[next_mark]
            heapq.heappush(covering, (mark.end - mark.start, mark.order, mark))
            next_mark += 1
        while covering and covering[0][2].end <= start:
            heapq.heappop(covering)
        # A mark begun at or before `start` and ending after it covers [start, end): its end
        # is a boundary, so it is at least `end`.
        chosen = covering[0][2] if covering else None
        if pieces and pieces[-1][2] is chosen and pieces[-1][1] == start:
            pieces[-1] = (pieces[-1][0], end, chosen)  # same span continues: one mark
        else:
            pieces.append((start, end, chosen))
    return pieces


def _tooltip(mark: _Mark) -> str:
    kind = KIND_NAMES.get(mark.kind, mark.kind or "evidence")
    about = mark.label if mark.label is not None else "no label"
    return f"{about} · {kind}: {mark.detail}" if mark.detail else f"{about} · {kind}"


def highlight_html(
    text: str,
    spans: Sequence[object],
    colours: Mapping[str, str] | None = None,
    *,
    max_spans: int = MAX_RENDERED_SPANS,
) -> str:
    """The text as HTML with each span's words marked in its label's colour.

    spans: objects or dicts with start, end, kind ('rule'|'keyword'|'entity'), label, detail.
    colours: label -> '#rrggbb'; missing or invalid colours fall back to a neutral grey.
    max_spans: the most spans drawn (the first by position); a note counts the others.
    """
    colours = colours or {}
    marks = sorted(_marks(spans, len(text)), key=lambda mark: (mark.start, mark.order))
    parts = []
    if len(marks) > max_spans:
        parts.append(
            '<div class="sift-note" style="opacity: 0.7; margin-bottom: 4px">'
            f"Showing the first {max_spans:,} of {len(marks):,} highlights; "
            f"{len(marks) - max_spans:,} more are not marked.</div>"
        )
        marks = marks[:max_spans]
    parts.append('<div class="sift-text" style="white-space: pre-wrap; line-height: 1.7">')
    for start, end, mark in _segments(len(text), marks):
        piece = html.escape(text[start:end], quote=True)
        if mark is None:
            parts.append(piece)
            continue
        colour = safe_colour(colours.get(mark.label) if mark.label is not None else None)
        # Entities get an underline, rule/keyword hits a filled background.
        style = (
            f"background: {colour}22; border-bottom: 2px solid {colour}"
            if mark.kind == "entity"
            else f"background: {colour}55; border-radius: 3px"
        )
        parts.append(
            f'<mark style="{style}; padding: 0 1px; color: inherit" '
            f'title="{html.escape(_tooltip(mark), quote=True)}">{piece}</mark>'
        )
    parts.append("</div>")
    return "".join(parts)


def legend_html(labels_with_colours: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """Chips naming each label in its colour; (label, colour) pairs or a label -> colour dict."""
    pairs = (
        labels_with_colours.items()
        if isinstance(labels_with_colours, Mapping)
        else labels_with_colours
    )
    chips = []
    for label, colour in pairs:
        colour = safe_colour(colour)
        chips.append(
            f'<span style="display: inline-block; margin: 0 6px 4px 0; padding: 1px 8px; '
            f'border-radius: 10px; background: {colour}55; border: 1px solid {colour}">'
            f"{html.escape(str(label), quote=True)}</span>"
        )
    return f'<div class="sift-legend">{"".join(chips)}</div>'
