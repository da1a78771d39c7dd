"""Helpers for the real-browser tests: run `streamlit run app.py`, drive Debian's Chromium.

The app runs in a subprocess on a free localhost port with its own SQLite file
($SIFT_DB) and its own secrets file (`--secrets.files`), so a developer's
`.streamlit/secrets.toml` never leaks into a test and a test never writes into
the repository's `.streamlit/`. Playwright drives the system Chromium; it never
downloads a browser.

Streamlit reruns the script after every interaction. The app root carries
`data-test-script-state` ("running" / "notRunning"); `wait_idle` waits for a
settled run, and the tests then wait for the text they expect, which is what
makes a step done.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"  # screenshots and server logs (git-ignored)
CHROMIUM = Path(os.environ.get("SIFT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT_S = 90.0
IDLE_TIMEOUT_MS = 60_000


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_browser() -> None:
    """Skip (fail on CI, where a missing browser is a broken setup) unless Chromium and
    Playwright are both here."""
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium, or set SIFT_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -r requirements-dev.txt)")
    if not missing:
        return
    reason = "browser tests need " + " and ".join(missing)
    if on_ci():
        pytest.fail(reason + "; CI must run them (.ci/run installs Chromium).", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppServer:
    """A running `streamlit run app.py`: `url` its root, `log` its stdout+stderr, `db_path`
    the SQLite file it serves."""

    url: str
    process: subprocess.Popen
    log: Path
    db_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        with suppress(OSError):
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


def non_loopback_address() -> str | None:
    """This machine's address on its main network interface (no packet is sent), or None."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("203.0.113.1", 9))  # TEST-NET-3: only picks the outgoing interface
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@contextmanager
def streamlit_app(
    db_path: Path, secrets_file: Path, log_path: Path, address: str | None = "127.0.0.1"
):
    """Run the app against `db_path` with sign-in configured by `secrets_file` (a path
    that does not exist means: no [auth], one local admin), listening on `address` (None:
    what .streamlit/config.toml says). Yields an AppServer, reached through 127.0.0.1."""
    port = free_port()
    env = {
        **os.environ,
        "SIFT_DB": str(db_path),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--secrets.files",
        str(secrets_file),
        *(["--server.address", address] if address is not None else []),
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = AppServer(
        url=f"http://127.0.0.1:{port}", process=process, log=log_path, db_path=db_path
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(server.url):
            if process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {process.returncode} before answering "
                    f"/_stcore/health; its log ({log_path}):\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"streamlit did not answer {server.url}/_stcore/health within "
                    f"{SERVER_START_TIMEOUT_S:.0f} s; its log ({log_path}):\n{server.log_tail()}"
                )
            time.sleep(0.2)
        yield server
    finally:
        server.stop()


def launch_chromium(playwright):
    """Debian's Chromium, headless, with nothing reaching out to the network."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def save_screenshot(page, name: str) -> Path:
    """A PNG of the viewport under test-artifacts/; returns its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def update_docs_screenshot(source: Path, target: Path) -> bool:
    """Copy a screenshot into docs/ when SIFT_UPDATE_SCREENSHOTS=1; True when copied."""
    if os.environ.get("SIFT_UPDATE_SCREENSHOTS") != "1":
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return True


# --- driving the app -------------------------------------------------------------------------


def wait_idle(page, timeout_ms: int = IDLE_TIMEOUT_MS) -> None:
    """Connected and no script run in progress (a short pause lets a rerun begin first)."""
    page.wait_for_timeout(150)
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
        "[data-test-script-state='notRunning']",
        timeout=timeout_ms,
    )


def main_area(page):
    """The page body, without the sidebar."""
    return page.locator("[data-testid='stMain']")


def by_key(page, key: str):
    """The element container Streamlit marks with `st-key-<key>` for a widget's key=."""
    return page.locator(f".st-key-{key}")


def assert_no_exception(page) -> None:
    """No uncaught exception box (Streamlit shows one where a page raised)."""
    boxes = page.locator("[data-testid='stException']")
    assert boxes.count() == 0, "the page raised:\n" + "\n".join(boxes.all_inner_texts())


def open_page(page, title: str, timeout_ms: int = IDLE_TIMEOUT_MS) -> None:
    """Click a page in the sidebar navigation (keeps the session, unlike a new URL), wait
    for its title and check that it ran without an exception."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=timeout_ms)
    wait_idle(page, timeout_ms)
    assert_no_exception(page)


def choose_option(page, widget_key: str, option: str) -> None:
    """Pick `option` in the selectbox whose key= is `widget_key`."""
    by_key(page, widget_key).get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def selected_option(page, widget_key: str) -> str:
    """The option a selectbox shows (it is the value of its combobox input)."""
    return by_key(page, widget_key).get_by_role("combobox").input_value()


def multiselect_values(page, widget_key: str) -> list[str]:
    """The chosen options of the multiselect whose key= is `widget_key`, in order."""
    return (
        by_key(page, widget_key)
        .locator("[data-tag]")
        .evaluate_all("tags => tags.map(tag => tag.getAttribute('aria-label'))")
    )


def button(page, widget_key: str):
    """The button whose key= is `widget_key`. (A button with help= has a hidden twin that
    Streamlit measures; the role query sees only the real one.)"""
    return by_key(page, widget_key).get_by_role("button")


def nav_titles(page) -> list[str]:
    """The page names in the sidebar navigation (empty when there is none); the icon's
    ligature text comes first in each link, the title last."""
    links = page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
    return [text.strip().split("\n")[-1].strip() for text in links]


def warm_up(browser, url: str) -> None:
    """Open the app's root once, so app.py's st.navigation has run in the server process.

    Until then Streamlit serves a URL such as /review by running pages/review.py itself,
    without app.py (docs/security.md, "The `pages/` folder"); tests of the router need
    the server past that point, whichever test happens to run first.
    """
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        page.get_by_role("heading", level=1).first.wait_for(timeout=IDLE_TIMEOUT_MS * 2)
        wait_idle(page)
    finally:
        context.close()
