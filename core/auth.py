"""Who may do what: sign-in configuration, password checks, roles and permissions.

Pure Python (no streamlit): `ui/auth.py` reads `st.secrets` and the session and
calls in here. Three ways to run:

* no ``[auth]`` section: one local user, role admin, named after the OS user;
* password users, bcrypt hashes in ``.streamlit/secrets.toml``::

      [auth]
      cookie_secret = "<48+ random characters>"
      [auth.users.alice]
      password_hash = "$2b$12$..."      # python -m core.auth prints one
      role = "reviewer"

* OpenID Connect through Streamlit's ``st.login`` (its own keys: ``redirect_uri``,
  ``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``,
  or one ``[auth.<provider>]`` table per provider), with roles given by email::

      [auth]
      default_role = "viewer"           # omit: accounts not listed are refused
      [auth.roles]
      "alice@example.com" = "admin"

An ``[auth]`` section that configures neither, or a weak cookie secret, is an
AuthConfigError: the app refuses to start rather than run open by mistake.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# --- roles and permissions -------------------------------------------------------------------

PERMISSIONS: dict[str, str] = {  # permission -> what it allows, for messages
    "view": "see projects, documents, predictions and reviews",
    "review": "record reviews",
    "upload": "import documents",
    "classify": "run classification and change classification settings",
    "edit_taxonomy": "edit the taxonomy",
    "manage_projects": "create, rename, delete and back up projects",
    "export": "export datasets",
    "evaluate": "see evaluation metrics",
    "train": "learn from reviews now, pin or roll back the learned versions",
    # admins only: a reviewer settling disputes over their own labels would not be a check
    "adjudicate": "record the final label of a document its reviewers disagree on",
}

ROLES: dict[str, frozenset[str]] = {  # role -> its permissions; each role includes the last
    "viewer": frozenset({"view", "evaluate"}),
    "reviewer": frozenset({"view", "evaluate", "review", "upload", "classify", "train"}),
    "admin": frozenset(PERMISSIONS),
}


def roles_with(permission: str) -> list[str]:
    return [role for role, granted in ROLES.items() if permission in granted]


class AuthConfigError(ValueError):
    """The [auth] configuration is unusable; the message names the key and the fix."""


class PermissionDenied(PermissionError):
    """The signed-in user's role lacks a permission. str(e) says who, what and which roles may."""

    def __init__(self, identity: Identity | None, permission: str, message: str = ""):
        self.identity = identity
        self.permission = permission
        super().__init__(message or denial_message(identity, permission))


class SignedOut(PermissionDenied):
    """The configuration no longer grants the identity an action was started under: the user
    was removed, their password or role changed, or sign-in was turned on or broken."""

    def __init__(self, identity: Identity, permission: str):
        super().__init__(
            identity,
            permission,
            f"{identity.name} is signed out: the sign-in configuration changed since this page "
            "was opened (the user was removed, or their password or role changed), so nothing "
            "was done. Sign in again.",
        )


def _check_permission_name(permission: str) -> None:
    if permission not in PERMISSIONS:
        raise ValueError(
            f"unknown permission {permission!r}; known permissions: {', '.join(PERMISSIONS)}"
        )


def denial_message(identity: Identity | None, permission: str) -> str:
    what = PERMISSIONS.get(permission, permission)
    allowed = " or ".join(roles_with(permission)) or "no role"
    if identity is None:
        return f"Sign in first: you need to be signed in to {what}."
    return (
        f"You are signed in as {identity.name} ({identity.role}); only {allowed} users may "
        f"{what}. Ask an admin if you need the '{permission}' permission."
    )


@dataclass(frozen=True)
class Identity:
    name: str  # recorded on reviews and exports: user name, email, or the OS user
    role: str  # a key of ROLES
    method: str  # "local" | "password" | "oidc"
    # password users: PasswordUser.fingerprint when they signed in (a changed password or role
    # ends the sign-in); "" for the others
    credential: str = field(default="", compare=False, repr=False)

    def can(self, permission: str) -> bool:
        _check_permission_name(permission)
        return permission in ROLES.get(self.role, frozenset())

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(self, permission)


