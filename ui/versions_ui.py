"""Evaluate's "Learning from reviews" block: where learning stands, learn now, the versions
(each judged candidate with its out-of-fold scores), pin / unpin / roll back, and the
learning curve of the adopted versions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.learning import versions
from core.learning.loop import learn
from core.store import StoreError
from ui.charts import learning_curve_chart
from ui.learning import learning_status
from ui.markdown import md
from ui.review_format import viewer_time
from ui.session import reviewer_name

MESSAGE = "_versions_message"  # (kind, text) after an action, shown once


def render_learning(store, project_id: int, *, may_train: bool) -> None:
    st.caption(learning_status(store, project_id))
    kind, text = st.session_state.pop(MESSAGE, (None, None))
    if kind:
        getattr(st, kind)(md(text))
    if not may_train:
        st.caption("Learning now, pinning and rolling back need the 'train' permission.")
    if st.button(
        "Learn from reviews now",
        key="evaluate_learn",
        icon=":material/model_training:",
        disabled=not may_train,
        help="Train a candidate on the current reviews and adopt it only if, out of fold, it "
        "is no worse than the current version and the zero-review baseline. Sift also does "
        "this on its own in the background as reviews arrive.",
    ):
        with st.spinner("Training and judging a candidate…"):
            outcome = learn(store, project_id, by=reviewer_name())
        if outcome.skipped:
            st.session_state[MESSAGE] = ("info", outcome.skipped)
        else:
            st.session_state[MESSAGE] = (
                "success" if outcome.adopted else "warning",
                f"v{outcome.version_id} {outcome.reason}",
            )
        st.rerun()

    rows = versions.history(store, project_id)
    if not rows:
        st.caption("Nothing learned yet.")
        return
    adopted = [row for row in rows if row["status"] == "adopted"]
    if len(adopted) >= 2:
        st.caption("Each adopted version's accuracy and macro-F1, out of fold, by reviews")
        st.altair_chart(
            learning_curve_chart(
                [
                    {
                        "n_reviews": row["n_reviews"],
                        "accuracy": row["candidate"]["accuracy"],
                        "macro_f1": row["candidate"]["macro_f1"],
                    }
                    for row in adopted
                    if row["candidate"]
                ]
            ),
            width="stretch",
        )
    st.dataframe(
        pd.DataFrame([_row(row) for row in reversed(rows)]),
        key="evaluate_versions",
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(format="%.3f")
            for name in ("accuracy", "macro-F1", "ECE", "was", "baseline")
        },
    )
    if adopted and may_train:
        _render_pin_and_rollback(store, project_id, adopted)


def _row(row: dict) -> dict:
    candidate, previous, baseline = (row[k] or {} for k in ("candidate", "previous", "baseline"))
    marks = " ".join(
        mark for on, mark in ((row["current"], "current"), (row["pinned"], "pinned")) if on
    )
    return {
        "version": f"v{row['id']}",
        "status": row["status"] + (f" ({marks})" if marks else ""),
        "learned": viewer_time(row["created_at"]),
        "reviews": row["n_reviews"],
        "accuracy": candidate.get("accuracy"),
        "macro-F1": candidate.get("macro_f1"),
        "ECE": candidate.get("ece"),
        "was": previous.get("accuracy"),
        "baseline": baseline.get("accuracy"),
        "what changed": row["changes"],
        "why": row["reason"],
    }


def _render_pin_and_rollback(store, project_id: int, adopted: list[dict]) -> None:
    cols = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    chosen = cols[0].selectbox(
        "Version",
        [row["id"] for row in reversed(adopted)],
        format_func=lambda version_id: f"v{version_id}",
        key="evaluate_version_choice",
    )
    pinned = store.pinned_model_version(project_id)
    if cols[1].button("Pin", key="evaluate_pin", help="Keep suggestions on this version"):
        _act(
            lambda: versions.pin(store, project_id, chosen, by=reviewer_name()),
            f"Pinned to v{chosen}.",
        )
    if cols[2].button("Unpin", key="evaluate_unpin", disabled=pinned is None):
        _act(
            lambda: versions.pin(store, project_id, None, by=reviewer_name()),
            "Unpinned: suggestions follow the latest adopted version.",
        )
    if cols[3].button(
        "Roll back", key="evaluate_rollback", help="Adopt this version's configuration again"
    ):
        _act(
            lambda: versions.rollback(store, project_id, chosen, by=reviewer_name()),
            f"Rolled back to v{chosen}.",
        )


def _act(action, message: str) -> None:
    try:
        with st.spinner("Restoring that version's predictions…"):
            action()
    except (StoreError, ValueError) as exc:
        st.session_state[MESSAGE] = ("error", str(exc))
    else:
        st.session_state[MESSAGE] = ("success", message)
    st.rerun()
