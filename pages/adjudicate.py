"""Adjudicate: documents whose reviewers disagree, their opinions side by side, and the final
label recorded by a user with the adjudicate permission (an 'adjudicate' review, which
exports and the document's current labels then use)."""

import streamlit as st

from core.predictions import project_settings
from core.store import ReviewConflict, StoreError
from ui.adjudicate_ui import (
    PICK,
    default_final,
    describe_conflict,
    document_choice_label,
    render_opinions,
)
from ui.auth import require, require_router
from ui.markdown import md
from ui.review_format import plural, viewer_time
from ui.session import get_store, require_project, require_taxonomy, reviewer_name

require_router()
st.title("Adjudicate")
require("adjudicate")  # checked on every run, server-side
project = require_project()
store = get_store()
taxonomy = require_taxonomy(store, project)

disputed = store.disputed_document_ids(project.id)
if not disputed:
    st.success(
        "No disagreements: every document reviewed by two or more people has the same labels "
        "from each of them, or a final label recorded after their reviews."
    )
    st.stop()

documents = {doc.id: doc for doc in store.get_documents(project.id, sorted(disputed))}
order = sorted(documents, key=lambda doc_id: (documents[doc_id].added_at, doc_id))
st.caption(
    f"{plural(len(order), 'document')} where reviewers disagree. Pick one, compare the "
    "opinions, record the final label."
)
if st.session_state.get(PICK) not in documents:
    st.session_state.pop(PICK, None)
doc_id = st.selectbox(
    "Document",
    order,
    key=PICK,
    format_func=lambda d: document_choice_label(documents[d]),
)
doc = documents[doc_id]
opinions = store.reviewer_opinions(project.id, doc_id).get(doc_id, {})
current = store.current_review(project.id, doc_id)
# what this adjudicator saw: saved with the final label so a change in between is caught
shown_key = f"_adjudicate_seen_{doc_id}"
if shown_key not in st.session_state:
    st.session_state[shown_key] = current.id if current else None

with st.container(border=True):
    st.markdown(md(doc.text))
render_opinions(opinions, taxonomy.names)
if current is not None and current.decision == "adjudicate":
    st.caption(
        f"Earlier final label by {md(current.reviewer)} at {md(viewer_time(current.created_at))}"
        f": {md(', '.join(current.labels)) or 'no labels'} — reviews since disagree with it."
    )

with st.form(f"adjudicate_form_{doc_id}", border=True):
    multi = bool(project_settings(project)["multi_label"])
    labels = st.multiselect(
        "Final label" + ("s" if multi else ""),
        taxonomy.names,
        default=default_final(opinions, taxonomy.names),
        max_selections=None if multi else 1,
        key=f"adjudicate_labels_{doc_id}",
    )
    note = st.text_input("Note (why)", key=f"adjudicate_note_{doc_id}")
    submitted = st.form_submit_button("Record final label", type="primary")
if submitted:
    if not multi and len(labels) != 1:
        st.error(f"Pick exactly one label (this project is single-label); got {len(labels)}.")
    else:
        try:
            store.adjudicate(
                project.id,
                doc_id,
                reviewer=reviewer_name(),
                labels=labels,
                note=note,
                expected_current=st.session_state[shown_key],
            )
        except ReviewConflict as exc:
            st.session_state[shown_key] = exc.current.id if exc.current else None
            st.error(describe_conflict(exc.current) + " Look again, then record it again.")
        except StoreError as exc:
            st.error(md(str(exc)))
        else:
            st.session_state.pop(shown_key, None)
            st.session_state.pop(PICK, None)
            st.toast(md(f"Final label recorded: {', '.join(labels) or 'no labels'}"))
            st.rerun()
