"""The answer log, staff feedback, the operations page and the corrections export (real parts)."""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
import yaml
from streamlit.testing.v1 import AppTest

from store_assistant.store.answer_log import (AnswerLog, answer_log, candidate_cases,
                                              candidate_seeds, corrections)
from store_assistant.web.figures import by_day, by_strategy, frame
from store_assistant.cli import main
from store_assistant.config import Settings, load_settings
from store_assistant.errors import DataError, ModelError
from store_assistant.evaluation.golden import load_cases
from store_assistant.answering.strategies import build_strategy
from store_assistant.answering.base import Answer, Source
from store_assistant.finetune.taxonomy import load_taxonomy
from tests.conftest import TEST_ENV, TEST_MAX_TOKENS, sign_in_as_manager

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def made(text: str = "The XM5 is $329.99.", strategy: str = "rag-hybrid", latency_ms: float = 1500,
         flags: tuple = ()) -> Answer:
    return Answer(text=text, strategy=strategy, model="local/smollm2-135m",
                  sources=[Source("6505728", "Sony WH-1000XM5", "", "", "inventory")],
                  latency_ms=latency_ms, usage={"prompt_tokens": 300, "completion_tokens": 20},
                  flags=list(flags))


@pytest.fixture
def log(tmp_path: Path) -> AnswerLog:
    return AnswerLog(tmp_path / "answer-log", keep_days=90)


def test_a_real_answer_is_logged_with_what_operations_needs(log: AnswerLog,
                                                           settings: Settings, gateway) -> None:
    answer = build_strategy("pe-zero-shot", gateway, settings).answer("What is a soundbar?")
    answer_id = log.record_answer("What is a soundbar?", answer)
    (logged,), unreadable = log.read()
    assert unreadable == 0 and logged["id"] == answer_id
    assert logged["strategy"] == "pe-zero-shot" and logged["model"] == "local/smollm2-135m"
    assert logged["latency_ms"] == pytest.approx(answer.latency_ms, abs=0.1)
    assert logged["prompt_tokens"] == answer.usage["prompt_tokens"] > 0
    assert logged["question"] == "What is a soundbar?" and logged["answer"] == answer.text
    assert logged["error"] is None and logged["rating"] is None
    # Nothing about who asked: no account, session or address fields.
    line = json.loads(next(log.folder.glob("*.jsonl")).read_text())
    assert set(line) == {"id", "time", "type", "door", "strategy", "model", "latency_ms", "ttft_ms",
                         "prompt_tokens", "completion_tokens", "cost_usd", "flags", "error",
                         "question", "answer", "sources"}


def test_cli_answers_are_logged_marked_cli_and_kept_out_of_the_shop_floor_figures(
        tmp_path: Path, capsys) -> None:
    """The answering path logs, whichever door: a CLI answer is in the log, not in the charts."""
    data_dir = tmp_path / "data"
    assert main(["ask", "What is a soundbar?", "--strategy", "pe-zero-shot", "--json",
                 "--data-dir", str(data_dir)]) == 0
    asked = json.loads(capsys.readouterr().out)
    log = answer_log(load_settings({"data_dir": str(data_dir)}, env=TEST_ENV))
    (logged,), _ = log.read()
    assert logged["door"] == "cli" and logged["answer"] == asked["answer"]
    assert frame([logged]).empty
    app_answer = log.record_answer("How much is the XM5?", made(), door="app")
    assert list(frame(log.read()[0])["id"]) == [app_answer]


def test_a_strategy_logs_its_errors_too(tmp_path: Path, settings: Settings) -> None:
    log = AnswerLog(tmp_path / "answer-log")
    broken = settings.replace(llm="openai/store-test", api_base="http://127.0.0.1:9",
                              max_retries=0, timeout_s=5)
    from store_assistant.inference.gateway import Gateway

    strategy = build_strategy("pe-zero-shot", Gateway(broken), broken, answer_log=log, door="cli")
    with pytest.raises(ModelError):
        strategy.answer("Do you sell webcams?")
    (logged,), _ = log.read()
    assert logged["door"] == "cli" and logged["answer"] is None
    assert logged["error"].startswith("ModelError") and logged["question"] == "Do you sell webcams?"


def test_errors_and_feedback_are_logged_and_the_last_rating_wins(log: AnswerLog) -> None:
    first = log.record_answer("How much is the XM5?", made())
    failed = log.record_error("Do you sell webcams?", "pe-zero-shot", "ollama/llama3.2", 30.0,
                              ModelError("Could not reach the server for ollama/llama3.2"))
    log.record_feedback(first, "up")
    log.record_feedback(first, "down", "  It is $329.99 with the holiday deal.  ")
    answers, _ = log.read()
    by_id = {a["id"]: a for a in answers}
    assert by_id[first]["rating"] == "down"
    assert by_id[first]["correction"] == "It is $329.99 with the holiday deal."
    assert by_id[failed]["error"] == "ModelError: Could not reach the server for ollama/llama3.2"
    assert by_id[failed]["answer"] is None


