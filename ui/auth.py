"""Sign-in and permission checks for the app: the Streamlit side of core.auth.

Pages use two calls:

    require("export")            # stops the page with a clear message unless allowed
    if can("manage_projects"):   # show an action only to roles that may use it
        ...

`current_identity()` resolves who is signed in on every run: the local admin when
auth is off; a password user whose bcrypt check passed in this server-side session
(st.session_state), re-read from the configuration each run so a removed user, a
new password or a changed role takes effect at once; or an OpenID Connect account
from st.user with a role mapped from its email. The app never trusts anything the
browser sends about identity.
"""

from __future__ import annotations

import ipaddress
import math
import os
import runpy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from core.auth import (
    AuthConfig,
    AuthConfigError,
    Identity,
    SignedOut,
    SignInThrottle,
    denial_message,
    identity_now,
    load_auth_config,
    local_identity,
    verify_password,
)
from ui.markdown import md

USER_KEY = "sift_auth_user"  # {"name", "fingerprint", "signed_in_at"} after a bcrypt check
NOTICE_KEY = "sift_auth_notice"  # why this session was signed out mid-action, shown once
THROTTLE_KEY = "sift_auth_throttle"  # SignInThrottle for this session
WRONG_CREDENTIALS = "Wrong user name or password."  # the same for unknown users


# --- configuration and identity --------------------------------------------------------------


def _secrets_dict() -> dict:
    secrets = st.secrets  # looked up on each call: AppTest swaps st.secrets per run
    if secrets.load_if_toml_exists():
        return secrets.to_dict()
    # Streamlit treats an unreadable secrets.toml like a missing one; for us that would
    # silently turn sign-in off, so a file that exists but does not load is an error.
    from streamlit import config

    for path in config.get_option("secrets.files") or []:
        if os.path.isfile(os.path.expanduser(path)):
            raise AuthConfigError(
                f"{path} exists but Streamlit could not read it (is it valid TOML?); "
                "fix it, or remove it to run as a single local user."
            )
    return {}


# The last secrets read and what they configure: identity_as_configured re-reads the
# configuration before every store call, and comparing two small dicts costs about a
# microsecond where validating them again costs 15.
_LAST_CONFIG: tuple[dict, AuthConfig] | None = None


def auth_config() -> AuthConfig:
    """The current [auth] configuration; AuthConfigError when it is unusable."""
    global _LAST_CONFIG
    secrets = _secrets_dict()
    last = _LAST_CONFIG
    if last is not None and last[0] == secrets:
        return last[1]
    config = load_auth_config(secrets)
    _LAST_CONFIG = (secrets, config)
    return config


def _oidc_user() -> dict:
    try:
        return dict(st.user.to_dict())
    except Exception:  # no user info in this context
        return {}


def current_identity() -> Identity | None:
    """Who is signed in for this session, or None. Raises AuthConfigError on bad config."""
    config = auth_config()
    if not config.enabled:
        return local_identity()
    record = st.session_state.get(USER_KEY)
    if record is not None:
        user = config.users.get(record.get("name", ""))
        fresh = time.time() - record.get("signed_in_at", 0) < config.session_hours * 3600
        if user is not None and user.fingerprint == record.get("fingerprint") and fresh:
            return Identity(
                name=user.name, role=user.role, method="password", credential=user.fingerprint
            )
        st.session_state.pop(USER_KEY, None)  # removed user, new password/role, or expired
    if config.oidc_providers:
        info = _oidc_user()
        email = info.get("email")
        if info.get("is_logged_in") and email and info.get("email_verified") is not False:
            role = config.role_for_email(str(email))
            if role is not None:
                return Identity(name=str(email), role=role, method="oidc")
    return None


def identity_as_configured(signed_in: Identity) -> Identity | None:
    """`signed_in` as the configuration grants it at this moment (core.auth.identity_now):
    what ui.session's GuardedStore asks before every store call, including those of button
    callbacks, which run before app.py re-reads the configuration.

    In the script run, a change (removed user, new password or role, broken configuration)
    signs the session out and reruns at once: st.rerun() interrupts the callback or page
    before the store call that asked, and the next run shows the sign-in form (or the
    pages of the new role) with the reason. Elsewhere (a background job) the store
    refuses with SignedOut.
    """
    try:
        now = identity_now(auth_config(), signed_in)
    except AuthConfigError:
        now = None
    if (now is None or now.role != signed_in.role) and _in_script_run():
        st.session_state.pop(USER_KEY, None)
        st.session_state[NOTICE_KEY] = (
            str(SignedOut(signed_in, "view"))
            if now is None
            else f"Your role changed to {now.role} while this page was open, so the action "
            "you started was not done."
        )
        st.rerun()
    return now


