"""The gateway against the real embedded model (SmolLM2 in llama.cpp), plus its failure paths."""

from __future__ import annotations

import asyncio
import threading
import time

import litellm
import pytest

from store_assistant.config import Settings
from store_assistant.errors import ConfigError, ModelBusyError, ModelError
from store_assistant.inference import gateway as llm
from store_assistant.inference.gateway import Gateway, check_model
from store_assistant.inference.local import RUNTIME, FairLock

QUESTION = [{"role": "system", "content": "You are a helpful store assistant."},
            {"role": "user", "content": "Name one thing a laptop needs to work."}]


class WaitRecorder:
    """The gateway's `time` with `sleep` recorded instead of slept. Patched into llm only: other
    threads in the process (servers, loggers) keep the real time.sleep."""

    def __init__(self, waits: list[float]) -> None:
        self.sleep = waits.append

    def __getattr__(self, name: str):
        return getattr(time, name)


def test_complete_returns_text_usage_and_timing(gateway: Gateway) -> None:
    completion = gateway.complete(QUESTION)
    assert completion.model == "local/smollm2-135m"
    assert len(completion.text.split()) >= 3
    usage = completion.usage
    assert usage["prompt_tokens"] > 20  # the system + user turns, in the model's chat template
    assert 0 < usage["completion_tokens"] <= gateway.settings.max_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert completion.latency_ms > 0
    assert completion.cost_usd == 0.0  # local models are free, not "unknown"


def test_stream_yields_pieces_that_make_the_same_answer(gateway: Gateway) -> None:
    expected = gateway.complete(QUESTION)
    stream = gateway.stream(QUESTION)
    pieces = list(stream)
    assert len(pieces) > 1, "the answer should arrive in pieces, not at once"
    assert "".join(pieces) == expected.text  # greedy decoding: same prompt, same answer
    done = stream.completion
    assert done.text == expected.text
    assert done.usage["prompt_tokens"] == expected.usage["prompt_tokens"]
    assert abs(done.usage["completion_tokens"] - expected.usage["completion_tokens"]) <= 1
    assert 0 < done.ttft_ms < done.latency_ms


def test_async_complete_and_stream_match_sync(gateway: Gateway) -> None:
    expected = gateway.complete(QUESTION).text

    async def run() -> tuple[str, str, float]:
        completion = await gateway.acomplete(QUESTION)
        stream = await gateway.astream(QUESTION)
        pieces = [piece async for piece in stream]
        return completion.text, "".join(pieces), stream.completion.ttft_ms

    completed, streamed, ttft = asyncio.run(run())
    assert completed == expected
    assert streamed == expected
    assert ttft > 0


def test_concurrent_async_calls_are_serialised_not_corrupted(gateway: Gateway) -> None:
    """Two requests at once on one llama.cpp object: the lock makes both come out whole."""
    expected = gateway.complete(QUESTION).text

    async def run() -> list[str]:
        results = await asyncio.gather(gateway.acomplete(QUESTION), gateway.acomplete(QUESTION))
        return [r.text for r in results]

    assert asyncio.run(run()) == [expected, expected]


def test_fair_lock_serves_callers_in_arrival_order() -> None:
    lock = FairLock()
    assert lock.acquire(timeout=1)
    served: list[int] = []

    def ask(n: int) -> None:
        assert lock.acquire(timeout=30)
        served.append(n)
        lock.release()

    threads = []
    for n in range(6):  # each joins the queue only once the one before it is in it
        threads.append(threading.Thread(target=ask, args=(n,)))
        threads[-1].start()
        deadline = time.monotonic() + 10
        while lock.waiting < n + 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert lock.waiting == n + 1
    lock.release()
    for thread in threads:
        thread.join(timeout=30)
    assert served == list(range(6))


def test_fair_lock_gives_up_after_the_timeout_and_leaves_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire()
    started = time.monotonic()
    assert not lock.acquire(timeout=0.2)
    assert time.monotonic() - started >= 0.2
    assert lock.waiting == 0
    lock.release()
    assert lock.acquire(timeout=0.2)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_busy_local_model_refuses_cleanly_and_is_not_counted_as_broken(
        settings: Settings, gateway: Gateway, streamed: bool) -> None:
    busy = Gateway(settings.replace(queue_timeout_s=0.3))
    loaded = RUNTIME.load("smollm2-135m")
    assert loaded.lock.acquire(timeout=60)  # another session's answer, still generating
    try:
        with pytest.raises(ModelBusyError, match="local/smollm2-135m is busy: 1 question"):
            if streamed:
                "".join(busy.stream(QUESTION))
            else:
                busy.complete(QUESTION)
    finally:
        loaded.lock.release()
    assert busy.circuit.failures == 0  # a queue is not a failure: no circuit breaker, no fallback
    assert len(busy.complete(QUESTION).text.split()) >= 3  # served once the model is free
    RUNTIME.queue_timeout_s = gateway.settings.queue_timeout_s


