"""The layer's words found in a question: what code alone can read from it, without a model.

`find_terms` matches the semantic layer's synonyms (stores, categories, brands, segments,
products' models and aliases, periods, metrics, breakdown and ranking words). The sql-semantic
prompt shows the model these terms, and `keyword_query` builds a metric query from them with no
model at all: the `control-keywords` arm every model is measured against. Trade-off: plain
substring and pattern matching; a word the layer does not list is not seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from store_assistant.analytics.layer import Layer, MetricQuery
from store_assistant.analytics.readonly import run_sql

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_QUARTER_MONTHS = {("january", "march"): 1, ("april", "june"): 2, ("july", "september"): 3,
                   ("october", "december"): 4}
_BREAKDOWN = re.compile(r"\b(?:by|per|each|every|split by|broken down by)\s+(?:\w+\s+)?"
                        r"(store|location|branch|shop|category|department|brand|maker|"
                        r"manufacturer|product|model|item|day|week|month|quarter)s?\b")
_MONTHLY = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter"}
_WHICH = re.compile(r"\b(?:which|what)\s+(?:\w+\s+){0,2}?(store|location|branch|shop|category|"
                    r"department|brand|maker|product|model|item)s?\b")
_RANKED_DIMENSION = re.compile(r"(?<!this )(?<!last )(?<!past )(?<!previous )(?<!per )\b(store|location|branch|shop|category|department|brand|maker|"
                               r"manufacturer|month|week|quarter|day)s?\b")
_HIGHEST = re.compile(r"\b(most|highest|top|best|biggest|largest|greatest|more|led|leading)\b")
_LOWEST = re.compile(r"\b(least|lowest|worst|fewest|smallest|bottom)\b")
_TOP_N = re.compile(r"\b(?:top|best|bottom|worst|which|(?:the\s+)?(?:highest|lowest))\s+(\d+|three|five|"
                    r"ten|two|four)\b|\b(\d+|three|five|ten|two|four)\s+(?:best|top|worst)\b")
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "ten": 10}
_WRITE = re.compile(r"^\s*(?:please\s+|can you\s+|could you\s+)?(delete|remove|drop|update|set|"
                    r"change|add|insert|record|edit|erase|wipe|truncate|increase|lower|raise)\b")
# Asking who: a person's identity or contact, not a number about sales.
_PERSONAL = re.compile(r"\b((?:which|what|top|biggest|best|name the|names? of(?: the)?)\s+"
                       r"(?:\w+\s+)?(?:customers?|shoppers?|buyers?|spenders?|staff members?|"
                       r"employees?|cashiers?|salespeople|salesperson|sales reps?|associates?)|"
                       r"who (?:bought|returned|spent|sold|is our)|e-?mails?(?: address(?:es)?)?|"
                       r"phone numbers?|home address(?:es)?|names? of|top salesperson|"
                       r"staff member)\b")
_SYNONYM_DIMENSION = {"categorie": "category", "location": "store", "branch": "store", "shop": "store",
                      "department": "category", "maker": "brand", "manufacturer": "brand",
                      "model": "product", "item": "product"}


@dataclass(frozen=True)
class Term:
    """One match: the words in the question and what they mean in the layer."""
    words: str
    dimension: str  # store | category | brand | product | period | metric | group_by | order | limit | refuse
    value: str

    def __str__(self) -> str:
        return f"'{self.words}' = {self.dimension} {self.value}"


def find_terms(layer: Layer, question: str, database: Path | str | None = None) -> list[Term]:
    text = " " + re.sub(r"[^\w\s'-]", " ", question.lower()) + " "
    text = re.sub(r"(?<=[a-z])-(?=to\b|date\b|through\b)|(?<=\bto)-(?=date\b)", " ", text)
    terms: list[Term] = []
    write = _WRITE.search(text)
    if write:
        terms.append(Term(write.group(1), "refuse", "write_request"))
    personal = _PERSONAL.search(text)
    if personal:
        terms.append(Term(personal.group(1), "refuse", "personal_data"))
    missing = next((w for w in layer.missing_words if _has(text, w.lower())), None)
    if missing:
        terms.append(Term(missing, "refuse", "no_such_metric"))
    product = _product(text, database) if database is not None else None
    if product:  # a model or alias named in full beats a segment's word ("MacBook Air" > "MacBook")
        terms.append(Term(product, "product", product))
    for name, spec in layer.segments.items():
        if _has(text, name) or _has(text, name.rstrip("s")):
            terms += [Term(name, d, str(v)) for d, v in spec.items()
                      if not (d == "product" and product)]
    for dimension in ("store", "category"):
        words = layer.dimensions[dimension].get("values", {})
        for value in layer.values(dimension):
            for word in sorted({value, *words.get(value, ())}, key=len, reverse=True):
                if _has(text, word.lower()) and not any(t.dimension == dimension for t in terms):
                    terms.append(Term(word, dimension, value))
    for brand in layer.brands:
        if _has(text, brand.lower()):
            terms.append(Term(brand, "brand", brand))
    terms += _periods(layer, text)
    metric = _metric(layer, text)
    if metric:
        terms.append(metric)
    for match in _BREAKDOWN.finditer(text):
        terms.append(Term(match.group(0).strip(), "group_by",
                          _SYNONYM_DIMENSION.get(match.group(1), match.group(1))))
    for word, grain in _MONTHLY.items():
        if _has(text, word):
            terms.append(Term(word, "group_by", grain))
    ranking = _HIGHEST.search(text) or _LOWEST.search(text)
    which = _WHICH.search(text)
    if ranking and (which or _TOP_N.search(text) or re.search(r"\bwhich\b", text)):
        terms.append(Term(ranking.group(1), "order",
                          "highest" if _HIGHEST.search(text) else "lowest"))
        ranked_by = which or _RANKED_DIMENSION.search(text)
        if ranked_by:
            terms.append(Term(ranked_by.group(0).strip(), "group_by",
                              _SYNONYM_DIMENSION.get(ranked_by.group(1), ranked_by.group(1))))
        count = _TOP_N.search(text)
        number = (count.group(1) or count.group(2)) if count else "1"
        terms.append(Term(count.group(0) if count else ranking.group(1), "limit",
                          str(_NUMBERS.get(number, number))))
    return terms


def keyword_query(layer: Layer, question: str,
                  database: Path | str | None = None) -> tuple[MetricQuery | None, str | None]:
    """(query, None) or (None, refusal): the metric query the layer's words alone make."""
    terms = find_terms(layer, question, database)
    first = {}
    for term in terms:
        first.setdefault(term.dimension, term.value)
    if "refuse" in first:
        return None, first["refuse"]
    if "metric" not in first:
        return None, "no_such_metric"
    metric = layer.metrics[first["metric"]]
    group_by = tuple(dict.fromkeys(t.value for t in terms if t.dimension == "group_by"))
    if metric.name == "average_daily_units":  # "per day" is the metric here, not a breakdown
        group_by = tuple(d for d in group_by if d != "day")
    ranked = "order" in first
    if ranked and not group_by:
        group_by = ("product",)
    # A word the metric's own definition covers ("accessory attach rate") is not a filter.
    allowed = {d: first.get(d, "") if d in metric.dimensions else ""
               for d in ("store", "category", "brand", "product")}
    return MetricQuery(metric=first["metric"], group_by=tuple(d for d in group_by
                                                              if d in metric.dimensions)[:2],
                       **allowed,
                       period=first.get("period", "all"), order=first.get("order", "none"),
                       limit=int(first.get("limit", 0)) if ranked else 0), None


