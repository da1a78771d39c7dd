"""Highlighting evidence spans: escaped, well-nested HTML that gives back the text exactly."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.highlight import DEFAULT_COLOUR, highlight_html, legend_html, segments
from core.techniques.base import Span

TAG = re.compile(r"<[^>]*>")
COLOURS = {"billing": "#4e79a7", "shipping": "#f28e2b"}


def text_of(markup: str) -> str:
    return html.unescape(TAG.sub("", markup))


def marks(markup: str) -> list[tuple[str, str]]:
    """(title, marked text) of every <mark>."""
    return [
        (html.unescape(title), html.unescape(body))
        for title, body in re.findall(r'<mark [^>]*title="([^"]*)">(.*?)</mark>', markup)
    ]


def test_script_in_the_text_is_escaped():
    markup = highlight_html(
        "<script>alert(1)</script> invoice", [Span(27, 34, "keyword", "billing")]
    )
    assert "<script>" not in markup and "&lt;script&gt;" in markup


def test_image_payload_in_a_label_name_is_escaped_in_the_tooltip():
    label = '<img src=x onerror=alert(1)>"'
    markup = highlight_html("refund", [Span(0, 6, "keyword", label, "refund")], {label: "#123456"})
    assert "<img" not in markup
    assert marks(markup) == [(f"{label} · keyword: refund", "refund")]


def test_image_payload_in_the_legend_is_escaped():
    markup = legend_html({"<img src=x onerror=alert(1)>": "#123456"})
    assert "<img" not in markup and "&lt;img src=x onerror=alert(1)&gt;" in markup


def test_invalid_colour_falls_back_to_the_default():
    markup = highlight_html(
        "refund",
        [Span(0, 6, "keyword", "billing")],
        {"billing": "red; background: url(javascript:alert(1))"},
    )
    assert "javascript" not in markup and DEFAULT_COLOUR in markup


def test_valid_label_colour_is_used():
    markup = highlight_html("refund", [Span(0, 6, "keyword", "billing")], COLOURS)
    assert "#4e79a7" in markup


def test_spans_at_both_edges_are_marked():
    text = "invoice and parcel"
    markup = highlight_html(
        text, [Span(0, 7, "keyword", "billing"), Span(12, 18, "keyword", "shipping")], COLOURS
    )
    assert [body for _, body in marks(markup)] == ["invoice", "parcel"]


def test_nested_span_marks_its_words_with_the_inner_label():
    text = "Acme Refunds Ltd"
    spans = [Span(0, 16, "entity", None, "ORG"), Span(5, 12, "keyword", "billing", "refund")]
    assert [(m.label if m else None, text[s:e]) for s, e, m in segments(text, spans)] == [
        (None, "Acme "),
        ("billing", "Refunds"),
        (None, " Ltd"),
    ]


def test_overlapping_spans_give_non_overlapping_marks():
    text = "invoice parcel"
    spans = [Span(0, 10, "rule", "billing"), Span(8, 14, "keyword", "shipping")]
    pieces = [(m.label, text[s:e]) for s, e, m in segments(text, spans)]
    # Where both cover "pa", the shorter (more specific) span wins, and its mark is one piece.
    assert pieces == [("billing", "invoice "), ("shipping", "parcel")]


def test_same_span_twice_is_one_mark():
    markup = highlight_html("refund", [Span(0, 6, "keyword", "billing")] * 2, COLOURS)
    assert len(marks(markup)) == 1


def test_out_of_range_and_empty_spans_are_ignored():
    markup = highlight_html(
        "abc",
        [Span(2, 99, "rule", "billing"), Span(5, 9, "rule", "x"), Span(1, 1, "rule", "y")],
        COLOURS,
    )
    assert [body for _, body in marks(markup)] == ["c"]


def test_dict_spans_are_accepted():
    markup = highlight_html(
        "refund",
        [{"start": 0, "end": 6, "kind": "keyword", "label": "billing", "detail": "refund"}],
        COLOURS,
    )
    assert marks(markup) == [("billing · keyword: refund", "refund")]


texts = st.text(alphabet=st.sampled_from(list("ab <>&\"'\n\té😀")), max_size=40)


@st.composite
def text_and_spans(draw):
    text = draw(texts)
    spans = draw(
        st.lists(
            st.builds(
                Span,
                start=st.integers(-3, len(text) + 3),
                end=st.integers(-3, len(text) + 3),
                kind=st.sampled_from(["rule", "keyword", "entity"]),
                label=st.one_of(st.none(), st.sampled_from(["billing", "<b>", 'a"b'])),
                detail=st.text(alphabet=st.sampled_from(list("x<>&\"'")), max_size=5),
            ),
            max_size=6,
        )
    )
    return text, spans


@settings(max_examples=200, deadline=None)
@given(text_and_spans())
def test_stripping_tags_and_unescaping_gives_back_the_text(case):
    text, spans = case
    assert text_of(highlight_html(text, spans, COLOURS)) == text


@settings(max_examples=200, deadline=None)
@given(text_and_spans())
def test_segments_tile_the_text(case):
    text, spans = case
    pieces = segments(text, spans)
    assert "".join(text[s:e] for s, e, _ in pieces) == text
    assert all(s < e for s, e, _ in pieces)


def _segments_by_brute_force(text, spans):
    """The definition, spelled out: every elementary piece against every span (quadratic)."""
    clipped = [(max(0, s.start), min(len(text), s.end), order, s) for order, s in enumerate(spans)]
    clipped = [item for item in clipped if item[0] < item[1]]
    bounds = sorted({0, len(text), *(c[0] for c in clipped), *(c[1] for c in clipped)})
    pieces = []
    for start, end in zip(bounds, bounds[1:]):
        covering = [c for c in clipped if c[0] <= start and c[1] >= end]
        chosen = min(covering, key=lambda c: (c[1] - c[0], c[2]))[2] if covering else None
        if pieces and pieces[-1][2] == chosen and pieces[-1][1] == start:
            pieces[-1] = (pieces[-1][0], end, chosen)
        else:
            pieces.append((start, end, chosen))
    return pieces


@settings(max_examples=300, deadline=None)
@given(text_and_spans())
def test_the_sweep_marks_each_piece_with_the_most_specific_span(case):
    text, spans = case
    swept = [(s, e, None if m is None else m.order) for s, e, m in segments(text, spans)]
    assert swept == _segments_by_brute_force(text, spans)


NOTE = re.compile(r'<div class="sift-note"[^>]*>(.*?)</div>')


def test_ten_thousand_spans_render_the_first_2000_escaped_with_a_note():
    """A 99 KB document with 10,000 spans (9.5 s per Review rerun at 8,000 before): the
    first 2,000 by position are drawn, every piece escaped, and a note counts the rest."""
    word = "<b>&x</b> "  # 10 characters of markup-looking text
    text = word * 9_900
    spans = [
        Span(i * 10, i * 10 + 9, "entity", '<img src=x onerror="alert(1)">', "ORG")
        for i in reversed(range(9_900))  # given last-first: the cap is by position
    ] + [Span(0, len(text), "rule", "billing", "(?s).+")] * 100
    markup = highlight_html(text, spans, COLOURS)
    [note] = NOTE.findall(markup)
    assert note == "Showing the first 2,000 of 10,000 highlights; 8,000 more are not marked."
    drawn = marks(markup)
    # the 100 document-wide rule spans start first; 1,900 entities fit under the cap, each
    # drawn over its own words, and the rule span marks everything between them
    entity_marks = [body for title, body in drawn if title.startswith("<img")]
    assert entity_marks == ["<b>&x</b>"] * 1_900
    assert all(title == "billing · pattern: (?s).+" for title, _ in drawn if title[0] != "<")
    assert "<img" not in markup and "<b>" not in markup and 'onerror="' not in markup
    assert text_of(NOTE.sub("", markup)) == text


def test_no_note_below_the_cap():
    spans = [Span(i, i + 1, "keyword", "billing") for i in range(0, 4000, 2)]
    markup = highlight_html("ab" * 2000, spans, COLOURS)
    assert not NOTE.findall(markup) and len(marks(markup)) == 2_000
