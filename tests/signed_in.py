"""An AppTest session of Sift with sign-in configured and one user already signed in."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.auth import hash_password, load_auth_config
from ui.auth import USER_KEY

APP = str(Path(__file__).parent.parent / "app.py")
COOKIE_SECRET = "Zr4kW9-pQ2xL7mVt3Nb8Hy5Jc6Gd1Fs0AeUoTiRq"


def signed_in_app(user: str, role: str, *, project_id: int | None = None) -> AppTest:
    """AppTest with an [auth] section holding only `user` (with `role`), signed in as the
    server records a successful sign-in; `project_id` is the open project, if any."""
    section = {
        "cookie_secret": COOKIE_SECRET,
        "users": {user: {"password_hash": hash_password("pw", rounds=4), "role": role}},
    }
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = section
    at.session_state[USER_KEY] = {
        "name": user,
        "fingerprint": load_auth_config({"auth": section}).users[user].fingerprint,
        "signed_in_at": time.time(),
    }
    if project_id is not None:
        at.session_state["sift_project_id"] = project_id
    return at
