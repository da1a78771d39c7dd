"""The Review page's one-document view: the text with its evidence, the suggestion as the
batch picked it, the actions, the correction and each technique's vote."""

from __future__ import annotations

import streamlit as st

from core.predictions import ENSEMBLE, latest_results
from core.review_queue import ReviewPass
from ui.auth import can
from ui.charts import technique_scores_chart
from ui.highlight import (
    entity_kinds,
    label_colours,
    render_highlighted_text,
    without_entity_kinds,
)
from ui.markdown import md
from ui.review_actions import (
    CONFLICT,
    CORRECTION,
    NOTE,
    Displayed,
    move,
    on_accept,
    on_conflict_adjudicate,
    on_conflict_keep,
    on_conflict_overwrite,
    on_flag,
    on_save_correction,
    on_skip,
    on_toggle_label,
    on_undo,
)
from ui.review_conflicts import changed_since, seen_current
from ui.review_format import meta_rows, plural, summary_worth_showing, viewer_time
from ui.review_queue_ui import WALK_KEY, new_pass
from ui.session import reviewer_name

FORM_DOCUMENT = "_review_form_document"  # the document the correction widget was filled for
SHORTCUT_LABELS = 9  # "1".."9" toggle the first nine labels
ENTITY_CHOICE = "_review_entity_kinds"  # the entity types turned on/off in this pass
ENTITY_WIDGET = "review_entity_kinds"  # the entity-type pills' key (one per document)


def render_document_view(store, project, taxonomy, settings, review_pass: ReviewPass) -> None:
    item = review_pass.current
    if item is None:
        _render_end_of_pass(review_pass)
        return
    doc = store.get_documents(project.id, [item.document_id])[0]
    evidence, summary, estimated = _evidence(store, project.id, doc.id)
    suggestions = settings.get("show_suggestions", True)  # core.review_settings
    if not suggestions:  # hidden against anchoring: the evidence colours are votes too
        evidence = []
    current = store.current_review(project.id, doc.id)
    history = store.review_history(project.id, doc.id)
    view = Displayed(
        project_id=project.id,
        item=item,
        # as first shown to this reviewer: a rerun (a key press) must not re-read it
        expected_current=seen_current(project.id, doc.id, current),
        flagged=doc.id in store.flagged_document_ids(project.id, [doc.id]),
        multi_label=settings["multi_label"],
        independent=int(settings.get("reviews_wanted", 1)) > 1,
    )
    # A new document (or the widget was not drawn last run, so its state is gone): fill it.
    if st.session_state.get(FORM_DOCUMENT) != doc.id or CORRECTION not in st.session_state:
        st.session_state[FORM_DOCUMENT] = doc.id
        st.session_state[NOTE] = ""
        # k > 1: start from this reviewer's own labels, never another reviewer's
        own = (
            current
            if current
            and (settings.get("reviews_wanted", 1) == 1 or current.reviewer == reviewer_name())
            else None
        )
        fill = own.labels if own else (view.suggested if suggestions else ())
        st.session_state[CORRECTION] = list(fill)

    colours = label_colours(taxonomy)
    left, right = st.columns([3, 2], gap="large")
    with left:
        where = " · ".join(part for part in (doc.source, doc.location, doc.external_id) if part)
        st.caption(
            f"Document {review_pass.position + 1} of {len(review_pass.batch)} in batch "
            f"{review_pass.number} · {review_pass.left:,} left in this pass"
            + (f" · {md(where)}" if where else "")
        )
        # Suggestions hidden (an agreement study): other reviewers' labels are hidden too, as
        # they anchor just as much; those who may adjudicate see everything.
        blind = not suggestions and not can("adjudicate")
        _render_status(current, view.flagged, blind=blind)
        _render_conflict(view, history)
        _render_meta(doc.meta)
        shown_kinds = _entity_kind_picker(doc.id, evidence)
        render_highlighted_text(doc.text, without_entity_kinds(evidence, shown_kinds), colours)
        if summary_worth_showing(summary, doc.text):
            with st.container(border=True):
                st.markdown("**Summary**")
                st.markdown(md(summary))
        _render_history(history, blind=blind)
    with right:
        if suggestions:
            _render_suggestion(view, settings)
        else:
            st.caption(
                "Suggestions are hidden in this project (its review settings, on Projects): "
                "pick the labels below (keys 1–9) and save (Ctrl+Enter)."
            )
        _render_actions(view, review_pass, suggestions=suggestions)
        st.text_input(
            "Note or flag reason",
            key=NOTE,
            max_chars=1000,
            placeholder="optional: saved with your next action on this document",
            help="A comment on your review, or why you flag the document; shown in its "
            "history and exported.",
        )
        _render_correction(view, taxonomy.names)
        suggestion = item.suggestion
        if suggestions:
            st.altair_chart(
                technique_scores_chart(taxonomy.names, suggestion.ensemble, suggestion.techniques),
                width="stretch",
            )
            if estimated:
                st.caption(estimated_caption(estimated, len(taxonomy.names)))


