"""Deep links: the open project, and the Review page's document and filters, in the URL.

URL shapes (`st.query_params`; the page is the path, as st.navigation names it):

    <server>/<page>?project=<project id>
    <server>/review?project=<id>&doc=<document id>[&order=..][&label=..][&status=..]
                    [&min=0.20][&max=0.90][&q=<search>][&flagged=1][&field=<name>&value=<text>]

Only filters that differ from the defaults are written (order=needed, any label,
status=unreviewed, confidence 0-1, no search, not flagged-only, no context filter).

Read once per browser session, on its first run (F5 and a pasted link both start a new
session): the project, then on the Review page the filters and the document (brought into
the current batch where the reviewer is). From then on the session is the truth and the URL
is written from it on every run, so it always names what is on screen and a copy of it opens
the same view. What the URL asks for is checked like any input: a project the store does
not have, a document not in the project, an unknown order/status/label/field or a
confidence outside 0-1 is ignored with a note naming it; the store's own permission checks
still apply to whatever the link opens.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import streamlit as st

from core.review_queue import ORDERS, STATUSES, QueueFilters, QueueItem, ReviewPass
from core.store import StoreError
from ui.markdown import md

PROJECT = "project"
DOC = "doc"
# URL parameter -> the Review page's widget key (ui.review_queue_ui.queue_controls)
ORDER, LABEL, STATUS, LOW, HIGH = "order", "label", "status", "min", "max"
SEARCH, FLAGGED, FIELD, VALUE = "q", "flagged", "field", "value"
WIDGETS = {
    ORDER: "review_order",
    LABEL: "review_filter_label",
    STATUS: "review_status",
    SEARCH: "review_search",
    FLAGGED: "review_flagged_only",
    FIELD: "review_context_field",
    VALUE: "review_context_value",
}
CONFIDENCE_WIDGET = "review_confidence"
MAX_TEXT = 500  # characters kept of a search or context value from a link

LINK = "_deep_link"  # {"params": the URL's parameters on the session's first run, ...}
NOTES = "_deep_link_notes"  # what a link asked for that could not be opened


def _state() -> dict:
    state = st.session_state.get(LINK)
    if state is None:  # the session's first run: what the browser's URL asked for
        state = {"params": st.query_params.to_dict(), "review": None, "doc": None}
        st.session_state[LINK] = state
    return state


BEFORE_SIGN_IN = "_deep_link_before_sign_in"  # {"path", "params"} a signed-out browser asked for


def remember_before_sign_in() -> None:
    """On a signed-out run (only the sign-in page exists, so Streamlit forgets the page the
    URL named): keep the page path and parameters the browser first asked for."""
    if BEFORE_SIGN_IN not in st.session_state:
        path = urlsplit(st.context.url or "").path.rstrip("/").rsplit("/", 1)[-1]
        st.session_state[BEFORE_SIGN_IN] = {"path": path, "params": st.query_params.to_dict()}


def follow_after_sign_in(pages) -> None:
    """On the first signed-in run: open the page and parameters remembered before signing in,
    if the role may open that page (`pages`: the registered st.Page objects); a link to a page
    the role may not open keeps its parameters on the default page."""
    wanted = st.session_state.pop(BEFORE_SIGN_IN, None)
    if not wanted:
        return
    for page in pages:
        if wanted["path"] and page.url_path == wanted["path"]:
            st.switch_page(page, query_params=wanted["params"])
    if wanted["params"]:
        st.query_params.from_dict(wanted["params"])


def _note(message: str) -> None:
    st.session_state.setdefault(NOTES, []).append(message)


def restore_project(store, select_project) -> None:
    """On the session's first run, open the project the URL names (once)."""
    state = _state()
    if state.get("project_done"):
        return
    state["project_done"] = True
    wanted = state["params"].get(PROJECT)
    if wanted is None:
        return
    try:
        project_id = int(wanted)
        project = store.get_project(project_id)
    except (ValueError, StoreError):
        _note(
            f"The link's project {wanted!r} is not here (deleted, or a link from another "
            "server); open one on Projects."
        )
        return
    select_project(project.id)


def write_project(project) -> None:
    """The URL names the open project (and nothing when none is open)."""
    wanted = None if project is None else str(project.id)
    if st.query_params.get(PROJECT) != wanted:
        if wanted is None:
            del st.query_params[PROJECT]
        else:
            st.query_params[PROJECT] = wanted


def show_notes() -> None:
    for message in st.session_state.pop(NOTES, []):
        st.warning(md(message), icon=":material/link_off:")


# --- the Review page ---------------------------------------------------------------------------


