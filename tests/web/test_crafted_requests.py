"""Crafted requests against the real app server: a staff session asks for the managers' pages by
their page hash, over the same websocket protocol a browser speaks (bench/load.py's client).

AppTest checks the navigation from inside the script; this checks what the server does with a
request no browser would send. The control: the same crafted request after a real manager
sign-in reaches the page, so the hashes are the right ones.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.util import calc_hash

from store_assistant.store import accounts
from store_assistant.config import load_settings
from tests.conftest import TEST_ENV, MANAGER_PASSWORD, bench_load

MANAGER_PAGES = {"inventory": "Inventory", "numbers": "Ask the numbers", "scorecards": "Scorecards",
                 "operations": "Operations"}


@pytest.fixture(scope="module")
def served(tmp_path_factory, store_settings):
    """The real app, on a free loopback port, over a copy of the prepared store data."""
    load = bench_load()
    root = tmp_path_factory.mktemp("served")
    data_dir = root / "data"
    shutil.copytree(store_settings.data_dir, data_dir,  # without accounts other tests made
                    ignore=shutil.ignore_patterns(".lock", "users.json", "accounts.db", "answer-log"))
    accounts.add_user(load_settings({"data_dir": str(data_dir)}, env=TEST_ENV), "maria", "manager",
                      MANAGER_PASSWORD)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = load.start_app(port, root / "app.log", data_dir)
    yield load, f"ws://127.0.0.1:{port}/_stcore/stream"
    load.stop_app(app)


def headings(render) -> list[str]:
    return [node.body for kind, node in render.nodes.values() if kind == "heading"]


def test_a_staff_session_cannot_open_manager_pages_by_their_hash(served) -> None:
    load, url = served

    async def crafted() -> dict[str, list[str]]:
        session = load.ChatSession(url, timeout=180)
        await session.open(None)
        seen = {}
        for url_path in MANAGER_PAGES:
            session.page_hash = calc_hash(url_path)  # what a browser sends for /operations
            seen[url_path] = headings(await session.run([]))
        await session.close()
        return seen

    for url_path, shown in asyncio.run(crafted()).items():
        assert MANAGER_PAGES[url_path] not in shown, (url_path, shown)
        assert "Ask the store assistant" in shown, (url_path, shown)  # the chat page instead


def test_the_same_request_reaches_the_page_after_a_manager_signs_in(served) -> None:
    load, url = served

    async def signed_in() -> list[str]:
        session = load.ChatSession(url, timeout=180)
        await session.open(None)
        first = await session.run([])
        widgets = {}
        for kind, node in first.nodes.values():
            if kind in ("text_input", "button"):
                widgets[node.label] = node.id
        form = [WidgetState(id=widgets["Account"], string_value="maria"),
                WidgetState(id=widgets["Password"], string_value=MANAGER_PASSWORD),
                WidgetState(id=widgets["Sign in"], trigger_value=True)]
        await session.run(form)
        session.page_hash = calc_hash("operations")
        shown = headings(await session.run([]))
        await session.close()
        return shown

    assert "Operations" in asyncio.run(signed_in())
