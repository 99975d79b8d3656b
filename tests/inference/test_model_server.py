"""The remote-model path against a real OpenAI-compatible server: llama-cpp-python's own
(`store-assistant model serve`, i.e. `python -m llama_cpp.server`) on loopback, serving the
embedded model's verified file, driven through litellm exactly as a store's vLLM or Ollama
would be. An answer, streaming, a wrong API key, a stalled server (timeout, breaker opening and
closing), and the server killed mid-answer (the embedded model answers instead, and says so)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from store_assistant.answering.strategies import build_strategy
from store_assistant.config import load_settings
from store_assistant.errors import ModelError
from store_assistant.inference.breaker import CIRCUITS
from store_assistant.inference.gateway import Gateway
from tests.conftest import TEST_ENV

MODEL = "smollm2-135m"
KEY = "store-test-key-0123"
QUESTION = [{"role": "user", "content": "Say hello to a customer."}]
LONG = [{"role": "user", "content": "Write a long story about a shop that sells televisions, "
                                    "with many chapters."}]


class ModelServer:
    """`store-assistant model serve` in a subprocess on a free loopback port."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        script = Path(sys.executable).with_name("store-assistant")
        env = {**os.environ, "STORE_TEST_SERVER_KEY": KEY, "STORE_ASSISTANT_THREADS": "1"}
        self.process = subprocess.Popen(
            [str(script), "model", "serve", MODEL, "--port", str(self.port),
             "--api-key-env", "STORE_TEST_SERVER_KEY"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.banner = self.process.stdout.readline() + self.process.stdout.readline()
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # drain its log
        deadline = time.monotonic() + 120
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the model server did not start: {self.banner}")
            time.sleep(0.2)

    def ready(self) -> bool:
        request = urllib.request.Request(f"{self.url}/models",
                                         headers={"Authorization": f"Bearer {KEY}"})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server():
    server = ModelServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_circuits(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    CIRCUITS.clear()
    yield
    CIRCUITS.clear()


def remote(server: ModelServer, settings, **overrides):
    return load_settings({"llm": f"openai/{MODEL}", "api_base": server.url, "max_retries": 0,
                          "timeout_s": 60, "max_tokens": 24, "data_dir": str(settings.data_dir),
                          **overrides}, env=TEST_ENV)


def test_serve_checks_the_weights_and_says_how_to_point_apps_at_it(server) -> None:
    assert "SHA-256 verified" in server.banner
    assert f"STORE_ASSISTANT_LLM=openai/{MODEL} STORE_ASSISTANT_API_BASE={server.url}" \
        in server.banner
    with urllib.request.urlopen(urllib.request.Request(
            f"{server.url}/models", headers={"Authorization": f"Bearer {KEY}"})) as response:
        assert [m["id"] for m in json.load(response)["data"]] == [MODEL]


def test_a_remote_answer_comes_from_the_server(server, settings) -> None:
    reply = Gateway(remote(server, settings)).complete(QUESTION)
    assert reply.text.strip() and reply.model == f"openai/{MODEL}"
    assert reply.usage["completion_tokens"] > 0 and reply.fallback_from is None
    config = remote(server, settings, fallback_llm="local/smollm2-135m")
    answer = build_strategy("pe-zero-shot", Gateway(config), config).answer("What is a soundbar?")
    assert answer.model == f"openai/{MODEL}" and not any(f.startswith("fallback")
                                                          for f in answer.flags)


def test_a_remote_answer_streams_in_pieces(server, settings) -> None:
    stream = Gateway(remote(server, settings)).stream(QUESTION)
    pieces = list(stream)
    assert len(pieces) > 3 and stream.completion.text == "".join(pieces)
    assert stream.completion.ttft_ms is not None
    assert stream.completion.ttft_ms < stream.completion.latency_ms
    assert stream.completion.usage.get("completion_tokens", 0) > 0


def test_two_answers_at_once_both_finish(server, settings) -> None:
    """Several apps share one server: a second request must queue, not cut the first short
    (llama_cpp.server interrupts by default; `model serve` turns that off)."""
    gateway = Gateway(remote(server, settings, max_tokens=40))
    results, errors = [], []

    def ask() -> None:
        try:
            stream = gateway.stream(LONG)
            results.append(("".join(stream), stream.completion.model))
        except ModelError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)  # the second arrives while the first is being written
    for thread in threads:
        thread.join(120)
    assert not errors and len(results) == 2
    assert all(text.strip() and model == f"openai/{MODEL}" for text, model in results)


def test_a_wrong_api_key_is_named_and_the_embedded_model_answers(server, settings,
                                                                  monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "not-the-key")
    with pytest.raises(ModelError, match="rejected the credentials"):
        Gateway(remote(server, settings)).complete(QUESTION)
    reply = Gateway(remote(server, settings, fallback_llm="local/smollm2-135m")).complete(QUESTION)
    assert reply.model == "local/smollm2-135m" and "credentials" in reply.fallback_reason


def test_a_stalled_server_times_out_opens_the_breaker_and_closes_it_again(server,
                                                                          settings) -> None:
    config = remote(server, settings, timeout_s=1.5, breaker_failures=2, breaker_cooldown_s=2,
                    fallback_llm="local/smollm2-135m")
    gateway = Gateway(config)
    os.kill(server.process.pid, signal.SIGSTOP)  # alive, listening, answering nothing
    try:
        for _ in range(2):
            started = time.perf_counter()
            reply = gateway.complete(QUESTION)
            assert time.perf_counter() - started < 30  # the timeout, then the embedded model
            assert reply.model == "local/smollm2-135m"
            assert "did not answer in time" in reply.fallback_reason
        reply = gateway.complete(QUESTION)  # the breaker is open: the server is not even tried
        assert reply.model == "local/smollm2-135m" and "circuit breaker" in reply.fallback_reason
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    time.sleep(2.5)  # the cool-down: one trial call goes through, succeeds, closes the breaker
    assert gateway.complete(QUESTION).model == f"openai/{MODEL}"
    assert gateway.complete(QUESTION).model == f"openai/{MODEL}"


def kill_when_it_has_started(server: ModelServer, started: threading.Event) -> threading.Thread:
    def kill() -> None:
        started.wait(60)
        time.sleep(0.5)
        server.process.kill()

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_the_server_killed_mid_answer_the_embedded_model_answers_and_says_so(settings,
                                                                           caplog) -> None:
    own = ModelServer()  # this one dies
    try:
        config = remote(own, settings, max_tokens=400, fallback_llm="local/smollm2-135m")
        strategy = build_strategy("pe-zero-shot", Gateway(config), config)
        stream = strategy.stream("Tell me everything about choosing a television, in detail.")
        started = threading.Event()
        killer = kill_when_it_has_started(own, started)
        pieces = []
        with caplog.at_level("WARNING", logger="store_assistant.answers"):
            for piece in stream:
                pieces.append(piece)
                started.set()
        killer.join()
        assert stream.restarted, "the server was not killed while it was answering"
        assert stream.answer.model == "local/smollm2-135m"
        assert f"fallback:openai/{MODEL}" in stream.answer.flags
        assert "stopped part-way through the answer" in caplog.text  # the log says why
        assert stream.answer.usage["completion_tokens"] > 0  # the embedded model really answered

        reply = Gateway(config).complete(QUESTION)  # the server is gone now: straight to backup
        assert reply.model == "local/smollm2-135m" and "Could not reach" in reply.fallback_reason
    finally:
        own.stop()


def test_serve_refuses_what_it_cannot_serve(capsys) -> None:
    from store_assistant.cli import EXIT_BAD_INPUT, main

    assert main(["model", "serve", "no-such-model"]) == EXIT_BAD_INPUT
    assert main(["model", "serve", MODEL, "--api-key-env", "STORE_TEST_UNSET_VAR"]) \
        == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "no-such-model" in err and "STORE_TEST_UNSET_VAR" in err
