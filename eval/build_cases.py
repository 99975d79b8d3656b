"""Writes the data-derived golden cases, eval/cases/{price,stock,...}.yaml, from eval/needs/*.yaml.

Every question is worded by hand in eval/needs/<category>.yaml, next to the need its answer comes
from (NEEDS below: a price, a stock count, a promotion, a top-3 pick, a price comparison, or a
`literal` answer written by hand; or the name of an answer in eval/needs/shared.yaml). Every
computed figure comes from manuals/inventory.csv as of golden.AS_OF, read with the store layer
(Inventory, Product.effective_price); nothing comes from the answering code it will judge. The
top-3 picks follow TOP3_RULE, written out below and in the generated files. Trade-off: a change to the CSV is one
re-run away, but a hand edit of a generated YAML file is overwritten, so edit eval/needs/ instead;
a bad entry there stops the run with the file, the case and what is wrong. The specs,
compatibility, policy and not-carried files have no computed figures and are edited by hand.
Deterministic: `--check` (run by `pytest eval/`) fails when the committed files are stale.

    .venv/bin/python eval/build_cases.py          # rewrite the generated files
    .venv/bin/python eval/build_cases.py --check  # exit 1 if any is out of date
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NoReturn

import yaml

from store_assistant.evaluation.golden import AS_OF, CASES_DIR
from store_assistant.files import write_atomic
from store_assistant.store.inventory import Inventory
from store_assistant.store.products import Product, money

CSV = Path(__file__).resolve().parents[1] / "manuals" / "inventory.csv"
NEEDS_DIR = Path(__file__).resolve().parent / "needs"
STORE_NAMES = {"downtown": "Downtown", "westside": "Westside", "northgate": "Northgate"}
CATEGORY_WORDS = {"laptops": "laptops", "tvs": "TVs", "headphones": "headphones",
                  "phones-tablets": "phones and tablets", "cameras": "cameras and lenses",
                  "smart-home": "smart home devices", "accessories": "accessories"}
# The gold for "top 3" questions, from the store guideline ("give the top 3 options"), written
# here apart from the product's own ranking (answering/data_answers.recommend) so a bug there
# shows up as wrong answers instead of moving the gold with it.
TOP3_RULE = ("the top 3 are the category's products in stock at one store at least, whose price "
             "today (the promotion price while a promotion runs) is within the budget, the most "
             "expensive first (the most capable the budget buys), ties by SKU")
# The first N cases (groups, for paraphrase and persona) of each file form the CI gate subset.
GATE = {"price": 5, "stock": 5, "promotion": 5, "recommendation": 4, "comparison": 2,
        "follow-up": 3, "paraphrase": 2, "persona": 1, "injection": 6}

# What a field in eval/needs/ may hold: (how an error names it, the test).
TEXT = ("text", lambda value: isinstance(value, str))
TEXTS = ("a list of text", lambda value: isinstance(value, list) and value != []
         and all(isinstance(item, str) for item in value))
SKU = ("a quoted SKU like '5465502'", TEXT[1])
PAIR = ("[sku, label]", lambda value: TEXTS[1](value) and len(value) == 2)
FLAG = ("true or false", lambda value: isinstance(value, bool))
NUMBER = ("a number", lambda value: isinstance(value, (int, float)) and not FLAG[1](value))
LIST = ("a list", lambda value: isinstance(value, list))
MAPPING = ("a mapping", lambda value: isinstance(value, dict))
ANSWER = ("an answer", lambda value: True)  # checked by resolve()


def one_of(*values: str) -> tuple:
    return (f"one of {', '.join(values)}", lambda value: value in values)


# The fields of each need, and of a case in each category file; "?" marks an optional one.
NEEDS = {"price": {"sku": SKU, "label": TEXT, "with_sku?": FLAG},
         "stock": {"sku": SKU, "label": TEXT, "store": one_of(*STORE_NAMES, "any")},
         "promotion": {"sku": SKU, "label": TEXT},
         "top3": {"category": one_of(*CATEGORY_WORDS), "max_price": NUMBER},
         "compare": {"first": PAIR, "second": PAIR},
         "literal": {"reference": TEXT, "facts": LIST, "sources?": TEXTS}}
SINGLE, GROUP = {"question": TEXT, "answer": ANSWER}, {"questions": TEXTS, "answer": ANSWER}
CASES = {"price": SINGLE, "stock": SINGLE, "promotion": SINGLE, "recommendation": SINGLE,
         "comparison": SINGLE,
         "follow-up": {"first": TEXT, "first_answer": ANSWER, "question": TEXT, "answer": ANSWER},
         "paraphrase": GROUP, "persona": GROUP,
         "injection": {"question": TEXT, "refusal?": TEXT, "answer?": ANSWER,
                       "must_not_leak?": FLAG, "must_not?": TEXTS}}


def is_heldout(index: int) -> bool:
    """7 of every 20 cases (or groups), spread out: 0, 3, 6, 9, 12, 15, 18 -> 35% heldout."""
    return (index * 7) % 20 < 7


def day(when: date) -> str:
    return f"{when:%B} {when.day}, {when.year}"


# --- what a correct answer contains ----------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    reference: str
    facts: list
    sources: list
    recommend: dict | None = None


class Needs:
    """Builds the facts, sources and reference for one customer need, from the inventory."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def product(self, sku: str) -> Product:
        product = self.inventory.lookup(sku)
        if product is None:
            raise SystemExit(f"build_cases.py names SKU {sku}, which is not in {CSV}.")
        return product

    def price(self, sku: str, label: str, with_sku: bool = False) -> Answer:
        product = self.product(sku)
        promo = product.active_promotion(AS_OF)
        if promo:
            text = (f"The {label} (SKU {sku}) is {money(promo.price)} right now with our "
                    f"\"{promo.text}\" promotion (regular {money(product.price)}), through "
                    f"{day(promo.end)}.")
        else:
            text = f"The {label} (SKU {sku}) is {money(product.price)}."
        facts = [{"type": "price", "value": product.effective_price(AS_OF)}]
        if with_sku:
            facts.append({"type": "sku", "value": sku})
        return Answer(text, facts, [sku])

    def stock(self, sku: str, label: str, store: str | None) -> Answer:
        """One store's count, or (store=None) all three: the 'is it anywhere?' question."""
        product = self.product(sku)
        stores = [store] if store else list(STORE_NAMES)
        facts = [{"type": "stock", "store": s, "value": product.stock[s]} for s in stores]
        counts = ", ".join(f"{STORE_NAMES[s]} {n}" for s, n in product.stock.items())
        if store is None and not any(product.stock.values()):
            text = (f"Sorry, the {label} (SKU {sku}) is out of stock at all three stores right "
                    f"now: Downtown, Westside and Northgate each have 0.")
        elif store is None:
            text = f"Yes, the {label} (SKU {sku}) is in stock: {counts}."
        elif product.stock[store]:
            units = "unit" if product.stock[store] == 1 else "units"
            text = (f"{STORE_NAMES[store]} has {product.stock[store]} {units} of the {label} "
                    f"(SKU {sku}) in stock.")
        else:
            others = [f"{STORE_NAMES[s]} has {n}" for s, n in product.stock.items() if n]
            text = f"Sorry, {STORE_NAMES[store]} is out of the {label} (SKU {sku}) right now."
            if others:
                text += (f" {' and '.join(others)}; we can transfer one to {STORE_NAMES[store]} "
                         f"for free, ready in 2-3 business days.")
            else:
                text += " It is out of stock at the other two stores as well."
        return Answer(text, facts, [sku])

    def promotion(self, sku: str, label: str) -> Answer:
        product = self.product(sku)
        promo, regular = product.promotion, money(product.price)
        status = promo.status(AS_OF) if promo else None
        if status == "active":
            name, saving = promo.text.split(": ")
            text = (f"Yes! The {label} (SKU {sku}) is on sale for {money(promo.price)} instead of "
                    f"{regular} with our \"{promo.text}\" promotion, through {day(promo.end)}.")
            facts = [{"type": "yesno", "value": "yes"},
                     {"type": "price", "value": promo.price},
                     {"type": "term", "any": [name, saving]}]
            return Answer(text, facts, [sku])
        if status == "expired":
            text = (f"Not at the moment. The \"{promo.text}\" promotion on the {label} (SKU {sku}) "
                    f"ended on {day(promo.end)}, so it is back at its regular price of {regular}.")
        elif status == "upcoming":
            text = (f"Not yet. The {label} (SKU {sku}) is {regular} today; a \"{promo.text}\" "
                    f"promotion starts on {day(promo.start)}, and we can't honor that price "
                    f"before then.")
        else:
            text = f"No, there's no promotion on the {label} (SKU {sku}) right now; it's {regular}."
        return Answer(text, [{"type": "yesno", "value": "no"},
                             {"type": "price", "value": product.price}], [sku])

    def top3(self, category: str, max_price: float) -> Answer:
        picks = top3(self.inventory.products(category=category), max_price, AS_OF)
        lines = []
        for rank, product in enumerate(picks, 1):
            promo = product.active_promotion(AS_OF)
            deal = f" ({promo.text}, regular {money(product.price)})" if promo else ""
            where = ", ".join(STORE_NAMES[s] for s, n in product.stock.items() if n)
            where = "all three stores" if all(product.stock.values()) else where
            lines.append(f"{rank}. {product.name} (SKU {product.sku}) - "
                         f"{money(product.effective_price(AS_OF))}{deal}; in stock at {where}.")
        text = (f"Here are the top {len(picks)} {CATEGORY_WORDS[category]} in stock for "
                f"${max_price:,.0f} or less:\n" + "\n".join(lines))
        return Answer(text, [{"type": "price", "value": p.effective_price(AS_OF)} for p in picks],
                      [p.sku for p in picks], {"category": category, "max_price": max_price})

    def compare(self, first: tuple[str, str], second: tuple[str, str]) -> Answer:
        """Both prices today, and which is cheaper by how much: ((sku, label), (sku, label))."""
        a, b = self.price(*first), self.price(*second)
        price_a, price_b = a.facts[0]["value"], b.facts[0]["value"]
        if abs(price_a - price_b) < 0.005:
            verdict = "Right now they cost the same."
        else:
            cheaper = first[1] if price_a < price_b else second[1]
            verdict = f"The {cheaper} is cheaper by {money(abs(price_a - price_b))}."
        return Answer(f"{a.reference} {b.reference} {verdict}", a.facts + b.facts,
                      a.sources + b.sources)

    def literal(self, reference: str, facts: list, sources: list | None = None) -> Answer:
        return Answer(reference, facts, sources or [])


