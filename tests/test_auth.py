"""core.auth: roles, permissions, the [auth] config, passwords, backoff, the guarded store."""

from __future__ import annotations

import getpass
import random
import re
import string
import time
import tomllib
from pathlib import Path

import bcrypt
import pytest

from core.auth import (
    AUTH_OFF,
    PERMISSIONS,
    AuthConfigError,
    GuardedStore,
    Identity,
    PermissionDenied,
    SignInThrottle,
    backoff_seconds,
    hash_password,
    load_auth_config,
    local_identity,
    unclassified_store_attributes,
    verify_password,
)
from core.documents import Document
from core.store import Store
from core.taxonomy import Label, Taxonomy
from ui.pages import PAGES, allowed_pages, page, page_permission

ROOT = Path(__file__).resolve().parent.parent

COOKIE_SECRET = "k3J9x-Qm2Lr8Vt5Wn7Pz4Yb6Hc1Df0GsAeUoTiRy"  # 41 chars, 38 distinct
FAST = 4  # bcrypt cost for tests: 16 rounds instead of 4096


def fast_hash(password: str) -> str:
    return hash_password(password, rounds=FAST)


@pytest.fixture(scope="module")
def users_config():
    return load_auth_config(
        {
            "auth": {
                "cookie_secret": COOKIE_SECRET,
                "users": {
                    "alice": {"password_hash": fast_hash("alice pw"), "role": "admin"},
                    "bob": {"password_hash": fast_hash("bob pw"), "role": "reviewer"},
                    "vera": {"password_hash": fast_hash("vera pw"), "role": "viewer"},
                },
            }
        }
    )


def who(role: str) -> Identity:
    return Identity(name=f"a {role}", role=role, method="password")


# --- roles -----------------------------------------------------------------------------------


def test_viewer_cannot_review():
    assert who("viewer").can("view") and not who("viewer").can("review")


@pytest.mark.parametrize("permission", ["manage_projects", "edit_taxonomy", "export"])
def test_reviewer_cannot_manage_projects_edit_the_taxonomy_or_export(permission):
    assert not who("reviewer").can(permission)


@pytest.mark.parametrize("permission", ["review", "upload", "classify", "evaluate", "train"])
def test_reviewer_can_do_the_review_work(permission):
    assert who("reviewer").can(permission)


def test_admin_has_every_permission():
    assert all(who("admin").can(permission) for permission in PERMISSIONS)


def test_unknown_role_has_no_permission():
    assert not Identity(name="x", role="superuser", method="password").can("view")


def test_unknown_permission_name_is_a_programming_error_listing_the_known_ones():
    with pytest.raises(ValueError, match="manage_projects"):
        who("admin").can("delete_everything")


def test_denial_names_the_user_role_and_who_may():
    with pytest.raises(PermissionDenied) as denied:
        who("reviewer").require("export")
    message = str(denied.value)
    assert "a reviewer (reviewer)" in message and "only admin users may export" in message


@pytest.mark.parametrize(
    ("page", "permission"),
    [("pages/export.py", "export"), ("review", "review"), ("/x/pages/monitor.py", "view")],
)
def test_page_permission_comes_from_the_page_file_name(page, permission):
    assert page_permission(page) == permission


def test_pages_not_listed_need_only_view():
    assert page_permission("pages/somethingnew.py") == "view"


def test_viewer_is_offered_only_pages_it_may_open():
    pages = [page(stem) for stem in ("projects", "upload", "review", "evaluate", "export")]
    assert [p.path for p in allowed_pages(who("viewer"), pages)] == [
        "pages/projects.py",
        "pages/evaluate.py",
    ]


def test_reviewer_is_not_offered_export():
    offered = [p.stem for p in allowed_pages(who("reviewer"))]
    assert "review" in offered and "export" not in offered


def test_every_page_file_is_in_the_registry_and_every_entry_has_a_file():
    on_disk = {f"pages/{path.name}" for path in (ROOT / "pages").glob("*.py")}
    assert on_disk == {spec.path for spec in PAGES}
    assert all(spec.permission in PERMISSIONS for spec in PAGES)


# --- configuration ---------------------------------------------------------------------------


def test_no_auth_section_means_auth_off():
    assert load_auth_config({"other": {"a": 1}}) is AUTH_OFF
    assert not AUTH_OFF.enabled


def test_auth_off_runs_as_an_admin_named_after_the_os_user():
    identity = local_identity()
    assert identity.role == "admin"
    assert identity.name == getpass.getuser()


def test_auth_section_without_users_or_oidc_is_refused():
    with pytest.raises(AuthConfigError, match="no way to sign in"):
        load_auth_config({"auth": {"cookie_secret": COOKIE_SECRET}})


def test_password_users_are_loaded_with_their_roles(users_config):
    assert users_config.enabled
    assert {name: user.role for name, user in users_config.users.items()} == {
        "alice": "admin",
        "bob": "reviewer",
        "vera": "viewer",
    }