@pytest.mark.parametrize("answer_id, rating, correction, why", [
    ("not-an-id", "down", None, "not an answer id"),
    ("0" * 32, "meh", None, "not one of up, down"),
    ("0" * 32, "down", "x" * 2001, "keep it under 2,000"),
    ("0" * 32, "down", "bad \x1b[31m colour", "control characters"),
    ("0" * 32, "down", 42, "must be text"),
])
def test_bad_feedback_is_refused_and_writes_nothing(log: AnswerLog, answer_id, rating, correction,
                                                   why: str) -> None:
    log.record_answer("q", made())
    before = {p.name: p.read_bytes() for p in log.folder.iterdir()}
    with pytest.raises(DataError, match=why):
        log.record_feedback(answer_id, rating, correction)
    assert {p.name: p.read_bytes() for p in log.folder.iterdir()} == before


def test_day_files_older_than_the_kept_days_are_deleted(tmp_path: Path) -> None:
    log = AnswerLog(tmp_path / "answer-log", keep_days=30)
    log.folder.mkdir()
    today = date.today()
    for age in (0, 29, 30, 400):
        day = today - timedelta(days=age)
        (log.folder / f"{day.isoformat()}.jsonl").write_text("")
    (log.folder / "notes.txt").write_text("not ours")
    gone = log.rotate(today)
    assert sorted(p.name for p in gone) == sorted(
        f"{(today - timedelta(days=a)).isoformat()}.jsonl" for a in (30, 400))
    assert sorted(p.name for p in log.folder.iterdir()) == sorted(
        [f"{(today - timedelta(days=a)).isoformat()}.jsonl" for a in (0, 29)] + ["notes.txt"])


def test_a_torn_or_hand_edited_line_is_counted_not_guessed(log: AnswerLog) -> None:
    kept = log.record_answer("q1", made())
    path = next(log.folder.glob("*.jsonl"))
    with path.open("ab") as handle:
        handle.write(b'{"id": "abc", "type": "answer", "strat')  # a crash mid-write
        handle.write(b'\n{"type": "feedback", "answer_id": 5, "rating": "down", "time": "x"}\n')
    later = log.record_answer("q2", made())
    answers, unreadable = log.read()
    assert [a["id"] for a in answers] == [kept, later] and unreadable == 2


def _write_many(folder: str, n: int) -> None:
    log = AnswerLog(Path(folder))
    for i in range(n):
        log.record_answer(f"process question {i} " + "x" * 3000, made())


def test_concurrent_writers_never_interleave_lines(log: AnswerLog) -> None:
    """8 threads and 2 processes at once: every line whole (3 KB lines exceed one page write)."""
    def write(n: int) -> None:
        for i in range(n):
            log.record_answer(f"thread question {i} " + "y" * 3000, made())

    threads = [threading.Thread(target=write, args=(40,)) for _ in range(8)]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_many, args=(str(log.folder), 40)) for _ in range(2)]
    for worker in [*threads, *processes]:
        worker.start()
    for thread in threads:
        thread.join()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    answers, unreadable = log.read()
    assert unreadable == 0 and len(answers) == 10 * 40


def test_figures_per_strategy_and_day(log: AnswerLog) -> None:
    ids = [log.record_answer("q", made(latency_ms=ms)) for ms in (1000, 2000, 3000, 4000, 10000)]
    log.record_answer("q", made(flags=("fallback:openai/gpt-4o-mini",), latency_ms=1000))
    log.record_answer("q", made(flags=("guard_corrected_price:$0->$329.99",), latency_ms=1000))
    log.record_error("q", "rag-hybrid", "local/smollm2-135m", 90000, ModelError("busy"))
    log.record_answer("q", made(strategy="pe-zero-shot", latency_ms=500))
    log.record_feedback(ids[0], "down", "fix")
    log.record_feedback(ids[1], "up")
    df = frame(log.read()[0])
    rag, pe = (by_strategy(df).set_index("strategy").loc[name] for name in ("rag-hybrid",
                                                                            "pe-zero-shot"))
    assert rag["questions"] == 8
    assert rag["p95_s"] == pytest.approx(
        np.percentile([1, 2, 3, 4, 10, 1, 1], 95))  # errors are not latencies
    assert rag["error_rate"] == pytest.approx(1 / 8)
    assert rag["fallback_rate"] == pytest.approx(1 / 8)
    assert rag["guard_corrections"] == 1
    assert (rag["rated"], rag["thumbs_down_rate"]) == (2, 0.5)
    assert pe["rated"] == 0 and pd.isna(pe["thumbs_down_rate"])  # no ratings: "–", not "0% 👎"
    daily = by_day(df)
    assert dict(zip(daily["strategy"], daily["questions"])) == {"rag-hybrid": 8, "pe-zero-shot": 1}
    assert len(set(daily["day"])) == 1


