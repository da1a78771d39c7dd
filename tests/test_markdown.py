"""User text put into markdown renders as itself (checked with a CommonMark renderer)."""

from __future__ import annotations

import html

from hypothesis import assume, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from ui.markdown import md

RENDER = MarkdownIt("commonmark")


def rendered_text(markdown: str) -> str:
    """The HTML CommonMark makes of one paragraph, tags dropped, entities decoded."""
    out = RENDER.render(markdown).strip()
    assert out.startswith("<p>") and out.endswith("</p>"), out
    return html.unescape(out[3:-4])


def test_markdown_and_streamlit_syntax_in_a_label_is_shown_literally():
    for text in ["*urgent*", "__init__", "# 1", "[a](b)", ":red[x]", ":smile:", "$x$", "<b>hi</b>"]:
        assert rendered_text(md(text)) == text


@given(st.text(alphabet=st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=1))
def test_any_printable_ascii_line_renders_as_itself(text):
    assume(text.strip() and text == text.strip())  # outer spaces are not part of a paragraph
    assert rendered_text(md(text)) == text
