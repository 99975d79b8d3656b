"""Shared fixtures: the real embedded model, loaded once per test session."""

from __future__ import annotations

import os

import pytest

from store_assistant.config import ENV_PREFIX, Settings, load_settings
from store_assistant.inference.gateway import Gateway

# Short answers keep the suite fast; the behaviour under test does not depend on length.
TEST_MAX_TOKENS = 48
# The tests answer with the shipped model: they test the code, and on it the suite runs in minutes.
# The default model is measured by the model ladder, and tests/inference/test_catalog.py loads
# every catalog model that is on the machine.
TEST_LLM = "local/smollm2-135m"
TEST_ENV = {"STORE_ASSISTANT_LLM": TEST_LLM}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's STORE_ASSISTANT_* variables or their store_assistant.toml."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    monkeypatch.setenv("STORE_ASSISTANT_LLM", TEST_LLM)
    monkeypatch.chdir(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    return load_settings({"data_dir": str(data_dir), "max_tokens": TEST_MAX_TOKENS}, env=TEST_ENV)


@pytest.fixture(scope="session")
def gateway(settings: Settings) -> Gateway:
    gateway = Gateway(settings)
    gateway.load()
    return gateway


@pytest.fixture(scope="session")
def store_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data directory with the real manuals, policies and inventory ingested, once per session."""
    from store_assistant.store.inventory import Inventory, inventory_path
    from store_assistant.store.knowledge import ingest

    data_dir = tmp_path_factory.mktemp("store-data")
    settings = load_settings({"data_dir": str(data_dir), "max_tokens": TEST_MAX_TOKENS}, env=TEST_ENV)
    Inventory(inventory_path(settings)).import_csv(settings.inventory_csv)
    ingest(settings, [(settings.manuals_dir, "manual"), (settings.policies_dir, "policy")],
           progress=False)
    return settings


# The manuals the multilingual tests ask about: a small e5 index builds in seconds, the whole
# store's in minutes (bench/multilingual_answers.py measures on that one).
MULTILINGUAL_MANUALS = ("samsung-galaxy-s24.md", "bose-qc-ultra-headphones.md",
                        "apple-ipad-10th-gen.md", "apple-airpods-pro-2.md")


@pytest.fixture(scope="session")
def multilingual_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A store answering in English and Korean: e5 embeddings over four real manuals and the real
    policies, with the real inventory."""
    import shutil

    from store_assistant.store.inventory import Inventory, inventory_path
    from store_assistant.store.knowledge import ingest

    base = load_settings(env=TEST_ENV)
    manuals = tmp_path_factory.mktemp("multilingual-manuals")
    for name in MULTILINGUAL_MANUALS:
        shutil.copy(base.manuals_dir / name, manuals / name)
    settings = load_settings({"data_dir": str(tmp_path_factory.mktemp("multilingual-data")),
                              "manuals_dir": str(manuals), "max_tokens": TEST_MAX_TOKENS,
                              "languages": "en,ko", "embeddings": "multilingual-e5-small"},
                             env=TEST_ENV)
    Inventory(inventory_path(settings)).import_csv(settings.inventory_csv)
    ingest(settings, [(manuals, "manual"), (settings.policies_dir, "policy")], progress=False)
    return settings


MANAGER_PASSWORD = "correct-horse-battery"


def sign_in_as_manager(at, settings: Settings, name: str = "manager") -> None:
    """Create the manager account if missing and sign in through the sidebar form (AppTest)."""
    from store_assistant.store import accounts

    if name not in accounts.load_users(settings):
        accounts.add_user(settings, name, "manager", MANAGER_PASSWORD)
        at.run()  # the sign-in form appears once a manager account exists
    at.text_input(key="sign_in_name").set_value(name)
    at.text_input(key="sign_in_password").set_value(MANAGER_PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()


def bench_load():
    """bench/load.py as a module: its real-app starter and websocket client serve the tests that
    drive the real server (crafted requests, the browser check)."""
    import importlib.util

    from store_assistant.config import PROJECT_DIR

    spec = importlib.util.spec_from_file_location("load_bench", PROJECT_DIR / "bench" / "load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
