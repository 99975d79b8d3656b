"""Local accounts for the app: staff and managers, in the accounts database `data/accounts.db`.

`store-assistant users add/remove/list` manages them; the app signs people in with `sign_in()`
unless Streamlit's own OIDC login is configured (`[auth]` in .streamlit/secrets.toml), in which
case a manager is an account here whose name is the person's e-mail address. There is no default
account and no default password.

Each password hash is stored with its KDF and parameters, so the cost can be raised later: a hash
made with weaker parameters than `KDF` is re-made on the account's next good sign-in. Failed
sign-ins are counted per account in the same database, so a lockout survives a page reload, a
second browser and a restart. Trade-off: SQLite serialises writers, which is plenty for sign-ins.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from store_assistant.config import Settings
from store_assistant.errors import ConfigError, DataError

ROLES = ("staff", "manager")
MIN_PASSWORD = 10
# scrypt at OWASP's current minimum (n=2**17, r=8, p=1): 128 MiB and ~0.4 s per check here.
KDF = {"name": "scrypt", "n": 2 ** 17, "r": 8, "p": 1}
# Hashes written before parameters were stored (users.json) used this.
LEGACY_KDF = {"name": "scrypt", "n": 2 ** 14, "r": 8, "p": 1}
# Five wrong passwords in 15 minutes lock the account for the rest of those 15 minutes: a guesser
# gets 480 tries a day, while staff who mistype are back within a quarter of an hour.
MAX_FAILURES, LOCKOUT_S = 5, 15 * 60
_NAME = re.compile(r"^[A-Za-z0-9._@+-]{2,64}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('staff', 'manager')),
    kdf TEXT NOT NULL,
    salt TEXT NOT NULL,
    hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sign_in_failures (name TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_by_name ON sign_in_failures (name, at);
"""


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: the role on success, or how long the account is locked."""
    role: str | None
    locked_s: float = 0.0


def accounts_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "accounts.db"


def legacy_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "users.json"


# --- the database ---------------------------------------------------------------------------

@contextmanager
def _database(settings: Settings, write: bool = False) -> Iterator[sqlite3.Connection | None]:
    """A connection inside one transaction (committed at the end, rolled back on error).

    Reading a data folder with no database yields None and creates nothing; the first write
    creates it owner-only (it holds password hashes) and imports an old users.json once."""
    path = accounts_path(settings)
    if not write and not path.exists() and not legacy_path(settings).exists():
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    if fresh:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        raise ConfigError(f"Cannot open the accounts database {path} ({exc}).") from None
    with closing(connection):
        try:
            connection.execute("BEGIN IMMEDIATE")
            _create(connection)
            imported = _import_legacy(connection, settings)
            yield connection
            connection.execute("COMMIT")
            if imported:  # only once the rows are in: a rolled-back import keeps its file
                imported.rename(imported.with_name(imported.name + ".imported"))
        except BaseException as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise ConfigError(f"{path} is not an accounts database ({exc}). Restore it from a "
                                  f"backup, or move it away and add the accounts again with "
                                  f"`store-assistant users add`.") from None
            raise


def _create(connection: sqlite3.Connection) -> None:
    for statement in filter(str.strip, _SCHEMA.split(";")):
        connection.execute(statement)


def _import_legacy(connection: sqlite3.Connection, settings: Settings) -> Path | None:
    """Accounts from users.json (kept before the database) move in once, with the parameters
    their hashes were made with; the file is renamed users.json.imported after the commit."""
    path = legacy_path(settings)
    if not path.is_file():
        return None
    try:
        users = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}). Restore it from a backup, or delete "
                          f"it and add the accounts again with `store-assistant users add`.") from None
    if not isinstance(users, dict) or not all(
            isinstance(u, dict) and u.get("role") in ROLES and isinstance(u.get("hash"), str)
            and isinstance(u.get("salt"), str) for u in users.values()):
        raise ConfigError(f"{path} is not an accounts file. Restore it from a backup.")
    for name, user in users.items():
        connection.execute(
            "INSERT OR IGNORE INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
            (name, user["role"], json.dumps(LEGACY_KDF), user["salt"], user["hash"],
             str(user.get("created", ""))))
    return path


# --- hashing ----------------------------------------------------------------------------------

def _hash(password: str, salt: bytes, kdf: dict) -> str:
    if kdf.get("name") != "scrypt":
        raise ConfigError(f"Unknown password KDF {kdf.get('name')!r} in the accounts database.")
    n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                          dklen=32, maxmem=256 * r * n + 2 ** 24).hex()


def _weaker(kdf: dict) -> bool:
    return kdf.get("name") != KDF["name"] or any(kdf.get(k, 0) < KDF[k] for k in ("n", "r", "p"))


# --- accounts ---------------------------------------------------------------------------------

def load_users(settings: Settings) -> dict[str, dict]:
    """{name: {"role", "created", "kdf"}}; no hashes leave this module."""
    with _database(settings) as db:
        if db is None:
            return {}
        rows = db.execute("SELECT name, role, created, kdf FROM accounts").fetchall()
    return {name: {"role": role, "created": created, "kdf": json.loads(kdf)}
            for name, role, created, kdf in rows}


def add_user(settings: Settings, name: str, role: str, password: str) -> None:
    """Validate everything, then write; a bad name, role or password changes nothing."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DataError(f"Account name {name!r} must be 2-64 letters, digits or . _ @ + -.")
    if role not in ROLES:
        raise DataError(f"Role {role!r} is not one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise DataError(f"The password must be at least {MIN_PASSWORD} characters.")
    if password.strip() != password or password.lower() == name.lower():
        raise DataError("The password must not be the account name or start/end with spaces.")
    salt = secrets.token_bytes(16)
    digest = _hash(password, salt, KDF)  # before the transaction: it holds the write lock
    with _database(settings, write=True) as db:
        if db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
            raise DataError(f"An account named {name!r} exists. Remove it first to reset it.")
        db.execute("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
                   (name, role, json.dumps(KDF), salt.hex(), digest,
                    datetime.now(timezone.utc).isoformat(timespec="seconds")))


def remove_user(settings: Settings, name: str) -> None:
    with _database(settings, write=True) as db:
        if not db.execute("DELETE FROM accounts WHERE name = ?", (name,)).rowcount:
            raise DataError(f"No account named {name!r}. `store-assistant users list` shows them.")
        db.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))


