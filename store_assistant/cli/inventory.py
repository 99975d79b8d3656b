"""`store-assistant ingest` (manuals, policies and the inventory CSV into the data folder) and
`store-assistant inventory show|set|import|export`. Business rules (a promotion must end today or
later, a price must be positive...) live in `store.inventory.Inventory`, not here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from store_assistant.cli.exits import EXIT_BAD_INPUT, EXIT_OK
from store_assistant.errors import DataError, InventoryError


def register(commands: Any) -> None:
    ingest = commands.add_parser("ingest", help="index manuals and policies, load the inventory")
    ingest.add_argument("--manuals", type=Path, help="folder of product manuals (markdown, HTML, PDF)")
    ingest.add_argument("--policies", type=Path, help="folder of store policies (markdown, HTML, PDF)")
    ingest.add_argument("--inventory", type=Path, help="inventory CSV file")
    ingest.add_argument("--data-dir", default=None, help="where the index and database go")
    ingest.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")
    ingest.set_defaults(handler=_ingest)

    inventory = commands.add_parser("inventory", help="look up or edit prices, promotions, stock")
    actions = inventory.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="one product: price, promotion, stock per store")
    show.add_argument("sku")
    show.add_argument("--json", action="store_true", help="print the product as one JSON object")
    edit = actions.add_parser("set", help="change a product's price, stock or promotion")
    edit.add_argument("sku")
    edit.add_argument("--price", help="new regular price, e.g. 1299.99")
    edit.add_argument("--stock", action="append", default=[], metavar="STORE=N",
                      help="units in one store; repeat for several stores")
    edit.add_argument("--promo", metavar="TEXT", help='promotion text, e.g. "Spring sale"')
    edit.add_argument("--promo-price", help="the promotion's price (below the regular price)")
    edit.add_argument("--from", dest="start", metavar="YYYY-MM-DD",
                      help="first day of the promotion (default today)")
    edit.add_argument("--until", metavar="YYYY-MM-DD", help="last day of the promotion")
    edit.add_argument("--clear-promo", action="store_true", help="end the promotion now")
    load = actions.add_parser("import", help="add or update products from a CSV file")
    load.add_argument("file", type=Path)
    load.add_argument("--force", action="store_true",
                      help="re-apply a file even if it was the last one imported")
    dump = actions.add_parser("export", help="write every product to a CSV file")
    dump.add_argument("file", type=Path)
    for action in (show, edit, load, dump):
        action.add_argument("--data-dir", default=None,
                            help="store data directory (default ./data)")
        action.set_defaults(handler=_inventory)


def _ingest(args: argparse.Namespace) -> int:
    """All or nothing: every input is read and checked first (all problems named at once), the
    index is built in a staged copy, and the inventory import commits only once that copy is in
    place. A failure anywhere leaves the data folder as it was (a new one is not created)."""
    from store_assistant.config import load_settings
    from store_assistant.store.inventory import Inventory, inventory_path
    from store_assistant.store.inventory_csv import read_records, read_source
    from store_assistant.store.knowledge import ingest, read_sources, staged_index

    settings = load_settings({"data_dir": args.data_dir, "manuals_dir": args.manuals,
                              "policies_dir": args.policies, "inventory_csv": args.inventory})
    csv_path = settings.inventory_csv
    sources = [(settings.manuals_dir, "manual"), (settings.policies_dir, "policy")]
    problems, documents = [], None
    if not csv_path.is_file():
        problems.append(f"Inventory file {csv_path} does not exist. Pass --inventory FILE.csv.")
    else:
        try:
            read_records(*read_source(csv_path), known_stores=[])
        except DataError as exc:
            problems.append(str(exc))
    try:
        documents = read_sources(sources)
    except DataError as exc:
        problems.append(str(exc))
    if problems:
        raise DataError("Nothing was changed:\n" + "\n".join(problems))

    database = inventory_path(settings)
    created = _missing_parts(settings.data_dir) + ([] if database.exists() else [database])
    try:
        with staged_index(settings, rebuild=args.rebuild) as staged:
            result = ingest(staged.settings, sources, rebuild=args.rebuild, documents=documents)
            # One transaction, committed only after the new index is in place.
            report = Inventory(database).import_csv(csv_path, actor="ingest", force=args.rebuild,
                                                    before_commit=staged.commit)
    except BaseException:
        for path in reversed(created):  # what this command created, newest first
            _remove(path)
        raise
    print(f"inventory: {report}", file=sys.stderr)
    print(f"knowledge: {result} ({settings.embeddings} embeddings)", file=sys.stderr)
    return EXIT_OK


def _missing_parts(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, outermost first."""
    missing = []
    for path in [folder.absolute(), *folder.absolute().parents]:
        if path.exists():
            break
        missing.append(path)
    return missing[::-1]


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
        return
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        part.unlink(missing_ok=True)


