"""Model failover: a remote model that errors or hangs gives a clear message or, when configured,
an answer from the fallback model with the fallback shown; the circuit breaker stops calling a dead
endpoint. The remote model is a real HTTP server on loopback that fails on purpose."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from store_assistant.config import load_settings
from store_assistant.errors import ModelError
from store_assistant.inference.breaker import CIRCUITS as _CIRCUITS
from store_assistant.inference.gateway import Gateway
from store_assistant.answering.strategies import build_strategy
from tests.conftest import TEST_ENV

QUESTION = [{"role": "user", "content": "Say hello."}]


class FailingServer:
    """An OpenAI-compatible endpoint that answers every request with `status`, or hangs."""

    def __init__(self, status: int = 500, hang_s: float = 0.0) -> None:
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hang_s:
                    time.sleep(hang_s)
                body = json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    _CIRCUITS.clear()
    server = FailingServer()
    yield server
    server.close()
    _CIRCUITS.clear()


def remote(server: FailingServer, **overrides) -> object:
    return load_settings({"llm": "openai/store-test", "api_base": server.url, "max_retries": 0,
                          "timeout_s": 5, "max_tokens": 16, **overrides}, env=TEST_ENV)


def test_without_a_fallback_the_failure_is_a_clear_message(server) -> None:
    with pytest.raises(ModelError, match="openai/store-test"):
        Gateway(remote(server)).complete(QUESTION)
    assert server.requests >= 1


def test_the_fallback_answers_and_the_answer_says_so(server, settings) -> None:
    config = remote(server, fallback_llm="local/smollm2-135m", data_dir=str(settings.data_dir))
    strategy = build_strategy("pe-zero-shot", Gateway(config), config)
    answer = strategy.answer("What is a soundbar?")
    assert answer.model == "local/smollm2-135m"
    assert "fallback:openai/store-test" in answer.flags
    assert answer.usage["completion_tokens"] > 0  # the embedded model really answered

    stream = strategy.stream("What is HDMI?")  # streaming falls back the same way
    text = "".join(stream)
    assert text and stream.answer.model == "local/smollm2-135m"
    assert "fallback:openai/store-test" in stream.answer.flags


def test_the_circuit_breaker_stops_calling_a_dead_endpoint(server) -> None:
    gateway = Gateway(remote(server, breaker_failures=2, breaker_cooldown_s=60))
    for _ in range(2):
        with pytest.raises(ModelError):
            gateway.complete(QUESTION)
    calls = server.requests
    started = time.perf_counter()
    with pytest.raises(ModelError, match="circuit breaker"):
        gateway.complete(QUESTION)
    assert server.requests == calls  # not called while open
    assert time.perf_counter() - started < 0.5  # and the refusal is immediate


def test_after_the_cool_down_one_trial_call_goes_through(server) -> None:
    gateway = Gateway(remote(server, breaker_failures=1, breaker_cooldown_s=0.2))
    with pytest.raises(ModelError):
        gateway.complete(QUESTION)
    with pytest.raises(ModelError, match="circuit breaker"):
        gateway.complete(QUESTION)
    time.sleep(0.3)
    calls = server.requests
    with pytest.raises(ModelError) as error:
        gateway.complete(QUESTION)
    assert server.requests == calls + 1 and "circuit breaker" not in str(error.value)


def test_after_the_cool_down_concurrent_sessions_send_one_trial_call(server) -> None:
    """Half-open: of eight sessions asking at once after the cool-down, one reaches the dead
    server (the trial) and seven are refused at once; the failed trial opens the circuit again."""
    slow = FailingServer(hang_s=0.5)  # the trial is still out while the others ask
    try:
        gateway = Gateway(remote(slow, breaker_failures=1, breaker_cooldown_s=0.2))
        with pytest.raises(ModelError):
            gateway.complete(QUESTION)
        time.sleep(0.3)
        calls, errors, start = slow.requests, [], threading.Barrier(8)

        def ask() -> None:
            start.wait()
            try:
                gateway.complete(QUESTION)
            except ModelError as exc:
                errors.append(str(exc))

        sessions = [threading.Thread(target=ask) for _ in range(8)]
        for session in sessions:
            session.start()
        for session in sessions:
            session.join()
        assert slow.requests == calls + 1
        refused = [e for e in errors if "a trial call to it is under way" in e]
        assert len(errors) == 8 and len(refused) == 7
        with pytest.raises(ModelError, match="not called again for"):  # the trial failed: open
            gateway.complete(QUESTION)
        assert slow.requests == calls + 1
    finally:
        slow.close()


def test_a_trial_that_decides_nothing_lets_the_next_caller_try() -> None:
    """A trial refused for a reason that is not the endpoint's (a prompt too long, a busy local
    queue) must not leave the circuit waiting for a verdict forever; a good call closes it."""
    from store_assistant.errors import PromptTooLongError
    from store_assistant.inference.breaker import CLOSED, HALF_OPEN, OPEN, Circuit, CircuitOpenError

    circuit = Circuit()
    circuit.failed(ModelError("boom"), threshold=1)
    assert circuit.state(cooldown_s=60) == OPEN and circuit.state(cooldown_s=0) == HALF_OPEN
    assert circuit.check("m", cooldown_s=0) is True  # the trial
    with pytest.raises(CircuitOpenError, match="trial call"):
        circuit.check("m", cooldown_s=0)
    circuit.failed(PromptTooLongError("too long"), threshold=1, trial=True)
    assert circuit.check("m", cooldown_s=0) is True  # the next caller is the trial
    circuit.failed(CircuitOpenError("refused"), threshold=1)  # a refused caller changes nothing
    assert circuit.trial
    circuit.succeeded()
    assert circuit.state(cooldown_s=60) == CLOSED and circuit.check("m", cooldown_s=60) is False


def test_a_hanging_model_times_out_and_falls_back(monkeypatch, settings) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    _CIRCUITS.clear()
    hanging = FailingServer(hang_s=10)
    try:
        config = remote(hanging, timeout_s=1, fallback_llm="local/smollm2-135m")
        started = time.perf_counter()
        reply = Gateway(config).complete(QUESTION)
        assert time.perf_counter() - started < 8  # bounded by the timeout, not the server
        assert reply.model == "local/smollm2-135m" and reply.fallback_from == "openai/store-test"
        assert "did not answer in time" in reply.fallback_reason
    finally:
        hanging.close()
        _CIRCUITS.clear()


def test_the_app_shows_that_the_backup_model_answered(server, monkeypatch) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from store_assistant.config import PROJECT_DIR

    for key, value in {"LLM": "openai/store-test", "API_BASE": server.url, "MAX_RETRIES": "0",
                       "FALLBACK_LLM": "local/smollm2-135m", "MAX_TOKENS": "16"}.items():
        monkeypatch.setenv(f"STORE_ASSISTANT_{key}", value)
    st.cache_resource.clear()
    at = AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=120).run()
    at.selectbox[0].set_value("pe-zero-shot").run()
    at.chat_input[0].set_value("What is a soundbar?").run()
    assert not at.exception
    assert at.session_state["turns"][-1]["meta"]["model"] == "local/smollm2-135m"
    assert any("openai/store-test did not answer, so the backup model local/smollm2-135m did"
               in w.value for w in at.warning)
