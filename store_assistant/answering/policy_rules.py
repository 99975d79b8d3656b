"""Policy answers that are arithmetic, computed by code from `manuals/policies/rules.yaml`.

"Volt Plus member bought a tablet on Dec 28, last day to return it?" has one right answer, a date,
and a small model gets dates wrong. So code reads the question (its purchase date, price and
membership from the question's record, answering/routing.Asked; here: cash, opened or not, the
product type), computes from the rules file (a return's last day
with the holiday extension, the restocking fee, the protection plan price for the band, how a
cash purchase is refunded) and quotes the policy sentence the figures come from. No model call:
the answer's path is "data". A question without the figure a rule needs (no purchase date, no
price) is left to the evidence path, which quotes the rule itself.

The rules file is read and validated by store/policy_rules.py: a bad file is a `DataError` naming
the file and the field, and the caller answers without computed policies rather than from a
half-read file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from store_assistant.answering.questions import MONTHS
from store_assistant.answering.routing import Asked
from store_assistant.store.documents import slug
from store_assistant.store.policy_rules import Rules
from store_assistant.store.products import Product

_RETURNING = re.compile(r"\b(return\w*|bring (?:it|them|\w+) back|take (?:it|them) back|"
                        r"exchange\w*)\b", re.IGNORECASE)
_WHEN = re.compile(r"\b(last day|until when|till when|by when|how long|deadline|still|too late|"
                   r"until what|what date|when)\b", re.IGNORECASE)
_PLAN = re.compile(r"\b(protection|plan|plans|coverage|extended warranty)\b", re.IGNORECASE)
_PLAN_PRICE = re.compile(r"\b(how much|price|prices|cost|costs|charge|run|what do(?:es)? .{0,20}"
                         r"(?:pay|cost)|sell)\b", re.IGNORECASE)
_TERM = re.compile(r"\b(1|2|3|one|two|three)[- ]?(?:year|yr)s?\b", re.IGNORECASE)
_OPENED = re.compile(r"\b(opened|open box|unboxed|used it)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Computed:
    """A computed answer: the verdict line, the policy sentences quoted under it, and a flag."""
    verdict: str
    quotes: tuple[tuple[str, str, str], ...]  # (source id, heading, quote as the file has it)
    title: str
    rule: str

    def text(self) -> str:
        shown = []
        for heading in dict.fromkeys(h for _, h, _ in self.quotes):
            lines = "\n\n".join(q for _, h, q in self.quotes if h == heading)
            shown.append(f"From {self.title} ({heading}):\n\n{lines}")
        return "\n\n".join([self.verdict, *shown])


def _has(text: str, words) -> bool:
    return any(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text, re.IGNORECASE) for w in words)


# --- the answers -------------------------------------------------------------------------------

def answer(asked: Asked, products: list[Product], rules: Rules) -> Computed | None:
    """The computed answer to the question, or None when no rule computes it."""
    for compute in (_cash_refund, _restocking_fee, _plan_price, _return_window):
        found = compute(asked, products, rules)
        if found is not None:
            return found
    return None


def _quote(rules: Rules, rule: str, cite: str) -> tuple[str, str, str]:
    """(source id, heading, quote) for a cited sentence, read from the policy file itself; a
    table row is quoted under its header row."""
    source = rules[rule]["source"]
    heading, header = "", None
    start = " ".join(cite.split())[:40]
    for line in rules.texts[source].splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        header = (header or line) if line.startswith("|") else None
        if start in " ".join(line.split()):
            break
    doc = f"policy:{Path(source).stem}#{slug(heading)}"
    if cite.startswith("|"):
        cells = cite.count("|") - 1
        return doc, heading, f"{header}\n|{'---|' * cells}\n{cite}"
    return doc, heading, f"- {' '.join(cite.split())}"


def _computed(verdict: str, rule: str, rules: Rules, cited: list[str]) -> Computed:
    quotes = tuple(_quote(rules, rule, c) for c in cited)
    return Computed(verdict, quotes, rules.titles[rules[rule]["source"]], rule)


def _day(d: date) -> str:
    return f"{d:%A}, {d:%B} {d.day}, {d.year}"


def _return_window(asked: Asked, products: list[Product], rules: Rules) -> Computed | None:
    question, today = asked.text, asked.today
    if not (_RETURNING.search(question) and _WHEN.search(question)):
        return None
    bought = asked.bought
    if bought is None:
        return None
    window = rules["return_window"]
    holiday = window["holiday"]
    first = _date_in(holiday["from"], bought.year)
    last = _date_in(holiday["to"], bought.year)
    until = _date_in(holiday["until"], bought.year + 1)
    member = asked.member
    kinds = [True] if member else [False] if member is False else [False, True]
    ends, cited, extended = [], [], False
    for is_member in kinds:
        rule = window["member" if is_member else "standard"]
        end = bought + timedelta(days=rule["days"])
        why = f"{rule['days']} days"
        if first <= bought <= last:
            extended = True
            if until > end:
                end, why = until, f"bought in the holiday period: returns until {holiday['until']}"
            else:
                why += f", later than the {holiday['until']} holiday date"
        ends.append(("Volt Plus member" if is_member else "standard", end, why))
        cited.append(rule["cite"])
    if extended:
        cited.append(holiday["cite"])
    if len({end for _, end, _ in ends}) == 1 and len(ends) > 1:
        ends = [("standard or Volt Plus member", ends[0][1], ends[0][2])]
    shown = "; ".join(f"{_day(end)} ({who}: {why})" for who, end, why in ends)
    verdict = f"Last day to return: {shown}. Bought {_day(bought)}."
    if asked.yes_no and len(ends) == 1:
        end = ends[0][1]
        verdict = (f"Yes, it can still be returned until {_day(end)} ({ends[0][2]})." if today <= end
                   else f"No, the return window ended on {_day(end)} ({ends[0][2]}).")
        if re.search(r"\btoo late|past\b", question, re.IGNORECASE):
            verdict = ("No, not too late: " if today <= end else "Yes, too late: ") + verdict[4:]
    return _computed(verdict, "return_window", rules, list(dict.fromkeys(cited)))


def _date_in(text: str, year: int) -> date:
    month, day = text.split()
    return date(year, MONTHS[month.lower()], int(day))


def _restocking_fee(asked: Asked, products: list[Product], rules: Rules) -> Computed | None:
    question, today = asked.text, asked.today
    if not re.search(r"\brestock\w*|\bfee\b", question, re.IGNORECASE) or not (
            re.search(r"\brestock\w*", question, re.IGNORECASE) or _RETURNING.search(question)):
        return None
    fee = rules["restocking_fee"]
    exempt = fee["exempt"]
    yes_no = asked.yes_no
    no = "No, there is no " if yes_no else "No "
    if _has(question, exempt["unopened"]) and not _OPENED.search(question):
        return _computed(f"{no}restocking fee: the item is unopened.", "restocking_fee", rules,
                         [exempt["cite"]])
    if _has(question, exempt["defective"]):
        return _computed(f"{no}restocking fee on an item the Volt Tech Bench confirms is "
                         f"defective.", "restocking_fee", rules, [exempt["cite"]])
    kind, product = _product_type(question, products, fee["types"])
    if kind is None:
        return None
    names = " ".join(p.name for p in products)
    if "only_if" in kind and not any(w in f"{question} {names}".lower() for w in kind["only_if"]):
        return None  # a tablet with a SIM: the policy is quoted, not computed
    opened = "" if _OPENED.search(question) else " if opened (none if unopened)"
    if kind.get("none"):
        verdict = f"{no}restocking fee on {kind['name']}."
        if kind["name"] == "everything else" and product is not None:
            verdict = f"{no}restocking fee on the {product}."
    elif "flat" in kind:
        verdict = (f"{'Yes, ' if yes_no else ''}${kind['flat']} flat{opened} "
                   f"({kind['name']}).")
    else:
        price, whose = asked.paid, ""
        if price is None and products:
            price, whose = products[0].effective_price(today), "today's price of "
        figure = (f": ${price * kind['percent'] / 100:,.2f} on {whose}${price:,.2f}" if price
                  else "")
        verdict = (f"{'Yes, ' if yes_no else ''}{kind['percent']}% of the price paid{figure}"
                   f"{opened} ({kind['name']}).")
    return _computed(verdict, "restocking_fee", rules, [kind["cite"]])


def _product_type(question: str, products: list[Product], kinds: list[dict]):
    """(the restocking type, the product's short name) from the question's words, else from the
    first named product's name and category."""
    for kind in kinds:
        if _has(question, kind["words"]):
            return kind, None
    for product in products[:1]:
        for kind in kinds:
            if _has(product.name, kind["words"]) or product.category in kind["categories"]:
                return kind, product.name
    return None, None


def _cash_refund(asked: Asked, products: list[Product], rules: Rules) -> Computed | None:
    question = asked.text
    if not (re.search(r"\bcash\b", question, re.IGNORECASE) and
            re.search(r"\b(refund\w*|return\w*|back)\b", question, re.IGNORECASE)):
        return None
    paid = asked.paid
    if paid is None:
        return None
    rule = rules["cash_refund"]
    limit, days = rule["limit"], rule["check_days"]
    last = re.split(r"(?<=[.!?])\s+", question.strip())[-1]  # the sentence that asks
    by_check = paid > limit
    if by_check:
        said = (f"${paid:,.2f} is above the ${limit:,} cash limit: the refund is issued as a "
                f"mailed check within {days} business days.")
    else:
        said = f"cash purchases up to ${limit:,} are refunded in cash (${paid:,.2f})."
    if asked.yes_no and re.search(r"\bcash\b", last, re.IGNORECASE):
        said = ("No, " if by_check else "Yes, ") + said
    elif asked.yes_no and re.search(r"\bcheck\b", last, re.IGNORECASE):
        said = ("Yes, " if by_check else "No, ") + said
    else:
        said = said[0].upper() + said[1:]
    return _computed(said, "cash_refund", rules, [rule["cite"]])


def _plan_price(asked: Asked, products: list[Product], rules: Rules) -> Computed | None:
    question, today = asked.text, asked.today
    if not (_PLAN.search(question) and _PLAN_PRICE.search(question)):
        return None
    price, whose = asked.paid, ""
    if price is None and len(products) == 1:
        price = products[0].effective_price(today)
        whose = f" (today's price of {products[0].name})"
    if price is None:
        return None
    plans = rules["plan_prices"]
    band = next((b for b in plans["bands"] if b["from"] <= price and
                 (b.get("to") is None or price <= b["to"])), None)
    if band is None:
        return None
    term = _TERM.search(question)
    years = (int(term.group(1)) if term and term.group(1).isdigit()
             else {"one": 1, "two": 2, "three": 3}[term.group(1).lower()] if term else None)
    prices = {int(k): v for k, v in band["prices"].items()}
    note = f" ({band['note']})" if band.get("note") else ""
    if years is not None and years in prices:
        sold = f"the {years}-year plan is ${prices[years]:,.2f}{note}"
    elif years is not None:
        sold = f"there is no {years}-year plan in that band; " + _terms(prices, note)
    else:
        sold = _terms(prices, note)
    verdict = f"${price:,.2f}{whose} is in the {band['cite'].split('|')[1].strip()} band: {sold}."
    if asked.yes_no and years is not None:
        verdict = ("Yes, " if years in prices else "No, ") + verdict
    return _computed(verdict, "plan_prices", rules, [plans["cite_band"], band["cite"]])


def _terms(prices: dict[int, float], note: str) -> str:
    if len(prices) == 1:
        (years, price), = prices.items()
        return f"only the {years}-year plan, ${price:,.2f}{note}"
    return ", ".join(f"{y}-year ${p:,.2f}" for y, p in sorted(prices.items()))
