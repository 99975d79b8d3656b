"""Shared pieces of the Streamlit pages: cached resources and how an answer is drawn.

Resources are cached per process (`st.cache_resource`) so the model, the knowledge index and the
settings load once however many reruns and sessions there are. Anything shown from store data goes
through `escape()`, so a manual or inventory text can never render as a link, image or HTML.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import date

import streamlit as st

from store_assistant.store.answer_log import MAX_CORRECTION, AnswerLog, answer_log
from store_assistant.config import Settings, load_settings
from store_assistant.errors import DataError
from store_assistant.answering.guard import hold_figures
from store_assistant.web.markdown import safe_markdown
from store_assistant.store.inventory import Inventory, inventory_path
from store_assistant.store.products import money
from store_assistant.inference.gateway import Gateway
from store_assistant.answering.strategies import Strategy, build_strategy


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
    """The strategy the chat asks: its answers and errors go to the answer log as the shop
    floor's (door "app")."""
    return build_strategy(name, cached_gateway(model), cached_settings(),
                          answer_log=answer_log_here(), door="app")


# Asked once per process, off the record (no answer log): it reads the index, embeds, ranks lines
# and runs the model through a first prompt, so staff's first question does not pay for cold caches.
WARM_UP_QUESTION = "Does it support Bluetooth, and how do I reset it?"
log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def warm_up(name: str, model: str) -> threading.Thread:
    """Warm the strategy in the background, once per process and strategy: the page stays
    usable, and a question asked meanwhile waits for the model's lock like any other."""
    strategy = cached_strategy(name, model)
    thread = threading.Thread(target=_warm, args=(strategy,), name="warm-up", daemon=True)
    thread.start()
    return thread


def _warm(strategy: Strategy) -> None:
    """The index always; the model only when it runs in this process (a remote model is warm
    already, and a call to it may cost money)."""
    try:
        draft = strategy.draft(WARM_UP_QUESTION)
        if draft.messages and strategy.gateway.is_local:
            strategy.gateway.complete(draft.messages, **{**draft.params, "max_tokens": 8})
    except Exception:  # a failed warm-up costs only time; the real question reports its error
        log.warning("warm-up failed", exc_info=True)


def open_inventory() -> Inventory | None:
    """The live inventory, or None before `make data`. Every fact card calls this, so the
    (connection-per-operation) Inventory object is made once per database, not per card."""
    path = inventory_path(cached_settings())
    return _inventory_at(str(path)) if path.exists() else None


@st.cache_resource(show_spinner=False)
def _inventory_at(path: str) -> Inventory:
    return Inventory(path)


def caption(meta: dict) -> str:
    parts = [meta["strategy"], meta["model"], f"{meta['latency_ms'] / 1000:.1f} s"]
    if meta.get("ttft_ms") is not None:
        parts.append(f"first words {meta['ttft_ms'] / 1000:.1f} s")
    if meta.get("usage"):
        parts.append(f"{meta['usage'].get('total_tokens', 0)} tokens")
    parts += [flag for flag in meta.get("flags", [])
              if not flag.startswith("linked:") and flag != "prices_hidden"]
    return " · ".join(parts)


def escape(text: str) -> str:
    """Markdown-inert text: source text must never render as links, images or HTML."""
    return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|~$" else c for c in text)


def reply_markdown(text: str) -> str:
    """A model's reply as markdown, minus what an injected instruction could turn on staff:
    no image of any form (one is fetched from anywhere the moment it is shown) and no link whose
    address is hidden behind its text (see `web/markdown.py`)."""
    return safe_markdown(text)


def while_streaming(text: str) -> str:
    """Text still being generated, as markdown, its figures held back until the guard has run."""
    return safe_markdown(hold_figures(text))


def fact_card(sku: str) -> None:
    """Live facts for one product: read now, so an edit shows up without re-asking."""
    store = open_inventory()
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
    if turn["role"] == "user":
        st.markdown(escape(turn["content"]))
        return
    meta = turn.get("meta") or {}
    st.markdown(reply_markdown(turn["content"]))
    if not meta:
        return
    st.caption(caption(meta))
    if "prices_hidden" in meta.get("flags", []):
        st.caption(f"Prices hidden: {meta['strategy']} answers from the model alone, without the "
                   f"store's data. Ask with a RAG strategy or check the inventory screen.")
    for flag in meta.get("flags", []):
        if flag.startswith("fallback:"):
            st.warning(f"{flag.split(':', 1)[1]} did not answer, so the backup model "
                       f"{meta['model']} did.", icon=":material/sync_problem:")
    for source in meta.get("sources", []):
        if source["kind"] == "inventory":
            fact_card(source["id"])
    documents = [s for s in meta.get("sources", []) if s["kind"] != "inventory"]
    if documents:
        with st.expander(f"Sources ({len(documents)})"):
            for rank, source in enumerate(documents, 1):
                page = f" · p. {source['page']}" if source.get("page") else ""
                read = "" if source.get("read", True) else " · *also relevant, not read by the model*"
                st.markdown(f"{rank}. **{escape(source['title'])}** › {escape(source['heading'])}"
                            f"{page} · `{source['id']}`{read}")
                st.text(source["text"])
    if meta.get("reasoning"):
        with st.expander("Reasoning (hidden from the reply)"):
            st.text(meta["reasoning"])
    if meta.get("id"):
        feedback_box(turn)


