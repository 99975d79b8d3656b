"""A product as staff and the assistant see it: price, promotion, stock per store, and how a
price is written. Plain frozen records, read from `Inventory`; the rules for changing them live
there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal


@dataclass(frozen=True)
class Promotion:
    price: float
    start: date
    end: date
    text: str

    def status(self, today: date) -> Literal["active", "expired", "upcoming"]:
        """Both ends count: a promotion from 2025-03-01 to 2025-03-31 is active on both days."""
        if today < self.start:
            return "upcoming"
        return "expired" if today > self.end else "active"


def money(value: float) -> str:
    """How a price is written for staff and in prompts: 1299.0 -> '$1,299.00'."""
    return f"${value:,.2f}"


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    brand: str
    category: str
    model: str
    price: float  # the regular price; see effective_price for what the customer pays
    promotion: Promotion | None
    stock: dict[str, int] = field(hash=False)  # store id -> units, in the stores' order
    aisle: str
    manual: str
    aliases: tuple[str, ...]
    version: int  # bumped by every change; `update(expected_version=...)` checks it

    def active_promotion(self, today: date) -> Promotion | None:
        promotion = self.promotion
        return promotion if promotion and promotion.status(today) == "active" else None

    def effective_price(self, today: date) -> float:
        """The promotion's price on the days it runs, the regular price on every other day."""
        promotion = self.active_promotion(today)
        return promotion.price if promotion else self.price

    def to_dict(self, today: date) -> dict:
        """JSON-ready, with what `today` means for it: the effective price and promotion status."""
        promotion = self.promotion
        return {"sku": self.sku, "name": self.name, "brand": self.brand,
                "category": self.category, "model": self.model, "price": self.price,
                "effective_price": self.effective_price(today),
                "promotion": None if promotion is None else {
                    "price": promotion.price, "start": promotion.start.isoformat(),
                    "end": promotion.end.isoformat(), "text": promotion.text,
                    "status": promotion.status(today)},
                "stock": dict(self.stock), "aisle": self.aisle, "manual": self.manual,
                "aliases": list(self.aliases), "version": self.version}
