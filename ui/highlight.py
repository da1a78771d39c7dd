"""The document text with its evidence highlighted, and the legend, rendered with st.html."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from core.highlight import DEFAULT_COLOUR, highlight_html, legend_html


def label_colours(taxonomy) -> dict[str, str]:
    """label -> '#rrggbb' for every label (palette colours where none was chosen)."""
    from core.taxonomy import with_default_colours

    return {label.name: label.colour for label in with_default_colours(taxonomy).labels}


def unique_spans(spans: Sequence) -> list:
    """The same hit reported by several techniques (or twice) shown once."""
    seen, out = set(), []
    for span in spans:
        key = (span.start, span.end, span.kind, span.label, span.detail)
        if key not in seen:
            seen.add(key)
            out.append(span)
    return out


def render_highlighted_text(text: str, spans: Sequence, colours: Mapping[str, str]) -> None:
    """Text with hits in label colours (hover for label and evidence) and a legend of the
    labels that have hits in it."""
    spans = unique_spans(spans)
    used = list(dict.fromkeys(span.label for span in spans))
    legend = [(label, colours.get(label, DEFAULT_COLOUR)) for label in used if label is not None]
    if None in used:
        legend.append(("entity (no label)", DEFAULT_COLOUR))
    if legend:
        st.html(legend_html(legend))
    st.html(highlight_html(text, spans, colours))