def test_corrections_export_as_cases_and_seeds_that_load_once_reviewed(log: AnswerLog,
                                                                        tmp_path: Path) -> None:
    questions = ["How much is the silver XM5?", "Is the XM5 on sale?", "XM5 battery life?",
                 "Does the XM5 fold?", "XM5 in stock at Westside?", "Can I return opened XM5?"]
    for i, question in enumerate(questions):
        answer_id = log.record_answer(question, made(text="It is $0."))
        log.record_feedback(answer_id, "down", f"Correction {i}: it is $329.99 (SKU 6505728).")
    log.record_feedback(log.record_answer("q", made()), "down")  # 👎 without a correction: left out
    answers, _ = log.read()
    assert len(corrections(answers)) == 6

    cases = tmp_path / "cases"
    cases.mkdir()
    text = candidate_cases(answers)
    assert "# " in text and "It is $0." in text  # the reviewer sees what was answered
    (cases / "feedback.yaml").write_text(text)
    with pytest.raises(DataError, match="REVIEW"):  # not usable until a person reviews it
        load_cases(cases)
    reviewed = yaml.safe_load(text)
    for case in reviewed:
        case.update(category="price", facts=[{"type": "price", "value": 329.99}])
    (cases / "feedback.yaml").write_text(yaml.safe_dump(reviewed))
    loaded = load_cases(cases)
    assert [c.reference for c in loaded] == [a["correction"] for a in corrections(answers)]

    leaf = tmp_path / "taxonomy" / "skills" / "feedback" / "shop-floor"
    leaf.mkdir(parents=True)
    (leaf / "qna.yaml").write_text(candidate_seeds(answers))
    (found,) = load_taxonomy(tmp_path / "taxonomy")
    assert [s.answer for s in found.seeds] == [a["correction"] for a in corrections(answers)]


def test_cli_exports_corrections(tmp_path: Path, capsys) -> None:
    settings = load_settings({"data_dir": str(tmp_path / "data")}, env=TEST_ENV)
    log = answer_log(settings)
    out = tmp_path / "review"
    assert main(["feedback", "export", "--out", str(out), "--data-dir", str(settings.data_dir)]) == 0
    assert "nothing written" in capsys.readouterr().out and not out.exists()
    log.record_feedback(log.record_answer("How much is the XM5?", made()), "down", "$329.99")
    assert main(["feedback", "export", "--out", str(out), "--data-dir", str(settings.data_dir),
                 "--days", "7"]) == 0
    assert "1 corrected answer(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["feedback-cases.yaml", "feedback-seeds.yaml"]
    assert main(["feedback", "export", "--out", str(out), "--days", "0"]) == 2


# --- the app ------------------------------------------------------------------------------------

@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[AppTest, Settings]:
    monkeypatch.setenv("STORE_ASSISTANT_MAX_TOKENS", str(TEST_MAX_TOKENS))
    monkeypatch.setenv("STORE_ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    st.cache_resource.clear()
    return (AppTest.from_file(APP, default_timeout=180),
            load_settings({"data_dir": str(tmp_path / "data")}, env=TEST_ENV))


def test_staff_rate_and_correct_answers_and_managers_see_it(app) -> None:
    at, settings = app
    at.run()
    at.selectbox[0].set_value("pe-zero-shot").run()
    at.chat_input[0].set_value("What is a soundbar?")
    at.run()
    at.chat_input[0].set_value("Do you sell drones?")
    at.run()
    assert not at.exception
    (first, second), _ = answer_log(settings).read()
    assert [first["question"], second["question"]] == ["What is a soundbar?", "Do you sell drones?"]
    assert first["strategy"] == "pe-zero-shot"

    at.feedback[0].set_value(1).run()  # 👍 on the first answer
    at.feedback[1].set_value(0).run()  # 👎 on the second: a correction box appears
    assert not at.exception
    at.text_area[0].set_value("We don't carry drones; try the camera aisle.")
    next(b for b in at.button if b.label == "Send correction").click()
    at.run()
    assert not at.exception
    (first, second), _ = answer_log(settings).read()
    assert first["rating"] == "up" and second["rating"] == "down"
    assert second["correction"] == "We don't carry drones; try the camera aisle."
    assert "Correction sent" in at.chat_message[3].caption[-1].value

    sign_in_as_manager(at, settings)
    at.switch_page("store_assistant/web/pages/operations.py")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Operations"
    assert [m.value for m in at.metric][:1] == ["2"]
    assert at.metric[4].value == "50%"  # 1 of 2 rated answers got 👎
    corrections_table = at.dataframe[-1].value
    assert list(corrections_table["correction"]) == ["We don't carry drones; try the camera aisle."]

