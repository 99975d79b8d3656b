"""A writer killed in the middle of an import leaves the inventory consistent: every product at
the old price or every product at the new one, never a mix, and SQLite's integrity check passes."""

from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from store_assistant.config import PROJECT_DIR
from store_assistant.store.inventory import Inventory

WRITER = """
import sys
from pathlib import Path
from store_assistant.store.inventory import Inventory
inventory = Inventory(Path(sys.argv[1]))
files = [Path(sys.argv[2]).read_bytes(), Path(sys.argv[3]).read_bytes()]
n = 0
while True:
    inventory.import_csv(files[n % 2], actor="writer", force=True)
    n += 1
    print(n, flush=True)
"""


def _shifted(source: Path, delta: float) -> bytes:
    rows = list(csv.DictReader(io.StringIO(source.read_text(encoding="utf-8"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "price": f"{float(row['price']) + delta:.2f}"})
    return out.getvalue().encode("utf-8")


def test_killing_a_writer_mid_import_leaves_a_consistent_database(tmp_path: Path) -> None:
    source = PROJECT_DIR / "manuals" / "inventory.csv"
    (tmp_path / "a.csv").write_bytes(source.read_bytes())
    (tmp_path / "b.csv").write_bytes(_shifted(source, 1.0))
    db = tmp_path / "inventory.db"
    inventory = Inventory(db)
    inventory.import_csv(tmp_path / "a.csv")
    original = {p.sku: p.price for p in inventory.products()}

    for delay in (0.9, 1.3, 1.7, 2.2):  # different moments in the import cycle
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(tmp_path / "a.csv"),
                                   str(tmp_path / "b.csv")], stdout=subprocess.PIPE, text=True,
                                  cwd=PROJECT_DIR, env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)})
        assert writer.stdout.readline().strip() == "1"  # it is importing, in a loop
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()

        with sqlite3.connect(db) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        prices = {p.sku: p.price for p in Inventory(db).products()}
        assert set(prices) == set(original)
        shifts = {round(prices[sku] - original[sku], 2) for sku in original}
        assert shifts in ({0.0}, {1.0}), f"a half-applied import: {sorted(shifts)[:5]}"


def test_the_audit_log_is_append_only(tmp_path: Path) -> None:
    import pytest

    inventory = Inventory(tmp_path / "inventory.db")
    inventory.import_csv(PROJECT_DIR / "manuals" / "inventory.csv")
    product = inventory.products()[0]
    inventory.update(product.sku, price=product.price + 1, actor="maria")
    entries = inventory.audit(limit=1000)
    with sqlite3.connect(tmp_path / "inventory.db") as db:
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)
    assert inventory.audit(limit=1000) == entries
