"""AppTest drives the real app.py to "Ask the numbers": managers only, the answer in words, the
table, the chart, the metric's definition, the SQL and the CSV, over a generated sales history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import store_assistant.web.ui as ui
from store_assistant.config import load_settings
from tests.conftest import sign_in_as_manager
from tests.fakes import ScriptedGateway

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "store_assistant/web/pages/numbers.py"


def query(**fields) -> str:
    return json.dumps({"action": "answer", "metric": "units_sold", "group_by": [], "store": "",
                       "category": "", "brand": "", "product": "", "period": "all",
                       "order": "none", "limit": 0, **fields})


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORE_ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def open_page() -> AppTest:
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    sign_in_as_manager(at, load_settings())
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Ask the numbers"
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.text_input[0].set_value(question)
    next(b for b in at.button if b.label == "Ask").click()
    at.run()
    assert not at.exception, at.exception
    return at


def scripted(monkeypatch: pytest.MonkeyPatch, *replies: str) -> ScriptedGateway:
    model = ScriptedGateway(*replies)
    monkeypatch.setattr(ui, "cached_gateway", lambda name: model)
    return model


def test_staff_do_not_get_the_page(data_dir: Path) -> None:
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)  # not registered for this session at all


def test_a_time_series_is_a_line_with_its_table_definition_sql_and_csv(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, query(metric="revenue", group_by=["month"], category="laptops"))
    at = ask(open_page(), "Revenue by month for laptops")
    assert at.success[0].value.startswith("Revenue \\(by month, laptops")
    table = at.dataframe[0].value
    assert list(table.columns) == ["month", "revenue"] and len(table) == 12
    chart = at.get("vega_lite_chart")[0].proto.spec
    assert '"line"' in chart
    assert "strftime" in at.code[0].value.lower() and "laptops" in at.code[0].value
    assert any("version 1" in m.value and "Money taken at the till" in m.value
               for m in at.markdown)
    assert at.get("download_button")


def test_a_breakdown_is_bars(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, query(group_by=["store"], period="last_month"))
    at = ask(open_page(), "Units by store last month")
    assert len(at.dataframe[0].value) == 3
    assert '"bar"' in at.get("vega_lite_chart")[0].proto.spec


def test_a_refusal_and_a_bad_query_are_said_not_raised(data_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    model = scripted(monkeypatch, query(store="eastside"))
    at = ask(open_page(), "Which customer bought the most?")
    assert "no customer or staff personal data" in at.info[0].value
    assert not at.code and model.sent == []  # refused by code, the model never asked
    ask(at, "Units at eastside")
    assert "No store 'eastside'" in at.warning[0].value.replace("\\", "")


def test_raw_sql_mode_blocks_a_write(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, "DROP TABLE daily_sales")
    at = open_page()
    at.segmented_control(key="numbers_mode").set_value("Model writes SQL (experimental)").run()
    ask(at, "Drop the sales table")
    assert "Only SELECT is allowed" in at.info[0].value.replace("\\", "") or \
        "can't answer" in at.info[0].value.replace("\\", "")
    assert "DROP TABLE daily_sales" in at.code[0].value


def test_the_embedded_model_answers_on_the_page(data_dir: Path) -> None:
    at = ask(open_page(), "What was the revenue at downtown last month?")
    shown = [*at.success, *at.info, *at.warning]
    assert len(shown) == 1
    assert "sql-semantic · local/" in at.caption[-1].value or any(
        "sql-semantic" in c.value for c in at.caption)