# --- staff feedback --------------------------------------------------------------------------

def answer_log_here() -> AnswerLog:
    return answer_log(cached_settings())


def feedback_box(turn: dict) -> None:
    """👍/👎 under an answer and, after 👎, an optional correction: logged for the managers."""
    answer_id = turn["meta"]["id"]
    key = f"rating-{answer_id}"
    st.feedback("thumbs", key=key, on_change=_rated, args=(answer_id, key))
    if st.session_state.get(key) != 0:  # 0 is 👎
        return
    if turn.get("correction"):
        st.caption("Correction sent, thank you. A manager reviews it before it is used.")
        return
    with st.form(f"fix-{answer_id}", border=False, clear_on_submit=True):
        text = st.text_area("What should it have said? (optional)", max_chars=MAX_CORRECTION,
                            key=f"fix-text-{answer_id}")
        if not st.form_submit_button("Send correction", icon=":material/send:"):
            return
    try:
        answer_log_here().record_feedback(answer_id, "down", text)
    except (DataError, OSError) as exc:
        st.error(f"The correction was not saved: {exc}", icon=":material/error:")
        return
    turn["correction"] = text.strip() or None
    st.rerun()


def _rated(answer_id: str, key: str) -> None:
    rating = {0: "down", 1: "up"}.get(st.session_state.get(key))
    if rating is None:  # un-clicked: the last rating given stands in the log
        return
    try:
        answer_log_here().record_feedback(answer_id, rating)
    except (DataError, OSError) as exc:
        st.toast(f"The rating was not saved: {exc}", icon=":material/error:")


def model_history(turns: list[dict]) -> list[dict[str, str]]:
    """Earlier turns for the model: answered pairs only.

    A failed answer, or a question whose answer was cut short by a new question (Streamlit reruns
    the page on every input), is left out, so the model never sees a question without its reply.
    """
    history = []
    for question, reply in zip(turns, turns[1:]):
        if question["role"] == "user" and reply["role"] == "assistant" and not reply.get("error"):
            history += [{"role": "user", "content": question["content"]},
                        {"role": "assistant", "content": reply["content"]}]
    return history


# --- accounts --------------------------------------------------------------------------------
# Streamlit runs every page on the server, so the role in session_state is set only here, after a
# password check or an OIDC login; a browser cannot write it. Manager pages are not even
# registered for other sessions (see app.py), and each checks again with `require_manager`.

def account() -> dict | None:
    """{"name", "role"} of whoever is signed in to this session, or None."""
    if "account" not in st.session_state and oidc_configured() and st.user.is_logged_in:
        from store_assistant.store.accounts import load_users

        email = str(st.user.get("email") or "")
        entry = load_users(cached_settings()).get(email)
        st.session_state["account"] = {"name": email,
                                       "role": entry["role"] if entry else "staff"}
    return st.session_state.get("account")


def is_manager() -> bool:
    found = account()
    return bool(found and found["role"] == "manager")


def require_manager() -> None:
    """Stop the page unless a manager is signed in (the second lock behind the navigation)."""
    if not is_manager():
        st.error("Managers only. Sign in with a manager account in the sidebar.",
                 icon=":material/lock:")
        st.stop()


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def account_box(title: str = "Manager sign-in") -> None:
    """The sidebar's sign-in form, or who is signed in with a sign-out button."""
    from store_assistant.store.accounts import has_manager, sign_in

    found = account()
    with st.sidebar:
        if found:
            st.caption(f"Signed in as **{escape(found['name'])}** ({found['role']})")
            if st.button("Sign out", icon=":material/logout:"):
                st.session_state.pop("account", None)
                if oidc_configured():
                    st.logout()
                st.rerun()
            return
        if oidc_configured():
            if st.button("Sign in", icon=":material/login:"):
                st.login()
            return
        with st.expander(title, icon=":material/lock:"):
            if not has_manager(cached_settings()):
                st.caption("No manager account yet. On the server, run "
                           "`store-assistant users add NAME --role manager`.")
                return
            with st.form("sign-in", border=False):
                name = st.text_input("Account", key="sign_in_name")
                password = st.text_input("Password", type="password", key="sign_in_password")
                if not st.form_submit_button("Sign in"):
                    return
            attempt = sign_in(cached_settings(), name.strip(), password)
            if attempt.locked_s:
                st.error(f"Too many failed attempts for this account. Try again in "
                         f"{math.ceil(attempt.locked_s / 60)} min, or ask a manager to reset it.")
                return
            if attempt.role is None:
                st.error("Wrong account or password.")
                return
            role = attempt.role
            st.session_state["account"] = {"name": name.strip(), "role": role}
            st.rerun()
