"""Answers the store's data gives on its own, without a model.

"Top 3 laptops under $800" is a query on the inventory (`recommend`); "Is the XM5 in stock
downtown?" is a lookup (`inventory_answer`); `fact_line` is how one product's live facts are
written, for the prompt and for staff. These are exact by construction: the data decides.
"""

from __future__ import annotations

import re
from datetime import date

from store_assistant.answering.questions import (asks_price, asks_promotion, asks_stock,
                                                 stores_named)
from store_assistant.store.inventory import Inventory
from store_assistant.store.products import Product, money

def recommend(inventory: Inventory, category: str, max_price: float | None, today: date,
              limit: int = 3) -> list[Product]:
    """In-stock products of a category within budget, the most capable (priciest) first."""
    candidates = [p for p in inventory.products(category=category)
                  if sum(p.stock.values()) > 0
                  and (max_price is None or p.effective_price(today) <= max_price)]
    return sorted(candidates, key=lambda p: (-p.effective_price(today), p.sku))[:limit]

def fact_line(product: Product, today: date) -> str:
    """One product's live facts, as given to the model and shown to staff."""
    promo = product.active_promotion(today)
    price = (f"{money(promo.price)} ({promo.text}, until {promo.end.isoformat()}; regular "
             f"{money(product.price)})" if promo else money(product.price))
    stock = ", ".join(f"{store} {qty}" for store, qty in product.stock.items())
    aisle = f"; aisle {product.aisle}" if product.aisle else ""
    return f"{product.name} (SKU {product.sku}): price {price}; in stock: {stock}{aisle}."

def inventory_answer(question: str, products: list[Product], today: date,
                     stores: list[str]) -> str:
    """The answer to a price/promotion/stock question, built from the inventory alone.

    'Any black XM5s left at the downtown store?' -> 'No, the Sony WH-1000XM5 ... (SKU 6505727):
    out of stock at Downtown. Elsewhere: Westside has 12, Northgate has 9.'
    """
    asked = stores_named(question, stores)
    wants_stock = asks_stock(question) or bool(asked)
    wants_promo = asks_promotion(question)
    sentences = []
    for product in products:
        promo = product.active_promotion(today)
        name = f"{product.name} (SKU {product.sku})"
        price = (f"{money(promo.price)} with the {promo.text} until {promo.end:%B %-d, %Y} "
                 f"(regular {money(product.price)})" if promo else money(product.price))
        said_price = True
        if wants_promo:
            sentences.append(f"Yes, the {name} is on sale: {price}." if promo else
                             f"No, there is no promotion on the {name} right now; it is "
                             f"{money(product.price)}.")
        elif asks_price(question) or not wants_stock:
            sentences.append(f"The {name} is {price}.")
        else:
            said_price = False
        if wants_stock:
            sentences.append(_stock_sentence(product, asked, stores, named=not said_price))
    if len(products) > 1 and re.search(r"\b(cheaper|cheapest|less expensive|more expensive|"
                                       r"pricier)\b", question, re.IGNORECASE):
        low = min(products, key=lambda p: p.effective_price(today))
        sentences.append(f"The cheaper one today is the {low.name} at "
                         f"{money(low.effective_price(today))}.")
    aisles = [p.aisle for p in products if p.aisle]
    return " ".join(sentences) + (f" Aisle {aisles[0]}." if len(products) == 1 and aisles else "")

def _stock_sentence(product: Product, asked: list[str], stores: list[str], named: bool) -> str:
    have = {s: product.stock.get(s, 0) for s in stores}
    subject = f"the {product.name} (SKU {product.sku})"
    if asked:
        lead = "Yes" if all(have[s] > 0 for s in asked) else "No"
        stated = "; ".join(f"{s.title()} has {have[s]} in stock" if have[s]
                           else f"out of stock at {s.title()} (0)" for s in asked)
        line = f"{lead} - {subject}: {stated}." if named else f"{lead}, {stated}."
        others = ", ".join(f"{s.title()} has {q}" for s, q in have.items() if s not in asked and q)
        return line + (f" Elsewhere: {others}." if others and lead == "No" else "")
    if not any(have.values()):
        return f"No, {subject if named else 'it'} is out of stock in every store."
    return (f"In stock for {subject}: " if named else "In stock: ") + ", ".join(
        f"{s} {q}" for s, q in have.items()) + "."