def _evidence(store, project_id: int, document_id: str):
    """Every technique's evidence spans for the document, the first summary, and technique ->
    the labels whose score is a cheaper technique's estimate (zero_shot's cascade)."""
    evidence, summary, estimated = [], None, {}
    for name, results in latest_results(store, project_id, [document_id]).items():
        result = results.get(document_id)
        if result is None or name == ENSEMBLE:
            continue
        evidence.extend(result.evidence)
        summary = summary or result.summary
        if result.estimated:
            estimated[name] = result.estimated
    return evidence, summary, estimated


def estimated_caption(estimated: dict[str, list[str]], n_labels: int) -> str:
    """One sentence per technique that scored only some labels itself."""
    return " ".join(
        f"{md(name)} scored {n_labels - len(labels):,} of {n_labels:,} labels itself; the other "
        f"{len(labels):,} are the embeddings ranker's estimates (its cascade)."
        for name, labels in sorted(estimated.items())
    )


def _render_end_of_pass(review_pass: ReviewPass) -> None:
    if not review_pass.number:
        st.info("Nothing in the queue with these filters. Widen them, or pick another status.")
        return
    st.success(
        f"End of this pass: every document the filters show was reviewed, skipped or flagged "
        f"({plural(len(review_pass.seen), 'document')} in this pass). Start a new pass to see "
        "skipped and flagged ones again."
    )
    st.button("Start a new pass", key="review_new_pass", on_click=new_pass, type="primary")


def _render_status(current, flagged: bool, *, blind: bool = False) -> None:
    badges = []
    if current is not None and blind and current.reviewer != reviewer_name():
        badges.append(":green-badge[:material/check: reviewed by another reviewer]")
    elif current is not None:
        badges.append(
            f":green-badge[:material/check: {current.decision} by {md(current.reviewer)}: "
            f"{md(', '.join(current.labels)) or 'no labels'}]"
        )
    if flagged:
        badges.append(":orange-badge[:material/flag: flagged]")
    if badges:
        st.markdown(" ".join(badges))


def _change_line(review) -> str:
    if review.decision == "undo":
        return f"{md(viewer_time(review.created_at))} · **{md(review.reviewer)}** undid a review"
    return (
        f"{md(viewer_time(review.created_at))} · **{md(review.reviewer)}** · {review.decision} → "
        f"{md(', '.join(review.labels)) or 'no labels'}"
    )


