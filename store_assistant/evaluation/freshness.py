"""Freshness: do answers follow an inventory change?

`store-assistant eval --freshness` changes one price, empties one store's stock and starts one
promotion on a scratch copy of the data, re-asks the cases about those products, and labels each
answer before and after: "follows" (states the new value), "stale" (the old one) or "neither".
A RAG arm should follow; a fine-tuned model alone cannot.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from store_assistant.config import Settings
from store_assistant.errors import DataError
from store_assistant.evaluation.golden import AS_OF, Fact, GoldenCase
from store_assistant.evaluation.metrics import Reply, World
from store_assistant.evaluation.reading import fact_present
from store_assistant.store.inventory import Inventory, inventory_path
from store_assistant.store.products import Promotion
from store_assistant.store.knowledge import close_knowledge_bases


@dataclass(frozen=True)
class Change:
    kind: str  # "price" | "stock-out" | "promotion"
    sku: str
    case: GoldenCase
    old: float
    new: float
    store: str | None = None


def plan_changes(cases: list[GoldenCase], world: World) -> list[Change]:
    """One price change, one stock-out and one new promotion, on products the cases ask about."""
    changes: list[Change] = []
    used: set[str] = set()

    def first(kind: str, want: Callable[[GoldenCase], Any]) -> None:
        for case in cases:
            found = want(case)
            if found and found[0].sku not in used:
                product, old, new, store = found
                changes.append(Change(kind, product.sku, case, old, new, store))
                used.add(product.sku)
                return

    def product_of(case: GoldenCase):
        skus = [s for s in case.sources if s.isdigit()]
        return world.inventory.lookup(skus[0]) if len(skus) == 1 else None

    def price_case(case):
        p = product_of(case)
        if case.category == "price" and p and not p.active_promotion(AS_OF):
            return p, p.price, round(p.price * 0.8) - 0.01, None

    def stock_case(case):
        p = product_of(case)
        facts = [f for f in case.facts if f.type == "stock" and f.value]
        if case.category == "stock" and p and facts:
            return p, float(facts[0].value), 0.0, facts[0].store

    def promo_case(case):
        p = product_of(case)
        if case.category == "promotion" and p and not p.active_promotion(AS_OF):
            return p, p.price, p.price - 50, None

    first("price", price_case)
    first("stock-out", stock_case)
    first("promotion", promo_case)
    return changes


def _apply(inventory: Inventory, change: Change) -> None:
    if change.kind == "price":
        inventory.update(change.sku, price=change.new, actor="freshness")
    elif change.kind == "stock-out":
        inventory.update(change.sku, stock={change.store: 0}, actor="freshness")
    else:
        inventory.update(change.sku, actor="freshness", promotion=Promotion(
            price=change.new, start=AS_OF - timedelta(days=1), end=AS_OF + timedelta(days=30),
            text="Flash sale: save $50"))


def _states(change: Change, text: str) -> str:
    if change.kind == "stock-out":
        new = Fact("stock", 0, store=change.store)
        old = Fact("stock", int(change.old), store=change.store)
    else:
        new, old = Fact("price", change.new), Fact("price", change.old)
    if fact_present(new, text):
        return "follows"
    return "stale" if fact_present(old, text) else "neither"


def freshness(settings: Settings, arms: list[str], cases: list[GoldenCase], world: World,
              ask: Callable[[Settings, list[GoldenCase]], list[Reply]]) -> dict:
    """Apply the changes to a scratch copy of the data, re-ask the affected cases, compare.
    `ask(settings, cases)` answers the cases with every arm under those settings (the runner's)."""
    changes = plan_changes(cases, world)
    if not changes:
        raise DataError("The selected cases have no price, stock or promotion case to change; "
                        "run --freshness without --category/--tag filters.")
    with tempfile.TemporaryDirectory(prefix="freshness-") as scratch:
        copy = Path(scratch) / "data"
        shutil.copytree(settings.data_dir, copy, ignore=shutil.ignore_patterns(".lock"))
        scratch_settings = settings.replace(data_dir=copy, qdrant_path=None)
        inventory = Inventory(inventory_path(scratch_settings))
        for change in changes:
            _apply(inventory, change)
        affected = [c.case for c in changes]
        before = ask(settings, affected)
        after = ask(scratch_settings, affected)
        close_knowledge_bases()  # release the scratch index before its folder is deleted
    rows = []
    for change in changes:
        for arm in arms:
            old = next(r for r in before if r.arm == arm and r.case_id == change.case.id)
            new = next(r for r in after if r.arm == arm and r.case_id == change.case.id)
            rows.append({"arm": arm, "change": change.kind, "sku": change.sku,
                         "case": change.case.id, "old": change.old, "new": change.new,
                         "store": change.store, "before": _states(change, old.text),
                         "after": _states(change, new.text), "answer_before": old.text,
                         "answer_after": new.text})
    summary = {arm: sum(r["after"] == "follows" for r in rows if r["arm"] == arm) for arm in arms}
    return {"changes": len(changes), "rows": rows, "followed": summary}
