"""The chat page warms its strategy once per process, off the record: the index is searched and
the model runs a first prompt before staff ask, and nothing reaches the answer log."""

from __future__ import annotations

import json

from store_assistant.answering.strategies import build_strategy
from store_assistant.store.answer_log import AnswerLog
from store_assistant.web import ui
from tests.fakes import ScriptedGateway


def test_the_warm_up_runs_the_model_once_and_logs_nothing(store_settings, tmp_path) -> None:
    gateway = ScriptedGateway(json.dumps({"verdict": "Yes."}))
    gateway.is_local = True  # as the embedded model is
    log = AnswerLog(tmp_path / "answers")
    strategy = build_strategy("rag-hybrid", gateway, store_settings, answer_log=log, door="app")
    ui._warm(strategy)
    assert len(gateway.sent) == 1  # one prompt through the model: its caches are warm
    assert log.read()[0] == []  # the warm-up is not an answer staff were given


def test_a_remote_model_is_not_called(store_settings) -> None:
    gateway = ScriptedGateway()  # no reply scripted: a call would fail the test
    ui._warm(build_strategy("rag-hybrid", gateway, store_settings))
    assert gateway.sent == []


def test_a_failed_warm_up_is_logged_not_raised(store_settings, caplog) -> None:
    gateway = ScriptedGateway()  # no reply: the model call fails
    gateway.is_local = True
    ui._warm(build_strategy("rag-hybrid", gateway, store_settings))
    assert "warm-up failed" in caplog.text