def unlock(settings: Settings, name: str) -> int:
    """Clear an account's failed sign-ins; how many there were."""
    with _database(settings, write=True) as db:
        if not db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
            raise DataError(f"No account named {name!r}. `store-assistant users list` shows them.")
        return db.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,)).rowcount


def has_manager(settings: Settings) -> bool:
    return any(u["role"] == "manager" for u in load_users(settings).values())


# --- signing in -------------------------------------------------------------------------------

def sign_in(settings: Settings, name: str, password: str, now: float | None = None) -> SignIn:
    """Check a password, with the per-account lockout.

    While an account has MAX_FAILURES failures in the last LOCKOUT_S seconds, every attempt is
    refused without checking the password (the right one too). A name with no account is counted
    and locked the same way, so the answer never tells which names exist. A good sign-in clears
    the count and re-hashes a password stored with weaker parameters than KDF.
    """
    now = time.time() if now is None else now
    locked = _locked_for(settings, name, now)
    if locked:
        return SignIn(None, locked)
    user = _account(settings, name)
    kdf = json.loads(user[2]) if user else KDF
    salt = bytes.fromhex(user[3]) if user else b"\0" * 16
    digest = _hash(password, salt, kdf)  # computed for unknown names too: no timing hint
    if not (user and hmac.compare_digest(digest, user[4])):
        with _database(settings, write=True) as db:
            db.execute("DELETE FROM sign_in_failures WHERE at < ?", (now - LOCKOUT_S,))
            db.execute("INSERT INTO sign_in_failures VALUES (?, ?)", (name, now))
        return SignIn(None, _locked_for(settings, name, now))
    new_salt = secrets.token_bytes(16)
    rehashed = _hash(password, new_salt, KDF) if _weaker(kdf) else None
    with _database(settings, write=True) as db:
        db.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
        if rehashed:
            db.execute("UPDATE accounts SET kdf = ?, salt = ?, hash = ? WHERE name = ? AND hash = ?",
                       (json.dumps(KDF), new_salt.hex(), rehashed, name, user[4]))
    return SignIn(user[1])


def verify(settings: Settings, name: str, password: str) -> str | None:
    """The account's role if the password is right (and the account not locked), else None."""
    return sign_in(settings, name, password).role


def _account(settings: Settings, name: str) -> tuple | None:
    with _database(settings) as db:
        if db is None:
            return None
        return db.execute("SELECT name, role, kdf, salt, hash FROM accounts WHERE name = ?",
                          (name,)).fetchone()


def _locked_for(settings: Settings, name: str, now: float) -> float:
    """Seconds until the account may try again (0: not locked)."""
    with _database(settings) as db:
        if db is None:
            return 0.0
        times = [at for (at,) in db.execute(
            "SELECT at FROM sign_in_failures WHERE name = ? AND at > ? ORDER BY at",
            (name, now - LOCKOUT_S))]
    if len(times) < MAX_FAILURES:
        return 0.0
    return max(0.0, times[-MAX_FAILURES] + LOCKOUT_S - now)
