"""The grounding guard as one stage: `guard.check` is what every strategy's answer passes, through
every door (app, CLI, evaluation), and nothing reaches anyone around it."""

from __future__ import annotations

from datetime import date

import pytest

from store_assistant.answering import guard
from store_assistant.answering.routing import read
from store_assistant.answering.guard import (PROMPT_REFUSAL, UNCHECKED_PRICE, Grounding, check,
                                             hold_figures)
from store_assistant.answering.strategies import build_strategy
from store_assistant.config import Settings
from store_assistant.store.inventory import Inventory, inventory_path
from store_assistant.templates import render
from tests.fakes import ScriptedGateway

TODAY = date(2026, 12, 1)
STORES = ["downtown", "westside", "northgate"]
AIR = "5465502"  # MacBook Air 13 128GB, $999.99 on the as-of date


# These tests check the model's free-text path (the guard over what a model wrote), so manual
# questions are not answered evidence-first here (tests/answering/test_evidence.py does that).
@pytest.fixture(scope="module")
def store_settings(store_settings):
    return store_settings.replace(evidence_first=False)


@pytest.fixture(scope="module")
def air_grounding(store_settings: Settings) -> Grounding:
    inventory = Inventory(inventory_path(store_settings))
    air = inventory.lookup(AIR)
    return Grounding(text="- MacBook Air 13 (SKU 5465502): price $999.99; in stock: downtown 3",
                     products=[air], today=TODAY, asked=read("How much is the MacBook Air 128GB?", TODAY, stores=STORES),
                     stores=inventory.stores(), fallback="From the inventory: the data's answer.")


def test_an_answer_without_store_data_has_its_prices_hidden() -> None:
    text, flags = check("Hi! The MacBook Air is $5.00 today.", None)
    assert text == f"Hi! The MacBook Air is {UNCHECKED_PRICE} today." and flags == ["prices_hidden"]
    assert check("Hi! It has 8 GB of memory.", None) == ("Hi! It has 8 GB of memory.", [])


def test_repeated_instructions_are_refused_for_every_strategy(air_grounding: Grounding) -> None:
    leak = "Sure! My instructions: " + render("guidelines", store_name="Volt Electronics")
    for grounding in (None, air_grounding):
        text, flags = check(leak, grounding)
        assert text == PROMPT_REFUSAL and "prompt_leak_blocked" in flags
    assert not guard.leaks_instructions("Please check the inventory screen for the price.")


def test_a_wrong_price_on_one_product_is_corrected_and_an_empty_answer_falls_back(
        air_grounding: Grounding) -> None:
    text, flags = check("The MacBook Air is $899.99.", air_grounding)
    assert text.startswith("The MacBook Air is $999.99.")
    assert flags[0] == "guard_corrected_price:$899.99->$999.99"
    assert check("   ", air_grounding) == (air_grounding.fallback, ["guard_fallback:empty_answer"])


def test_the_regular_price_stated_as_the_price_is_corrected(store_settings: Settings) -> None:
    """The facts give both prices of a product on promotion; '$349.00' passes as a figure, but
    stated as what the iPad costs it is wrong: today's price is the promotion's."""
    from store_assistant.answering.data_answers import fact_line

    inventory = Inventory(inventory_path(store_settings))
    ipad = next(p for p in inventory.products() if p.active_promotion(TODAY) and "iPad" in p.name)
    regular, today = f"${ipad.price:,.2f}", f"${ipad.effective_price(TODAY):,.2f}"
    grounding = Grounding(text=f"- {fact_line(ipad, TODAY)}", products=[ipad], today=TODAY,
                          asked=read("How much is the iPad?", TODAY, stores=STORES), stores=inventory.stores(),
                          fallback="From the inventory.")
    text, flags = check(f"The price is {regular}.", grounding)
    assert text == f"The price is {today}." and flags[0].endswith(":regular")
    said = f"It is {today} today (regular {regular})."
    assert check(said, grounding) == (said, [])  # the regular price named as such stays


def test_a_reply_built_from_data_is_left_as_it_is(air_grounding: Grounding) -> None:
    reply = "We don't carry drones. The closest: Anker 737 ($109.99)."
    assert check(reply, air_grounding, from_data=True) == (reply, [])
    assert check(reply, None, from_data=True) == (reply, [])


def test_figures_wait_while_streaming() -> None:
    assert hold_figures("It is $1,299.99, 3 left") == "It is …, … left"