def _render_conflict(view: Displayed, history) -> None:
    """Someone changed the document's labels since it was shown to this reviewer: say who,
    when and which labels; after a refused save, offer the choices."""
    changes = changed_since(history, view.expected_current)
    conflict = st.session_state.get(CONFLICT)
    if not conflict or conflict["document_id"] != view.document_id:
        if changes:  # before any save: a heads-up, the save will ask
            st.warning(
                "Changed since you opened this document:  \n"
                + "  \n".join(_change_line(review) for review in changes)
            )
        return
    theirs = conflict["theirs"]
    yours = f"{conflict['decision']} → {md(', '.join(conflict['labels'])) or 'no labels'}"
    now = (
        "it has no current review now (undone)"
        if theirs is None
        else f"current now: **{md(theirs.reviewer)}**'s {theirs.decision} → "
        f"{md(', '.join(theirs.labels)) or 'no labels'}"
    )
    st.warning(
        f"**Not saved: this document changed after you opened it** ({now}).  \n"
        + "  \n".join(_change_line(review) for review in changes)
        + f"  \nYours: {yours}. Choose:"
    )
    cols = st.columns(3 if can("adjudicate") else 2)
    cols[0].button(
        "Take theirs",
        key="review_conflict_keep",
        on_click=on_conflict_keep,
        width="stretch",
        help="Save nothing and move on",
    )
    cols[1].button(
        "Keep mine as a second opinion",
        key="review_conflict_overwrite",
        on_click=on_conflict_overwrite,
        args=(view,),
        type="primary",
        width="stretch",
        help="Both reviews stay; if the labels differ the document goes to Adjudicate",
    )
    if can("adjudicate"):
        cols[2].button(
            "Adjudicate: mine is final",
            key="review_conflict_adjudicate",
            on_click=on_conflict_adjudicate,
            args=(view,),
            width="stretch",
            help="Record your labels as the document's final label (an adjudication)",
        )


def _render_meta(meta) -> None:
    """The document's metadata (an email's Subject, From, To, Date; other fields an upload
    kept) as short escaped lines above the text."""
    rows, more = meta_rows(meta)
    if not rows:
        return
    lines = [f"**{md(name)}:** {md(value)}" for name, value in rows]
    if more:
        lines.append(f"and {plural(more, 'more field')}")
    st.caption("  \n".join(lines))


def _entity_kind_picker(document_id: str, evidence) -> set[str]:
    """Pills of the entity types in the document's evidence; returns the types to show.

    By default the types that are evidence for some label are on; turning a type on or off
    holds for the rest of the pass (remembered per pass in session state)."""
    kinds, labelled = entity_kinds(evidence)
    if not kinds:
        return set()
    choice = _entity_choice()
    default = [
        kind
        for kind in kinds
        if kind in choice["on"] or (kind in labelled and kind not in choice["off"])
    ]
    key = f"{ENTITY_WIDGET}_{document_id}"
    picked = st.pills(
        "Entity types",
        kinds,
        selection_mode="multi",
        default=default,
        key=key,
        on_change=_remember_entity_kinds,
        args=(key, tuple(kinds)),
        help="Underline entities of these types. Types that are evidence for a label are on "
        "at first; your choice holds for the rest of this pass.",
    )
    return set(picked or ())


def _entity_choice() -> dict:
    """{"pass": the pass it was made in, "on": types turned on, "off": types turned off}."""
    current = st.session_state.get(WALK_KEY)
    choice = st.session_state.get(ENTITY_CHOICE)
    if not choice or choice.get("pass") != current:
        choice = {"pass": current, "on": set(), "off": set()}
        st.session_state[ENTITY_CHOICE] = choice
    return choice


def _remember_entity_kinds(key: str, kinds: tuple[str, ...]) -> None:
    chosen = set(st.session_state.get(key) or ())
    choice = _entity_choice()
    for kind in kinds:
        if kind in chosen:
            choice["on"].add(kind)
            choice["off"].discard(kind)
        else:
            choice["off"].add(kind)
            choice["on"].discard(kind)


