"""The Adjudicate page's parts: each reviewer's opinion side by side, the default final
label (the labels most reviewers chose), and what to say when the document changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import streamlit as st

from core.store import Review
from ui.markdown import md
from ui.review_format import viewer_time

PICK = "adjudicate_document"  # the document selectbox's key
SNIPPET = 90  # characters of a document shown in the picker
COLUMNS = 4  # opinions per row


def document_choice_label(doc) -> str:
    """A picker line: the start of the text (plain text: selectbox options are not markdown)."""
    flat = " ".join(doc.text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"


def default_final(opinions: Mapping[str, Review], names: Sequence[str]) -> list[str]:
    """The label set most reviewers gave (ties: the earliest such opinion), in taxonomy order;
    only labels still in the taxonomy."""
    if not opinions:
        return []
    ordered = sorted(opinions.values(), key=lambda review: review.id)
    counts = Counter(frozenset(review.labels) for review in ordered)
    best = max(counts.values())
    choice = next(
        frozenset(review.labels) for review in ordered if counts[frozenset(review.labels)] == best
    )
    return [name for name in names if name in choice]


def render_opinions(opinions: Mapping[str, Review], names: Sequence[str]) -> None:
    """One bordered column per reviewer: name, labels, when, note (all user text escaped)."""
    ordered = sorted(opinions.values(), key=lambda review: review.id)
    for start in range(0, len(ordered), COLUMNS):
        row = ordered[start : start + COLUMNS]
        for column, review in zip(st.columns(COLUMNS), row, strict=False):
            with column.container(border=True):
                st.markdown(f"**{md(review.reviewer)}**")
                st.markdown(
                    " ".join(f":blue-badge[{md(label)}]" for label in review.labels)
                    or "_no labels_"
                )
                st.caption(f"{review.decision} · {md(viewer_time(review.created_at))}")
                if review.note:
                    st.caption(f"“{md(review.note)}”")


def describe_conflict(current: Review | None) -> str:
    if current is None:
        return "Not recorded: the document's review was undone after you opened it."
    return (
        f"Not recorded: **{md(current.reviewer)}** changed this document at "
        f"{md(viewer_time(current.created_at))} after you opened it ({current.decision} → "
        f"{md(', '.join(current.labels)) or 'no labels'})."
    )
