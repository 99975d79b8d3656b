"""The evaluation's answer cache: answers on disk, one row per key, in SQLite.

Written as each answer arrives, so an interrupted run resumes where it stopped; the key
(arm config hash, model, case, data version, repeat) is the runner's business, not this module's.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


class AnswerCache:
    """{key: answer dict}, kept in one SQLite file that several processes may share."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, reply TEXT)")

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get(self, key: str) -> dict | None:
        with self._db() as db:
            row = db.execute("SELECT reply FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, reply: dict) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, json.dumps(reply)))
