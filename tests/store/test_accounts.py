"""Accounts and roles: salted password hashes, the `users` command, and manager pages that a
staff session cannot reach, through the real app.py."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from store_assistant.store import accounts
from store_assistant.cli import main
from store_assistant.config import PROJECT_DIR, load_settings
from store_assistant.errors import DataError
from tests.conftest import TEST_ENV

APP = str(PROJECT_DIR / "app.py")
MANAGER, STAFF, PASSWORD = "maria", "sam", "correct-horse-battery"


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings({"data_dir": str(tmp_path / "data")}, env=TEST_ENV)


def test_passwords_are_salted_hashes_and_checked(settings) -> None:
    accounts.add_user(settings, MANAGER, "manager", PASSWORD)
    accounts.add_user(settings, STAFF, "staff", PASSWORD)
    assert accounts.verify(settings, MANAGER, PASSWORD) == "manager"
    assert accounts.verify(settings, STAFF, PASSWORD) == "staff"
    assert accounts.verify(settings, MANAGER, PASSWORD + "x") is None
    assert accounts.verify(settings, "nobody", PASSWORD) is None
    path = accounts.users_path(settings)
    text = path.read_text()
    assert PASSWORD not in text
    users = json.loads(text)
    assert users[MANAGER]["salt"] != users[STAFF]["salt"]  # same password, different hashes
    assert users[MANAGER]["hash"] != users[STAFF]["hash"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("name, role, password, message", [
    ("x", "manager", PASSWORD, "2-64 letters"),
    ("maria", "owner", PASSWORD, "not one of staff, manager"),
    ("maria", "manager", "short", "at least 10"),
    ("maria", "manager", "maria", "at least 10"),
    ("mariamaria", "manager", "MariaMaria", "must not be the account name"),
    ("maria", "manager", " padded-password ", "spaces"),
])
def test_bad_accounts_are_refused_and_change_nothing(settings, name, role, password,
                                                     message) -> None:
    accounts.add_user(settings, STAFF, "staff", PASSWORD)
    before = accounts.users_path(settings).read_bytes()
    with pytest.raises(DataError, match=message):
        accounts.add_user(settings, name, role, password)
    assert accounts.users_path(settings).read_bytes() == before


def test_users_command_adds_lists_and_removes(settings, monkeypatch, capsys) -> None:
    data = ["--data-dir", str(settings.data_dir)]
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", MANAGER, "--role", "manager", "--password-stdin", *data]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", MANAGER, "--role", "staff", "--password-stdin", *data]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["users", "list", *data]) == 0
    assert capsys.readouterr().out.startswith(f"{MANAGER}  manager  created ")
    assert main(["users", "remove", MANAGER, *data]) == 0
    assert main(["users", "remove", MANAGER, *data]) == 2
    assert accounts.load_users(settings) == {}


# --- the app ---------------------------------------------------------------------------------

@pytest.fixture
def app(settings, monkeypatch) -> AppTest:
    accounts.add_user(settings, MANAGER, "manager", PASSWORD)
    accounts.add_user(settings, STAFF, "staff", PASSWORD)
    monkeypatch.setenv("STORE_ASSISTANT_DATA_DIR", str(settings.data_dir))
    st.cache_resource.clear()
    return AppTest.from_file(APP, default_timeout=120)


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign_in_name").set_value(name)
    at.text_input(key="sign_in_password").set_value(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_without_a_manager_sign_in_the_manager_pages_do_not_exist(app) -> None:
    at = app.run()
    assert not at.exception
    for page in ("store_assistant/web/pages/inventory.py", "store_assistant/web/pages/numbers.py",
                 "store_assistant/web/pages/scorecards.py", "store_assistant/web/pages/operations.py"):
        with pytest.raises(ValueError, match=r"Known pages: \['Chat'\]"):
            at.switch_page(page)  # not registered for this session: no URL reaches it
    sign_in(at, STAFF, PASSWORD)  # a staff account is not enough
    assert any("Signed in as **sam** (staff)" in c.value for c in at.sidebar.caption)
    with pytest.raises(ValueError, match=r"Known pages: \['Chat'\]"):
        at.switch_page("store_assistant/web/pages/inventory.py")


def test_a_manager_signs_in_edits_under_their_name_and_signs_out(app, settings) -> None:
    at = app.run()
    sign_in(at, MANAGER, "wrong-password-123")
    assert "Wrong account or password." in [e.value for e in at.error]
    sign_in(at, MANAGER, PASSWORD)
    assert not at.exception
    at.switch_page("store_assistant/web/pages/inventory.py")
    at.run()
    assert titles(at) == ["Inventory"]
    next(b for b in at.button if b.label == "Sign out").click()
    at.run()
    with pytest.raises(ValueError, match=r"Known pages: \['Chat'\]"):
        at.switch_page("store_assistant/web/pages/inventory.py")


def test_repeated_wrong_passwords_lock_the_form(app) -> None:
    at = app.run()
    for _ in range(accounts_max_attempts()):
        sign_in(at, MANAGER, "wrong-password-123")
    sign_in(at, MANAGER, PASSWORD)  # even the right password now waits
    assert any("Too many failed attempts" in e.value for e in at.error)
    assert not any("Signed in as" in c.value for c in at.sidebar.caption)


def accounts_max_attempts() -> int:
    from store_assistant.web.ui import MAX_ATTEMPTS
    return MAX_ATTEMPTS


def test_with_no_manager_the_app_says_how_to_create_one(settings, monkeypatch) -> None:
    monkeypatch.setenv("STORE_ASSISTANT_DATA_DIR", str(settings.data_dir))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert any("store-assistant users add NAME --role manager" in c.value
               for c in at.sidebar.caption)


def test_staff_login_puts_the_chat_behind_an_account(app, monkeypatch) -> None:
    monkeypatch.setenv("STORE_ASSISTANT_STAFF_LOGIN", "true")
    at = app.run()
    assert titles(at) == ["Sign in"] and not at.chat_input
    sign_in(at, STAFF, PASSWORD)
    assert not at.exception and at.chat_input