def local_identity() -> Identity:
    """Auth off: the one local user is an admin named after the OS account."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name (containers)
        name = os.environ.get("USER", "")
    return Identity(name=name.strip() or "local", role="admin", method="local")


# --- configuration ---------------------------------------------------------------------------

MIN_COOKIE_SECRET_CHARS = 32
# Words of 5+ letters, so a random secret contains one by chance about once in a million.
_PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "placeholder",
    "example",
    "replace",
    "default",
    "xxxxx",
    "your-",
    "your_",
)
_OIDC_KEYS = ("client_id", "client_secret", "server_metadata_url")
_SIFT_SECTIONS = ("users", "roles")  # our tables inside [auth]; every other table is a provider
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
HOW_TO_MAKE_A_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'  # noqa: S105


@dataclass(frozen=True)
class PasswordUser:
    name: str
    password_hash: str
    role: str

    @property
    def fingerprint(self) -> str:
        # Bound into the signed-in session: a changed password or role signs the session out.
        return hashlib.sha256(f"{self.password_hash}|{self.role}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AuthConfig:
    users: Mapping[str, PasswordUser] = field(default_factory=dict)  # user name -> user
    oidc_providers: tuple[str, ...] = ()  # "default" for top-level client_id, else table names
    roles_by_email: Mapping[str, str] = field(default_factory=dict)  # casefolded email -> role
    default_role: str | None = None  # for OIDC accounts not in roles_by_email; None refuses
    session_hours: float = 12.0  # a password sign-in lasts at most this long

    @property
    def enabled(self) -> bool:
        return bool(self.users or self.oidc_providers)

    def role_for_email(self, email: str | None) -> str | None:
        if email:
            role = self.roles_by_email.get(email.strip().casefold())
            if role is not None:
                return role
        return self.default_role


AUTH_OFF = AuthConfig()


def identity_now(config: AuthConfig, signed_in: Identity) -> Identity | None:
    """`signed_in` as `config` grants it now: None when it no longer would be signed in.

    Agrees with how a fresh run signs a session in (ui.auth.current_identity), so a store
    bound to an identity at the start of a run can re-check it before every call: a password
    user must still exist with the same password hash and role (the fingerprint), an OIDC
    account gets the role its email maps to now, the local user exists only while sign-in
    is off.
    """
    if not config.enabled:
        return signed_in if signed_in.method == "local" else None
    if signed_in.method == "password":
        user = config.users.get(signed_in.name)
        if user is None or signed_in.credential not in ("", user.fingerprint):
            return None
        if not signed_in.credential and user.role != signed_in.role:
            return None
        return Identity(user.name, user.role, "password", credential=user.fingerprint)
    if signed_in.method == "oidc" and config.oidc_providers:
        role = config.role_for_email(signed_in.name)
        return None if role is None else Identity(signed_in.name, role, "oidc")
    return None


def load_auth_config(secrets: Mapping[str, Any] | None) -> AuthConfig:
    """The [auth] section of secrets.toml (as a dict) -> AuthConfig; AUTH_OFF without one.

    Raises AuthConfigError naming the key for anything that would leave the app open or
    unusable: a weak cookie secret, an unknown role, a password that is not a bcrypt hash,
    an [auth] section that configures nobody.
    """
    section = (secrets or {}).get("auth")
    if section is None:
        return AUTH_OFF
    if not isinstance(section, Mapping):
        raise AuthConfigError("[auth] in .streamlit/secrets.toml must be a table.")
    users = _load_users(section.get("users"))
    providers = _oidc_providers(section)
    if not users and not providers:
        raise AuthConfigError(
            "[auth] in .streamlit/secrets.toml configures no way to sign in: add password "
            "users as [auth.users.NAME] tables (password_hash, role), or OpenID Connect "
            "settings (client_id, client_secret, server_metadata_url, redirect_uri). "
            "Delete the [auth] section to run as a single local user."
        )
    check_cookie_secret(section.get("cookie_secret"))
    if providers and not section.get("redirect_uri"):
        raise AuthConfigError(
            "[auth] redirect_uri is missing; OpenID Connect sign-in needs it, e.g. "
            'redirect_uri = "https://sift.example.com/oauth2callback".'
        )
    roles_by_email = {}
    roles_table = section.get("roles") or {}
    if not isinstance(roles_table, Mapping):
        raise AuthConfigError('[auth.roles] must be a table of "email" = "role".')
    for email, role in roles_table.items():
        roles_by_email[str(email).strip().casefold()] = _check_role(role, f"[auth.roles] {email!r}")
    default_role = section.get("default_role")
    if default_role in (None, "", "none"):
        default_role = None
    else:
        default_role = _check_role(default_role, "[auth] default_role")
    session_hours = section.get("session_hours", 12)
    if not isinstance(session_hours, int | float) or session_hours <= 0:
        raise AuthConfigError("[auth] session_hours must be a positive number of hours.")
    return AuthConfig(
        users=users,
        oidc_providers=providers,
        roles_by_email=roles_by_email,
        default_role=default_role,
        session_hours=float(session_hours),
    )


def check_cookie_secret(secret: Any) -> None:
    """Refuse a missing, short or placeholder [auth] cookie_secret (it signs the cookies)."""
    fix = f"Generate one with: {HOW_TO_MAKE_A_SECRET}"
    if not isinstance(secret, str) or not secret.strip():
        raise AuthConfigError(
            "[auth] cookie_secret is missing from .streamlit/secrets.toml; sign-in needs a "
            f"random secret of at least {MIN_COOKIE_SECRET_CHARS} characters. {fix}"
        )
    if len(secret) < MIN_COOKIE_SECRET_CHARS:
        raise AuthConfigError(
            f"[auth] cookie_secret is {len(secret)} characters; it must be at least "
            f"{MIN_COOKIE_SECRET_CHARS} random characters. {fix}"
        )
    lowered = secret.casefold()
    placeholder = next((word for word in _PLACEHOLDER_WORDS if word in lowered), None)
    if placeholder is not None or len(set(secret)) < 10:
        raise AuthConfigError(
            "[auth] cookie_secret looks like a placeholder"
            + (f" (it contains {placeholder!r})" if placeholder else " (few distinct characters)")
            + f", not a random secret. {fix}"
        )


def _check_role(role: Any, where: str) -> str:
    if role not in ROLES:
        raise AuthConfigError(f"{where}: unknown role {role!r}; use one of {', '.join(ROLES)}.")
    return role


def _load_users(table: Any) -> dict[str, PasswordUser]:
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise AuthConfigError("[auth.users] must hold one [auth.users.NAME] table per user.")
    users = {}
    for name, entry in table.items():
        where = f"[auth.users.{name}]"
        if not isinstance(entry, Mapping):
            raise AuthConfigError(f"{where} must be a table with password_hash and role.")
        if not str(name).strip() or str(name) != str(name).strip():
            raise AuthConfigError(f"{where}: the user name is empty or has surrounding spaces.")
        password_hash = entry.get("password_hash")
        if not isinstance(password_hash, str) or not _BCRYPT_HASH.match(password_hash):
            raise AuthConfigError(
                f"{where} password_hash is not a bcrypt hash ($2b$12$ followed by 53 "
                "characters); never store plain passwords. Make one with: python -m core.auth"
            )
        role = _check_role(entry.get("role"), f"{where} role")
        users[str(name)] = PasswordUser(name=str(name), password_hash=password_hash, role=role)
    return users


def _oidc_providers(section: Mapping[str, Any]) -> tuple[str, ...]:
    providers = []
    if any(section.get(key) for key in _OIDC_KEYS):
        providers.append("default")
    for name, value in section.items():
        if name not in _SIFT_SECTIONS and isinstance(value, Mapping) and value.get("client_id"):
            providers.append(str(name))
    return tuple(providers)


# --- passwords -------------------------------------------------------------------------------

BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) longer passwords


def hash_password(password: str, *, rounds: int = 12) -> str:
    """A bcrypt hash for [auth.users.NAME] password_hash."""
    import bcrypt

    encoded = password.encode("utf-8")
    if not encoded or len(encoded) > BCRYPT_MAX_BYTES:
        raise ValueError(f"a password must be 1 to {BCRYPT_MAX_BYTES} bytes of UTF-8")
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds=rounds)).decode("ascii")


@functools.cache
def _dummy_hash(cost: int) -> bytes:
    import bcrypt

    return bcrypt.hashpw(b"no such user", bcrypt.gensalt(rounds=cost))


def _cost(password_hash: str) -> int:
    match = _BCRYPT_HASH.match(password_hash)
    return int(match.group(1)) if match else 12


def verify_password(config: AuthConfig, username: str, password: str) -> PasswordUser | None:
    """The user when the password matches its bcrypt hash, else None.

    An unknown user name costs one bcrypt check too (against a dummy hash of the same
    cost), so the time taken does not tell whether the user exists.
    """
    import bcrypt

    user = config.users.get(username.strip()) if isinstance(username, str) else None
    encoded = password.encode("utf-8") if isinstance(password, str) else b""
    costs = [_cost(u.password_hash) for u in config.users.values()] or [12]
    target = user.password_hash.encode("ascii") if user else _dummy_hash(max(costs))
    usable = 0 < len(encoded) <= BCRYPT_MAX_BYTES
    matched = bcrypt.checkpw(encoded if usable else b"x", target)
    return user if (user is not None and usable and matched) else None


# --- sign-in backoff -------------------------------------------------------------------------

FREE_ATTEMPTS = 3  # failures before any wait
MAX_BACKOFF_S = 30.0


def backoff_seconds(failures: int) -> float:
    """Wait after the n-th failed sign-in: none for the first two, then 1, 2, 4 ... 30 s."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return min(MAX_BACKOFF_S, 2.0 ** (failures - FREE_ATTEMPTS))


