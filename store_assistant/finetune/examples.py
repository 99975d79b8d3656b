"""The candidate fine-tuning examples, before any filter: curated seeds, and questions built from
the store's data with answers written by code.

Every answer comes from the inventory as of golden.AS_OF (prices, stock, top-3 picks), a manual's
specification line, a policy's key line, or a curated seed; `rag_examples` give a grounded
question the RAG prompt, excerpts included, so the tuned model also learns to read one.
`synthetic.py` filters, paraphrases, samples and writes them.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from store_assistant.answering.data_answers import fact_line, inventory_answer, recommend
from store_assistant.answering.rag import CONTEXT_WORDS
from store_assistant.answering.routing import read
from store_assistant.evaluation.golden import AS_OF
from store_assistant.finetune.taxonomy import TAXONOMY_DIR, load_taxonomy, seeds
from store_assistant.store.documents import Chunk
from store_assistant.store.inventory import Inventory
from store_assistant.store.products import Product, money
from store_assistant.templates import STORE_NAME, render

_SKU = re.compile(r"(?<![\d$.,])\b\d{7}\b(?![.,]\d)")
SPEC_LINES_PER_MANUAL = 6  # of ~11: variety without drowning the prices and policies
BUDGETS = (100, 150, 200, 300, 500, 800, 1000, 1500, 2000)
CATEGORY_LABELS = {"laptops": "laptops", "tvs": "TVs", "headphones": "headphones",
                   "phones-tablets": "phones or tablets", "cameras": "cameras",
                   "smart-home": "smart home devices", "accessories": "accessories"}
_ASKS = {"price": r"\b(?:price|cost|how much|charg|pay|sell)|\$",  # what a rewording must ask
         "sale": r"\b(?:sale|deal|promo|discount|offer)",
         "stock": r"\b(?:stock|left|available|carry|how many|units|any)\b",
         "budget": r"\b(?:under|below|less than|up to|at most|max\w*|budget|spend|within)\b"}
_LABELLED = re.compile(r"^\*\*(?P<b>[^*]+?):?\*\*:?\s*(?P<bv>.*)$"  # '**Standard:** 15 days'
                       r"|^(?P<l>[A-Z][^:]{0,40}?):\s+(?P<lv>.+)$")  # 'Battery: up to 30 hours'


@dataclass(frozen=True)
class Example:
    kind: str  # one of KINDS
    source: str  # "inventory:price:6505728", "manual:sony-wh-1000xm5#specifications", ...
    question: str
    answer: str
    system: str | None = None  # None: the finetuned.md prompt; rag examples carry their own
    skus: tuple[str, ...] = ()  # the products the answer is about, for the fact filter
    grounding: str = ""  # the excerpt the answer rests on: its $ figures count as facts
    keep: tuple[str, ...] = ()  # regexes a paraphrase must still match: identity, then intent
    group: str = ""  # paraphrases and rag twins share their origin's group, and so its split

    @property
    def group_id(self) -> str:
        return self.group or f"{self.source}|{self.question}"

    @property
    def stratum(self) -> str:
        head, _, rest = self.source.partition(":")
        return f"{self.kind}:{head}:{rest.split(':')[0] if head == 'inventory' else ''}"

    def record(self, system: str) -> dict:
        return {"messages": [{"role": "system", "content": self.system or system},
                             {"role": "user", "content": self.question},
                             {"role": "assistant", "content": self.answer}],
                "kind": self.kind, "source": self.source}


def rag_system(facts: list[str], excerpts: list[Chunk]) -> str:
    """The system prompt exactly as RagStrategy builds it from fact lines and excerpts."""
    context = "\n\n".join(f"[{c.title} > {c.heading}]\n{c.text}" for c in excerpts)
    return (render("guidelines", store_name=STORE_NAME) + "\n\n"
            + render("rag", facts="\n".join(f"- {f}" for f in facts) or "- (no product named)",
                     context=context or "(none found)"))


def seed_examples() -> list[Example]:
    """Every curated seed; grounding seeds cite their excerpts, so those go in a RAG prompt."""
    found = []
    for s in seeds(load_taxonomy(TAXONOMY_DIR)):
        system, lines = None, (s.context or "").splitlines()
        if s.leaf.startswith("skills/grounding/") and s.context:
            facts = [line.split(":", 1)[1].strip() for line in lines
                     if line.startswith("Store facts:")]
            rest = "\n".join(line for line in lines if line.strip() and
                             not line.startswith("Store facts:"))
            excerpts = [Chunk("", "", "", "Excerpts", s.leaf, rest)] if rest else []
            system = rag_system(facts, excerpts)
        skus = _SKU.findall(f"{s.question}\n{s.answer}\n{s.context or ''}")
        found.append(Example("seed", f"taxonomy:{s.leaf}", s.question, s.answer, system,
                             tuple(dict.fromkeys(skus)), s.context or ""))
    return found


def product_examples(inventory: Inventory, rng: random.Random) -> list[Example]:
    """Two price wordings, a stock and an 'on sale?' question per product, answered by the data."""
    products, stores = inventory.products(), inventory.stores()
    owners = Counter(alias.lower() for p in products for alias in p.aliases)
    found = []
    for p in products:
        names = [a for a in p.aliases if owners[a.lower()] == 1] + [p.name]  # unambiguous ones
        identity = "|".join([_pattern(n) for n in names] + [p.sku, _pattern(p.model)])
        store = rng.choice(stores)
        price = rng.sample(["How much is the {name}?", "What's the price on the {name} today?",
                            "What are we charging for SKU {sku}?", "Price check: {name}?"], 2)
        stock = rng.choice(["Is the {name} in stock?", "How many {name} does {store} have?",
                            "Any {name} left at {store}?", "Does {store} have the {name}?"])
        sale = rng.choice(["Is the {name} on sale right now?", "Any deal on the {name}?",
                           "Is there a promotion on SKU {sku}?"])
        for topic, template in [("price", price[0]), ("price", price[1]), ("stock", stock),
                                ("sale", sale)]:
            question = template.format(name=rng.choice(names), sku=p.sku, store=store.title())
            answer = (_price_answer(p) if topic == "price"
                      else inventory_answer(read(question, AS_OF, stores=stores), [p], AS_OF,
                                            stores))
            keep = (identity, _ASKS[topic]) + ((store,) if "{store}" in template else ())
            found.append(Example("grounded", f"inventory:{topic}:{p.sku}", question, answer,
                                 skus=(p.sku,), keep=keep))
    return found


def _price_answer(p: Product) -> str:
    promo, aisle = p.active_promotion(AS_OF), f" Aisle {p.aisle}." if p.aisle else ""
    if promo:
        return (f'The {p.name} (SKU {p.sku}) is {money(promo.price)} with the "{promo.text}" '
                f"through {promo.end:%B %-d, %Y} (regular {money(p.price)}).{aisle}")
    return (f"The {p.name} (SKU {p.sku}) is {money(p.price)}; there is no promotion on it right "
            f"now.{aisle}")


def recommendation_examples(inventory: Inventory, rng: random.Random) -> list[Example]:
    """Top-3 in-stock picks per category (data_answers.recommend), with no budget and up to three."""
    found = []
    for category, label in CATEGORY_LABELS.items():
        top = max((p.effective_price(AS_OF) for p in inventory.products(category)), default=0)
        budgets = [b for b in BUDGETS
                   if b < top and len(recommend(inventory, category, b, AS_OF)) == 3]
        for limit in [None, *rng.sample(budgets, min(3, len(budgets)))]:
            question = rng.choice([f"What are the best {label} we have in stock?",
                                   f"Which {label} would you recommend?"] if limit is None else
                                  [f"What are the top 3 {label} under ${limit:,}?",
                                   f"Customer has ${limit:,} to spend on {label} - top picks?",
                                   f"Which {label} can I suggest for at most ${limit:,}?"])
            picks, lines = recommend(inventory, category, limit, AS_OF), []
            for i, p in enumerate(picks, 1):
                promo = p.active_promotion(AS_OF)
                why = (f'on sale with the "{promo.text}" (regular {money(p.price)})' if promo
                       else f"{sum(p.stock.values())} in stock across our stores")
                price = money(p.effective_price(AS_OF))
                lines.append(f"{i}. {p.name} (SKU {p.sku}): {price}, {why}.")
            within = f" under {money(limit)}" if limit else ""
            answer = f"Top {len(picks)} {label} in stock{within}:\n" + "\n".join(lines)
            keep = (_pattern(label.split()[0]),) + ((str(limit), _ASKS["budget"]) if limit else ())
            found.append(Example("grounded", f"inventory:recommend:{category}:{limit or 'any'}",
                                 question, answer, skus=tuple(p.sku for p in picks), keep=keep))
    return found


def spec_examples(manuals: list[Chunk], inventory: Inventory, rng: random.Random) -> list[Example]:
    """'What's the battery on the XM5?' -> the manual's own Specifications line, quoted."""
    by_doc: dict[str, list] = {}
    for chunk in manuals:
        if chunk.heading.startswith("Specifications"):
            by_doc.setdefault(chunk.doc_id, []).extend((chunk, *i) for i in _items(chunk.text))
    found = []
    for lines in by_doc.values():
        for chunk, label, value in rng.sample(lines, min(SPEC_LINES_PER_MANUAL, len(lines))):
            product = inventory.lookup(chunk.sku) if chunk.sku else None
            names = [chunk.title, *(product.aliases[:2] if product else ())]
            name, what = rng.choice(names), _lower(label)
            question = rng.choice([f"What's the {what} on the {name}?",
                                   f"Tell me the {what} of the {name}.",
                                   f"{name}: what does the spec sheet say for {what}?"])
            word = max(re.findall(r"[A-Za-z]{3,}", label) or [label], key=len)[:5]  # 'batte'
            found.append(Example("grounded", chunk.id, question,
                                 f"The {chunk.title} specifications list {label}: {value}",
                                 skus=(chunk.sku,) if chunk.sku else (), grounding=chunk.text,
                                 keep=("|".join(map(_pattern, names)), re.escape(word))))
    return found


def policy_examples(policies: list[Chunk], rng: random.Random) -> list[Example]:
    """A question per labelled line or table row of a policy, one for a section's other figures."""
    found = []
    for chunk in policies:
        title, section = chunk.title, chunk.heading
        loose = [line.replace("**", "") for indent, line in _bullets(chunk.text)
                 if indent == 0 and not _LABELLED.match(line) and re.search(r"\d", line)]
        for label, value in _items(chunk.text) + ([(section, " ".join(loose))] if loose else []):
            about = _lower(label) + (f" ({_lower(section)})" if label != section else "")
            question = rng.choice([f"{section} - {_lower(label)}?",
                                   f"What does the {title} policy say about {about}?"])
            answer = f"Per the {title} policy ({section}): " + (
                value if label == section else f"{label}: {value}")
            found.append(Example("grounded", chunk.id, question, answer, grounding=chunk.text,
                                 keep=(_pattern(label),)))
    return found


