"""Sift: the router. Page config, sign-in, navigation and the shared sidebar; pages live in pages/.

On every run, before any page: without sign-in configured, a browser on another machine
sees only a "this machine only" page. Then resolve who is signed in (ui.auth). Nobody signed in
(with sign-in configured) or a bad [auth] configuration: only the sign-in page
exists. Otherwise only the pages the role may open are registered, so asking for
another page by URL lands on the default page; the chosen page's permission is
checked again, and the store each page gets checks every write (core.auth).
"""

import streamlit as st

from core.auth import AuthConfigError, PermissionDenied
from ui.auth import (
    auth_enabled,
    client_is_local,
    current_identity,
    render_config_error,
    render_local_only,
    render_notice,
    render_sign_in,
    require,
    routed_page,
)
from ui.deep_links import follow_after_sign_in, remember_before_sign_in
from ui.pages import DEFAULT_PAGE, allowed_pages, page_permission
from ui.session import render_sidebar

st.set_page_config(page_title="Sift", page_icon=":material/label:", layout="wide")


def _gate(render) -> None:
    """Register a single page (sign-in or configuration error) and stop: no other page exists.

    It is the default page, so after signing in the same URL opens the default page.
    """
    st.navigation([st.Page(render, title="Sign in", default=True)], position="hidden").run()
    st.stop()


# Without sign-in everyone is admin: serve only this machine (the config binds to loopback;
# this holds too when someone starts it with --server.address 0.0.0.0 anyway).
if not auth_enabled() and not client_is_local():
    _gate(render_local_only)
try:
    identity = current_identity()
except AuthConfigError as error:  # refuse to start rather than run open
    _gate(lambda error=error: render_config_error(error))
if identity is None:
    remember_before_sign_in()  # a link's page and parameters, opened once signed in
    _gate(render_sign_in)

registered = {  # the pages of ui.pages that this role may open
    spec.path: st.Page(spec.path, title=spec.title, icon=spec.icon, default=spec == DEFAULT_PAGE)
    for spec in allowed_pages(identity)
}
page = st.navigation(list(registered.values()))
follow_after_sign_in(registered.values())
opened = next((path for path, candidate in registered.items() if candidate is page), None)
require(page_permission(opened or page.url_path))  # checked on the server on every run
render_notice()  # e.g. "your role changed while this page was open"
render_sidebar()
try:
    with routed_page():
        page.run()
except PermissionDenied as denied:  # a page tried an action the role may not do
    st.error(str(denied), icon=":material/block:")
