"""Store Assistant: the staff chat page and the managers' inventory page.

Run with `make run` (or `streamlit run app.py`). Models, the knowledge index and settings are loaded
once per process (`st.cache_resource`); answers stream in as they are generated; each answer shows
its strategy, model and timing, a fact card read live from the inventory, and its sources.
Failures are shown as messages, not tracebacks.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from store_assistant.config import Settings, load_settings
from store_assistant.errors import DataError, StoreAssistantError
from store_assistant.facts import money
from store_assistant.inventory import Inventory, Promotion, inventory_path
from store_assistant.llm import Gateway
from store_assistant.questions import validate_question
from store_assistant.strategies import (DEFAULT_STRATEGY, STRATEGIES, Strategy, build_strategy,
                                        describe)

st.set_page_config(page_title="Store Assistant", page_icon=":material/storefront:", layout="centered")


@st.cache_resource(show_spinner=False)
def cached_settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner="Loading the model (first start only)...")
def cached_gateway(model: str) -> Gateway:
    gateway = Gateway(cached_settings(), model)
    gateway.load()
    return gateway


@st.cache_resource(show_spinner="Opening the store's knowledge (first start only)...")
def cached_strategy(name: str, model: str) -> Strategy:
    return build_strategy(name, cached_gateway(model), cached_settings())


def inventory() -> Inventory | None:
    path = inventory_path(cached_settings())
    return Inventory(path) if path.exists() else None


def caption(meta: dict) -> str:
    parts = [meta["strategy"], meta["model"], f"{meta['latency_ms'] / 1000:.1f} s"]
    if meta.get("ttft_ms") is not None:
        parts.append(f"first words {meta['ttft_ms'] / 1000:.1f} s")
    if meta.get("usage"):
        parts.append(f"{meta['usage'].get('total_tokens', 0)} tokens")
    parts += [flag for flag in meta.get("flags", []) if not flag.startswith("linked:")]
    return " · ".join(parts)


def escape(text: str) -> str:
    """Markdown-inert text: source text must never render as links, images or HTML."""
    return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|~$" else c for c in text)


def fact_card(sku: str) -> None:
    """Live facts for one product: read now, so an edit shows up without re-asking."""
    store = inventory()
    product = store.lookup(sku) if store else None
    if product is None:
        return
    today = date.today()
    promo = product.active_promotion(today)
    with st.container(border=True):
        st.markdown(f"**{escape(product.name)}**  \nSKU `{product.sku}`"
                    + (f" · aisle {escape(product.aisle)}" if product.aisle else ""))
        price = money(product.effective_price(today))
        if promo:
            st.markdown(f"**{price}** ~~{money(product.price)}~~ · {escape(promo.text)} "
                        f"(until {promo.end.isoformat()})")
        else:
            st.markdown(f"**{price}**")
        columns = st.columns(len(product.stock) or 1)
        for column, (name, qty) in zip(columns, product.stock.items()):
            column.metric(f"Stock {name}", qty)


def show_body(turn: dict) -> None:
    """One turn's content, inside its chat bubble."""
    if turn.get("error"):
        st.error(turn["content"], icon=":material/error:")
        return
    st.markdown(turn["content"])
    meta = turn.get("meta")
    if not meta:
        return
    st.caption(caption(meta))
    for source in meta.get("sources", []):
        if source["kind"] == "inventory":
            fact_card(source["id"])
    documents = [s for s in meta.get("sources", []) if s["kind"] != "inventory"]
    if documents:
        with st.expander(f"Sources ({len(documents)})"):
            for source in documents:
                st.markdown(f"**{escape(source['title'])}** › {escape(source['heading'])} "
                            f"· `{source['id']}`")
                st.text(source["text"])
    if meta.get("reasoning"):
        with st.expander("Reasoning (hidden from the reply)"):
            st.text(meta["reasoning"])


def model_history(turns: list[dict]) -> list[dict[str, str]]:
    """Earlier turns for the model: answered pairs only, failed attempts left out."""
    history = []
    for question, reply in zip(turns[::2], turns[1::2]):
        if not reply.get("error"):
            history += [{"role": "user", "content": question["content"]},
                        {"role": "assistant", "content": reply["content"]}]
    return history


# --- staff chat ------------------------------------------------------------------------------

