"""The Review page's guidelines: the project's guidelines and each label's description,
keywords, patterns and reviewed examples, where the reviewer decides.

Everything here is user text (an admin's guidelines, label names, documents) and is shown
literally through ui.markdown.md, line by line so the guidelines keep their line breaks:
`**bold**`, `:red[...]`, `$x$` or an image link in them read as typed, nothing is fetched.
"""

from __future__ import annotations

import streamlit as st

from core.review_queue import label_review_state
from ui.markdown import md

EXAMPLES_PER_LABEL = 2
EXAMPLE_CHARS = 160  # of each example's text


def literal_lines(text: str) -> str:
    """`text` as markdown showing exactly its characters and its line breaks (a blank line
    stays a paragraph break)."""
    paragraphs = text.replace("\r\n", "\n").strip("\n").split("\n\n")
    return "\n\n".join(
        "  \n".join(md(line) for line in paragraph.split("\n")) for paragraph in paragraphs
    )


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _examples(_store, db_path: str, project_id: int, labels: tuple[str, ...], watermark: int):
    # read again when a review lands (the watermark is the newest review's id)
    state = label_review_state(_store, project_id, labels)
    wanted = {name: ids[-EXAMPLES_PER_LABEL:] for name, ids in zip(labels, state.examples)}
    ids = [d for chosen in wanted.values() for d in chosen]
    texts = {doc.id: doc.text for doc in _store.get_documents(project_id, ids)} if ids else {}
    return {name: [texts[d] for d in chosen if d in texts] for name, chosen in wanted.items()}


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXAMPLE_CHARS else flat[: EXAMPLE_CHARS - 1] + "…"


def render_guidelines(store, project_id: int, taxonomy, guidelines: str) -> None:
    """A folded expander: the guidelines, then one block per label."""
    examples = _examples(
        store,
        str(store.path),
        project_id,
        tuple(taxonomy.names),
        store.review_watermark(project_id),
    )
    with st.expander("Guidelines and labels", icon=":material/menu_book:"):
        if guidelines.strip():
            st.markdown(literal_lines(guidelines))
        else:
            st.caption("No guidelines yet: an admin or reviewer can write them on Projects.")
        for label in taxonomy.labels:
            lines = [f"**{md(label.name)}**"]
            if label.description.strip():
                lines[0] += f" — {md(label.description)}"
            if label.keywords:
                lines.append("Keywords: " + ", ".join(md(kw.term) for kw in label.keywords))
            if label.patterns:
                lines.append("Patterns: " + ", ".join(map(md, label.patterns)))
            for text in examples.get(label.name, []):
                lines.append(f"Reviewed example: “{md(_short(text))}”")
            st.markdown("  \n".join(lines))


__all__ = ["literal_lines", "render_guidelines"]
