"""A question is read once into `Asked`, and `route` orders the ways to answer it."""

from __future__ import annotations

from datetime import date

import pytest

from store_assistant.answering.routing import PATHS, read, route
from store_assistant.store.inventory import Inventory, inventory_path

TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def inventory(store_settings) -> Inventory:
    return Inventory(inventory_path(store_settings))


def test_the_record_holds_what_the_question_gives(inventory) -> None:
    asked = read("Volt Plus member bought the 65 inch LG C3 for $1,499.99 on Nov 3 at Westside. "
                 "Can they still return it?", TODAY, inventory)
    assert [p.sku for p in asked.named][:1] == ["6537402"]  # the 65" C3
    assert asked.stores == ("westside",) and asked.sizes == ("65",)
    assert asked.bought == date(2026, 11, 3) and asked.paid == 1499.99 and asked.member is True
    assert asked.yes_no and not asked.follow_up and asked.query == asked.text
    plain = read("How heavy is it?", TODAY)  # no inventory: nothing linked, nothing guessed
    assert plain.links == () and plain.bought is None and plain.paid is None
    assert plain.member is None and not plain.yes_no


def test_a_follow_up_takes_its_product_and_query_from_the_turn_before(inventory) -> None:
    history = [{"role": "user", "content": "How much is the Sony WH-1000XM5?"},
               {"role": "assistant", "content": "$399.99."}]
    asked = read("and is it in stock downtown?", TODAY, inventory, history)
    assert asked.follow_up and [p.sku for p in asked.named] == ["6505727"]
    assert "WH-1000XM5" in asked.query and asked.stores == ("downtown",)
    assert route(asked) == ("inventory",)  # no computed policy: its subject is in the history


@pytest.mark.parametrize("question, paths", [
    ("Top 3 laptops under $800", ("recommend",)),
    ("Is the Lenovo Yoga 720 on sale?", ("computed", "inventory")),
    ("Do you sell drones?", ("computed", "decline")),
    ("Does the LG C3 support HDR10+?", ("computed", "evidence", "model")),
    ("Can I return an opened camera?", ("computed", "evidence", "model")),
    ("Is the Sony WH-1000XM5 better than the Bose QC Ultra?", ("computed", "model")),
    ("How much is the Sony WH-1000XM5, and how long does its battery last?",
     ("computed", "model")),  # a named product's price and a spec: not one line's answer
])
def test_each_kind_of_question_is_routed_in_order(inventory, question: str, paths) -> None:
    assert route(read(question, TODAY, inventory)) == paths
    assert set(paths) <= set(PATHS)


def test_evidence_first_off_sends_manual_questions_to_the_model(inventory) -> None:
    asked = read("Does the LG C3 support HDR10+?", TODAY, inventory)
    assert route(asked, evidence_first=False) == ("computed", "model")


def test_a_pronoun_whose_subject_is_in_the_question_is_no_follow_up(inventory) -> None:
    """Asked at the counter after a TV question: 'it' is the lens, not the TV."""
    history = [{"role": "user", "content": "Does the LG C3 support HDR10+?"},
               {"role": "assistant", "content": "No, it does not support HDR10+."}]
    lens = read("A customer opened a Canon EF 50mm lens and wants to return it. Is there a "
                "restocking fee?", TODAY, inventory, history)
    assert not lens.follow_up and not any("C3" in p.name for p in lens.named)
    assert route(lens)[0] == "computed"
    named = read("Is the Sony WH-1000XM5 foldable, and does it have a case?", TODAY, inventory,
                 history)
    assert not named.follow_up and [p.sku for p in named.named] == ["6505727"]
    back = read("Is it a good TV for a bright room?", TODAY, inventory, history)
    assert back.follow_up and all("C3" in p.name for p in back.named)  # 'it' before 'TV'
