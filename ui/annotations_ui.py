"""Upload's "Import existing annotations": a Label Studio / Prodigy / CSV / JSONL file of
reviews made elsewhere, checked and reported (core.annotations.plan_import) before the person
confirms, then written whole (apply_import), the same functions as `python -m core
import-reviews`.

The confirmation holds for what was shown: the plan's signature (file digest, format,
default reviewer and its report) is kept in session state when shown, and Import writes only
if the plan computed on the click still has it (another import in between changes it).
"""

from __future__ import annotations

import hashlib

import streamlit as st

from core.annotations import FORMATS, ImportPlan, apply_import, plan_import, read_annotations
from core.ingest import IngestError
from core.store import StoreError
from core.store.failures import storage_failure
from ui.auth import current_identity
from ui.markdown import md

SHOWN = "annotations_plan_shown"  # signature of the plan on screen
RESULT = "annotations_result"  # (project id, message) of the last import
GUESS = "guess from the file"
EXTENSIONS = ["csv", "tsv", "jsonl", "json"]


def signature(plan: ImportPlan, reviewer: str | None) -> str:
    parts = [plan.sha256, plan.format, reviewer or "", *plan.report()]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def default_reviewer() -> tuple[str | None, bool]:
    """(name for rows whose file names no reviewer, whether the person may change it): the
    signed-in identity when sign-in is configured; else the sidebar's reviewer name, editable."""
    from ui.session import reviewer_name

    identity = current_identity()
    if identity is not None and identity.method != "local":
        return identity.name, False
    return reviewer_name(), True


def render(store, project_id: int, *, by: str) -> None:
    st.subheader("Import existing annotations")
    st.caption(
        "Reviews made elsewhere — Label Studio's JSON export, Prodigy's JSONL (db-out), or a "
        "CSV/JSONL with text or id, labels and reviewer columns. Documents are matched by id "
        "or text and created when missing; labels are matched to the taxonomy ignoring case. "
        "Nothing is written until you confirm, and then the whole file or nothing."
    )
    last = st.session_state.get(RESULT)
    if last and last[0] == project_id:
        st.success(md(last[1]), icon=":material/check_circle:")
    upload = st.file_uploader("Annotations file", type=EXTENSIONS, key="annotations_file")
    fmt = st.selectbox("Format", [GUESS, *FORMATS], key="annotations_format")
    name, editable = default_reviewer()
    if editable:
        name = st.text_input(
            "Reviewer for rows that name none",
            value=name or "",
            key="annotations_reviewer",
            help="Without sign-in this is free text. Rows whose file names a reviewer "
            "(a reviewer column, Label Studio's completed_by, Prodigy's _annotator_id) keep it.",
        )
    else:
        st.caption(f"Rows that name no reviewer are recorded as yours ({md(name)}).")
    if upload is None:
        st.session_state.pop(SHOWN, None)
        return
    shown_before = st.session_state.pop(SHOWN, None)
    try:
        annotations = read_annotations(
            upload.getvalue(), upload.name, None if fmt == GUESS else fmt
        )
        plan = plan_import(store, project_id, annotations, reviewer=name or None)
    except IngestError as error:
        st.error(f"{md(error)} Nothing was imported.", icon=":material/error:")
        return
    with st.container(border=True):
        st.markdown(f"**{md(plan.filename)}** ({md(plan.format)})")
        st.markdown("\n".join(f"- {md(line)}" for line in plan.report()))
    current = signature(plan, name)
    st.session_state[SHOWN] = current
    clicked = st.button(
        f"Import {len(plan.reviews):,} review{'' if len(plan.reviews) == 1 else 's'}",
        key="annotations_import",
        type="primary",
        disabled=not plan.reviews,
        icon=":material/rate_review:",
    )
    if not clicked:
        return
    if shown_before != current:
        st.warning(
            "The project changed since this report was shown; check the report again and confirm.",
            icon=":material/warning:",
        )
        return
    try:
        outcome = apply_import(store, project_id, plan, by=by)
    except Exception as error:
        failure = storage_failure(error)
        if failure is None and isinstance(error, StoreError):  # e.g. a label removed since
            st.error(f"{md(error)} Nothing was imported.", icon=":material/error:")
            return
        if failure is None:
            raise
        st.error(
            md(f"Not stored: {failure.reason}. Nothing from the file was written; {failure.fix}."),
            icon=":material/error:",
        )
        return
    created = outcome.documents.n_added if outcome.documents else 0
    st.session_state[RESULT] = (
        project_id,
        f"Imported {len(outcome.reviews):,} review(s) from {plan.filename}; "
        f"{created:,} new document(s).",
    )
    st.session_state.pop(SHOWN, None)
    st.rerun()
