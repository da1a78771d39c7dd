"""What the safety checks of issue 12 cost, server-side:

guarded call   one store read through ui.session.get_store()'s GuardedStore, which re-reads
               the sign-in configuration before every call, against the same read on the
               bare Store (system_store()); with sign-in configured (password users) and
               without (the local admin); inside a real AppTest script run
open           Store(path) on an existing database (header + schema inspection included)
folder pin     core.models.integrity.manifest_changes over the packaged MiniLM folder:
               cold (hash cache emptied: every byte read) and warm (memoised per file)

  python -m bench.safety_costs
  python -m bench.safety_costs --calls 5000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import markdown_table

APP_SCRIPT_CALLS = "SIFT_BENCH_CALLS"


def _guarded_call_script() -> None:
    """Runs inside AppTest: times `calls` reads on the bare and on the guarded store."""
    import os
    import time

    import streamlit as st

    from ui.session import get_store, system_store

    calls = int(os.environ["SIFT_BENCH_CALLS"])
    guarded, bare = get_store(), system_store()
    project_id = bare.list_projects()[0].id
    timings = {}
    for name, store in (("bare", bare), ("guarded", guarded)):
        store.count_documents(project_id)  # warm
        start = time.perf_counter()
        for _ in range(calls):
            store.count_documents(project_id)
        timings[name] = (time.perf_counter() - start) / calls
    st.session_state["bench_timings"] = timings


def guarded_call_costs(calls: int, *, sign_in: bool) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    from core.auth import hash_password, load_auth_config
    from ui.auth import USER_KEY

    at = AppTest.from_function(_guarded_call_script, default_timeout=600)
    if sign_in:
        section = {
            "cookie_secret": "Zr4kW9-pQ2xL7mVt3Nb8Hy5Jc6Gd1Fs0AeUoTiRq",
            "users": {"bench": {"password_hash": hash_password("pw", rounds=4), "role": "admin"}},
        }
        at.secrets["auth"] = section
        at.session_state[USER_KEY] = {
            "name": "bench",
            "fingerprint": load_auth_config({"auth": section}).users["bench"].fingerprint,
            "signed_in_at": time.time(),
        }
    at.run()
    if at.exception:
        raise RuntimeError(str(at.exception))
    return dict(at.session_state["bench_timings"])


def open_cost(path: Path, repeats: int = 50) -> float:
    from core.store import Store

    start = time.perf_counter()
    for _ in range(repeats):
        Store(path).close()
    return (time.perf_counter() - start) / repeats


def folder_pin_costs() -> tuple[float, float]:
    from core.models import integrity
    from core.models.catalog import PACKAGED_MINILM
    from core.models.loading import resolve_model_path

    folder = Path(resolve_model_path(PACKAGED_MINILM))
    manifest = integrity.PACKAGED_MANIFESTS["all-MiniLM-L6-v2"]
    integrity._HASH_CACHE.clear()
    start = time.perf_counter()
    assert integrity.manifest_changes(folder, manifest) == []
    cold = time.perf_counter() - start
    start = time.perf_counter()
    integrity.manifest_changes(folder, manifest)
    return cold, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)

    from core.store import Store

    with tempfile.TemporaryDirectory(prefix="sift-bench-") as tmp:
        path = Path(tmp) / "sift.db"
        with Store(path) as store:
            store.create_project("bench")
        os.environ["SIFT_DB"] = str(path)
        os.environ[APP_SCRIPT_CALLS] = str(args.calls)
        rows = []
        for label, sign_in in (("sign-in configured", True), ("no sign-in (local)", False)):
            timings = guarded_call_costs(args.calls, sign_in=sign_in)
            rows.append(
                [
                    f"store read, {label}",
                    f"{timings['bare'] * 1e6:.1f} µs",
                    f"{timings['guarded'] * 1e6:.1f} µs",
                    f"+{(timings['guarded'] - timings['bare']) * 1e6:.1f} µs "
                    f"({timings['guarded'] / timings['bare']:.1f}x)",
                ]
            )
        rows.append(
            ["Store(path) open, inspection included", "", f"{open_cost(path) * 1e3:.2f} ms", ""]
        )
    cold, warm = folder_pin_costs()
    rows.append(
        ["packaged MiniLM folder pin", "", f"cold {cold:.2f} s", f"warm {warm * 1e3:.1f} ms"]
    )
    print(markdown_table(["what", "bare", "checked", "cost"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