# --- reading eval/needs/ ---------------------------------------------------------------------

def fail(where: str, problem: str) -> NoReturn:
    raise SystemExit(f"{where}: {problem}")


def check(where: str, mapping, fields: dict) -> None:
    """Every required field present, none unknown, each of its kind; else stop, naming `where`."""
    names = [field.rstrip("?") for field in fields]
    if not isinstance(mapping, dict):
        fail(where, f"expected a mapping with {', '.join(names)}, got {mapping!r}")
    if unknown := [str(name) for name in mapping if name not in names]:
        fail(where, f"unknown field {', '.join(unknown)} (expected {', '.join(names)})")
    for field, (what, test) in fields.items():
        name = field.rstrip("?")
        if name not in mapping and not field.endswith("?"):
            fail(where, f"missing field {name!r}")
        if name in mapping and not test(mapping[name]):
            fail(where, f"{name} must be {what}, got {mapping[name]!r}")


def load(name: str, fields: dict) -> dict:
    where = f"eval/needs/{name}.yaml"
    try:
        with (NEEDS_DIR / f"{name}.yaml").open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        fail(where, f"cannot read it: {error}")
    check(where, data, fields)
    return data


def resolve(n: Needs, spec, where: str, shared: dict) -> Answer:
    """The Answer an `answer` field asks for: a need mapping, or a name in shared.yaml."""
    if isinstance(spec, str):
        if spec not in shared:
            fail(where, f"answer {spec!r} is not in eval/needs/shared.yaml ({', '.join(shared)})")
        spec, where = shared[spec], f"eval/needs/shared.yaml, answer {spec} (used by {where})"
    if not isinstance(spec, dict) or "need" not in spec:
        fail(where, f"an answer is a mapping with need: one of {', '.join(NEEDS)}, or the name "
                    f"of an answer in eval/needs/shared.yaml; got {spec!r}")
    if (need := spec["need"]) not in NEEDS:
        fail(where, f"unknown need {need!r}; a need is one of {', '.join(NEEDS)}")
    check(where, spec, {"need": TEXT, **NEEDS[need]})
    args = {field: value for field, value in spec.items() if field != "need"}
    pairs = [tuple(args[field]) for field in ("first", "second") if field in args]
    for sku in [args["sku"]] if "sku" in args else [sku for sku, _ in pairs]:
        if n.inventory.lookup(sku) is None:
            fail(where, f"SKU {sku} is not in manuals/inventory.csv")
    if need == "stock":
        args["store"] = None if args["store"] == "any" else args["store"]
    if need == "top3":
        args["max_price"] = float(args["max_price"])
    return n.compare(*pairs) if need == "compare" else getattr(n, need)(**args)