def chat_page() -> None:
    settings = cached_settings()
    turns: list[dict] = st.session_state.setdefault("turns", [])
    with st.sidebar:
        names = list(STRATEGIES)
        strategy_name = st.selectbox("Strategy", names, index=names.index(DEFAULT_STRATEGY),
                                     help="How the assistant answers. Managers compare them on "
                                          "the scorecard.")
        st.caption(describe(strategy_name))
        st.caption(f"Model: `{settings.llm}`")
        if st.button("New conversation", icon=":material/refresh:", disabled=not turns):
            turns.clear()
            st.rerun()

    st.title("Ask the store assistant")
    st.caption("Prices, stock, specs, compatibility, promotions, returns and warranty.")
    for turn in turns:
        with st.chat_message(turn["role"]):
            show_body(turn)

    prompt = st.chat_input("Ask about a product, price, stock or policy...")
    if not prompt:
        return
    try:
        question = validate_question(prompt)
    except DataError as exc:
        st.warning(str(exc), icon=":material/edit:")
        return
    history = model_history(turns)
    turns.append({"role": "user", "content": question})
    with st.chat_message("user"):
        show_body(turns[-1])
    with st.chat_message("assistant"):
        placeholder = st.empty()
        try:
            stream = cached_strategy(strategy_name, settings.llm).stream(question, history)
            streamed = ""
            for piece in stream:
                streamed += piece
                placeholder.markdown(streamed + " ▌")
            answer = stream.answer
            meta = {key: getattr(answer, key) for key in
                    ("strategy", "model", "latency_ms", "ttft_ms", "usage", "flags", "reasoning")}
            meta["sources"] = [source.__dict__ for source in answer.sources]
            reply = {"role": "assistant", "content": answer.text, "meta": meta}
        except StoreAssistantError as exc:
            reply = {"role": "assistant", "content": str(exc), "error": True}
        turns.append(reply)
        with placeholder.container():
            show_body(reply)


# --- managers: inventory ---------------------------------------------------------------------

def inventory_page() -> None:
    st.title("Inventory")
    store = inventory()
    if store is None:
        st.error(f"No inventory database at {inventory_path(cached_settings())}. Run `make data` "
                 f"or `store-assistant ingest`.")
        return
    today = date.today()
    query = st.text_input("Search by SKU, name, brand or model", key="inventory_query")
    products = store.search(query, limit=200) if query.strip() else store.products()
    table = pd.DataFrame([{
        "SKU": p.sku, "Name": p.name, "Category": p.category,
        "Price": p.price, "Price today": p.effective_price(today),
        "Promotion": p.promotion.text if p.promotion else "",
        "Promotion status": p.promotion.status(today) if p.promotion else "",
        **{f"Stock {name}": qty for name, qty in p.stock.items()}, "Aisle": p.aisle,
    } for p in products])
    st.caption(f"{len(products)} products")
    st.dataframe(table, hide_index=True, use_container_width=True)

    skus = [p.sku for p in products]
    if skus:
        sku = st.selectbox("Edit product", skus, format_func=lambda s: f"{s} · "
                           + next(p.name for p in products if p.sku == s), key="edit_sku")
        edit_form(store, store.lookup(sku))

    st.subheader("Import and export")
    upload = st.file_uploader("Import a CSV (same columns as the export)", type=["csv"])
    if upload is not None and st.button("Apply import", key="apply_import"):
        try:
            report = store.import_csv(upload.getvalue().decode("utf-8", errors="replace"),
                                      actor="manager", force=True)
            st.success(f"Imported: {report}")
        except StoreAssistantError as exc:
            st.error(f"Nothing was imported.\n\n{exc}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "inventory.csv"
        store.export_csv(path)
        st.download_button("Export CSV", path.read_bytes(), file_name="inventory.csv",
                           mime="text/csv")

    st.subheader("Audit log")
    st.dataframe(pd.DataFrame(store.audit(limit=50)), hide_index=True, use_container_width=True)


def edit_form(store: Inventory, product) -> None:
    if product is None:
        return
    with st.form(f"edit-{product.sku}"):
        st.markdown(f"**{escape(product.name)}** (version {product.version})")
        price = st.number_input("Regular price ($)", min_value=0.01, value=float(product.price),
                                step=1.0, format="%.2f")
        columns = st.columns(len(product.stock) or 1)
        stock = {name: column.number_input(f"Stock {name}", min_value=0, value=int(qty), step=1)
                 for column, (name, qty) in zip(columns, product.stock.items())}
        promo = product.promotion
        promo_text = st.text_input("Promotion text", value=promo.text if promo else "")
        promo_price = st.number_input("Promotion price ($, 0 = none)", min_value=0.0,
                                      value=float(promo.price) if promo else 0.0, format="%.2f")
        start = st.date_input("Promotion start", value=promo.start if promo else date.today())
        end = st.date_input("Promotion end", value=promo.end if promo else date.today())
        if not st.form_submit_button("Save"):
            return
    new_promo = (Promotion(price=promo_price, start=start, end=end, text=promo_text.strip())
                 if promo_price > 0 else "clear")
    try:
        store.update(product.sku, price=price, stock=stock, promotion=new_promo,
                     expected_version=product.version, actor="manager")
        st.success(f"Saved {product.sku}.")
    except StoreAssistantError as exc:
        st.error(str(exc))


# --- navigation ------------------------------------------------------------------------------

try:
    cached_settings()
except StoreAssistantError as exc:
    st.error(f"Settings problem: {exc}", icon=":material/settings:")
    st.stop()

st.navigation([st.Page(chat_page, title="Chat", icon=":material/chat:", default=True),
               st.Page(inventory_page, title="Inventory", icon=":material/inventory_2:",
                       url_path="inventory")]).run()