def restore_review_filters(project_id: int, labels, fields) -> None:
    """Before the queue controls are drawn: seed their widgets from the URL, once per
    session (a link's filters; F5 keeps them). `fields`: () -> the context fields (read
    only when the link names one)."""
    state = _state()
    if state.get("review") is not None:
        return
    state["review"] = project_id
    params = state["params"]
    if str(project_id) != params.get(PROJECT):
        return  # the link was for another project (or none): its filters do not apply
    chosen = {
        ORDER: (ORDERS, "orders"),
        STATUS: (STATUSES, "statuses"),
        LABEL: (tuple(labels), "labels"),
        FIELD: ((), "context fields"),
    }
    if FIELD in params:
        chosen[FIELD] = (tuple(fields()), "context fields")
    for name, (allowed, what) in chosen.items():
        value = params.get(name)
        if value is None:
            continue
        if value in allowed:
            st.session_state[WIDGETS[name]] = value
        else:
            _note(f"The link's {name} {value!r} is not one of this project's {what}; ignored.")
    for name in (SEARCH, VALUE):
        if params.get(name):
            st.session_state[WIDGETS[name]] = params[name][:MAX_TEXT]
    if FLAGGED in params:
        st.session_state[WIDGETS[FLAGGED]] = params[FLAGGED] in ("1", "true", "yes")
    if LOW in params or HIGH in params:
        low, high = _confidence(params.get(LOW, "0"), params.get(HIGH, "1"))
        if low is None or high is None:
            _note(
                f"The link's confidence {params.get(LOW, '0')!r}-{params.get(HIGH, '1')!r} "
                "is not a range within 0-1; ignored."
            )
        else:
            st.session_state[CONFIDENCE_WIDGET] = (low, high)


def _confidence(low: str, high: str) -> tuple[float | None, float | None]:
    try:
        pair = round(float(low) * 20) / 20, round(float(high) * 20) / 20  # the slider's 0.05
    except ValueError:
        return None, None
    if not 0.0 <= pair[0] <= pair[1] <= 1.0:
        return None, None
    return pair


def open_linked_document(review_pass: ReviewPass, table) -> None:
    """Once per session: show the document the URL names, where the reviewer is in the
    batch (it may be outside the filters: the link asked for it)."""
    state = _state()
    if state.get("doc") is not None:
        return
    state["doc"] = True
    params = state["params"]
    wanted = params.get(DOC)
    if not wanted or params.get(PROJECT) != str(state.get("review")):
        return
    if wanted not in table:
        _note(f"The link's document {wanted!r} is not in this project; showing the queue.")
        return
    current = review_pass.current
    if current is None or current.document_id != wanted:
        review_pass.bring_back(QueueItem(table.suggestion_for(wanted), 0.0, "link"))


def review_params(
    project_id: int, order: str, filters: QueueFilters, document_id: str | None
) -> dict[str, str]:
    """The Review page's URL parameters for this view (defaults left out)."""
    params = {PROJECT: str(project_id)}
    if document_id:
        params[DOC] = document_id
    if order != ORDERS[0]:
        params[ORDER] = order
    if filters.predicted_label:
        params[LABEL] = filters.predicted_label
    if filters.status != STATUSES[0]:
        params[STATUS] = filters.status
    if filters.min_confidence > 0:
        params[LOW] = f"{filters.min_confidence:.2f}"
    if filters.max_confidence < 1:
        params[HIGH] = f"{filters.max_confidence:.2f}"
    if filters.search.strip():
        params[SEARCH] = filters.search
    if filters.flagged_only:
        params[FLAGGED] = "1"
    if filters.context_field and filters.context_value.strip():
        params[FIELD], params[VALUE] = filters.context_field, filters.context_value
    return params


def write_review(project_id: int, order: str, filters: QueueFilters, document_id) -> str:
    """Put this view in the URL; returns the link to it."""
    params = review_params(project_id, order, filters, document_id)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    return link(params)


def link(params: dict[str, str]) -> str:
    """The page's address with `params` (a relative one when the browser's is unknown)."""
    base = st.context.url or "/review"
    return f"{base}?{urlencode(params)}"


def render_copy_link(url: str) -> None:
    with st.popover("Copy link", icon=":material/link:"):
        st.caption(
            "A link to this project, document and filters: send it to a colleague "
            "(they sign in first where sign-in is on); reloading the page keeps them too."
        )
        st.code(url, language=None, wrap_lines=True)


__all__ = [
    "open_linked_document",
    "render_copy_link",
    "restore_project",
    "restore_review_filters",
    "review_params",
    "show_notes",
    "write_project",
    "write_review",
]