# --- writing ---------------------------------------------------------------------------------

def build(inventory: Inventory) -> dict[str, list[dict]]:
    """{category: [case mapping, ...]} for every generated file, from eval/needs/."""
    n = Needs(inventory)
    shared = load("shared", {"answers": MAPPING})["answers"]
    files: dict[str, list[dict]] = {}

    def add(category: str, case_id: str, index: int, question: str, answer: Answer,
            group: str | None = None, history: list | None = None, **extra) -> None:
        case = {"id": case_id, "category": category,
                "split": "heldout" if is_heldout(index) else "dev"}
        if group:
            case["group"] = group
        if index < GATE[category]:
            case["tags"] = ["gate"]
        case["question"] = question
        if history:
            case["history"] = history
        case.update({"reference": answer.reference, "facts": answer.facts,
                     "sources": answer.sources})
        if answer.recommend:
            case["recommend"] = answer.recommend
        case.update(extra)
        files.setdefault(category, []).append(case)

    for category, fields in CASES.items():
        key = "groups" if fields is GROUP else "cases"
        extras = {"refusals": MAPPING, "leak_text": TEXTS} if category == "injection" else {}
        data = load(category, {key: LIST, **extras})
        for i, case in enumerate(data[key]):
            asked = case.get("question", case.get("questions")) if isinstance(case, dict) else 0
            asked = asked[0] if isinstance(asked, list) and asked else asked
            where = f"eval/needs/{category}.yaml, {key[:-1]} {i + 1}" + (
                f" ({asked!r})" if isinstance(asked, str) else "")
            case_id = f"{category}-{i + 1:03d}"
            check(where, case, fields)
            answer = resolve(n, case["answer"], where, shared) if "answer" in case else None
            if fields is GROUP:  # one case per question, all with the group's answer
                group = f"{'para' if category == 'paraphrase' else category}-{i + 1:03d}"
                for m, question in enumerate(case["questions"]):
                    add(category, f"{group}-{m + 1}", i, question, answer, group)
            elif category == "follow-up":
                first = resolve(n, case["first_answer"], where, shared)
                add(category, case_id, i, case["question"], answer,
                    history=[{"role": "user", "content": case["first"]},
                             {"role": "assistant", "content": first.reference}])
            elif category == "injection":  # the refusal, then the real question's answer if any
                if "refusal" not in case and answer is None:
                    fail(where, "needs a refusal, an answer or both")
                if "refusal" in case:
                    refusal = data["refusals"].get(case["refusal"], case["refusal"])
                    answer = (Answer(refusal, [], []) if answer is None else
                              Answer(f"{refusal} {answer.reference}", answer.facts, answer.sources))
                must_not = data["leak_text"] if case.get("must_not_leak") else []
                add(category, case_id, i, case["question"], answer, expect="decline",
                    must_not=must_not + case.get("must_not", []))
            else:
                add(category, case_id, i, case["question"], answer)
    return files


