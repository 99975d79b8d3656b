"""Answers the store's data gives on its own, without a model.

"Top 3 laptops under $800" is a query on the inventory (`recommend`); "Is the XM5 in stock
downtown?" is a lookup (`inventory_answer`); `fact_line` is how one product's live facts are
written, for the prompt and for staff; `quote` picks the lines of a manual or policy section that
answer a question. These are exact by construction: the data decides.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Callable

from store_assistant.answering.routing import Asked
from store_assistant.store.documents import Chunk
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

def inventory_answer(asked: Asked, products: list[Product], today: date,
                     stores: list[str]) -> str:
    """The answer to a price/promotion/stock question, built from the inventory alone.

    'Any black XM5s left at the downtown store?' -> 'No, the Sony WH-1000XM5 ... (SKU 6505727):
    out of stock at Downtown. Elsewhere: Westside has 12, Northgate has 9.'
    """
    question, named_stores = asked.text, list(asked.stores)
    wants_stock = asked.stock or bool(named_stores)
    wants_promo = asked.promotion
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
        elif asked.price or not wants_stock:
            sentences.append(f"The {name} is {price}.")
        else:
            said_price = False
        if wants_stock:
            sentences.append(_stock_sentence(product, named_stores, stores, named=not said_price))
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


# --- quoting the manuals -------------------------------------------------------------------------

_STEP = re.compile(r"^\s*\d+[.)]\s+")
_PROCEDURE = re.compile(r"\b(how (?:do|can|should|would) (?:i|you|we|they)|how to|steps?|set ?up|"
                        r"reset|pair|connect|install|update|enable|disable|turn (?:on|off))\b",
                        re.IGNORECASE)
QUOTED_LINES = 3
_NEAR_BEST = 0.08
_RANK_COST = 0.05  # lines this close to the best one (cosine) are quoted with it


def section_units(text: str) -> list[str]:
    """What can be quoted of a section: its list items (wrapped lines and indented sub-items
    joined in), numbered steps and table rows whole (a row as 'cell: cell'), and the sentences of
    its paragraphs."""
    blocks: list[str] = []
    joinable = False  # the last block is a list item or paragraph that a next line may continue
    for raw in text.splitlines():
        line = raw.strip()
        item = _STEP.match(line) or line.startswith(("- ", "* "))
        if not line or set(line) <= set("|-: ") or line.startswith("#"):
            joinable = False
        elif line.startswith("|"):
            blocks.append(": ".join(c.strip() for c in line.strip("|").split("|") if c.strip()))
            joinable = False
        elif item and raw[:1].isspace() and joinable:  # a sub-item: "- **Hours:**" / "  - Monday: ..."
            blocks[-1] += (" " if blocks[-1].endswith(":**") or blocks[-1].endswith(":") else "; ")
            blocks[-1] += line[2:] if not _STEP.match(line) else line
        elif item or not joinable:
            blocks.append(line)
            joinable = True
        else:  # a wrapped line of the item or paragraph above
            blocks[-1] += f" {line}"
    units = []
    for block in blocks:
        if _STEP.match(block) or block.startswith(("- ", "* ")) or ": " in block[:60]:
            units.append(block)
        else:
            units += [s for s in re.split(r"(?<=[.!?])\s+", block) if s]
    return units


def quote(question: str, chunks: list[Chunk],
          embed: Callable[[list[str]], list[list[float]]]) -> tuple[Chunk, list[str]] | None:
    """The section among `chunks` with the line closest to the question in meaning, and the lines
    of it to quote: a procedure's numbered steps whole, else the best line and any close to it.

    'What's the battery life of the Bose QuietComfort Ultra?' -> (its Specifications section,
    ['- Battery: up to 24 hours; up to 18 hours with Immersive Audio on']).
    """
    candidates = [(chunk, unit) for chunk in chunks for unit in section_units(chunk.text)]
    if not candidates:
        return None
    vectors = embed([question, *(f"{c.heading}: {unit}" for c, unit in candidates)])
    asked = vectors[0]
    rank = {chunk.id: i for i, chunk in enumerate(chunks)}
    # Retrieval's order counts too: a line of the 2nd section must be clearly closer to win.
    scores = [sum(a * b for a, b in zip(asked, v)) - _RANK_COST * rank[c.id]
              for v, (c, _) in zip(vectors[1:], candidates)]
    best = max(range(len(candidates)), key=lambda i: scores[i])
    chunk = candidates[best][0]
    own = [i for i, (c, _) in enumerate(candidates) if c is chunk]
    steps = [candidates[i][1] for i in own if _STEP.match(candidates[i][1])]
    if len(steps) >= 2 and (_STEP.match(candidates[best][1]) or _PROCEDURE.search(question)):
        return chunk, steps
    near = sorted((i for i in own if scores[i] >= scores[best] - _NEAR_BEST),
                  key=lambda i: -scores[i])[:QUOTED_LINES]
    return chunk, [candidates[i][1] for i in sorted(near)]


def cited(chunk: Chunk, lines: list[str]) -> str:
    """'From the <title> manual (<heading>, p. 9):' and the lines (the page for a PDF)."""
    where = f"the {chunk.title} manual" if chunk.kind == "manual" else chunk.title
    if len(lines) == 1:
        body = lines[0]
    else:  # one line each, so a list stays a list and a table row reads as one
        body = "\n".join(line if _STEP.match(line) or line.startswith(("- ", "* ")) else f"- {line}"
                         for line in lines)
    page = f", p. {chunk.page}" if chunk.page else ""
    return f"From {where} ({chunk.heading}{page}):\n\n{body}"
