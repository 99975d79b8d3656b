"""The staff chat: ask a question, watch the answer stream in, see its facts and sources.

The strategy answers, guards and logs (`answering/`); this page only draws: the answer as it
streams (figures held back until the guard has run), then the finished answer with its caption,
fact cards, sources and the 👍/👎 feedback. Failures are shown as messages, not tracebacks.
"""

from __future__ import annotations

import streamlit as st

from store_assistant.answering.questions import validate_question
from store_assistant.answering.strategies import DEFAULT_STRATEGY, STRATEGIES, describe
from store_assistant.errors import DataError, StoreAssistantError
from store_assistant.inference.models import servable_models
from store_assistant.web.ui import (cached_settings, cached_strategy, model_history, show_body,
                                    warm_up, while_streaming)


def chat_page() -> None:
    settings = cached_settings()
    turns: list[dict] = st.session_state.setdefault("turns", [])
    with st.sidebar:
        names = list(STRATEGIES)
        strategy_name = st.selectbox("Strategy", names, index=names.index(DEFAULT_STRATEGY),
                                     help="How the assistant answers. Managers compare them on "
                                          "the scorecard.")
        st.caption(describe(strategy_name))
        models = servable_models(settings)
        tuned = strategy_name.startswith("finetuned")
        llm = st.selectbox("Model", list(models), key="model",
                           format_func=lambda m: f"{m.removeprefix('local/')} ({models[m]})",
                           disabled=tuned,
                           help="The base model the strategy asks. `store-assistant model list` "
                                "shows the catalog; `model fetch NAME` adds one. The fine-tuned "
                                "strategies use their adapter's own base.")
        model_caption = st.empty()
        if st.button("New conversation", icon=":material/refresh:", disabled=not turns):
            turns.clear()
            st.rerun()

    try:  # load the model and the index now, while staff type, not after they press Enter
        model = cached_strategy(strategy_name, llm).gateway.model
        model_caption.caption(f"Model: `{model}`")
        warm_up(strategy_name, llm)
    except StoreAssistantError as exc:
        st.error(str(exc), icon=":material/error:")
    st.title("Ask the store assistant")
    st.caption("Prices, stock, specs, compatibility, promotions, returns and warranty.")
    # No question is lost: one typed while an answer is being written would stop this run
    # (Streamlit reruns the page on every input), so the box is disabled until the answer is
    # done, and a question still unanswered after any rerun is answered on the next one, in order.
    prompt = st.chat_input("Ask about a product, price, stock or policy...",
                           disabled=bool(unanswered(turns)))
    problem = None
    if prompt:
        try:
            turns.append({"role": "user", "content": validate_question(prompt)})
        except DataError as exc:
            problem = str(exc)
        else:
            st.rerun()  # answered on the next run, with the box disabled meanwhile
    waiting = unanswered(turns)
    slot = None
    for index, turn in enumerate(turns):
        with st.chat_message(turn["role"]):
            show_body(turn)
        if waiting and index == waiting[0]:  # its answer is written here, under its question
            with st.chat_message("assistant"):
                slot = st.empty()
    if problem:
        st.warning(problem, icon=":material/edit:")
    if slot is not None:
        _answer(turns, waiting[0], slot, strategy_name, llm)
        st.rerun()


def unanswered(turns: list[dict]) -> list[int]:
    """Where the questions without a reply are: each is answered, oldest first."""
    return [i for i, turn in enumerate(turns) if turn["role"] == "user"
            and (i + 1 == len(turns) or turns[i + 1]["role"] != "assistant")]


def _answer(turns: list[dict], index: int, slot, strategy_name: str, llm: str) -> None:
    """Stream the answer to `turns[index]` into `slot`, then put it right after its question."""
    question, history = turns[index]["content"], model_history(turns[:index])
    try:  # the strategy guards and logs the answer (or the error): the page only draws it
        stream = cached_strategy(strategy_name, llm).stream(question, history)
        streamed, restarted = "", False
        for piece in stream:
            if stream.restarted and not restarted:  # the backup model starts the answer again
                streamed, restarted = "", True
            streamed += piece
            slot.markdown(while_streaming(streamed) + " ▌")
        meta = stream.answer.to_dict()
        reply = {"role": "assistant", "content": meta.pop("text"), "meta": meta}
    except StoreAssistantError as exc:
        reply = {"role": "assistant", "content": str(exc), "error": True}
    except Exception as exc:  # a bug: shown as a traceback, but the queue must not stay stuck
        turns.insert(index + 1, {"role": "assistant", "error": True,
                                 "content": f"Something went wrong ({type(exc).__name__})."})
        raise
    turns.insert(index + 1, reply)


def sign_in_page() -> None:
    st.title("Sign in")
    st.info("The store assistant needs an account here: sign in in the sidebar. A manager creates "
            "accounts with `store-assistant users add NAME --role staff`.", icon=":material/lock:")
