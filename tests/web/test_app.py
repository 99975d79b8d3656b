"""AppTest drives the real app.py: a two-turn conversation on the embedded model, and failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from store_assistant.answering.guard import PRICE_PATTERN
from store_assistant.web.ui import reply_markdown
from tests.conftest import TEST_MAX_TOKENS, sign_in_as_manager

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("STORE_ASSISTANT_MAX_TOKENS", str(TEST_MAX_TOKENS))
    st.cache_resource.clear()  # settings are cached per process; each test sets its own
    return AppTest.from_file(APP, default_timeout=180)


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question)
    return at.run()


def test_two_turn_conversation(app: AppTest) -> None:
    at = app.run()
    assert not at.exception
    assert at.selectbox[0].value == "rag-hybrid"
    at.selectbox[0].set_value("pe-few-shot").run()

    ask(at, "Hi, is the Sony WH-1000XM5 good for travel?")
    ask(at, "and is it in stock downtown?")
    assert not at.exception

    turns = at.session_state["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[2]["content"] == "and is it in stock downtown?"
    first, second = turns[1]["meta"], turns[3]["meta"]
    assert first["strategy"] == second["strategy"] == "pe-few-shot"
    # The follow-up carried the first exchange to the model: its prompt is longer by about that much.
    assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"] + 20

    bubbles = at.chat_message
    assert [b.name for b in bubbles] == ["user", "assistant", "user", "assistant"]
    # Prompt-only answers have no store data: the guard hid any price in them before the page.
    assert bubbles[3].markdown[0].value == reply_markdown(turns[3]["content"])
    assert not PRICE_PATTERN.search(turns[3]["content"])
    footer = bubbles[3].caption[0].value
    assert footer.startswith("pe-few-shot · local/smollm2-135m · ") and " s" in footer


def test_a_question_cut_short_by_a_rerun_is_answered_then_the_next(app: AppTest) -> None:
    """Any input while an answer streams reruns the page, which stops that answer. Its question
    stays in the conversation unanswered (where a browser used to leave it for good); the next
    run answers it, under it, before anything else: no question is lost."""
    at = app.run()
    at.selectbox[0].set_value("pe-zero-shot").run()
    at.session_state["turns"] = [{"role": "user", "content": "What is a soundbar?"}]
    at.run()
    ask(at, "And what is a subwoofer?")
    assert not at.exception
    turns = at.session_state["turns"]
    assert [(t["role"], t.get("error", False)) for t in turns] == [
        ("user", False), ("assistant", False), ("user", False), ("assistant", False)]
    assert [t["content"] for t in turns[::2]] == ["What is a soundbar?", "And what is a subwoofer?"]
    assert [b.name for b in at.chat_message] == ["user", "assistant", "user", "assistant"]
    assert not at.chat_input[0].disabled  # every question answered: the box is open again


class _Broken:
    """A strategy with a bug: it fails after the first words of its answer."""
    class gateway:
        model = "scripted/broken"

    class _Stream:
        restarted = False

        def __iter__(self):
            yield "The first words"
            raise RuntimeError("a bug")

    def stream(self, question, history):
        return self._Stream()


def test_the_box_is_disabled_while_an_answer_is_written(app: AppTest, monkeypatch) -> None:
    """The box is drawn disabled before the answer starts, so nothing typed can cut it short; even
    a bug mid-answer leaves an error turn, so the box does not stay disabled."""
    from store_assistant.web.pages import chat

    assert chat.unanswered([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                            {"role": "user", "content": "c"}, {"role": "user", "content": "d"}]) == [2, 3]
    monkeypatch.setattr(chat, "cached_strategy", lambda name, llm: _Broken())
    at = app.run()
    ask(at, "Is the XM5 in stock?")
    assert at.exception and "a bug" in at.exception[0].value  # the run that was answering
    assert at.chat_input[0].disabled  # ... drew the box disabled before it started
    assert [t["role"] for t in at.session_state["turns"]] == ["user", "assistant"]
    assert at.session_state["turns"][1]["error"] is True
    assert not at.run().chat_input[0].disabled


def test_strategy_picker_changes_the_strategy(app: AppTest) -> None:
    at = app.run()
    at.selectbox[0].set_value("pe-zero-shot").run()
    ask(at, "What is a soundbar?")
    assert at.session_state["turns"][-1]["meta"]["strategy"] == "pe-zero-shot"


def test_bad_question_gets_a_message_and_changes_nothing(app: AppTest) -> None:
    at = app.run()
    ask(at, "x" * 50_000)
    assert not at.exception
    assert "limit is 2,000" in at.warning[0].value
    assert at.session_state["turns"] == []


def test_model_failure_is_a_message_not_a_traceback(app: AppTest, monkeypatch) -> None:
    monkeypatch.setenv("STORE_ASSISTANT_LLM", "ollama/llama3.2")
    monkeypatch.setenv("STORE_ASSISTANT_API_BASE", "http://127.0.0.1:9")
    monkeypatch.setenv("STORE_ASSISTANT_MAX_RETRIES", "0")
    at = app.run()
    at.selectbox[0].set_value("pe-zero-shot").run()
    ask(at, "Do you sell webcams?")
    assert not at.exception
    assert "Could not reach the server for ollama/llama3.2" in at.error[0].value
    assert at.session_state["turns"][-1]["error"] is True


def test_bad_settings_are_shown_on_the_page(app: AppTest, monkeypatch) -> None:
    monkeypatch.setenv("STORE_ASSISTANT_THREADS", "many")
    at = app.run()
    assert not at.exception
    assert "STORE_ASSISTANT_THREADS" in at.error[0].value


def test_rag_answer_shows_fact_card_and_sources(app: AppTest, monkeypatch, store_settings) -> None:
    from store_assistant.store.inventory import Inventory, inventory_path

    product = next(p for p in Inventory(inventory_path(store_settings)).products() if p.manual)
    monkeypatch.setenv("STORE_ASSISTANT_DATA_DIR", str(store_settings.data_dir))
    at = app.run()
    ask(at, f"Is SKU {product.sku} in stock, and what is in the box?")
    assert not at.exception
    meta = at.session_state["turns"][-1]["meta"]
    assert meta["strategy"] == "rag-hybrid"
    bubble = at.chat_message[1]
    card = bubble.markdown[1].value  # the fact card follows the answer text
    assert product.name.split(" ")[0] in card and product.sku in card
    stock_labels = [metric.label for metric in bubble.metric]
    assert stock_labels == [f"Stock {store}" for store in product.stock]
    assert [metric.value for metric in bubble.metric] == [str(q) for q in product.stock.values()]
    assert bubble.expander[0].label.startswith("Sources (")


def test_inventory_page_lists_products(app: AppTest, monkeypatch, store_settings) -> None:
    monkeypatch.setenv("STORE_ASSISTANT_DATA_DIR", str(store_settings.data_dir))
    at = app.run()
    sign_in_as_manager(at, store_settings)
    at.switch_page("store_assistant/web/pages/inventory.py")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Inventory"
    assert len(at.dataframe[0].value) >= 150


def test_missing_store_data_says_how_to_prepare_it(app: AppTest) -> None:
    at = app.run()  # rag-hybrid, the default, with no data directory prepared
    ask(at, "Is the MacBook in stock?")
    assert not at.exception
    assert "Run `make data`" in at.error[0].value


def inventory_page_as_maria(app: AppTest, monkeypatch, store_settings) -> AppTest:
    monkeypatch.setenv("STORE_ASSISTANT_DATA_DIR", str(store_settings.data_dir))
    at = app.run()
    sign_in_as_manager(at, store_settings, name="maria")
    at.switch_page("store_assistant/web/pages/inventory.py")
    return at.run()


def test_inventory_edit_form_saves_with_audit(app: AppTest, monkeypatch, store_settings) -> None:
    from store_assistant.store.inventory import Inventory, inventory_path

    inventory = Inventory(inventory_path(store_settings))
    product = inventory.products()[0]
    at = inventory_page_as_maria(app, monkeypatch, store_settings)
    try:
        at.number_input[0].set_value(product.price + 5)
        next(b for b in at.button if b.label == "Save").click()
        at.run()
        assert not at.exception
        assert at.success[0].value == f"Saved {product.sku}."
        assert inventory.lookup(product.sku).price == pytest.approx(product.price + 5)
        assert inventory.audit(limit=1, sku=product.sku)[0]["actor"] == "maria"  # who, not a role
    finally:
        inventory.update(product.sku, price=product.price, actor="test")


def test_two_managers_editing_one_sku_lose_no_update(app: AppTest, monkeypatch,
                                                     store_settings) -> None:
    """Maria opens the form; Sam saves a new price; Maria's Save is refused, not applied over
    Sam's, and Reload shows Sam's price."""
    from store_assistant.store.inventory import Inventory, inventory_path

    inventory = Inventory(inventory_path(store_settings))
    product = inventory.products()[1]
    at = inventory_page_as_maria(app, monkeypatch, store_settings)
    at.selectbox(key="edit_sku").set_value(product.sku).run()
    try:
        inventory.update(product.sku, price=product.price + 20, actor="sam")  # the other manager
        at.number_input[0].set_value(product.price + 7)  # Maria's edit, typed before she knew
        next(b for b in at.button if b.label == "Save").click()
        at.run()
        assert not at.exception
        assert "was changed by someone else" in at.error[0].value
        assert inventory.lookup(product.sku).price == pytest.approx(product.price + 20)  # Sam's
        assert "Someone else changed" in at.warning[0].value
        next(b for b in at.button if b.label == "Reload").click()
        at.run()
        assert at.number_input[0].value == pytest.approx(product.price + 20)  # now she sees it
        at.number_input[0].set_value(product.price + 7)
        next(b for b in at.button if b.label == "Save").click()
        at.run()
        assert at.success[0].value == f"Saved {product.sku}."
        assert inventory.lookup(product.sku).price == pytest.approx(product.price + 7)
    finally:
        inventory.update(product.sku, price=product.price, actor="test")


def test_model_picker_answers_with_the_chosen_model(app: AppTest, monkeypatch, tmp_path) -> None:
    from store_assistant.inference.local import embedded_model_path

    config = tmp_path / "store_assistant.toml"  # a second model: your own GGUF, by configuration
    config.write_text(f'[local_models]\ncopy = "{embedded_model_path()}"\n', encoding="utf-8")
    monkeypatch.setenv("STORE_ASSISTANT_CONFIG", str(config))
    at = app.run()
    picker = at.selectbox(key="model")
    assert picker.value == "local/smollm2-135m"  # the configured model comes first
    assert "copy (your GGUF)" in picker.options
    picker.set_value("local/copy").run()
    at.selectbox[0].set_value("pe-zero-shot").run()
    ask(at, "What is a soundbar?")
    assert not at.exception
    assert at.session_state["turns"][-1]["meta"]["model"] == "local/copy"
    at.selectbox[0].set_value("finetuned").run()  # an adapter has its own base: no choice
    assert at.selectbox(key="model").disabled