def _in_script_run() -> bool:
    """Whether this is the session's script thread (callbacks and pages), where st.rerun()
    works; a background thread with the session's context attached is not."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return False
    return threading.current_thread().name == "ScriptRunner.scriptThread"


def render_notice() -> None:
    """Why the session was signed out (or its role changed) mid-action, shown once."""
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.warning(md(notice), icon=":material/logout:")


def auth_enabled() -> bool:
    try:
        return auth_config().enabled
    except AuthConfigError:
        return True  # misconfigured means locked, never open


def client_is_local() -> bool:
    """Whether this session's browser connects from this machine. Streamlit reports no
    address for 127.0.0.1 and ::1, and a string for any real remote connection (an app
    run without a server, as in AppTest, has none to report)."""
    address = st.context.ip_address
    if not isinstance(address, str):
        return True
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False  # unreadable: not known to be this machine
    mapped = getattr(parsed, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool((mapped or parsed).is_loopback)


def render_local_only() -> None:
    """What a browser on another machine sees when sign-in is not configured."""
    st.title("Sift")
    st.error(
        "This Sift has no sign-in configured, so it serves only the machine it runs on: "
        "without sign-in every visitor would be its administrator. To share it with a team, "
        'configure sign-in (docs/security.md, "Sign-in") and start it with '
        "`--server.address 0.0.0.0`.",
        icon=":material/lock:",
    )


def can(permission: str) -> bool:
    """Whether the signed-in user may use `permission` (False when nobody is signed in)."""
    try:
        identity = current_identity()
    except AuthConfigError:
        return False
    return identity is not None and identity.can(permission)


def require_sign_in() -> Identity:
    """The signed-in identity; otherwise show the sign-in form (or the config error) and stop."""
    try:
        identity = current_identity()
    except AuthConfigError as error:
        render_config_error(error)
        st.stop()
    if identity is None:
        render_sign_in()
        st.stop()
    return identity


def require(permission: str) -> Identity:
    """The signed-in identity if its role has `permission`; else a clear refusal and stop."""
    identity = require_sign_in()
    if not identity.can(permission):
        st.error(denial_message(identity, permission), icon=":material/block:")
        st.stop()
    return identity


def current_page_path() -> str | None:
    """Script path of the page running now (works with st.navigation and pages/ fallback)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return None
    info = ctx.pages_manager.get_pages().get(ctx.page_script_hash) or {}
    path = info.get("script_path")
    return str(path) if path else None


# Set while app.py's router runs a page. A page script running without it was started by
# Streamlit's pages/ fallback (a server process before its first st.navigation call).
_ROUTED = threading.local()


@contextmanager
def routed_page() -> Iterator[None]:
    """app.py runs the chosen page inside this."""
    previous = getattr(_ROUTED, "active", False)
    _ROUTED.active = True
    try:
        yield
    finally:
        _ROUTED.active = previous


def require_router() -> None:
    """The first call of every page script.

    Started by Streamlit's pages/ fallback instead of app.py (a fresh server asked for
    /review before app.py ever ran), the page runs app.py in its place and stops: the router
    signs the visitor in, registers only the pages their role may open (from then on
    Streamlit ignores pages/ in every session) and runs the asked-for page if it is one of
    them. Nothing of the page is drawn before that.
    """
    if getattr(_ROUTED, "active", False):
        return
    router = Path(__file__).resolve().parent.parent / "app.py"
    runpy.run_path(str(router), run_name="__main__")
    st.stop()


def require_current_page() -> Identity:
    """Sign-in plus the running page's permission (ui.pages)."""
    from ui.pages import page_permission

    path = current_page_path()
    return require(page_permission(path) if path else "view")


# --- rendering -------------------------------------------------------------------------------


def render_config_error(error: AuthConfigError) -> None:
    st.error(
        f"Sign-in is misconfigured, so Sift will not start: {md(error)}", icon=":material/key:"
    )


def render_sign_in() -> None:
    """The sign-in form (password users) and/or OpenID Connect buttons."""
    config = auth_config()
    st.title("Sign in to Sift")
    render_notice()
    if config.users:
        _password_form(config)
    if config.oidc_providers:
        _oidc_buttons(config)


def _password_form(config: AuthConfig) -> None:
    throttle = st.session_state.setdefault(THROTTLE_KEY, SignInThrottle())
    with st.form("auth_sign_in", clear_on_submit=True):
        username = st.text_input("User name", key="auth_username", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="auth_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", key="auth_submit", type="primary")
    if not submitted:
        return
    now = time.monotonic()
    wait = throttle.wait_s(now)
    if wait > 0:
        st.error(f"Too many failed sign-ins. Wait {math.ceil(wait)} s, then try again.")
        return
    if not username.strip() or not password:
        st.error("Enter your user name and password.")
        return
    user = verify_password(config, username, password)
    if user is None:
        throttle.record_failure(time.monotonic())
        st.error(WRONG_CREDENTIALS)
        return
    throttle.record_success()
    st.session_state[USER_KEY] = {
        "name": user.name,
        "fingerprint": user.fingerprint,
        "signed_in_at": time.time(),
    }
    st.rerun()


def _oidc_buttons(config: AuthConfig) -> None:
    info = _oidc_user()
    if info.get("is_logged_in"):
        # Signed in with the provider, but no role for this account (or email unverified).
        email = info.get("email") or "this account"
        st.warning(
            f"{email} is signed in but has no role in Sift. Ask an admin to add it to "
            "[auth.roles] in .streamlit/secrets.toml."
        )
        if st.button("Sign out", key="auth_oidc_sign_out"):
            st.logout()
        return
    from importlib.util import find_spec

    if find_spec("authlib") is None:
        st.error(
            "Single sign-on needs the Authlib package on the server: pip install 'Authlib>=1.3.2'."
        )
        return
    for provider in config.oidc_providers:
        label = (
            "Sign in with single sign-on" if provider == "default" else f"Sign in with {provider}"
        )
        if st.button(label, key=f"auth_login_{provider}", type="primary"):
            st.login(None if provider == "default" else provider)


def sign_out() -> None:
    """Forget everything this session held (identity, selections, prepared exports)."""
    was_oidc = bool(_oidc_user().get("is_logged_in"))
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if was_oidc:
        st.logout()
    else:
        st.rerun()


def render_account(identity: Identity) -> None:
    """Sidebar block: who is signed in, their role, and a sign-out button."""
    if identity.method == "local":
        return
    st.caption("Signed in as")
    st.markdown(f"**{md(identity.name)}** · {identity.role}")
    if st.button("Sign out", key="auth_sign_out", icon=":material/logout:"):
        sign_out()
