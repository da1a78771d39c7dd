"""Without sign-in every visitor is admin, so Sift serves only its own machine: the shipped
config listens on loopback, and a browser on another address is refused even when someone
starts the server on every interface."""

from __future__ import annotations

import urllib.request

import pytest

from tests.browser import (
    ARTIFACTS,
    launch_chromium,
    non_loopback_address,
    require_browser,
    streamlit_app,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def outside_address():
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    return address


def test_the_shipped_config_listens_on_loopback_only(tmp_path, outside_address):
    with streamlit_app(
        tmp_path / "sift.db",
        secrets_file=tmp_path / "no-secrets.toml",
        log_path=ARTIFACTS / "streamlit-loopback.log",
        address=None,  # what .streamlit/config.toml says
    ) as server:
        port = server.url.rsplit(":", 1)[1]
        assert reachable(server.url)  # 127.0.0.1
        assert not reachable(f"http://{outside_address}:{port}")


def test_without_sign_in_a_browser_on_another_address_sees_only_a_refusal(
    tmp_path, outside_address
):
    require_browser()
    from playwright.sync_api import sync_playwright

    with (
        streamlit_app(
            tmp_path / "sift.db",
            secrets_file=tmp_path / "no-secrets.toml",
            log_path=ARTIFACTS / "streamlit-everywhere.log",
            address="0.0.0.0",  # started on every interface anyway
        ) as server,
        sync_playwright() as playwright,
    ):
        port = server.url.rsplit(":", 1)[1]
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(f"http://{outside_address}:{port}/")
            page.get_by_text("serves only the machine it runs on").wait_for(timeout=60_000)
            wait_idle(page)
            assert page.get_by_role("link", name="Projects").count() == 0
            page.goto(f"http://{outside_address}:{port}/review")  # no page behind it either
            page.get_by_text("serves only the machine it runs on").wait_for(timeout=60_000)

            local = browser.new_page()
            local.goto(server.url)
            local.get_by_role("heading", name="Projects").wait_for(timeout=60_000)
            assert local.get_by_text("serves only the machine it runs on").count() == 0
        finally:
            browser.close()
