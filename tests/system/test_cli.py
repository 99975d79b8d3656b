"""The `store-assistant` command: single answers, JSON, batches, and every kind of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from store_assistant.cli import main
from tests.conftest import TEST_MAX_TOKENS

RECORD_KEYS = {"id", "answer", "strategy", "model", "sources", "latency_ms", "usage", "flags"}


@pytest.fixture(autouse=True)
def _short_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_ASSISTANT_MAX_TOKENS", str(TEST_MAX_TOKENS))


def test_ask_json(capsys: pytest.CaptureFixture) -> None:
    assert main(["ask", "Do you sell USB-C chargers?", "--strategy", "pe-zero-shot", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert RECORD_KEYS - {"id"} <= set(record)
    assert record["strategy"] == "pe-zero-shot"
    assert record["model"] == "local/smollm2-135m"
    assert len(record["answer"].split()) >= 3
    assert record["usage"]["completion_tokens"] > 0 and record["latency_ms"] > 0


def test_ask_streams_text_with_a_footer(capsys: pytest.CaptureFixture) -> None:
    assert main(["ask", "What is HDMI 2.1 for?", "--strategy", "pe-few-shot"]) == 0
    out = capsys.readouterr().out
    body, footer = out.rsplit("\n-- ", 1)
    assert len(body.split()) >= 3
    assert footer.startswith("pe-few-shot | local/smollm2-135m | ")


def test_rag_answer_has_inventory_and_manual_sources(store_settings, capsys) -> None:
    assert main(["ask", "What is the return window for opened items?", "--json",
                 "--data-dir", str(store_settings.data_dir)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["strategy"] == "rag-hybrid"
    kinds = {source["kind"] for source in record["sources"]}
    assert "policy" in kinds
    assert any(s["id"].startswith("policy:returns#") for s in record["sources"])


def test_no_data_yet_says_how_to_prepare_it(tmp_path: Path, capsys) -> None:
    assert main(["ask", "hi", "--data-dir", str(tmp_path / "empty")]) == 1
    assert "make data" in capsys.readouterr().err


def test_batch_writes_one_record_per_question(tmp_path: Path, capsys) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"id": "q1", "question": "Do you sell printers?"}\n\n'
                         '{"id": 2, "question": "What does a soundbar do?"}\n')
    out = tmp_path / "answers.jsonl"
    assert main(["ask", "--batch", str(questions), "--out", str(out),
                 "--strategy", "pe-cot"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["q1", 2]
    for record in records:
        assert RECORD_KEYS <= set(record)
        assert record["strategy"] == "pe-cot" and record["answer"]
    assert "wrote 2 answers" in capsys.readouterr().err
    assert set(tmp_path.iterdir()) == {out, questions}  # no temp file left behind


def test_strategies_lists_the_registry(capsys: pytest.CaptureFixture) -> None:
    assert main(["strategies"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["pe-zero-shot", "pe-few-shot", "pe-cot",
                                                   "rag-dense", "rag-bm25", "rag-hybrid",
                                                   "finetuned", "finetuned+rag"]
    assert "(default)" in lines[5]


@pytest.mark.parametrize("args, message", [
    (["ask", ""], "empty"),
    (["ask", "   "], "empty"),
    (["ask", "x" * 50_000], "50,000 characters"),
    (["ask", "price\x07 of the TV"], "control character"),
    (["ask", "hi", "--strategy", "pe-fewshot"], "Did you mean pe-few-shot"),
    (["ask", "hi", "--model", "nonsense-model"], "Unknown model 'nonsense-model'"),
    (["ask"], "Give a question"),
    (["ask", "hi", "--out", "x.jsonl"], "--out goes with --batch"),
])
def test_bad_input_exits_2_with_a_clear_message(args, message, capsys) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_bad_batch_is_rejected_whole_and_writes_nothing(tmp_path: Path, capsys) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"id": 1, "question": "ok question"}\n'
                         'not json\n'
                         '{"id": 1, "question": "duplicate id"}\n'
                         '{"id": 3, "question": ""}\n'
                         '{"question": "no id"}\n')
    out = tmp_path / "answers.jsonl"
    assert main(["ask", "--batch", str(questions), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    for line, why in [(2, "not JSON"), (3, "duplicate id"), (4, "empty"), (5, '"id" and "question"')]:
        assert f"line {line}: " in err and why in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["questions.jsonl"]


def test_batch_refuses_to_overwrite_its_input(tmp_path: Path, capsys) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": 1, "question": "hi"}\n')
    assert main(["ask", "--batch", str(questions), "--out", str(questions)]) == 2
    assert questions.read_text() == '{"id": 1, "question": "hi"}\n'


def test_model_failure_in_a_batch_is_recorded_not_hidden(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("STORE_ASSISTANT_API_BASE", "http://127.0.0.1:9")
    monkeypatch.setenv("STORE_ASSISTANT_MAX_RETRIES", "0")
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": 1, "question": "hi"}\n')
    out = tmp_path / "a.jsonl"
    assert main(["ask", "--batch", str(questions), "--out", str(out),
                 "--model", "ollama/llama3.2", "--strategy", "pe-zero-shot"]) == 1
    record = json.loads(out.read_text())
    assert record["answer"] is None and "Could not reach" in record["error"]
    assert "(1 failed)" in capsys.readouterr().err


def test_console_script_runs_offline(tmp_path: Path) -> None:
    """The installed command ingests and answers (RAG) with every non-loopback connection refused."""
    guard = tmp_path / "sitecustomize.py"
    attempts = tmp_path / "network-attempts.log"
    guard.write_text(
        "import os, socket\n"
        "def _record(what):\n"
        "    with open(os.environ['NETWORK_ATTEMPTS'], 'a') as log:\n"
        "        log.write(what + '\\n')\n"
        "    raise OSError('network blocked by test: ' + what)\n"
        "_connect = socket.socket.connect\n"
        "def connect(self, address):\n"
        "    if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in "
        "('127.0.0.1', '::1'):\n"
        "        _record(f'connect {address}')\n"
        "    return _connect(self, address)\n"
        "socket.socket.connect = connect\n"
        "def getaddrinfo(host, *args, **kwargs):\n"
        "    _record(f'getaddrinfo {host}')\n"
        "socket.getaddrinfo = getaddrinfo\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_ASSISTANT_")}
    env.update(PYTHONPATH=str(tmp_path), STORE_ASSISTANT_MAX_TOKENS="16",
               NETWORK_ATTEMPTS=str(attempts))
    script = str(Path(sys.executable).with_name("store-assistant"))
    data = str(tmp_path / "data")
    for command in ([script, "ingest", "--data-dir", data],
                    [script, "ask", "Is the MacBook Pro 13 in stock?", "--json", "--data-dir", data]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                                cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    from store_assistant.config import DEFAULT_LLM

    assert record["model"] == DEFAULT_LLM and record["strategy"] == "rag-hybrid"  # as shipped
    assert record["sources"]
    assert not attempts.exists(), attempts.read_text()