def _with_secret(secret):
    auth = {"users": {"bob": {"password_hash": fast_hash("pw"), "role": "reviewer"}}}
    if secret is not None:
        auth["cookie_secret"] = secret
    return {"auth": auth}


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("aB3$xY9!", "8 characters"),
        ("changeme-changeme-changeme-changeme", "placeholder"),
        ("this-is-my-very-long-Secret-value-1234", "placeholder"),
        ("abababababababababababababababababab", "few distinct"),
    ],
)
def test_weak_or_missing_cookie_secret_is_refused_naming_the_key(secret, reason):
    with pytest.raises(AuthConfigError) as error:
        load_auth_config(_with_secret(secret))
    assert "cookie_secret" in str(error.value) and reason in str(error.value)
    assert "secrets.token_urlsafe" in str(error.value)  # says how to make a good one


def test_random_cookie_secrets_are_accepted():
    alphabet = string.ascii_letters + string.digits + "-_"
    for seed in range(200):
        secret = "".join(random.Random(seed).choices(alphabet, k=64))
        load_auth_config(_with_secret(secret))


def test_plain_text_password_is_refused_naming_the_user():
    config = {"auth": {"cookie_secret": COOKIE_SECRET, "users": {"bob": {"password_hash": "pw"}}}}
    with pytest.raises(AuthConfigError, match=r"\[auth.users.bob\] password_hash is not a bcrypt"):
        load_auth_config(config)


def test_unknown_role_is_refused_listing_the_roles():
    users = {"bob": {"password_hash": fast_hash("pw"), "role": "owner"}}
    with pytest.raises(AuthConfigError, match="unknown role 'owner'; use one of viewer"):
        load_auth_config({"auth": {"cookie_secret": COOKIE_SECRET, "users": users}})


OIDC = {
    "cookie_secret": COOKIE_SECRET,
    "redirect_uri": "https://sift.example.com/oauth2callback",
    "client_id": "sift",
    "client_secret": "s",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}


def test_top_level_oidc_settings_are_the_default_provider():
    assert load_auth_config({"auth": OIDC}).oidc_providers == ("default",)


def test_named_oidc_provider_tables_are_providers():
    auth = {
        "cookie_secret": COOKIE_SECRET,
        "redirect_uri": OIDC["redirect_uri"],
        "google": {"client_id": "g", "client_secret": "s", "server_metadata_url": "u"},
        "roles": {"a@example.com": "admin"},
    }
    assert load_auth_config({"auth": auth}).oidc_providers == ("google",)


def test_oidc_without_redirect_uri_is_refused():
    auth = {key: value for key, value in OIDC.items() if key != "redirect_uri"}
    with pytest.raises(AuthConfigError, match="redirect_uri"):
        load_auth_config({"auth": auth})


def test_oidc_roles_match_emails_ignoring_case():
    config = load_auth_config({"auth": {**OIDC, "roles": {"Alice@Example.com": "admin"}}})
    assert config.role_for_email("alice@example.COM") == "admin"


def test_oidc_accounts_without_a_role_are_refused_by_default():
    config = load_auth_config({"auth": {**OIDC, "roles": {"alice@example.com": "admin"}}})
    assert config.role_for_email("mallory@example.com") is None


def test_oidc_default_role_applies_to_unlisted_accounts():
    config = load_auth_config({"auth": {**OIDC, "default_role": "viewer"}})
    assert config.role_for_email("anyone@example.com") == "viewer"


# --- passwords -------------------------------------------------------------------------------


def test_right_password_verifies(users_config):
    assert verify_password(users_config, "bob", "bob pw").role == "reviewer"


def test_wrong_password_is_refused(users_config):
    assert verify_password(users_config, "bob", "alice pw") is None


def test_unknown_user_is_refused(users_config):
    assert verify_password(users_config, "mallory", "bob pw") is None


def test_password_over_72_bytes_is_refused_without_error(users_config):
    assert verify_password(users_config, "bob", "bob pw" + "x" * 100) is None


def test_hash_password_makes_a_bcrypt_hash_of_the_password():
    hashed = hash_password("s3cret pw", rounds=FAST)
    assert hashed.startswith("$2b$04$") and bcrypt.checkpw(b"s3cret pw", hashed.encode())


