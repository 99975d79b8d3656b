"""Fuzzing every input parser with hypothesis: questions, history, inventory CSV, taxonomy YAML,
golden case files, settings, training configs, the model registry and accounts. Whatever the input,
the parser returns or raises one of our errors (which the CLI and app show as a message); any other
exception is a crash. A rejected CSV must also leave the inventory unchanged.

`make test` runs the "make-test" profile: derandomized (the same examples on every machine and
every run) with no example database, so its result never depends on what ran before. Every crash
the fuzzer has found is kept below as an `@example`. `make fuzz` runs the "fuzz" profile: fresh
randomness and 20x the examples, remembering failures in .hypothesis/ until they are fixed.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from store_assistant.config import PROJECT_DIR, load_settings
from store_assistant.errors import StoreAssistantError
from tests.conftest import TEST_ENV

_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile("make-test", max_examples=150, derandomize=True, database=None,
                          deadline=None, suppress_health_check=_QUIET)
settings.register_profile("fuzz", max_examples=3000, deadline=None, suppress_health_check=_QUIET,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "make-test"))
FUZZ = settings()
# Accounts hash with scrypt (~0.4 s each): a quarter of the examples.
FEW = settings(max_examples=max(10, settings().max_examples // 4))
INVENTORY_CSV = (PROJECT_DIR / "manuals" / "inventory.csv").read_text(encoding="utf-8")
CSV_LINES = INVENTORY_CSV.splitlines()
GOOD_QNA = next((PROJECT_DIR / "finetune_data" / "taxonomy").rglob("qna.yaml")).read_text()
GOOD_CASES = sorted((PROJECT_DIR / "eval" / "cases").glob("*.yaml"))[0].read_text()

anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                     st.binary(max_size=50), st.lists(st.text(max_size=5), max_size=3),
                     st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))


def mutated(text: str) -> st.SearchStrategy[str]:
    """A real file with a slice replaced by random text: deep enough to reach the checks."""
    return st.tuples(st.integers(0, len(text)), st.integers(0, 200),
                     st.text(alphabet=string.printable + "é€\x00\ufeff", max_size=80)).map(
        lambda t: text[:t[0]] + t[2] + text[t[0] + t[1]:])


def ours_or_nothing(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except StoreAssistantError:
        return None


@FUZZ
@given(anything)
def test_questions(value) -> None:
    from store_assistant.answering.questions import validate_question
    ours_or_nothing(validate_question, value)


@FUZZ
@given(st.one_of(anything, st.lists(st.dictionaries(st.sampled_from(["role", "content", "x"]),
                                                    anything, max_size=3), max_size=4)))
def test_history(value) -> None:
    from store_assistant.answering.questions import validate_history
    ours_or_nothing(validate_history, value)


@pytest.fixture(scope="module")
def loaded_inventory(tmp_path_factory):
    from store_assistant.store.inventory import Inventory

    inventory = Inventory(tmp_path_factory.mktemp("fuzz") / "inventory.db")
    inventory.import_csv(INVENTORY_CSV.encode())
    return inventory


@FUZZ
@given(st.one_of(mutated(INVENTORY_CSV[:3000]), st.binary(max_size=300),
                 st.lists(st.sampled_from(CSV_LINES[:40]), max_size=6).map("\n".join)))
def test_inventory_csv_import(loaded_inventory, data) -> None:
    before = loaded_inventory.data_version()
    payload = data if isinstance(data, bytes) else (data + "\n").encode("utf-8", "surrogatepass")
    report = ours_or_nothing(loaded_inventory.import_csv, payload, force=True)
    if report is None:  # rejected: nothing changed
        assert loaded_inventory.data_version() == before
    elif loaded_inventory.data_version() != before:  # accepted: put the real data back
        loaded_inventory.import_csv(INVENTORY_CSV.encode(), force=True)


@FUZZ
@given(mutated(GOOD_QNA))
def test_taxonomy_yaml(tmp_path_factory, text) -> None:
    from store_assistant.finetune.taxonomy import load_taxonomy

    root = tmp_path_factory.mktemp("taxonomy")
    leaf = root / "knowledge" / "products" / "fuzz"
    leaf.mkdir(parents=True)
    (leaf / "qna.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    ours_or_nothing(load_taxonomy, root)


@FUZZ
@given(mutated(GOOD_CASES[:4000]))
def test_golden_case_files(tmp_path_factory, text) -> None:
    from store_assistant.evaluation.golden import load_cases

    folder = tmp_path_factory.mktemp("cases")
    (folder / "fuzz.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    ours_or_nothing(load_cases, folder)


@FUZZ
@example(values={"DATA_DIR": "~0"})  # found by hypothesis: '~user' of no user crashed pathlib
@example(values={"MODELS_DIR": "~nobody-here/models"})
@given(st.dictionaries(st.sampled_from(["LLM", "THREADS", "N_CTX", "TEMPERATURE", "DATA_DIR",
                                        "QDRANT_URL", "STAFF_LOGIN", "FALLBACK_LLM", "TYPO",
                                        "BREAKER_COOLDOWN_S", "MAX_TOKENS", "MODELS_DIR"]),
                       st.text(max_size=12), max_size=4))
def test_settings_from_the_environment(values) -> None:
    env = {f"STORE_ASSISTANT_{k}": v.replace("\x00", "") for k, v in values.items()}
    ours_or_nothing(load_settings, env=env)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.dictionaries(
    st.sampled_from(["epochs", "rank", "learning_rate", "name", "precision", "train_file", "x"]),
    st.one_of(st.integers(-5, 10 ** 6), st.floats(allow_nan=True), st.text(max_size=8),
              st.booleans()), max_size=3).map(
        lambda d: "\n".join(f"{k} = {json.dumps(v)}" for k, v in d.items()))))
@example(text='train_file = "~0"')  # found by hypothesis on a new machine: a crash, not an error
def test_training_configs(tmp_path_factory, text) -> None:
    from store_assistant.finetune.train import load_config

    path = tmp_path_factory.mktemp("config") / "c.toml"
    path.write_text(text.replace("NaN", "nan").replace("Infinity", "inf"), encoding="utf-8",
                    errors="surrogatepass")
    ours_or_nothing(load_config, path)


@FUZZ
@given(st.one_of(st.text(max_size=100), st.recursive(
    st.one_of(st.none(), st.text(max_size=5), st.integers()),
    lambda inner: st.dictionaries(st.sampled_from(["active", "models", "volt", "base", "adapter",
                                                   "adapter_sha256"]), inner, max_size=3),
    max_leaves=8).map(json.dumps)))
def test_model_registry(tmp_path_factory, text) -> None:
    from store_assistant.inference.models import load_registry

    folder = tmp_path_factory.mktemp("models")
    (folder / "registry.json").write_text(text, encoding="utf-8", errors="surrogatepass")
    ours_or_nothing(load_registry, load_settings({"models_dir": str(folder)}, env=TEST_ENV))


@FEW
@given(st.text(max_size=70), st.sampled_from(["staff", "manager", "admin", ""]),
       st.text(max_size=30))
def test_accounts(tmp_path_factory, name, role, password) -> None:
    from store_assistant.store import accounts

    account_settings = load_settings({"data_dir": str(tmp_path_factory.mktemp("acc"))}, env=TEST_ENV)
    if ours_or_nothing(accounts.add_user, account_settings, name, role, password) is None and \
            not accounts.load_users(account_settings):
        return
    assert accounts.verify(account_settings, name, password) == role


GOOD_LOG_LINE = json.dumps({"id": "0" * 32, "time": "2026-11-29T10:00:00.000+00:00",
                            "type": "answer", "strategy": "rag-hybrid", "model": "local/x",
                            "latency_ms": 1.0, "flags": [], "question": "q", "answer": "a",
                            "sources": ["6505728"]})

GOOD_FEEDBACK_LINE = json.dumps({"id": "1" * 32, "time": "2026-11-29T10:00:01.000+00:00",
                                 "type": "feedback", "answer_id": "0" * 32, "rating": "down",
                                 "correction": "It is $329.99."})


@FUZZ
@given(st.lists(st.one_of(mutated(GOOD_LOG_LINE), st.binary(max_size=80).map(
    lambda b: b.decode("latin-1")), mutated(GOOD_FEEDBACK_LINE)), max_size=6),
    anything, st.sampled_from(["up", "down", "meh", None]), anything)
@example(lines=[GOOD_LOG_LINE, GOOD_FEEDBACK_LINE.replace('"correction"', '"correctio"')], answer_id=None,
         rating="up", correction=None)  # found by hypothesis: a feedback line without its key
def test_answer_log_lines_and_feedback(tmp_path_factory, lines, answer_id, rating,
                                       correction) -> None:
    """Hand-edited or torn log lines are skipped and counted; bad feedback is refused."""
    from store_assistant.store.answer_log import AnswerLog, candidate_cases, candidate_seeds
    from store_assistant.web.figures import by_strategy, frame

    log = AnswerLog(tmp_path_factory.mktemp("log"))
    log.folder.mkdir(parents=True, exist_ok=True)
    (log.folder / "2026-11-29.jsonl").write_bytes(
        "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
    answers, unreadable = log.read()
    assert len(answers) + unreadable <= max(1, len(lines)) + sum(l.count("\n") for l in lines)
    by_strategy(frame(answers))  # the Operations page's figures from whatever was readable
    candidate_cases(answers), candidate_seeds(answers)
    ours_or_nothing(log.record_feedback, answer_id, rating, correction)