def _render_history(history, *, blind: bool = False) -> None:
    hidden = 0
    if blind:  # this reviewer's own actions only
        mine = [review for review in history if review.reviewer == reviewer_name()]
        hidden, history = len(history) - len(mine), mine
    if not history and not hidden:
        return
    with st.expander(f"History ({len(history)})"):
        if hidden:
            st.caption(
                f"{plural(hidden, 'action')} by other reviewers hidden: suggestions and other "
                "opinions are hidden in this project until adjudication."
            )
        for review in reversed(history):
            labels = f": {md(', '.join(review.labels))}" if review.labels else ""
            note = f" — “{md(review.note)}”" if review.note else ""  # a comment or flag reason
            st.caption(
                f"{md(viewer_time(review.created_at))} · {md(review.reviewer)} · "
                f"{review.decision}{labels}{note}"
            )


def _render_suggestion(view: Displayed, settings) -> None:
    suggestion = view.item.suggestion
    if view.suggested:
        st.markdown(f"**Suggested:** {md(', '.join(view.suggested))}")
    else:
        st.markdown("**Suggested:** nothing yet")
    details = [f"confidence {suggestion.confidence:.0%}"]
    if view.item.reason == "coverage":
        details.append(f"picked to find examples of {md(view.item.for_label or '')}")
    details += [
        f"uncertainty {suggestion.uncertainty:.2f}",
        f"disagreement {suggestion.disagreement:.2f}",
    ]
    st.caption(" · ".join(details))
    if suggestion.below_threshold:
        st.caption(
            "No label reaches its threshold: this is the top label, below it. "
            "Accept saves it; or pick labels below."
        )
    elif not view.suggested:
        st.caption(
            "No technique scored this document, so there is nothing to accept: pick its labels "
            "below (keys 1–9) and save (Ctrl+Enter)."
        )


def _render_actions(view: Displayed, review_pass: ReviewPass, *, suggestions: bool = True) -> None:
    row = st.container(horizontal=True, gap="small")
    row.button(
        "Accept",
        key="review_accept",
        shortcut="a",
        type="primary",
        icon=":material/check:",
        on_click=on_accept,
        args=(view,),
        disabled=not (view.suggested and suggestions),
        help="Save the suggested labels (A)"
        if view.suggested and suggestions
        else "Nothing to accept: no technique scored this document"
        if suggestions
        else "Suggestions are hidden in this project: pick labels and save",
    )
    row.button("Skip", key="review_skip", shortcut="s", on_click=on_skip, args=(view,), help="(S)")
    row.button(
        "Unflag" if view.flagged else "Flag",
        key="review_flag",
        shortcut="f",
        icon=":material/flag:",
        on_click=on_flag,
        args=(view,),
        help="Mark for a second look (F)",
    )
    row.button(
        "Undo",
        key="review_undo",
        shortcut="u",
        icon=":material/undo:",
        on_click=on_undo,
        args=(view.project_id,),
        help="Take back your last review (U)",
    )
    nav = st.container(horizontal=True, gap="small")
    nav.button(
        "Previous",
        key="review_prev",
        shortcut="k",
        icon=":material/arrow_back:",
        on_click=move,
        args=(-1,),
        disabled=review_pass.position == 0,
        help="(K) — within this batch",
    )
    nav.button(
        "Next",
        key="review_next",
        shortcut="j",
        icon=":material/arrow_forward:",
        on_click=move,
        args=(+1,),
        help="(J)",
    )


def _render_correction(view: Displayed, labels: list[str]) -> None:
    st.multiselect(
        "Correct labels",
        labels,
        key=CORRECTION,
        max_selections=None if view.multi_label else 1,
        help="Or press 1–9 to toggle the first nine labels",
    )
    chosen = set(st.session_state.get(CORRECTION) or [])
    toggles = st.container(horizontal=True, gap="small")
    for number, label in enumerate(labels[:SHORTCUT_LABELS], start=1):
        toggles.button(
            f"{number} {md(label)}",
            key=f"review_toggle_{number}",
            shortcut=str(number),
            type="primary" if label in chosen else "tertiary",
            on_click=on_toggle_label,
            args=(label, view.multi_label),
        )
    st.button(
        "Save correction",
        key="review_save",
        shortcut="Ctrl+Enter",
        icon=":material/save:",
        on_click=on_save_correction,
        args=(view,),
    )