@dataclass
class SignInThrottle:
    """Per-session failed sign-in count; attempts inside the wait are refused unchecked."""

    failures: int = 0
    locked_until: float = 0.0  # time.monotonic() value

    def wait_s(self, now: float) -> float:
        return max(0.0, self.locked_until - now)

    def record_failure(self, now: float) -> None:
        self.failures += 1
        self.locked_until = now + backoff_seconds(self.failures)

    def record_success(self) -> None:
        self.failures = 0
        self.locked_until = 0.0


# --- a store that checks permissions ---------------------------------------------------------

# Store method -> permission. Every public Store attribute must be listed here
# (tests/test_auth.py checks): a new write method is refused until it is classified.
STORE_PERMISSIONS: dict[str, str] = {
    # reads
    **dict.fromkeys(
        (
            "path",
            "applied_migrations",
            "integrity_check",
            "get_project",
            "list_projects",
            "load_taxonomy",
            "count_documents",
            "get_documents",
            "document_ids",
            "list_imports",
            "search_documents",
            "context_fields",
            "search_context",
            "get_run",
            "list_runs",
            "abandoned_run_ids",
            "cached_document_ids",
            "stored_embeddings",
            "embedding_model_keys",
            "get_predictions",
            "get_scores",
            "latest_cache_keys",
            "current_review",
            "current_reviews",
            "reviewer_opinions",
            "disputed_document_ids",
            "review_history",
            "flagged_document_ids",
            "count_reviews",
            "count_labelled_reviews",
            "review_watermark",
            "count_label_changes",
            "lookup_documents",
            "list_exports",
            "latest_trained_model",
            "trained_model_history",
            "get_trained_model",
            "get_model_version",
            "list_model_versions",
            "latest_model_version",
            "pinned_model_version",
            "current_model_version",
        ),
        "view",
    ),
    # writes
    "create_project": "manage_projects",
    "rename_project": "manage_projects",
    "delete_project": "manage_projects",
    "backup": "manage_projects",
    "update_project_settings": "classify",
    "save_taxonomy": "edit_taxonomy",
    "add_documents": "upload",
    "start_run": "classify",
    "finish_run": "classify",
    "fail_abandoned_runs": "classify",
    "prune_predictions": "classify",
    "save_model_version": "train",
    "pin_model_version": "train",
    "write_predictions": "classify",
    "save_embeddings": "classify",
    "add_review": "review",
    "add_reviews": "review",
    "import_reviews": "review",  # the Upload page also requires "upload"
    "undo_review": "review",
    "undo_last_review": "review",
    "undo_last_action": "review",
    "adjudicate": "adjudicate",
    "record_export": "export",
    "save_trained_model": "train",
}
_NEVER_FROM_PAGES = ("close",)  # the store is shared by every session of the server