@pytest.mark.parametrize("streamed", [False, True])
def test_a_generation_past_the_timeout_is_stopped_and_frees_the_model(
        settings: Settings, gateway: Gateway, streamed: bool) -> None:
    slow = Gateway(settings.replace(timeout_s=0.1, max_tokens=200))
    with pytest.raises(ModelBusyError, match="was stopped after 0 s without finishing"):
        if streamed:
            "".join(slow.stream(QUESTION))
        else:
            slow.complete(QUESTION)
    assert slow.circuit.failures == 0
    RUNTIME.timeout_s = gateway.settings.timeout_s
    assert RUNTIME.load("smollm2-135m").lock.acquire(timeout=1)  # released, not left held
    RUNTIME.load("smollm2-135m").lock.release()
    assert len(gateway.complete(QUESTION).text.split()) >= 3


def test_context_too_long_is_a_model_error_that_says_what_to_do(gateway: Gateway) -> None:
    huge = [{"role": "user", "content": "tell me about the warranty " * 1500}]
    with pytest.raises(ModelError, match="too long for local/smollm2-135m.*STORE_ASSISTANT_N_CTX"):
        gateway.complete(huge)
    with pytest.raises(ModelError, match="too long"):
        list(gateway.stream(huge))


@pytest.mark.parametrize("model, why", [
    ("nonsense-model", "cannot tell which provider"),
    ("local/not-registered", "No local model named 'not-registered'"),
])
def test_unknown_model_strings_are_config_errors(settings: Settings, model: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        Gateway(settings, model)


def test_known_remote_model_strings_are_accepted_without_network() -> None:
    assert check_model("ollama/llama3.2") == "ollama"
    assert check_model("openai/gpt-4o-mini") == "openai"
    assert check_model("hosted_vllm/meta-llama/Llama-3.1-8B-Instruct") == "hosted_vllm"


def test_missing_local_weights_name_the_file(settings: Settings, tmp_path) -> None:
    missing = tmp_path / "gone.gguf"
    gateway = Gateway(settings.replace(local_models={"gone": str(missing)}), "local/gone")
    with pytest.raises(ModelError, match=f"{missing} for local/gone does not exist"):
        gateway.complete(QUESTION)


def test_unreachable_server_is_a_model_error(settings: Settings) -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    gateway = Gateway(settings.replace(api_base="http://127.0.0.1:9", max_retries=0),
                      "ollama/llama3.2")
    with pytest.raises(ModelError, match="Could not reach the server for ollama/llama3.2"):
        gateway.complete(QUESTION)


def test_rate_limits_are_retried_a_bounded_number_of_times(settings: Settings, monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(llm, "time", WaitRecorder(waits))
    gateway = Gateway(settings.replace(max_retries=2), "openai/gpt-4o-mini")
    limited = litellm.RateLimitError("slow down", llm_provider="openai", model="gpt-4o-mini")
    with pytest.raises(ModelError, match="rate-limiting"):
        gateway.complete(QUESTION, mock_response=limited)
    assert waits == [0.5, 1.0]  # two retries with backoff, then the error


def test_other_errors_are_not_retried(settings: Settings, monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(llm, "time", WaitRecorder(waits))
    gateway = Gateway(settings.replace(max_retries=3), "openai/gpt-4o-mini")
    denied = litellm.AuthenticationError("bad key", llm_provider="openai", model="gpt-4o-mini")
    with pytest.raises(ModelError, match="rejected the credentials"):
        gateway.complete(QUESTION, mock_response=denied)
    assert waits == []


def test_priced_remote_model_reports_cost_from_litellm_prices(settings: Settings) -> None:
    gateway = Gateway(settings, "openai/gpt-4o-mini")
    completion = gateway.complete(QUESTION, mock_response="Hello from a mocked gpt-4o-mini.")
    assert completion.text == "Hello from a mocked gpt-4o-mini."
    assert completion.cost_usd is not None and completion.cost_usd > 0


def test_local_runtime_reloads_only_when_configuration_changes(gateway: Gateway) -> None:
    first = RUNTIME.load("smollm2-135m")
    assert RUNTIME.load("smollm2-135m") is first


def test_timeouts_are_retried_then_explained(settings: Settings, monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(llm, "time", WaitRecorder(waits))
    gateway = Gateway(settings.replace(max_retries=1), "openai/gpt-4o-mini")
    slow = litellm.Timeout("took too long", model="gpt-4o-mini", llm_provider="openai")
    with pytest.raises(ModelError, match="did not answer in time.*STORE_ASSISTANT_TIMEOUT_S"):
        gateway.complete(QUESTION, mock_response=slow)
    assert waits == [0.5]
