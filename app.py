"""Store Assistant: the staff chat page.

Run with `make run` (or `streamlit run app.py`). The model is loaded once per process
(`st.cache_resource`), answers stream in as they are generated, and every answer shows which
strategy and model produced it and how long it took. Failures are shown as messages, not tracebacks.
"""

from __future__ import annotations

import streamlit as st

from store_assistant.config import Settings, load_settings
from store_assistant.errors import DataError, StoreAssistantError
from store_assistant.llm import Gateway
from store_assistant.questions import validate_question
from store_assistant.strategies import DEFAULT_STRATEGY, STRATEGIES, Strategy, build_strategy, describe

st.set_page_config(page_title="Store Assistant", page_icon=":material/storefront:", layout="centered")


@st.cache_resource(show_spinner=False)
def cached_settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner="Loading the model (first start only)...")
def cached_gateway(model: str) -> Gateway:
    gateway = Gateway(cached_settings(), model)
    gateway.load()
    return gateway


@st.cache_resource(show_spinner=False)
def cached_strategy(name: str, model: str) -> Strategy:
    return build_strategy(name, cached_gateway(model), cached_settings())


def caption(meta: dict) -> str:
    parts = [meta["strategy"], meta["model"], f"{meta['latency_ms'] / 1000:.1f} s"]
    if meta.get("ttft_ms") is not None:
        parts.append(f"first words {meta['ttft_ms'] / 1000:.1f} s")
    if meta.get("usage"):
        parts.append(f"{meta['usage'].get('total_tokens', 0)} tokens")
    parts += meta.get("flags", [])
    return " · ".join(parts)


def show_body(turn: dict) -> None:
    """One turn's content, inside its chat bubble."""
    if turn.get("error"):
        st.error(turn["content"], icon=":material/error:")
        return
    st.markdown(turn["content"])
    if turn.get("meta"):
        st.caption(caption(turn["meta"]))
        if turn["meta"].get("reasoning"):
            with st.expander("Reasoning (hidden from the reply)"):
                st.text(turn["meta"]["reasoning"])


def model_history(turns: list[dict]) -> list[dict[str, str]]:
    """Earlier turns for the model: answered pairs only, failed attempts left out."""
    history = []
    for question, reply in zip(turns[::2], turns[1::2]):
        if not reply.get("error"):
            history += [{"role": "user", "content": question["content"]},
                        {"role": "assistant", "content": reply["content"]}]
    return history


# --- page ------------------------------------------------------------------------------------

try:
    settings = cached_settings()
except StoreAssistantError as exc:
    st.error(f"Settings problem: {exc}", icon=":material/settings:")
    st.stop()

turns: list[dict] = st.session_state.setdefault("turns", [])

with st.sidebar:
    st.header("Store Assistant")
    names = list(STRATEGIES)
    strategy_name = st.selectbox("Strategy", names, index=names.index(DEFAULT_STRATEGY),
                                 help="How the assistant answers. Managers compare them on the "
                                      "scorecard.")
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

if prompt := st.chat_input("Ask about a product, price, stock or policy..."):
    try:
        question = validate_question(prompt)
    except DataError as exc:
        st.warning(str(exc), icon=":material/edit:")
        st.stop()
    history = model_history(turns)
    turns.append({"role": "user", "content": question})
    with st.chat_message("user"):
        show_body(turns[-1])
    with st.chat_message("assistant"):
        placeholder = st.empty()
        try:
            strategy = cached_strategy(strategy_name, settings.llm)
            stream = strategy.stream(question, history)
            streamed = ""
            for piece in stream:
                streamed += piece
                placeholder.markdown(streamed + " ▌")
            answer = stream.answer
            meta = {key: getattr(answer, key) for key in
                    ("strategy", "model", "latency_ms", "ttft_ms", "usage", "flags", "reasoning")}
            reply = {"role": "assistant", "content": answer.text, "meta": meta}
        except StoreAssistantError as exc:
            reply = {"role": "assistant", "content": str(exc), "error": True}
        turns.append(reply)
        with placeholder.container():
            show_body(reply)
