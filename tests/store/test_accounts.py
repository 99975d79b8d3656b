"""Accounts and roles: salted password hashes stored with their KDF parameters, a per-account
lockout kept in the accounts database, the `users` command, and manager pages that a staff session
cannot reach, through the real app.py."""

from __future__ import annotations

import io
import json
import sqlite3
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


def stored(settings) -> dict[str, dict]:
    """The accounts table as rows, read straight from the database file."""
    with sqlite3.connect(accounts.accounts_path(settings)) as db:
        db.row_factory = sqlite3.Row
        return {row["name"]: dict(row) for row in db.execute("SELECT * FROM accounts")}


def test_passwords_are_salted_hashes_stored_with_their_parameters(settings) -> None:
    accounts.add_user(settings, MANAGER, "manager", PASSWORD)
    accounts.add_user(settings, STAFF, "staff", PASSWORD)
    assert accounts.verify(settings, MANAGER, PASSWORD) == "manager"
    assert accounts.verify(settings, STAFF, PASSWORD) == "staff"
    assert accounts.verify(settings, MANAGER, PASSWORD + "x") is None
    assert accounts.verify(settings, "nobody", PASSWORD) is None
    path = accounts.accounts_path(settings)
    assert PASSWORD.encode() not in path.read_bytes()
    rows = stored(settings)
    assert rows[MANAGER]["salt"] != rows[STAFF]["salt"]  # same password, different hashes
    assert rows[MANAGER]["hash"] != rows[STAFF]["hash"]
    assert json.loads(rows[MANAGER]["kdf"]) == {"name": "scrypt", "n": 2 ** 17, "r": 8, "p": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_five_failures_lock_the_account_across_restarts_and_only_that_account(settings) -> None:
    accounts.add_user(settings, MANAGER, "manager", PASSWORD)
    accounts.add_user(settings, STAFF, "staff", PASSWORD)
    now = 1_000_000.0
    for attempt in range(accounts.MAX_FAILURES):
        result = accounts.sign_in(settings, MANAGER, "wrong-password-123", now=now + attempt)
        assert result.role is None and bool(result.locked_s) == (attempt == accounts.MAX_FAILURES - 1)
    restarted = load_settings({"data_dir": str(settings.data_dir)}, env=TEST_ENV)
    locked = accounts.sign_in(restarted, MANAGER, PASSWORD, now=now + 60)  # the right password
    assert locked.role is None and 0 < locked.locked_s <= accounts.LOCKOUT_S
    assert accounts.sign_in(restarted, STAFF, PASSWORD, now=now + 60).role == "staff"
    later = now + accounts.LOCKOUT_S + 1
    assert accounts.sign_in(restarted, MANAGER, PASSWORD, now=later).role == "manager"
    # the good sign-in cleared the count: one more mistake does not lock it again
    assert not accounts.sign_in(restarted, MANAGER, "wrong-again-12", now=later + 1).locked_s


def test_a_name_with_no_account_locks_the_same_way(settings) -> None:
    """Otherwise the lock message would tell a guesser which names exist."""
    accounts.add_user(settings, MANAGER, "manager", PASSWORD)
    results = [accounts.sign_in(settings, "ghost", "wrong-password-123", now=10.0 + i)
               for i in range(accounts.MAX_FAILURES)]
    assert results[-1].locked_s and not any(r.locked_s for r in results[:-1])


def test_unlock_clears_the_failures(settings, capsys) -> None:
    accounts.add_user(settings, MANAGER, "manager", PASSWORD)
    for _ in range(accounts.MAX_FAILURES):
        accounts.sign_in(settings, MANAGER, "wrong-password-123")
    assert accounts.sign_in(settings, MANAGER, PASSWORD).locked_s
    assert main(["users", "unlock", MANAGER, "--data-dir", str(settings.data_dir)]) == 0
    assert f"unlocked {MANAGER} ({accounts.MAX_FAILURES} failed" in capsys.readouterr().out
    assert accounts.verify(settings, MANAGER, PASSWORD) == "manager"
    assert main(["users", "unlock", "nobody", "--data-dir", str(settings.data_dir)]) == 2


def test_a_hash_with_weaker_parameters_is_remade_on_the_next_good_sign_in(settings) -> None:
    """Accounts from before the database (users.json, scrypt n=2**14) move in as they are and
    are re-hashed with today's parameters the first time the right password is given."""
    import hashlib

    salt = bytes(range(16))
    old = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2 ** 14, r=8, p=1, dklen=32).hex()
    legacy = accounts.legacy_path(settings)
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({MANAGER: {"role": "manager", "salt": salt.hex(), "hash": old,
                                            "created": "2026-11-01T09:00:00+00:00"}}))
    assert accounts.load_users(settings)[MANAGER]["kdf"]["n"] == 2 ** 14  # imported as it was
    assert not legacy.exists() and legacy.with_name("users.json.imported").exists()
    assert accounts.verify(settings, MANAGER, "wrong-password-123") is None
    assert stored(settings)[MANAGER]["hash"] == old  # a wrong password changes nothing
    assert accounts.verify(settings, MANAGER, PASSWORD) == "manager"
    row = stored(settings)[MANAGER]
    assert json.loads(row["kdf"]) == accounts.KDF and row["hash"] != old and row["salt"] != salt.hex()
    assert accounts.verify(settings, MANAGER, PASSWORD) == "manager"  # the new hash works


def test_a_damaged_accounts_database_is_a_clear_error(settings) -> None:
    from store_assistant.errors import ConfigError

    path = accounts.accounts_path(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigError, match="is not an accounts database"):
        accounts.verify(settings, MANAGER, PASSWORD)


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
    before = stored(settings)
    with pytest.raises(DataError, match=message):
        accounts.add_user(settings, name, role, password)
    assert stored(settings) == before


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


def test_repeated_wrong_passwords_lock_the_account_even_after_a_reload(app, settings) -> None:
    at = app.run()
    for _ in range(accounts.MAX_FAILURES):
        sign_in(at, MANAGER, "wrong-password-123")
    reloaded = AppTest.from_file(APP, default_timeout=120).run()  # a new session: a page reload
    sign_in(reloaded, MANAGER, PASSWORD)  # even the right password now waits
    assert any("Too many failed attempts for this account" in e.value for e in reloaded.error)
    assert not any("Signed in as" in c.value for c in reloaded.sidebar.caption)
    sign_in(reloaded, STAFF, PASSWORD)  # the lock is the account's, not the page's
    assert any("Signed in as **sam** (staff)" in c.value for c in reloaded.sidebar.caption)


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
