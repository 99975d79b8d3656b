"""A question read once (`Asked`), and the ways it may be answered, in order (`route`).

`read` turns the question (and, for a follow-up, the conversation before it) into a frozen record:
the products it names, the stores, the category and budget of a choice, whether it asks a price,
stock or a promotion, whether it asks yes or no, a purchase date and a price it gives. Routing,
the answering paths (answering/rag.py, evidence.py, policy_rules.py) and the guard read this
record; none of them reads the question's words for these again.

`route` gives the ways to answer in the order they are tried; the first that answers wins:

- recommend: a choice in a category with no product named ("top 3 laptops under $800"): the
  inventory ranks, code writes it (data);
- computed: policy arithmetic from manuals/policies/rules.yaml (data), when a rule computes it;
- inventory: the price, stock or promotion of a named product: the table answers it (data);
- decline: a kind of product the store does not carry (data);
- evidence: one line of a manual or policy answers it; the model writes the verdict, code checks
  it and quotes the line (when candidate lines are found);
- model: the model over the excerpts and the facts, checked by the guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from store_assistant.answering.linking import Link, link_products
from store_assistant.answering.questions import (amount, asked_category, asks_inventory,
                                                 asks_price, asks_promotion, asks_stock,
                                                 asks_yes_no, budget, is_choosing, is_follow_up,
                                                 membership, not_carried, purchase_date,
                                                 sizes_named, stores_named)
from store_assistant.store.inventory import Inventory
from store_assistant.store.products import Product

# A comparison for the evidence path: 'instead' or 'different' alone ask no comparison.
_COMPARING = re.compile(r"\b(compare[sd]?|comparison|vs\.?|versus|difference|better|worse|"
                        r"alternatives?|similar)\b", re.IGNORECASE)
PATHS = ("recommend", "computed", "inventory", "decline", "evidence", "model")


@dataclass(frozen=True)
class Asked:
    """What one question asks, read once."""
    text: str
    today: date
    follow_up: bool = False
    query: str = ""  # what retrieval searches: a follow-up's earlier turns and the question
    links: tuple[Link, ...] = ()  # products the question names (a follow-up: named before)
    stores: tuple[str, ...] = ()  # the stores it names
    sizes: tuple[str, ...] = ()  # the sizes it names: ('77',) for 'the 77 inch C3'
    category: str | None = None
    budget: float | None = None
    choosing: bool = False  # "top 3", "best", "recommend", "under $800"
    lookup: bool = False  # the inventory table answers it whole: price, stock, not specs
    price: bool = False
    stock: bool = False
    promotion: bool = False
    comparing: bool = False
    yes_no: bool = False
    not_carried: str | None = None  # "drone": a kind of product the store does not sell
    bought: date | None = None  # the purchase date it gives ("bought Dec 28", "8 days ago")
    paid: float | None = None  # the price it gives ("a $700 TV")
    member: bool | None = None  # Volt Plus member: True, said not to be: False, not said: None

    @property
    def named(self) -> list[Product]:
        return [link.product for link in self.links]

    @property
    def named_outright(self) -> bool:
        """By SKU, model number or alias: not a fuzzy match on a name."""
        return any(link.how in ("sku", "model", "alias") for link in self.links)

    @property
    def inventory_facts(self) -> bool:
        return self.price or self.stock or self.promotion


def read(question: str, today: date, inventory: Inventory | None = None,
         history: list[dict[str, str]] = (), stores: list[str] | None = None) -> Asked:
    """`question` read once. Without an inventory no product is linked (and `stores` names the
    stores to look for)."""
    earlier = " ".join(turn["content"] for turn in history if turn["role"] == "user")
    links: list[Link] = [] if inventory is None else link_products(question, inventory)
    follow_up = bool(earlier) and is_follow_up(question, names_product=bool(links))
    if inventory is not None:
        if follow_up and not links:
            links = link_products(earlier, inventory)  # "and is it in stock downtown?"
        stores = inventory.stores() if stores is None else stores
    return Asked(
        text=question, today=today, follow_up=follow_up,
        query=f"{earlier[-300:]} {question}" if follow_up else question,
        links=tuple(links), stores=tuple(stores_named(question, stores or [])),
        sizes=sizes_named(question),
        category=asked_category(question), budget=budget(question),
        choosing=is_choosing(question), lookup=asks_inventory(question),
        price=asks_price(question), stock=asks_stock(question),
        promotion=asks_promotion(question), comparing=bool(_COMPARING.search(question)),
        yes_no=asks_yes_no(question), not_carried=not_carried(question),
        bought=purchase_date(question, today), paid=amount(question),
        member=membership(question))


def route(asked: Asked, evidence_first: bool = True) -> tuple[str, ...]:
    """The ways to answer `asked`, in the order they are tried (see the module's docstring)."""
    if asked.category and asked.choosing and not asked.links:
        return ("recommend",)
    paths = [] if asked.follow_up else ["computed"]  # a follow-up's subject is in the history
    if asked.links and asked.lookup:
        return (*paths, "inventory")
    if asked.not_carried and not asked.named_outright:
        return (*paths, "decline")
    # Not a comparison, and not a named product's price, stock or promotion (a policy question
    # about a price match or a refund is a policy question).
    if evidence_first and not (asked.follow_up or asked.comparing
                               or (asked.links and asked.inventory_facts)):
        paths.append("evidence")
    return (*paths, "model")
