"""Store Assistant: the staff chat page, and navigation to the managers' pages.

Run with `make run` (or `streamlit run app.py`). Answers stream in as they are generated; each
shows its strategy, model and timing, a fact card read live from the inventory, and its sources.
Failures are shown as messages, not tracebacks.
"""

from __future__ import annotations

import logging
import time

import streamlit as st

from store_assistant.errors import DataError, StoreAssistantError
from store_assistant.questions import validate_question
from store_assistant.strategies import DEFAULT_STRATEGY, STRATEGIES, describe
from store_assistant.ui import (account, account_box, answer_log_here, cached_settings,
                                cached_strategy, is_manager, model_history, show_body,
                                while_streaming)

st.set_page_config(page_title="Store Assistant", page_icon=":material/storefront:")
log = logging.getLogger("store_assistant.app")


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
        model_caption = st.empty()
        if st.button("New conversation", icon=":material/refresh:", disabled=not turns):
            turns.clear()
            st.rerun()

    try:  # load the model and the index now, while staff type, not after they press Enter
        model = cached_strategy(strategy_name, settings.llm).gateway.model
        model_caption.caption(f"Model: `{model}`")
    except StoreAssistantError as exc:
        st.error(str(exc), icon=":material/error:")
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
        started = time.perf_counter()
        try:
            strategy = cached_strategy(strategy_name, settings.llm)
            stream = strategy.stream(question, history)
            streamed = ""
            for piece in stream:
                streamed += piece
                placeholder.markdown(while_streaming(streamed) + " ▌")
            answer = stream.answer
            meta = {key: getattr(answer, key) for key in
                    ("strategy", "model", "latency_ms", "ttft_ms", "usage", "flags", "reasoning")}
            meta["sources"] = [source.__dict__ for source in answer.sources]
            meta["checks_figures"] = strategy.checks_figures
            meta["id"] = _logged(lambda: answer_log_here().record_answer(question, answer))
            reply = {"role": "assistant", "content": answer.text, "meta": meta}
        except StoreAssistantError as exc:
            latency_ms = (time.perf_counter() - started) * 1000
            _logged(lambda: answer_log_here().record_error(question, strategy_name, settings.llm,
                                                          latency_ms, exc))
            reply = {"role": "assistant", "content": str(exc), "error": True}
        turns.append(reply)
        with placeholder.container():
            show_body(reply)


def _logged(write) -> str | None:
    """Log an answer or error; a full disk must not cost staff the answer they are waiting for."""
    try:
        return write()
    except OSError as exc:
        log.error("the answer log could not be written: %s", exc)
        return None


def sign_in_page() -> None:
    st.title("Sign in")
    st.info("The store assistant needs an account here: sign in in the sidebar. A manager creates "
            "accounts with `store-assistant users add NAME --role staff`.", icon=":material/lock:")


# --- navigation ------------------------------------------------------------------------------

try:
    cached_settings()
except StoreAssistantError as exc:
    st.error(f"Settings problem: {exc}", icon=":material/settings:")
    st.stop()

settings = cached_settings()
try:
    signed_in = account()
    account_box("Manager sign-in" if not settings.staff_login else "Sign in")
except StoreAssistantError as exc:  # e.g. a damaged accounts file: say so, stay up for chat
    signed_in = None
    st.sidebar.error(str(exc), icon=":material/lock:")
pages = [st.Page(chat_page, title="Chat", icon=":material/chat:", default=True)]
if settings.staff_login and not signed_in:
    pages = [st.Page(sign_in_page, title="Sign in", icon=":material/login:", default=True)]
if is_manager():  # other sessions do not get these pages at all, whatever URL they ask for
    pages += [st.Page("store_assistant/pages/inventory.py", title="Inventory",
                      icon=":material/inventory_2:", url_path="inventory"),
              st.Page("store_assistant/pages/scorecards.py", title="Scorecards",
                      icon=":material/query_stats:", url_path="scorecards"),
              st.Page("store_assistant/pages/operations.py", title="Operations",
                      icon=":material/monitoring:", url_path="operations")]
page = st.navigation(pages)
# The layout is set once per run, here: a second set_page_config with another layout in the same
# run loses to the first in the browser after a rerun (the scorecards went narrow on every click).
st.set_page_config(layout="wide" if page.url_path in ("scorecards", "operations") else "centered")
page.run()
