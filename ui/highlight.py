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


ENTITY = "entity"  # the span kind NER gives; its `detail` is the entity type (ORG, PERSON, ...)
UNTYPED = "entity"  # the name shown for an entity span without a type


def _get(span, name: str, default=None):
    return span.get(name, default) if isinstance(span, Mapping) else getattr(span, name, default)


def entity_type(span) -> str | None:
    """The entity type of an entity span ('ORG'), None for any other kind of evidence."""
    if _get(span, "kind") != ENTITY:
        return None
    return str(_get(span, "detail") or "") or UNTYPED


def entity_kinds(spans: Sequence) -> tuple[list[str], set[str]]:
    """The entity types among `spans`, sorted; and those that are evidence for some label."""
    kinds: set[str] = set()
    labelled: set[str] = set()
    for span in spans:
        kind = entity_type(span)
        if kind is None:
            continue
        kinds.add(kind)
        if _get(span, "label") is not None:
            labelled.add(kind)
    return sorted(kinds), labelled


def without_entity_kinds(spans: Sequence, shown: set[str] | frozenset[str]) -> list:
    """`spans` without the entity spans whose type is not in `shown` (other evidence kept)."""
    return [span for span in spans if entity_type(span) in (None, *shown)]


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