def _inventory(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.store.inventory import Inventory, inventory_path

    settings = load_settings({"data_dir": args.data_dir})
    path = inventory_path(settings)
    if args.action == "import" and not path.exists():
        from store_assistant.store.inventory_csv import read_records, read_source

        read_records(*read_source(args.file), known_stores=[])  # a bad file leaves no empty db
    try:
        # Only import may create the database; elsewhere a missing one gets set-up instructions.
        inventory = Inventory(path, create=args.action == "import")
        return {"show": _inventory_show, "set": _inventory_set, "import": _inventory_import,
                "export": _inventory_export}[args.action](inventory, args)
    except InventoryError as exc:  # an unknown SKU, a rejected edit, no database: all input
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _inventory_show(inventory: Any, args: argparse.Namespace) -> int:
    from datetime import date

    product = inventory.lookup(args.sku)
    if product is None:
        raise InventoryError(f"No product with SKU {args.sku!r} in {inventory.path}. "
                             f"Check the number on the label.")
    today = date.today()
    if args.json:
        print(json.dumps(product.to_dict(today), ensure_ascii=False))
    else:
        print(_describe(product, today))
    return EXIT_OK


def _describe(product: Any, today: Any) -> str:
    lines = [f"{product.sku}  {product.name}  "
             f"({product.brand} {product.model}, {product.category})",
             f"price: ${product.price:,.2f}"]
    promotion = product.promotion
    if promotion is not None:
        status = promotion.status(today)
        lines.append(f"promotion ({status}): ${promotion.price:,.2f} \"{promotion.text}\" "
                     f"from {promotion.start} until {promotion.end}")
        if status == "active":
            lines[1] += f" (${promotion.price:,.2f} today)"
    lines.append("stock: " + ", ".join(f"{store} {qty}" for store, qty in product.stock.items()))
    lines.append(f"aisle: {product.aisle or '-'}")
    return "\n".join(lines)


def _inventory_set(inventory: Any, args: argparse.Namespace) -> int:
    import getpass
    from datetime import date

    from store_assistant.store.products import Promotion

    stock = {}
    for item in args.stock:
        store, _, qty = item.partition("=")
        if not store.strip() or not qty.strip().lstrip("-").isdigit():
            raise DataError(f"--stock {item!r} should be STORE=N, e.g. --stock downtown=4.")
        stock[store.strip()] = int(qty)
    promotion: Any = None
    if args.clear_promo:
        if args.promo is not None or args.promo_price or args.until or args.start:
            raise DataError("--clear-promo cannot go with --promo, --promo-price, --from or "
                            "--until.")
        promotion = "clear"
    elif args.promo is not None:
        if not args.promo_price or not args.until:
            raise DataError('--promo needs --promo-price and --until, e.g. --promo "Spring sale" '
                            "--promo-price 999 --until 2025-03-31.")
        start = _date(args.start, "--from") if args.start else date.today()
        promotion = Promotion(_price(args.promo_price, "--promo-price"), start,
                              _date(args.until, "--until"), args.promo)
    elif args.promo_price or args.until or args.start:
        raise DataError("--promo-price, --from and --until go with --promo TEXT.")
    price = _price(args.price, "--price") if args.price is not None else None
    if price is None and not stock and promotion is None:
        raise DataError("Nothing to change: give --price, --stock STORE=N, --promo or "
                        "--clear-promo.")
    try:
        actor = f"cli:{getpass.getuser()}"
    except OSError:  # no login name (some containers)
        actor = "cli"
    product = inventory.update(args.sku, price=price, stock=stock or None, promotion=promotion,
                               actor=actor)
    print(_describe(product, date.today()))
    return EXIT_OK


def _price(text: str, flag: str) -> float:
    from store_assistant.store.inventory_csv import cents

    try:
        return cents(text.strip()) / 100
    except ValueError as exc:
        raise DataError(f"{flag}: {exc}.") from None


def _date(text: str, flag: str) -> Any:
    from store_assistant.store.inventory_csv import parse_date

    try:
        return parse_date(text.strip())
    except ValueError as exc:
        raise DataError(f"{flag}: {exc}.") from None


def _inventory_import(inventory: Any, args: argparse.Namespace) -> int:
    report = inventory.import_csv(args.file, actor="cli-import", force=args.force)
    print(f"{args.file} -> {inventory.path}: {report}")
    return EXIT_OK


def _inventory_export(inventory: Any, args: argparse.Namespace) -> int:
    count = inventory.export_csv(args.file)
    print(f"wrote {count} product{'' if count == 1 else 's'} to {args.file}")
    return EXIT_OK