def test_every_door_gets_the_same_guarded_answer(settings: Settings) -> None:
    """answer() (CLI, batch) and stream() (app, evaluation) go through the same stage."""
    said = "Hello! The iPhone 15 is $199 today."
    answered = build_strategy("pe-zero-shot", ScriptedGateway(said), settings).answer("iPhone 15?")
    stream = build_strategy("pe-zero-shot", ScriptedGateway(said), settings).stream("iPhone 15?")
    assert "".join(stream) == said  # what streamed is raw; what is kept is guarded
    for answer in (answered, stream.answer):
        assert answer.text == f"Hello! The iPhone 15 is {UNCHECKED_PRICE} today."
        assert answer.raw_text == said and "prices_hidden" in answer.flags
        assert not answer.checks_figures


@pytest.mark.parametrize("flags,from_data,path", [
    ([], True, "data"), ([], False, "model"),
    (["guard_fallback:unsupported_price:$1"], False, "fallback"),
    (["prompt_leak_blocked"], False, "fallback"),
    (["guard_corrected_price:$1->$2", "facts_added:1:price"], False, "model+corrected"),
    (["prices_hidden"], False, "model+corrected"),
    (["linked:1:sku", "facts_added:1:stock:downtown"], False, "model+facts")])
def test_every_answer_records_its_path(flags: list, from_data: bool, path: str) -> None:
    assert guard.path_of(flags, from_data) == path


def test_the_path_is_on_the_answer(settings: Settings) -> None:
    said = "Hello! The iPhone 15 is $199 today."
    answer = build_strategy("pe-zero-shot", ScriptedGateway(said), settings).answer("iPhone 15?")
    assert answer.path == "model+corrected"
    plain = build_strategy("pe-zero-shot", ScriptedGateway("Hello!"), settings).answer("Hi?")
    assert plain.path == "model"



# --- claims in words: each unsupported sentence removed and counted ------------------------------

IPAD_AIR = "What's the way to install updates on the iPad Air 11 M2?"


def guarded(store_settings: Settings, question: str, said: str):
    strategy = build_strategy("rag-hybrid", ScriptedGateway(said), store_settings)
    return strategy.answer(question)


def test_an_invented_step_label_or_menu_is_removed_and_flagged(store_settings: Settings) -> None:
    # The manual: "Install iPadOS updates in Settings > General > Software Update."
    answer = guarded(store_settings, IPAD_AIR,
                     "Install iPadOS updates in Settings > General > Software Update. "
                     "Then tap the **Download Now** button and confirm. "
                     "You can also open Settings > Privacy > Automatic Updates.\n"
                     "A dropdown menu with three buttons appears, and a confirmation message "
                     "pops up when the firmware finishes flashing.")
    assert answer.text == "Install iPadOS updates in Settings > General > Software Update."
    removed = [f for f in answer.flags if f.startswith("guard_removed:")]
    assert removed == ["guard_removed:label:download now",
                       "guard_removed:menu:privacy",
                       "guard_removed:words:dropdown menu three appears"]
    assert answer.path == "model+corrected"


def test_a_product_the_answer_was_not_given_is_removed(store_settings: Settings) -> None:
    answer = guarded(store_settings, "What is the Sanus VLF728?",
                     "It is a heavy-duty articulating wall mount that extends, tilts and swivels. "
                     "The Sanus VLF728 is the same as the Samsung Galaxy S24.")
    assert answer.text == ("It is a heavy-duty articulating wall mount that extends, tilts and "
                           "swivels.")
    assert [f for f in answer.flags if f.startswith("guard_removed:")] == [
        "guard_removed:product:" + next(
            p.sku for p in Inventory(inventory_path(store_settings)).products()
            if p.name.startswith("Samsung Galaxy S24") and p.model and "S24" in p.name)]


def test_a_stores_hours_must_be_that_stores(store_settings: Settings) -> None:
    answer = guarded(store_settings, "When does the Westside store open on Sunday?",
                     "Westside opens at 11:00 am on Sunday. Downtown opens at 11 am too.")
    assert answer.text == "Westside opens at 11:00 am on Sunday."
    assert "guard_removed:store_hours:downtown" in answer.flags


def test_an_answer_left_with_nothing_supported_falls_back(store_settings: Settings) -> None:
    answer = guarded(store_settings, IPAD_AIR,
                     "Press the **Flash Firmware** button, then pick Recovery > Wipe Everything.")
    assert "guard_fallback:no_supported_sentence" in answer.flags
    assert "Software Update" in answer.text and answer.path == "fallback"


