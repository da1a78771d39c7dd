"""Revocation bites mid-action: a store handed out under one identity re-checks the
configuration before every call, so removing or downgrading a user stops what a page, a
button's callback or a background job holding that store would still do.

The AppTest case is the one from issue 12: an admin opens the delete confirmation, is removed
from the configuration, then clicks "Delete for good". The callback runs before app.py
re-reads the configuration, with the store of the previous run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import (
    GuardedStore,
    Identity,
    PermissionDenied,
    SignedOut,
    hash_password,
    identity_now,
    load_auth_config,
)
from core.store import Store
from tests.rendered import as_shown
from ui.auth import USER_KEY

APP = str(Path(__file__).parent.parent / "app.py")
COOKIE_SECRET = "Zr4kW9-pQ2xL7mVt3Nb8Hy5Jc6Gd1Fs0AeUoTiRq"


@pytest.fixture(scope="module")
def hashes():
    return {name: hash_password(f"{name}-pw", rounds=4) for name in ("alice", "root")}


def password_section(hashes, **roles: str) -> dict:
    return {
        "cookie_secret": COOKIE_SECRET,
        "users": {
            name: {"password_hash": hashes[name], "role": role} for name, role in roles.items()
        },
    }


OIDC = {
    "cookie_secret": COOKIE_SECRET,
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "client_id": "sift",
    "client_secret": "not-used-here",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}


class Configuration:
    """secrets.toml as a test edits it; `current` reads it afresh, as the app does."""

    def __init__(self, section: dict):
        self.section = section

    def store_for(self, store: Store, identity: Identity) -> GuardedStore:
        return GuardedStore(
            store,
            identity,
            current=lambda: identity_now(load_auth_config({"auth": self.section}), identity),
        )


def password_identity(section: dict, name: str) -> Identity:
    user = load_auth_config({"auth": section}).users[name]
    return Identity(user.name, user.role, "password", credential=user.fingerprint)


# --- the guarded store on its own -------------------------------------------------------------


def test_a_removed_user_is_refused_by_the_store_they_already_hold(db_path, hashes):
    config = Configuration(password_section(hashes, alice="admin", root="admin"))
    with Store(db_path) as raw:
        doomed = raw.create_project("Doomed")
        store = config.store_for(raw, password_identity(config.section, "alice"))
        assert [p.name for p in store.list_projects()] == ["Doomed"]  # allowed before
        config.section = password_section(hashes, root="admin")  # alice removed
        with pytest.raises(SignedOut, match="alice is signed out: the sign-in configuration"):
            store.delete_project(doomed.id)
        with pytest.raises(SignedOut):
            store.list_projects()  # reads too
        assert [p.name for p in raw.list_projects()] == ["Doomed"]


def test_a_changed_password_or_role_signs_the_held_store_out(db_path, hashes):
    config = Configuration(password_section(hashes, alice="admin"))
    with Store(db_path) as raw:
        store = config.store_for(raw, password_identity(config.section, "alice"))
        config.section = password_section(hashes, alice="reviewer")
        with pytest.raises(SignedOut):
            store.create_project("New")
        config.section = password_section(
            {**hashes, "alice": hash_password("new", rounds=4)}, alice="admin"
        )
        with pytest.raises(SignedOut):
            store.create_project("New")
        assert raw.list_projects() == []


def test_a_downgraded_single_sign_on_account_gets_its_new_role_at_once(db_path):
    config = Configuration({**OIDC, "roles": {"alice@example.com": "admin"}})
    with Store(db_path) as raw:
        doomed = raw.create_project("Doomed")
        store = config.store_for(raw, Identity("alice@example.com", "admin", "oidc"))
        config.section = {**OIDC, "roles": {"alice@example.com": "viewer"}}
        with pytest.raises(PermissionDenied, match=r"alice@example.com \(viewer\)"):
            store.delete_project(doomed.id)
        assert [p.name for p in store.list_projects()] == ["Doomed"]  # a viewer may still look
        config.section = {**OIDC, "roles": {}}  # no role any more
        with pytest.raises(SignedOut):
            store.list_projects()


def test_turning_sign_in_on_signs_the_local_user_out(db_path, hashes):
    local = Identity("me", "admin", "local")
    assert identity_now(load_auth_config({}), local) == local
    assert (
        identity_now(load_auth_config({"auth": password_section(hashes, root="admin")}), local)
        is None
    )


def test_identity_now_keeps_an_unchanged_identity_as_it_is(hashes):
    # what makes the app's rerun-on-change safe: an identity the configuration still grants
    # comes back equal, so the next run does not sign it out again
    section = password_section(hashes, alice="reviewer")
    config = load_auth_config({"auth": section})
    alice = password_identity(section, "alice")
    assert identity_now(config, alice) == alice
    assert identity_now(config, alice).credential == alice.credential
    sso = Identity("Rita@Example.com", "reviewer", "oidc")
    assert (
        identity_now(
            load_auth_config({"auth": {**OIDC, "roles": {"rita@example.com": "reviewer"}}}), sso
        )
        == sso
    )


# --- in the app: the delete confirmation -------------------------------------------------------


def admin_at_the_delete_confirmation(db_path, hashes) -> tuple[AppTest, Store, int]:
    store = Store(db_path)
    doomed = store.create_project("Doomed")
    section = password_section(hashes, alice="admin", root="admin")
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = section
    at.session_state[USER_KEY] = {
        "name": "alice",
        "fingerprint": load_auth_config({"auth": section}).users["alice"].fingerprint,
        "signed_in_at": time.time(),
    }
    at.session_state["sift_project_id"] = doomed.id
    at.switch_page("pages/projects.py").run()
    at.button(key="projects_delete").click().run()
    at.text_input(key="projects_delete_confirm").input("Doomed")
    assert not at.exception, at.exception
    return at, store, doomed.id


def test_an_admin_removed_while_the_delete_confirmation_is_open_deletes_nothing(db_path, hashes):
    at, store, doomed = admin_at_the_delete_confirmation(db_path, hashes)
    at.secrets["auth"] = password_section(hashes, root="admin")  # alice removed from secrets
    at.button(key="projects_delete_confirm_button").click().run()
    assert not at.exception, at.exception
    assert [p.id for p in store.list_projects()] == [doomed]  # not deleted
    assert at.text_input(key="auth_username")  # signed out: the sign-in form
    warnings = "\n".join(as_shown(element.value) for element in at.warning)
    assert "alice is signed out" in warnings and "nothing was done" in warnings
    assert USER_KEY not in at.session_state


def test_an_admin_still_configured_deletes_from_the_same_confirmation(db_path, hashes):
    at, store, doomed = admin_at_the_delete_confirmation(db_path, hashes)
    at.button(key="projects_delete_confirm_button").click().run()
    assert not at.exception, at.exception
    assert store.list_projects() == []
