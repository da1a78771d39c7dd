"""Sign-in and roles in the running app (AppTest), against a real SQLite project.

Two ways into a page are covered: through app.py's router (sign-in form, filtered
navigation) and straight to a page file, which Streamlit does when a `pages/`
folder sits next to app.py (see docs/security.md); there the page's own
get_store() must refuse.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import hash_password, load_auth_config
from tests.page_project import build_project
from tests.rendered import as_shown
from ui.auth import THROTTLE_KEY, USER_KEY, WRONG_CREDENTIALS

APP = str(Path(__file__).parent.parent / "app.py")
COOKIE_SECRET = "Zr4kW9-pQ2xL7mVt3Nb8Hy5Jc6Gd1Fs0AeUoTiRq"
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "vera": "vera-pw"}
ROLES = {"alice": "admin", "bob": "reviewer", "vera": "viewer"}


@pytest.fixture(scope="module")
def auth_section():
    return {
        "cookie_secret": COOKIE_SECRET,
        "users": {
            name: {"password_hash": hash_password(PASSWORDS[name], rounds=4), "role": role}
            for name, role in ROLES.items()
        },
    }


@pytest.fixture
def project(db_path):
    return build_project(db_path)


def new_app(auth_section, project=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = auth_section
    if project is not None:
        at.session_state["sift_project_id"] = project.project_id
    return at


def sign_in(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="auth_username").input(user)
    at.text_input(key="auth_password").input(password)
    return at.button(key="auth_submit").click().run()


def signed_in_session(at: AppTest, auth_section, user: str) -> AppTest:
    """The server-side record a successful sign-in leaves (for direct page requests)."""
    config = load_auth_config({"auth": auth_section})
    at.session_state[USER_KEY] = {
        "name": user,
        "fingerprint": config.users[user].fingerprint,
        "signed_in_at": time.time(),
    }
    return at


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(as_shown(element.value) for element in getattr(at, kind))


def registered(at: AppTest, page: str) -> bool:
    try:
        at.switch_page(page)
    except ValueError:
        return False
    return True


# --- no sign-in ------------------------------------------------------------------------------


def test_without_sign_in_only_the_sign_in_form_is_shown(auth_section, project):
    at = new_app(auth_section, project).run()
    assert not at.exception, at.exception
    assert at.text_input(key="auth_username") and at.text_input(key="auth_password")
    assert [element.value for element in at.title] == ["Sign in to Sift"]
    assert not registered(at, "pages/projects.py")
    assert USER_KEY not in at.session_state


def test_direct_page_request_without_sign_in_is_refused(auth_section, project):
    at = new_app(auth_section, project)
    at.switch_page("pages/export.py").run()
    assert at.text_input(key="auth_username")
    assert not _has_button(at, "export_prepare")


def _has_button(at: AppTest, key: str) -> bool:
    return any(button.key == key for button in at.button)


def test_direct_page_request_without_sign_in_shows_no_page_widgets(auth_section, project):
    at = new_app(auth_section, project)
    at.switch_page("pages/review.py").run()
    assert not _has_button(at, "review_accept")
    assert at.text_input(key="auth_username")


# --- signing in ------------------------------------------------------------------------------


def test_wrong_password_is_refused(auth_section, project):
    at = sign_in(new_app(auth_section, project).run(), "bob", "alice-pw")
    assert WRONG_CREDENTIALS in texts(at, "error")
    assert USER_KEY not in at.session_state
    assert at.text_input(key="auth_username")


def test_unknown_user_gets_the_same_message_as_a_wrong_password(auth_section, project):
    at = sign_in(new_app(auth_section, project).run(), "mallory", "bob-pw")
    assert texts(at, "error") == WRONG_CREDENTIALS


def test_repeated_failures_make_the_next_attempt_wait(auth_section, project):
    at = new_app(auth_section, project).run()
    for _ in range(3):
        sign_in(at, "bob", "wrong")
    sign_in(at, "bob", PASSWORDS["bob"])  # right password, but inside the 1 s wait
    assert "Too many failed sign-ins" in texts(at, "error")
    assert USER_KEY not in at.session_state
    time.sleep(at.session_state[THROTTLE_KEY].wait_s(time.monotonic()) + 0.05)
    sign_in(at, "bob", PASSWORDS["bob"])
    assert at.session_state[USER_KEY]["name"] == "bob"


def test_right_password_signs_in_and_the_sidebar_names_the_user(auth_section, project):
    at = sign_in(new_app(auth_section, project).run(), "bob", PASSWORDS["bob"])
    assert not at.exception, at.exception
    assert "**bob** · reviewer" in texts(at.sidebar, "markdown")
    assert not any(element.key == "sift_reviewer" for element in at.text_input)  # no free text


def account_script():
    import streamlit as st

    from ui.auth import render_account, require_sign_in

    identity = require_sign_in()
    st.markdown(f"hello {identity.name}")
    render_account(identity)


def test_sign_out_forgets_the_session(auth_section):
    at = AppTest.from_function(account_script, default_timeout=60)
    at.secrets["auth"] = auth_section
    at.session_state["sift_project_id"] = 1
    sign_in(at.run(), "bob", PASSWORDS["bob"])
    assert "hello bob" in texts(at, "markdown")
    at.button(key="auth_sign_out").click().run()
    assert USER_KEY not in at.session_state and "sift_project_id" not in at.session_state
    assert at.text_input(key="auth_username")


def test_a_role_change_in_the_configuration_applies_at_the_next_run(auth_section, project):
    at = signed_in_session(new_app(auth_section, project), auth_section, "bob")
    at.switch_page("pages/review.py").run()
    assert _has_button(at, "review_accept")
    demoted = {**auth_section, "users": {**auth_section["users"]}}
    demoted["users"]["bob"] = {**auth_section["users"]["bob"], "role": "viewer"}
    at.secrets["auth"] = demoted
    at.run()
    assert not _has_button(at, "review_accept")
    assert at.text_input(key="auth_username")  # signed out: sign in again under the new role


# --- roles -----------------------------------------------------------------------------------


def test_viewer_is_not_offered_the_review_page(auth_section, project):
    at = sign_in(new_app(auth_section, project).run(), "vera", PASSWORDS["vera"])
    assert registered(at, "pages/evaluate.py")
    assert not registered(at, "pages/review.py")


def test_viewer_opening_the_review_page_directly_is_refused(auth_section, project):
    # The page file hands over to app.py, which has no Review page for a viewer: the default
    # page opens instead and nothing of Review runs.
    at = signed_in_session(new_app(auth_section, project), auth_section, "vera")
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    assert [title.value for title in at.title] == ["Projects"]
    assert not _has_button(at, "review_accept")
    assert project.store.review_history(project.project_id) == []


def test_reviewer_is_not_offered_the_export_page(auth_section, project):
    at = sign_in(new_app(auth_section, project).run(), "bob", PASSWORDS["bob"])
    assert registered(at, "pages/review.py")
    assert not registered(at, "pages/export.py")


def test_reviewer_opening_the_export_page_directly_is_refused(auth_section, project):
    at = signed_in_session(new_app(auth_section, project), auth_section, "bob")
    at.switch_page("pages/export.py").run()
    assert not at.exception, at.exception
    assert [title.value for title in at.title] == ["Projects"]  # the default page instead
    assert not _has_button(at, "export_prepare")
    assert project.store.list_exports(project.project_id) == []


def test_admin_exports_and_the_export_records_the_signed_in_name(auth_section, project):
    at = signed_in_session(new_app(auth_section, project), auth_section, "alice")
    at.switch_page("pages/export.py").run()
    at.button(key="export_prepare").click().run()
    assert not at.exception, at.exception
    [export] = project.store.list_exports(project.project_id)
    assert export["by"] == "alice"


def test_reviewer_review_records_the_signed_in_identity(auth_section, project):
    at = signed_in_session(new_app(auth_section, project), auth_section, "bob")
    at.session_state["sift_reviewer"] = "somebody else"  # a typed name must not count
    at.switch_page("pages/review.py").run()
    at.button(key="review_accept").click().run()
    assert not at.exception, at.exception
    assert [r.reviewer for r in project.store.review_history(project.project_id)] == ["bob"]


def delete_first_project_script():
    import streamlit as st

    from core.auth import PermissionDenied
    from ui.session import get_store

    store = get_store()
    try:
        store.delete_project(store.list_projects()[0].id)
    except PermissionDenied as denied:
        st.error(str(denied))


def test_page_code_cannot_delete_a_project_as_a_reviewer(auth_section, project):
    at = AppTest.from_function(delete_first_project_script, default_timeout=60)
    at.secrets["auth"] = auth_section
    signed_in_session(at, auth_section, "bob").run()
    assert "'manage_projects' permission" in texts(at, "error")
    assert [p.name for p in project.store.list_projects()] == ["pages"]


# --- configuration ---------------------------------------------------------------------------


def test_weak_cookie_secret_stops_the_app_with_a_clear_message(auth_section, project):
    at = new_app({**auth_section, "cookie_secret": "changeme"}, project).run()
    assert "cookie_secret" in texts(at, "error")
    assert not at.text_input  # no sign-in form: nobody can use a misconfigured app
    assert not registered(at, "pages/projects.py")


def test_without_auth_configuration_the_local_user_is_an_admin(project):
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["unrelated"] = {"x": 1}  # a secrets file with no [auth] section
    at.run()
    assert not at.exception, at.exception
    assert registered(at, "pages/export.py")
    assert any(element.key == "sift_reviewer" for element in at.sidebar.text_input)


OIDC = {
    "cookie_secret": COOKIE_SECRET,
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "client_id": "sift",
    "client_secret": "not-used-here",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
    "roles": {"alice@example.com": "admin", "rita@example.com": "reviewer"},
}


def oidc_app(project, email: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = OIDC
    at.session_state["sift_project_id"] = project.project_id
    at.user = (
        {"is_logged_in": False}
        if email is None
        else {"is_logged_in": True, "email": email, "email_verified": True}
    )
    return at


def test_oidc_account_gets_its_mapped_role(project):
    at = oidc_app(project, "Rita@Example.com").run()
    assert not at.exception, at.exception
    assert "**Rita@Example.com** · reviewer" in texts(at.sidebar, "markdown")
    assert not registered(at, "pages/export.py")


def test_oidc_account_without_a_role_is_refused(project):
    at = oidc_app(project, "mallory@example.com").run()
    assert "has no role in Sift" in texts(at, "warning")
    assert not registered(at, "pages/projects.py")


def test_oidc_signed_out_user_sees_only_sign_in(project):
    at = oidc_app(project, None).run()
    assert [element.value for element in at.title] == ["Sign in to Sift"]
    assert not registered(at, "pages/projects.py")


def auth_config_script():
    import streamlit as st

    from ui.auth import require_sign_in

    require_sign_in()
    st.markdown("open")


def test_a_secrets_file_that_does_not_parse_stops_the_app(tmp_path):
    from streamlit.runtime.secrets import secrets_singleton
    from streamlit.testing.v1.util import patch_config_options

    broken = tmp_path / "secrets.toml"
    broken.write_text('[auth]\ncookie_secret = "unterminated\n')
    secrets_singleton._reset()  # forget secrets parsed by earlier tests
    try:
        with patch_config_options({"secrets.files": [str(broken)]}):
            at = AppTest.from_function(auth_config_script, default_timeout=60).run()
    finally:
        secrets_singleton._reset()
    assert "could not read it" in texts(at, "error")
    assert "open" not in texts(at, "markdown")  # not silently running without sign-in