class GuardedStore:
    """The Store as one signed-in user may use it: each method checks the role's permission.

    Pages get this from ui.session.get_store(), so a page that forgets to check a
    permission still cannot write what the role may not (defence in depth).

    `current` (optional) returns the identity as configured *now* (e.g. `identity_now` over
    a fresh read of the configuration); it is asked on every call, so a store held by a
    button callback, a background job or a page mid-run stops working the moment the user
    is removed or downgraded: SignedOut when it returns None or another user, else the
    permission is checked against the role it returns.
    """

    def __init__(
        self,
        store: Any,
        identity: Identity,
        current: Callable[[], Identity | None] | None = None,
    ):
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_identity", identity)
        object.__setattr__(self, "_current", current)

    @property
    def identity(self) -> Identity:
        return self._identity

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in _NEVER_FROM_PAGES:
            raise AttributeError(f"Store.{name} is not available to pages.")
        permission = STORE_PERMISSIONS.get(name)
        if permission is None:
            raise AttributeError(
                f"Store.{name} has no permission assigned in core.auth.STORE_PERMISSIONS; "
                "add it there before pages use it."
            )
        self._identity_now(permission).require(permission)
        return getattr(self._store, name)

    def _identity_now(self, permission: str) -> Identity:
        if self._current is None:
            return self._identity
        now = self._current()
        if now is None or (now.name, now.method) != (self._identity.name, self._identity.method):
            raise SignedOut(self._identity, permission)
        return now

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("GuardedStore is read-only.")

    def __repr__(self) -> str:
        return f"GuardedStore({self._store!r}, {self._identity.name!r} as {self._identity.role})"


def unclassified_store_attributes(store_class: type) -> list[str]:
    """Public Store attributes with no entry in STORE_PERMISSIONS (should be none)."""
    public = {name for name in dir(store_class) if not name.startswith("_")}
    public |= {"path"}  # instance attribute
    return sorted(public - set(STORE_PERMISSIONS) - set(_NEVER_FROM_PAGES))


def main() -> int:  # python -m core.auth: print a bcrypt hash for a password typed twice
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        print("The passwords differ; nothing printed.")
        return 1
    print(hash_password(first))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