def _median_seconds(check, repeats=5):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        check()
        times.append(time.perf_counter() - started)
    return sorted(times)[repeats // 2]


def test_unknown_user_costs_a_bcrypt_check_like_a_known_one():
    # Cost 10: ~50 ms per check, far above timer noise.
    config = load_auth_config(
        {
            "auth": {
                "cookie_secret": COOKIE_SECRET,
                "users": {
                    "bob": {"password_hash": hash_password("pw", rounds=10), "role": "viewer"}
                },
            }
        }
    )
    verify_password(config, "nobody", "x")  # builds the dummy hash once
    known = _median_seconds(lambda: verify_password(config, "bob", "wrong"))
    unknown = _median_seconds(lambda: verify_password(config, "nobody", "wrong"))
    assert 0.25 < unknown / known < 4.0  # a skipped bcrypt check would be ~1000x faster


# --- backoff ---------------------------------------------------------------------------------


def test_backoff_starts_after_three_failures_and_doubles_up_to_thirty_seconds():
    assert [backoff_seconds(n) for n in range(1, 11)] == [0, 0, 1, 2, 4, 8, 16, 30, 30, 30]


def test_throttle_refuses_attempts_inside_the_wait():
    throttle = SignInThrottle()
    for _ in range(4):
        throttle.record_failure(now=100.0)
    assert throttle.wait_s(now=101.0) == pytest.approx(1.0)  # 4th failure: 2 s
    assert throttle.wait_s(now=102.5) == 0


def test_success_resets_the_throttle():
    throttle = SignInThrottle()
    for _ in range(5):
        throttle.record_failure(now=0.0)
    throttle.record_success()
    assert (throttle.failures, throttle.wait_s(now=0.0)) == (0, 0)


# --- the guarded store -----------------------------------------------------------------------


@pytest.fixture
def store(db_path):
    with Store(db_path) as store:
        project = store.create_project("p")
        store.save_taxonomy(project.id, Taxonomy(labels=(Label("billing"),)))
        store.add_documents(
            project.id,
            [Document.from_text("refund my invoice")],
            filename="a.txt",
            format="txt",
            encoding="utf-8",
            sha256="0" * 64,
        )
        yield store


def test_every_public_store_method_has_a_permission():
    assert unclassified_store_attributes(Store) == []


def test_reviewer_cannot_delete_a_project_through_the_guarded_store(store):
    project = store.list_projects()[0]
    with pytest.raises(PermissionDenied, match="manage_projects"):
        GuardedStore(store, who("reviewer")).delete_project(project.id)
    assert store.get_project(project.id).name == "p"


def test_reviewer_cannot_save_the_taxonomy_through_the_guarded_store(store):
    project = store.list_projects()[0]
    with pytest.raises(PermissionDenied, match="edit_taxonomy"):
        GuardedStore(store, who("reviewer")).save_taxonomy(project.id, Taxonomy(labels=()))
    assert store.load_taxonomy(project.id).names == ["billing"]


def test_viewer_cannot_review_through_the_guarded_store(store):
    project = store.list_projects()[0]
    [document_id] = store.document_ids(project.id)
    guarded = GuardedStore(store, who("viewer"))
    with pytest.raises(PermissionDenied, match="review"):
        guarded.add_review(project.id, document_id, reviewer="v", decision="accept")
    assert store.count_reviews(project.id) == 0


def test_viewer_reads_through_the_guarded_store(store):
    project = store.list_projects()[0]
    assert GuardedStore(store, who("viewer")).count_documents(project.id) == 1


def test_admin_deletes_through_the_guarded_store(store):
    project = store.list_projects()[0]
    GuardedStore(store, who("admin")).delete_project(project.id)
    assert store.list_projects() == []


def test_guarded_store_hides_internals_and_close(store):
    guarded = GuardedStore(store, who("admin"))
    for name in ("_conn", "_db", "close"):
        with pytest.raises(AttributeError, match=name):
            getattr(guarded, name)


# --- Streamlit settings ----------------------------------------------------------------------

STREAMLIT_DIR = Path(__file__).parent.parent / ".streamlit"


def test_streamlit_config_names_only_real_options():
    from streamlit import config

    settings = tomllib.loads((STREAMLIT_DIR / "config.toml").read_text())
    names = {f"{section}.{key}" for section, table in settings.items() for key in table}
    assert names - set(config._config_options_template) == set()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("server.enableXsrfProtection", True),
        ("server.enableCORS", True),
        ("server.enableStaticServing", False),
        ("browser.gatherUsageStats", False),
        ("client.showErrorDetails", "type"),
        ("server.maxUploadSize", 50),
    ],
)
def test_streamlit_config_is_hardened(option, value):
    section, key = option.split(".")
    settings = tomllib.loads((STREAMLIT_DIR / "config.toml").read_text())
    assert settings[section][key] == value


def test_the_example_secrets_file_is_refused_until_its_placeholders_are_replaced():
    example = tomllib.loads((STREAMLIT_DIR / "secrets.example.toml").read_text())
    with pytest.raises(AuthConfigError, match="password_hash is not a bcrypt hash"):
        load_auth_config(example)
    for user in example["auth"]["users"].values():
        user["password_hash"] = fast_hash("pw")
    with pytest.raises(AuthConfigError, match="cookie_secret looks like a placeholder"):
        load_auth_config(example)
    example["auth"]["cookie_secret"] = COOKIE_SECRET
    assert set(load_auth_config(example).users) == {"alice", "bob", "vera"}


def test_security_doc_names_only_tests_that_exist():
    root = Path(__file__).parent.parent
    doc = (root / "docs" / "security.md").read_text()
    references = set(re.findall(r"`(tests/\w+\.py)::(\w+)`", doc))
    assert len(references) > 40
    missing = [
        f"{path}::{name}"
        for path, name in sorted(references)
        if not re.search(rf"^def {name}\(", (root / path).read_text(), re.MULTILINE)
    ]
    assert missing == []