# --- matchers ---------------------------------------------------------------------------------

def _has(text: str, words: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(words)}(?![\w-])", text) is not None


def _periods(layer: Layer, text: str) -> list[Term]:
    found = [Term(words, "period", name) for words, name in layer.period_words
             if _has(text, words)]
    names = layer.periods()
    for match in re.finditer(r"\b(\d{4})-(\d{2})\b", text):
        if f"{match.group(1)}-{match.group(2)}" in names:
            found.append(Term(match.group(0), "period", match.group(0)))
    for match in re.finditer(r"\bq([1-4])(?:\s+(?:of\s+)?(\d{4}))?\b", text):
        years = [match.group(2)] if match.group(2) else sorted(
            {name[:4] for name in names if name.endswith(f"Q{match.group(1)}")}, reverse=True)
        for year in years:
            if f"{year}-Q{match.group(1)}" in names:
                found.append(Term(match.group(0), "period", f"{year}-Q{match.group(1)}"))
                break
    for (first, last), quarter in _QUARTER_MONTHS.items():
        span = re.search(rf"\b{first[:3]}\w*\s+(?:through|thru|to|until|-)\s+{last[:3]}\w*", text)
        if span:
            name = max((n for n in names if n.endswith(f"Q{quarter}")), default=None)
            if name:
                return [Term(span.group(0), "period", name)]
    for number, month in enumerate(_MONTHS, 1):
        if _has(text, month) or (len(month) > 4 and _has(text, month[:3])):
            latest = max((n for n in names if n[:1].isdigit() and n.endswith(f"-{number:02d}")),
                         default=None)
            if latest:
                found.append(Term(month, "period", latest))
    return found


def _metric(layer: Layer, text: str) -> Term | None:
    """The metric whose longest synonym (or name) appears in the question; a weak word ("how
    many", "sales") only when no metric's own words do."""
    for weak in (False, True):
        best: Term | None = None
        for metric in layer.metrics.values():
            words = metric.weak_synonyms if weak else (
                metric.name.replace("_", " "), metric.label.lower(), *metric.synonyms)
            for word in words:
                word = word.lower()
                if _has(text, word) and (best is None or len(word) > len(best.words)):
                    best = Term(word, "metric", metric.name)
        if best:
            return best
    return None


def _product(text: str, database: Path | str) -> str | None:
    """The longest product model or alias written in the question ("wh-1000xm5", "macbook air")."""
    keys = {key.strip().lower() for model, aliases in
            run_sql(database, "SELECT model, aliases FROM products").rows
            for key in [model, *aliases.split(";")] if len(key.strip()) >= 4}
    found = [key for key in keys if _has(text, key)]
    return max(found, key=len) if found else None