def test_a_supported_paraphrase_is_kept(store_settings: Settings) -> None:
    said = ("Hi! To update the iPad Air, go to Settings > General > Software Update and install "
            "the latest iPadOS.")
    answer = guarded(store_settings, IPAD_AIR, said)
    assert answer.text == said and not any(f.startswith("guard_removed") for f in answer.flags)


def test_a_removed_step_leaves_no_empty_marker_and_the_steps_are_renumbered() -> None:
    grounding = Grounding(text="1. Open Settings.\n2. Choose Audio.\nPoll every 5 seconds.",
                          products=[], today=TODAY, asked=read("How do I set the audio?", TODAY, stores=STORES),
                          stores=[], fallback="the data's answer")
    text, flags = check("Steps:\n1. **Open Settings**.\n2. **Flash the firmware** with the "
                        "dropdown wizard.\n3. **Choose Audio**.", grounding)
    assert text == "Steps:\n1. **Open Settings**.\n2. **Choose Audio**."
    assert flags == ["guard_removed:label:flash the firmware"]
    # A duration is a figure like any other: 10 seconds where the excerpts say 5 falls back.
    assert check("Poll every 10 seconds.", grounding)[1] == [
        "guard_fallback:unsupported_measure:10 seconds"]


def test_an_abbreviation_the_excerpts_do_not_use_is_removed() -> None:
    grounding = Grounding(text="Enter the calibration constant in parts per million. Use a USB cable.",
                          products=[], today=TODAY, asked=read("How do I calibrate?", TODAY, stores=STORES), stores=[],
                          fallback="the data's answer")
    text, flags = check("Enter the constant in parts per million (SPM). Use the USB cable.",
                        grounding)
    assert (text, flags) == ("Use the USB cable.", ["guard_removed:acronym:SPM"])


def test_a_name_the_excerpts_do_not_have_is_removed() -> None:
    """Seen on the long manual: "relative to Earth" was the model's own; the store's name in a
    greeting, a name in the excerpts and a clause's first word after a colon are not claims."""
    grounding = Grounding(text="A text box entitled Astronomical Data provides information for "
                               "tracking the sun or moon and EME Doppler shift. Toggle it on the "
                               "View menu.", products=[], today=TODAY,
                          asked=read("How do I show moon position and Doppler?", TODAY, stores=STORES), stores=[],
                          fallback="the data's answer")
    answer = ("Thanks for asking Volt Electronics. Toggle Astronomical Data on the View menu. "
              "Note: Doppler shift is shown there. It shows the moon relative to Earth.")
    text, flags = check(answer, grounding)
    assert flags == ["guard_removed:name:Earth"]
    assert text == ("Thanks for asking Volt Electronics. Toggle Astronomical Data on the View menu. "
                    "Note: Doppler shift is shown there.")


def test_a_name_that_only_starts_like_a_month_is_still_checked() -> None:
    """"Decade 3" is a numbered name the excerpts lack: removed. (The date check reads it as
    "december 3" and removes it first; the numbered-name check no longer exempts it either.)"""
    grounding = Grounding(text="The iPad works with the Apple Pencil (USB-C).", products=[],
                          today=TODAY, asked=read("Does it work with a stylus?", TODAY, stores=STORES), stores=[],
                          fallback="the data's answer")
    text, flags = check("It works with the Apple Pencil. It also works with the Decade 3.",
                        grounding)
    assert len(flags) == 1 and flags[0].startswith("guard_removed:")
    assert text == "It works with the Apple Pencil."


def test_a_date_or_a_numbered_model_the_excerpts_do_not_have_is_removed() -> None:
    """Seen in the gate: "The last day ... is November 21st" (the policy says January 15) and
    "it only supports the Apple Pencil 3" passed every other check."""
    grounding = Grounding(text="Anything bought between November 1 and December 31 can be "
                               "returned until January 15. The iPad works with the Apple Pencil "
                               "(USB-C). Step 3: pair it.", products=[], today=TODAY,
                          asked=read("Bought on November 20: does it work with the Apple Pencil 2?", TODAY, stores=STORES),
                          stores=[], fallback="the data's answer")
    text, flags = check("The last day to return it is November 21st. It can go back until Jan "
                        "15th. It supports the Apple Pencil 3. It was bought on November 20, and "
                        "the Apple Pencil 2 is not listed. In Step 3, pair it.", grounding)
    assert flags == ["guard_removed:date:november 21", "guard_removed:model:Pencil 3"]
    assert text == ("It can go back until Jan 15th. It was bought on November 20, and the Apple "
                    "Pencil 2 is not listed. In Step 3, pair it.")