def rag_examples(grounded: list[Example], chunks: list[Chunk], inventory: Inventory,
                 rng: random.Random) -> list[Example]:
    """Twins in the finetuned+rag arm's prompt: fact lines and 2-3 excerpts, at least one of them
    a distractor from another product or policy, within RagStrategy's word budget. One spec and
    one price question per manual, every policy question; the answer stays the same."""
    by_id, done, found = {c.id: c for c in chunks}, set(), []
    for example in grounded:
        topic = example.source.split(":")[1] if example.source.startswith("inventory:") else ""
        product = inventory.lookup(example.skus[0]) if example.skus else None
        if topic == "price" and product is not None and ("price", product.manual) not in done:
            done.add(("price", product.manual))
            right = [c for c in chunks if c.doc_id == f"manual:{Path(product.manual).stem}"][:1]
            sibling = [p for p in inventory.products(product.category)
                       if p.manual == product.manual and p.sku != product.sku][:1]
            facts = [product, *sibling]  # a look-alike variant's fact line is a distractor too
        elif not topic and (chunk := by_id.get(example.source)) and chunk.doc_id not in done:
            if chunk.kind == "manual":  # one per manual; every policy line has its own section
                done.add(chunk.doc_id)
            right, facts = [chunk], [product] if product else []
        else:
            continue
        kind = right[0].kind if right else "policy"
        pool = [c for c in chunks if c.kind == kind and c.doc_id not in {r.doc_id for r in right}]
        excerpts = list(right)
        for other in rng.sample(pool, min(len(pool), 12)):
            words = sum(len(c.text.split()) for c in excerpts) + len(other.text.split())
            if len(excerpts) < 3 and words <= CONTEXT_WORDS:
                excerpts.append(other)
        if len(excerpts) > len(right):  # no distractor fits the budget: not this kind's lesson
            rng.shuffle(excerpts)
            system = rag_system([fact_line(p, AS_OF) for p in facts], excerpts)
            found.append(replace(example, kind="rag", system=system, group=example.group_id))
    return found


