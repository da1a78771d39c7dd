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
