"""The registry and the prompt-engineering variants, answering on the real embedded model."""

from __future__ import annotations

import pytest

from store_assistant.config import Settings
from store_assistant.errors import ConfigError, DataError
from store_assistant.inference.gateway import Gateway
from store_assistant.answering.strategies import STRATEGIES, build_strategy, check_strategy, describe
from store_assistant.answering.prompting import PromptStrategy
from store_assistant.templates import few_shot_examples, render

PE_VARIANTS = ["pe-zero-shot", "pe-few-shot", "pe-cot"]


def test_registry_lists_the_prompt_variants() -> None:
    assert set(PE_VARIANTS) <= set(STRATEGIES)
    assert all(describe(name) for name in STRATEGIES)


@pytest.mark.parametrize("name", PE_VARIANTS)
def test_each_variant_answers(name: str, gateway: Gateway, settings: Settings) -> None:
    strategy = build_strategy(name, gateway, settings)
    answer = strategy.answer("Hi, what should I look for in a TV for a bright living room?")
    assert answer.strategy == name
    assert answer.model == "local/smollm2-135m"
    assert len(answer.text.split()) >= 3
    assert answer.usage["prompt_tokens"] > 50  # the guidelines reached the model
    assert answer.latency_ms > 0 and answer.ttft_ms is None  # one piece: no first-token time
    assert answer.sources == []  # prompt-only: no store data behind it
    assert answer.to_dict()["strategy"] == name


def test_prompts_come_from_data_files(gateway: Gateway, settings: Settings) -> None:
    zero = build_strategy("pe-zero-shot", gateway, settings).draft("Do you sell printers?")
    few = build_strategy("pe-few-shot", gateway, settings).draft("Do you sell printers?")
    cot = build_strategy("pe-cot", gateway, settings).draft("Do you sell printers?")
    guidelines = render("guidelines", store_name="Volt Electronics")
    assert zero.messages == [{"role": "system", "content": guidelines},
                             {"role": "user", "content": "Do you sell printers?"}]
    examples = few_shot_examples()
    assert len(few.messages) == 2 + 2 * len(examples)
    assert few.messages[1]["content"] == examples[0].question
    assert few.messages[2]["content"] == examples[0].answer
    assert cot.messages[0]["content"] == guidelines + "\n\n" + render("cot")


def test_history_is_sent_and_trimmed_to_recent_turns(gateway: Gateway, settings: Settings) -> None:
    strategy = build_strategy("pe-zero-shot", gateway, settings.replace(history_turns=1))
    history = [{"role": "user", "content": "old question"},
               {"role": "assistant", "content": "old answer"},
               {"role": "user", "content": "Is the Sony WH-1000XM5 any good?"},
               {"role": "assistant", "content": "Yes, great noise cancelling."}]
    draft = strategy.draft("and is it in stock downtown?", history)
    assert [m["content"] for m in draft.messages[1:]] == [
        "Is the Sony WH-1000XM5 any good?", "Yes, great noise cancelling.",
        "and is it in stock downtown?"]


def test_follow_up_answer_uses_the_conversation(gateway: Gateway, settings: Settings) -> None:
    strategy = build_strategy("pe-zero-shot", gateway, settings)
    history = [{"role": "user", "content": "Is the Sony WH-1000XM5 a good headphone?"},
               {"role": "assistant", "content": "Yes, the Sony WH-1000XM5 has great noise cancelling."}]
    answer = strategy.answer("and is it in stock downtown?", history)
    alone = strategy.answer("and is it in stock downtown?")
    assert answer.usage["prompt_tokens"] > alone.usage["prompt_tokens"] + 20


@pytest.mark.parametrize("text, reply, reasoning, flag", [
    ("Reasoning: wants a TV.\nAnswer: Hi! Here are three TVs.", "Hi! Here are three TVs.",
     "wants a TV.", "cot_reasoning_hidden"),
    ("**Reasoning:** budget\n**Answer:** Hello there.", "Hello there.", "budget",
     "cot_reasoning_hidden"),
    ("Hi! I am not sure about that price.", "Hi! I am not sure about that price.", None,
     "cot_no_answer_marker"),
])
def test_cot_reasoning_is_split_from_the_reply(gateway: Gateway, settings: Settings, text: str,
                                               reply: str, reasoning, flag: str) -> None:
    strategy = PromptStrategy(gateway, settings, variant="cot")
    assert strategy._finish(text, strategy.draft("q")) == (reply, reasoning, [flag])


def test_unknown_strategy_suggests_the_closest(gateway: Gateway, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="Did you mean pe-few-shot"):
        build_strategy("pe-fewshot", gateway, settings)
    assert check_strategy("pe-cot") == "pe-cot"


def test_bad_question_never_reaches_the_model(gateway: Gateway, settings: Settings) -> None:
    strategy = build_strategy("pe-zero-shot", gateway, settings)
    with pytest.raises(DataError, match="empty"):
        strategy.answer("   ")


def test_templates_are_strict() -> None:
    with pytest.raises(DataError, match="missing \\['store_name'\\]"):
        render("guidelines")
    with pytest.raises(DataError, match="unexpected \\['shop'\\]"):
        render("guidelines", store_name="x", shop="y")
