"""The fine-tuning taxonomy: the real tree loads, its figures hold on AS_OF, bad leaves say where.

Real parts, no model: the committed tree, the inventory CSV imported into a throwaway SQLite
inventory, and the golden cases for the heldout leak check. Broken trees are written to tmp_path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from store_assistant.config import PROJECT_DIR
from store_assistant.errors import DataError
from store_assistant.evaluation.golden import AS_OF, leaked, load_cases, select, training_questions
from store_assistant.store.inventory import Inventory
from store_assistant.finetune.taxonomy import MIN_SEEDS, Leaf, load_taxonomy, seeds

_SKU = re.compile(r"SKU (\d{7})")
_PRICE = re.compile(r"\$(\d[\d,]*(?:\.\d{2})?)")
_PROMO = re.compile(r'"([^"]+: save \$\d+)"')


@pytest.fixture(scope="module")
def leaves() -> list[Leaf]:
    return load_taxonomy()


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    inventory = Inventory(tmp_path_factory.mktemp("taxonomy") / "inventory.db")
    inventory.import_csv(PROJECT_DIR / "manuals" / "inventory.csv")
    return inventory


def dollars(text: str) -> float:
    return float(text.replace(",", ""))


# --- the committed tree ----------------------------------------------------------------------

def test_the_tree_has_enough_seeds_in_every_leaf_and_area(leaves):
    assert len(seeds(leaves)) >= 130 and len(leaves) >= 18
    for leaf in leaves:
        assert len(leaf.seeds) >= MIN_SEEDS, f"{leaf.path} has {len(leaf.seeds)} seeds"
    areas = {(leaf.kind, leaf.area) for leaf in leaves}
    assert areas == {("knowledge", "products"), ("knowledge", "policies"), ("skills", "tone"),
                     ("skills", "declining"), ("skills", "grounding")}
    for leaf in leaves:
        if leaf.kind == "knowledge":
            assert leaf.sources and all(seed.context for seed in leaf.seeds), leaf.path


def test_every_sku_named_is_sold_at_the_price_stated(leaves, inventory):
    """'... (SKU 6505728) is $329.99' must be that SKU's effective price on AS_OF; a quoted
    promotion must be a named SKU's active one; and a product answer's other dollar figures may
    only be a named SKU's regular price or saving."""
    checked = 0
    for seed in seeds(leaves):
        where = f"{seed.file}:{seed.line} ({seed.question[:50]!r})"
        named = {sku: inventory.lookup(sku) for sku in _SKU.findall(seed.answer)}
        assert None not in named.values(), f"{where}: unknown SKU in the answer"
        for match in _SKU.finditer(seed.answer):
            product = named[match.group(1)]
            price = _PRICE.search(seed.answer, match.end())
            if price:
                assert dollars(price.group(1)) == product.effective_price(AS_OF), (
                    f"{where}: SKU {product.sku} is ${product.effective_price(AS_OF):,.2f} on "
                    f"{AS_OF}, the answer says ${price.group(1)}")
                checked += 1
        active = {p.active_promotion(AS_OF) for p in named.values()} - {None}
        for text in _PROMO.findall(seed.answer):
            assert text in {promo.text for promo in active}, f"{where}: {text!r} is not running"
        if seed.leaf.startswith("knowledge/products/") and named:
            allowed = {p.effective_price(AS_OF) for p in named.values()}
            allowed |= {value for p in named.values() if p.active_promotion(AS_OF)
                        for value in (p.price, round(p.price - p.promotion.price, 2))}
            for figure in _PRICE.findall(seed.answer):
                assert dollars(figure) in allowed, f"{where}: ${figure} is not a named SKU's price"
    assert checked >= 60


def test_no_heldout_question_leaks_and_the_leak_check_reads_the_seeds(leaves):
    texts = training_questions()
    assert {seed.question for seed in seeds(leaves)} <= {text.strip() for text in texts}
    found = leaked(select(load_cases(), split="heldout"), texts)
    assert not found, "; ".join(f"{case.id} in {text[:60]!r}" for case, text in found)


# --- the schema ------------------------------------------------------------------------------

RETURNS = "manuals/policies/returns.md"


def qna(count: int = 5, *, seed: str | None = None, top: str = "task_description: Returns.\n",
        document: str = f"document:\n  sources: [{RETURNS}]\n", tag: str = "") -> str:
    """A valid knowledge leaf with `count` seeds; `seed` replaces the first one."""
    items = [f"  - context: The standard window is 15 days.\n"
             f"    question: How long is the return window{tag}, take {i}?\n"
             f"    answer: 15 days from purchase.\n" for i in range(count)]
    if seed is not None:
        items[0] = seed
    return "version: 1\ncreated_by: tests\n" + top + document + "seed_examples:\n" + "".join(items)


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


