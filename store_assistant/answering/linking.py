"""Product linking: from a question to the inventory's products it is about.

`link_products()` tries, best first: an exact SKU, a model number, an alias, a fuzzy match on the
short name, and only then the products of the retrieved manuals. Among a product's variants it
picks the one whose details the question names ("MacBook 12 with the i5 and 512GB").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from store_assistant.store.inventory import Inventory

from store_assistant.store.products import Product

SKU_PATTERN = re.compile(r"(?<![\d$.,])\b\d{6,8}\b(?![.,]\d)")  # 7-digit SKUs, not prices like 1,299.99
_STOPWORDS = {"the", "a", "an", "is", "it", "in", "on", "of", "for", "and", "or", "do", "you",
              "have", "what", "how", "much", "does", "stock", "price", "any", "at", "with", "my",
              "i", "me", "can", "this", "that", "to", "are", "there", "which", "best", "good"}

HEAD_WORDS = 3  # the first words of a product's name that name it when given in order


@dataclass(frozen=True)
class Link:
    product: Product
    how: str  # "sku" | "model" | "alias" | "name" | "retrieval"
    score: float

def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())

def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:[-.][a-z0-9]+)*", text.lower())

def link_products(question: str, inventory: Inventory, retrieved_skus: list[str] = (),
                  limit: int = 3) -> list[Link]:
    """The products a question names, best first.

    'Is SKU 6505727 in stock?' -> [Link(<WH-1000XM5>, 'sku', 100)];
    'how long does the xm5 battery last' -> [Link(<WH-1000XM5>, 'alias', 95)];
    'opened a Canon EF 50mm lens, can it be returned?' -> [Link(<EF 50mm f/1.8 STM>, 'name', 90)].
    """
    links: dict[str, Link] = {}

    def add(product: Product, how: str, score: float) -> None:
        if product.sku not in links or links[product.sku].score < score:
            links[product.sku] = Link(product, how, score)

    for sku in SKU_PATTERN.findall(question):
        if (product := inventory.lookup(sku)) is not None:
            add(product, "sku", 100)
    products = inventory.products()
    squashed = _norm(question)
    lowered = _spaced(question)
    matched: dict[str, str] = {}  # sku -> the longest alias of it the question contains
    families: dict[str, list[Product]] = {}  # 'lg c3' (of 'LG C3 55', 'LG C3 65'...) -> its products
    for product in products:
        model = _norm(product.model or "")
        if len(model) >= 4 and model in squashed:
            add(product, "model", 98)
        for alias in product.aliases:
            words = _spaced(alias)
            if len(_norm(alias)) >= 3 and words in lowered:
                add(product, "alias", 95)
                if len(words) > len(matched.get(product.sku, "")):
                    matched[product.sku] = words
            family = re.sub(r"\s+\d+(?:\.\d+)?\s*$", "", alias)
            if family != alias and len(_norm(family)) >= 4 and _spaced(family) in lowered:
                families.setdefault(family.lower(), []).append(product)
    # "the LG C3" names the family whose aliases are 'LG C3 55', 'LG C3 65' and 'LG C3 77': one of
    # it is linked, and the question's details ("77 inch") pick the variant below. A family is
    # two products or more ('Show 8' alone is no family of 'show').
    for family, members in families.items():
        product = members[0]
        # 'MacBook Air' is not the MacBook family: a family inside a longer name the question
        # gives names nothing more.
        inside = any(_spaced(family) in longer and _spaced(family) != longer
                     for longer in matched.values())
        if len({p.sku for p in members}) >= 2 and not inside and not any(
                link.product.manual == product.manual and product.manual for link in links.values()):
            add(product, "alias", 94)
    # "MacBook Air 256" names the 256GB model, not also the one whose alias is "MacBook Air".
    for sku, words in matched.items():
        if links[sku].how == "alias" and any(
                other != sku and words in longer and words != longer
                for other, longer in matched.items()):
            del links[sku]
    if not links:
        # "A customer opened a Canon EF 50mm lens and wants to return it": the name's first words
        # in order ('canon ef 50mm' of 'Canon EF 50mm f/1.8 STM Standard Lens') name it, though
        # the rest of a long question is too unlike the name for the fuzzy match below.
        for product in products:
            head = _words(_short_name(product))[:HEAD_WORDS]
            if len(head) == HEAD_WORDS and f" {' '.join(head)} " in f" {' '.join(_words(question))} ":
                add(product, "name", 90)
    if not links:
        content = " ".join(w for w in _words(question) if w not in _STOPWORDS)
        if len(content) >= 4:
            for product in products:
                score = fuzz.token_set_ratio(content, _short_name(product).lower())
                if score >= 85:
                    add(product, "name", score)
    if not links:
        for rank, sku in enumerate(dict.fromkeys(s for s in retrieved_skus if s)):
            if (product := inventory.lookup(sku)) is not None:
                add(product, "retrieval", 50 - rank)
    found = sorted(links.values(), key=lambda link: -link.score)
    return list({link.product.sku: link for link in
                 (_closest_variant(link, question, products) for link in found)}.values())[:limit]

def _closest_variant(link: Link, question: str, products: list[Product]) -> Link:
    """Among a product's variants (same manual or same base name), the one the question's details
    name: 'MacBook 12 with the i5 and 512GB' -> the i5/512GB model, not the first MacBook 12."""
    if link.how in ("sku", "model"):
        return link
    base = link.product
    family = [p for p in products if (p.manual and p.manual == base.manual)
              or _short_name(p) == _short_name(base)]
    if len(family) < 2:
        return link
    asked = set(_spaced(question).split())
    common = set.intersection(*(set(_spaced(p.name).split()) for p in family))

    def detail(product: Product) -> int:
        return len((set(_spaced(product.name).split()) - common) & asked)

    best = max(family, key=lambda p: (detail(p), p.sku == base.sku))
    return link if detail(best) <= detail(base) else Link(best, link.how, link.score)

def _spaced(text: str) -> str:
    """' macbook air 256 gb ': words with numbers split from their units, padded for matching."""
    return f" {re.sub(r'(?<=[0-9])(?=[a-z])', ' ', ' '.join(_words(text)))} "

def _short_name(product: Product) -> str:
    """The name without its spec tail: 'Sony WH-1000XM5 Headphones - Black' -> 'Sony WH-1000XM5 Headphones'."""
    head = product.name.split(" - ")[0].strip()
    return head if len(head.split()) >= 2 else product.name
