"""Local accounts for the app: staff and managers, passwords stored as salted scrypt hashes.

`store-assistant users add/remove/list` manages them; the app signs people in with them unless
Streamlit's own OIDC login is configured (`[auth]` in .streamlit/secrets.toml), in which case a
manager is an account here whose name is the person's e-mail address. There is no default account
and no default password: until a manager exists, the manager pages say how to create one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from store_assistant.files import write_atomic
from store_assistant.config import Settings
from store_assistant.errors import ConfigError, DataError

ROLES = ("staff", "manager")
MIN_PASSWORD = 10
# scrypt with n=2**14, r=8: ~40 ms and 16 MB per check; slow enough to make guessing costly.
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
_NAME = re.compile(r"^[A-Za-z0-9._@+-]{2,64}$")


def users_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "users.json"


def load_users(settings: Settings) -> dict[str, dict]:
    path = users_path(settings)
    if not path.is_file():
        return {}
    try:
        users = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}). Restore it from a backup, or delete "
                          f"it and add the accounts again with `store-assistant users add`.") from None
    if not isinstance(users, dict) or not all(
            isinstance(u, dict) and u.get("role") in ROLES and u.get("hash") and u.get("salt")
            for u in users.values()):
        raise ConfigError(f"{path} is not an accounts file. Restore it from a backup.")
    return users


def _save(settings: Settings, users: dict[str, dict]) -> None:
    # Owner-only: the file holds password hashes.
    write_atomic(users_path(settings), json.dumps(users, indent=2, sort_keys=True) + "\n",
                 mode=0o600)


def _hash(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT).hex()


def add_user(settings: Settings, name: str, role: str, password: str) -> None:
    """Validate everything, then write; a bad name, role or password changes nothing."""
    if not _NAME.match(name or ""):
        raise DataError(f"Account name {name!r} must be 2-64 letters, digits or . _ @ + -.")
    if role not in ROLES:
        raise DataError(f"Role {role!r} is not one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise DataError(f"The password must be at least {MIN_PASSWORD} characters.")
    if password.strip() != password or password.lower() == name.lower():
        raise DataError("The password must not be the account name or start/end with spaces.")
    users = load_users(settings)
    if name in users:
        raise DataError(f"An account named {name!r} exists. Remove it first to reset it.")
    salt = secrets.token_bytes(16)
    users[name] = {"role": role, "salt": salt.hex(), "hash": _hash(password, salt),
                   "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _save(settings, users)


def remove_user(settings: Settings, name: str) -> None:
    users = load_users(settings)
    if name not in users:
        raise DataError(f"No account named {name!r}. `store-assistant users list` shows them.")
    del users[name]
    _save(settings, users)


def verify(settings: Settings, name: str, password: str) -> str | None:
    """The account's role if the password is right, else None (same work either way)."""
    user = load_users(settings).get(name)
    salt = bytes.fromhex(user["salt"]) if user else b"\0" * 16
    digest = _hash(password, salt)  # computed for unknown names too: no timing hint
    if user and hmac.compare_digest(digest, user["hash"]):
        return user["role"]
    return None


def has_manager(settings: Settings) -> bool:
    return any(u["role"] == "manager" for u in load_users(settings).values())
