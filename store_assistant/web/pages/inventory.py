"""Managers' inventory page: search, edit price/stock/promotion, CSV import/export, audit log.

Every edit is validated by `Inventory.update()` and carries the version the manager saw, so two
managers editing one SKU cannot overwrite each other silently; an import with a bad row applies
nothing and lists every bad row.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from store_assistant.errors import StoreAssistantError
from store_assistant.store.inventory import Inventory, inventory_path
from store_assistant.store.products import Promotion
from store_assistant.web.ui import account, cached_settings, escape, open_inventory, require_manager


def inventory_page() -> None:
    st.title("Inventory")
    store = open_inventory()
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
                                      actor=account()["name"], force=True)
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
    """The edit form, checked against the version the manager first saw, not the one read on the
    Save click's rerun (Streamlit reruns the page on submit, so that would always match)."""
    if product is None:
        return
    seen_key = f"seen_version-{product.sku}"
    seen = st.session_state.setdefault(seen_key, product.version)
    if seen != product.version:
        st.warning(f"Someone else changed {product.sku} since you opened it (version {seen} -> "
                   f"{product.version}). Reload to see their change before you edit.",
                   icon=":material/sync_problem:")
        if st.button("Reload", icon=":material/refresh:", key=f"reload-{product.sku}"):
            st.session_state[seen_key] = product.version
            for key in [k for k in st.session_state if str(k).startswith(f"edit-{product.sku}-")]:
                del st.session_state[key]  # the form shows the stored values again
            st.rerun()
    field = f"edit-{product.sku}-{seen}"  # widget keys: what was typed survives another's save
    with st.form(f"edit-{product.sku}"):
        st.markdown(f"**{escape(product.name)}** (version {seen})")
        price = st.number_input("Regular price ($)", min_value=0.01, value=float(product.price),
                                step=1.0, format="%.2f", key=f"{field}-price")
        columns = st.columns(len(product.stock) or 1)
        stock = {name: column.number_input(f"Stock {name}", min_value=0, value=int(qty), step=1,
                                           key=f"{field}-stock-{name}")
                 for column, (name, qty) in zip(columns, product.stock.items())}
        promo = product.promotion
        promo_text = st.text_input("Promotion text", value=promo.text if promo else "",
                                   key=f"{field}-promo-text")
        promo_price = st.number_input("Promotion price ($, 0 = none)", min_value=0.0,
                                      value=float(promo.price) if promo else 0.0, format="%.2f",
                                      key=f"{field}-promo-price")
        start = st.date_input("Promotion start", value=promo.start if promo else date.today(),
                              key=f"{field}-promo-start")
        end = st.date_input("Promotion end", value=promo.end if promo else date.today(),
                            key=f"{field}-promo-end")
        if not st.form_submit_button("Save"):
            return
    new_promo = (Promotion(price=promo_price, start=start, end=end, text=promo_text.strip())
                 if promo_price > 0 else "clear")
    if new_promo == promo:  # unchanged (even one that has ended): leave it, so a stock edit saves
        new_promo = None
    try:
        saved = store.update(product.sku, price=price, stock=stock, promotion=new_promo,
                             expected_version=seen, actor=account()["name"])
    except StoreAssistantError as exc:
        st.error(str(exc))
        return
    st.session_state[seen_key] = saved.version
    st.success(f"Saved {product.sku}.")


require_manager()
inventory_page()