def _items(text: str) -> list[tuple[str, str]]:
    """(label, value) of 'Label: value' bullets, nested ones ('Hours' > 'Monday: 10:00 am - 9:00 pm'
    -> 'Hours on Monday') and table rows ('Cameras...', 'Restocking fee: 15% of the price paid')."""
    found, parent, rows = [], None, []
    for indent, line in _bullets(text):
        match = _LABELLED.match(line) if indent is not None else None
        if indent is None and line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        if not match:
            continue
        label = (match["b"] or match["l"]).strip().rstrip(":")
        value = (match["bv"] if match["b"] else match["lv"]).replace("**", "")
        parent = (label if not value else None) if indent == 0 else parent
        if value:
            found.append((f"{parent} on {label}" if indent and parent else label, value))
    if len(rows) > 2 and set("".join(rows[1])) <= set("-: "):
        found += [(cells[0], "; ".join(f"{h}: {c}" for h, c in zip(rows[0][1:], cells[1:])))
                  for cells in rows[2:]]
    return found


def _bullets(text: str) -> list[tuple[int | None, str]]:
    """(indent, text) per bullet, continuation lines joined; (None, line) for any other line."""
    found: list[list] = []
    for raw in text.splitlines():
        if bullet := re.match(r"^(\s*)[-*]\s+(.*)$", raw):
            found.append([len(bullet[1]), bullet[2].strip()])
        elif raw.startswith((" ", "\t")) and raw.strip() and found and found[-1][0] is not None:
            found[-1][1] += " " + raw.strip()
        elif raw.strip():
            found.append([None, raw.strip()])
    return [(indent, line) for indent, line in found]


def _pattern(text: str) -> str:
    """A regex for a name however it is spaced or punctuated: 'WH-1000XM5' matches 'wh 1000xm5'."""
    return r"[\W_]*".join(map(re.escape, re.findall(r"[a-z0-9]+", text.lower()))) or re.escape(text)


def _lower(label: str) -> str:
    """'Battery' -> 'battery'; 'HDMI ports' and 'Volt Plus members' keep their capitals."""
    return label if any(c.isupper() for c in label[1:]) else label[:1].lower() + label[1:]
