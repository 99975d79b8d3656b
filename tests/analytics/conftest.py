"""The sales database, generated once per session from the real inventory file."""

from __future__ import annotations

from pathlib import Path

import pytest

from store_assistant.analytics.layer import Layer, layer_for
from store_assistant.analytics.sales import generate
from store_assistant.config import PROJECT_DIR

INVENTORY_CSV = PROJECT_DIR / "manuals" / "inventory.csv"


@pytest.fixture(scope="session")
def sales_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(INVENTORY_CSV, tmp_path_factory.mktemp("sales") / "sales.db")


@pytest.fixture(scope="session")
def layer(sales_db: Path) -> Layer:
    return layer_for(sales_db)