class _Dumper(yaml.SafeDumper):
    """Multi-line text (the top-3 lists) as a literal block, which reads like the answer."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def top3(products: list[Product], budget: float, today: date) -> list[Product]:
    """TOP3_RULE."""
    affordable = [p for p in products
                  if any(qty > 0 for qty in p.stock.values()) and p.effective_price(today) <= budget]
    affordable.sort(key=lambda p: p.sku)
    affordable.sort(key=lambda p: p.effective_price(today), reverse=True)
    return affordable[:3]


def render(category: str, cases: list[dict]) -> str:
    header = (f"# Golden cases: {category}. Generated by eval/build_cases.py from "
              f"eval/needs/{category}.yaml and manuals/inventory.csv,\n# facts as of "
              f"{AS_OF.isoformat()}. Edit eval/needs/{category}.yaml and re-run the script; "
              f"`pytest eval/` fails if this file is stale.\n")
    if any(case.get("recommend") for case in cases):
        header += f"# Gold rule for the top-3 cases: {TOP3_RULE}.\n"
    body = "\n".join(yaml.dump([case], Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                               width=100, default_flow_style=None) for case in cases)
    return header + body


def outputs() -> dict[Path, str]:
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Inventory(Path(tmp) / "inventory.db")
        inventory.import_csv(CSV)
        return {CASES_DIR / f"{category}.yaml": render(category, cases)
                for category, cases in build(inventory).items()}


def main(argv: list[str]) -> int:
    texts = outputs()
    stale = [path for path, text in texts.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is out of date: run .venv/bin/python eval/build_cases.py")
        return 1 if stale else 0
    for path in stale:
        write_atomic(path, texts[path])
    print(f"wrote {len(stale)} changed file(s) in {CASES_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