LEAF = "knowledge/policies/returns/qna.yaml"
OTHER = "knowledge/policies/refunds/qna.yaml"

BAD = {
    "bad YAML": ({LEAF: qna(seed="  - question: [unclosed\n    answer: x\n")}, LEAF, 8,
                 "not valid YAML"),
    "empty file": ({LEAF: ""}, LEAF, 1, "a qna.yaml must be a mapping"),
    "unknown top key": ({LEAF: qna(top="task_descripton: Returns.\n")}, LEAF, 3,
                        "Did you mean task_description"),
    "unknown seed key": ({LEAF: qna(seed="  - contxt: x\n    question: q?\n    answer: a\n")},
                         LEAF, 7, "Did you mean context"),
    "missing key": ({LEAF: qna(top="")}, LEAF, 1, "missing required key 'task_description'"),
    "too few seeds": ({LEAF: qna(3)}, LEAF, 6, "3 seed example(s); a leaf needs at least 5: add 2"),
    "empty question": ({LEAF: qna(seed="  - context: c\n    question: ''\n    answer: a\n")},
                       LEAF, 8, "question must be non-empty text"),
    "empty answer": ({LEAF: qna(seed="  - context: c\n    question: q?\n    answer:\n")},
                     LEAF, 9, "answer must be non-empty text"),
    "no context": ({LEAF: qna(seed="  - question: q?\n    answer: a\n")}, LEAF, 7,
                   "missing required seed key 'context'"),
    "no document": ({LEAF: qna(document="")}, LEAF, 1, "knowledge leaves need 'document:"),
    "missing source": ({LEAF: qna(document="document:\n  sources: [manuals/policies/x.md]\n")},
                       LEAF, 5, "'manuals/policies/x.md' does not exist"),
    "outside the tree": ({"policies/returns/qna.yaml": qna()}, "policies/returns/qna.yaml", 1,
                         "a leaf must sit at knowledge/<area>/<leaf>/qna.yaml"),
    "too shallow": ({"skills/qna.yaml": qna()}, "skills/qna.yaml", 1, "a leaf must sit at"),
    # refunds/ is read first, so the copy in returns/ is the duplicate, pointing back at the first
    "duplicate question": ({LEAF: qna(), OTHER: qna()}, LEAF, 7,
                           f"{OTHER}:7); reword or remove one of them"),
    "long answer": ({LEAF: qna(seed="  - context: c\n    question: q?\n    answer: " + "x" * 1300
                                    + "\n")},
                    LEAF, 9, "answer is 1300 characters; keep it to 1200"),
    "repeated key": ({LEAF: qna(seed="  - context: c\n    question: q?\n    question: r?\n"
                                     "    answer: a\n")}, LEAF, 9, "key 'question' repeated"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_leaf_names_its_file_line_and_fix(tmp_path, case):
    files, culprit, line, fragment = BAD[case]
    with pytest.raises(DataError) as caught:
        load_taxonomy(write(tmp_path, files))
    message = str(caught.value)
    assert f"{culprit}:{line}: " in message, message
    assert fragment in message, message


def test_a_good_tree_loads_with_lines_and_skills_need_no_context(tmp_path):
    skills = qna(document="", seed="  - question: Hi!\n    answer: Hi! How can I help?\n")
    root = write(tmp_path, {LEAF: qna(), "skills/tone/greeting/qna.yaml": skills.replace(
        "How long is the return window,", "Greeting,")})
    returns, greeting = load_taxonomy(root)
    assert (returns.path, returns.kind, returns.area) == ("knowledge/policies/returns",
                                                          "knowledge", "policies")
    assert returns.sources == (RETURNS,) and returns.task_description == "Returns."
    first = returns.seeds[0]
    assert (first.context, first.answer, first.line) == ("The standard window is 15 days.",
                                                         "15 days from purchase.", 7)
    assert first.file.endswith(LEAF) and first.leaf == "knowledge/policies/returns"
    assert (greeting.kind, greeting.sources, greeting.seeds[0].context) == ("skills", (), None)
    assert len(seeds([returns, greeting])) == 10


def test_an_empty_folder_says_where_to_add_a_leaf(tmp_path):
    with pytest.raises(DataError, match="No qna.yaml leaves under .*knowledge/<area>/<leaf>"):
        load_taxonomy(tmp_path)
