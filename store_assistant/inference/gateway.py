"""The language-model gateway: the only module that imports litellm.

Every generation goes through `Gateway` (complete / stream, sync / async), which measures latency,
time to first token, token usage and cost the same way for every model, retries only rate limits and
timeouts, fails over to a backup model behind a circuit breaker, and turns every failure into a
`ModelError` that says what to do. The embedded default runs in this process (`inference/local.py`)
and is served to litellm as a custom provider, so `local/smollm2-135m` and `ollama/llama3.2` are the
same code path.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterator

# store_assistant/__init__.py has set LITELLM_LOCAL_MODEL_COST_MAP, so importing litellm is offline.
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse

from store_assistant.config import Settings
from store_assistant.errors import ConfigError, ModelError, PromptTooLongError
from store_assistant.inference.breaker import circuit_for
from store_assistant.inference.local import EMBEDDED_MODEL, LOCAL_PROVIDER, RUNTIME, LocalRuntime
from store_assistant.inference.models import tuned_models

litellm.telemetry = False
litellm.suppress_debug_info = True

_RETRYABLE = (litellm.RateLimitError, litellm.Timeout)


# --- the in-process runtime, served to litellm as the "local/" provider -----------------------

class LocalProvider(CustomLLM):
    """litellm's side of `local.RUNTIME`: completion, streaming and their async forms.

    litellm calls these four with `model` already stripped of the "local/" prefix.
    """

    def __init__(self, runtime: LocalRuntime) -> None:
        super().__init__()
        self.runtime = runtime

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                   model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                   logging_obj: Any, optional_params: dict, *args: Any, **kwargs: Any) -> ModelResponse:
        text, finish, usage = [], "stop", {}
        for chunk in self.runtime.generate(model, messages, optional_params):
            text.append(chunk["text"])
            finish, usage = chunk["finish_reason"] or finish, chunk["usage"] or usage
        model_response.choices[0].message.content = "".join(text)
        model_response.choices[0].finish_reason = finish
        model_response.model = f"{LOCAL_PROVIDER}/{model}"
        setattr(model_response, "usage", litellm.Usage(**usage))
        return model_response

    def streaming(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                  model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                  logging_obj: Any, optional_params: dict, *args: Any,
                  **kwargs: Any) -> Iterator[GenericStreamingChunk]:
        for chunk in self.runtime.generate(model, messages, optional_params):
            yield {**chunk, "is_finished": bool(chunk["finish_reason"]), "index": 0,
                   "tool_use": None}

    async def acompletion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return await asyncio.to_thread(self.completion, *args, **kwargs)

    async def astreaming(self, *args: Any, **kwargs: Any) -> AsyncIterator[GenericStreamingChunk]:
        chunks = self.streaming(*args, **kwargs)
        done = object()
        try:
            while (chunk := await asyncio.to_thread(next, chunks, done)) is not done:
                yield chunk
        finally:
            chunks.close()


litellm.custom_provider_map = [
    *[p for p in litellm.custom_provider_map if p.get("provider") != LOCAL_PROVIDER],
    {"provider": LOCAL_PROVIDER, "custom_handler": LocalProvider(RUNTIME)},
]
litellm.utils.custom_llm_setup()


# --- the gateway -----------------------------------------------------------------------------

@dataclass
class Completion:
    text: str
    model: str
    latency_ms: float
    ttft_ms: float | None  # measured on streamed calls; None when the reply came in one piece
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = 0.0  # None: the model has no known price (not the same as free)
    started: float = 0.0  # time.perf_counter() when the call began
    fallback_from: str | None = None  # the configured model that failed, when the fallback answered
    fallback_reason: str | None = None


class Gateway:
    """One model, called the same way whatever serves it.

    >>> gateway = Gateway(load_settings())
    >>> gateway.complete([{"role": "user", "content": "Hi"}]).text
    'Hello! How can I help you today?'
    """

    def __init__(self, settings: Settings, model: str | None = None) -> None:
        self.settings = settings
        self.model = model or settings.llm
        RUNTIME.n_ctx, RUNTIME.threads = settings.n_ctx, settings.threads
        RUNTIME.repeat_penalty = settings.repeat_penalty
        RUNTIME.queue_timeout_s, RUNTIME.timeout_s = settings.queue_timeout_s, settings.timeout_s
        RUNTIME.model_cache = settings.model_cache
        for name, path in settings.local_models.items():
            RUNTIME.register(name, path)
        for name, spec in tuned_models(settings).items():
            RUNTIME.register(name, spec.gguf, spec.lora, spec.sha256, spec.fix)
        self.provider = check_model(self.model)
        self.is_local = self.provider == LOCAL_PROVIDER
        self.circuit = circuit_for(self.model, None if self.is_local else settings.api_base)
        backup = settings.fallback_llm
        # The fallback runs without a fallback of its own, and local models ignore api_base.
        self.fallback = (Gateway(settings.replace(fallback_llm=None), backup)
                         if backup and backup != self.model else None)

    def load(self) -> None:
        """Load a local model now (app start-up) instead of on the first question."""
        if self.is_local:
            RUNTIME.load(self.model.split("/", 1)[1])

    def complete(self, messages: list[dict[str, str]], **params: Any) -> Completion:
        started = time.perf_counter()
        try:
            response = self._guarded(
                lambda: self._with_retries(lambda: litellm.completion(**self._kwargs(messages, params))))
        except ModelError as exc:
            completion = self._fall_back(exc).complete(messages, **params)
            return self._mark(completion, exc)
        return self._measured(response, started)

    def stream(self, messages: list[dict[str, str]], **params: Any) -> "TextStream":
        started = time.perf_counter()
        try:
            kwargs = self._kwargs(messages, params, stream=True)
            chunks = self._guarded(lambda: self._with_retries(lambda: litellm.completion(**kwargs)))
        except ModelError as exc:
            stream = self._fall_back(exc).stream(messages, **params)
            stream.fallback = (self.model, str(exc))
            return stream
        return TextStream(self, iter(chunks), started, messages, params)

    async def acomplete(self, messages: list[dict[str, str]], **params: Any) -> Completion:
        started, trial = time.perf_counter(), False
        try:
            trial = self._check_circuit()
            response = await self._awith_retries(
                lambda: litellm.acompletion(**self._kwargs(messages, params)))
        except ModelError as exc:
            self._failed(exc, trial)
            completion = await self._fall_back(exc).acomplete(messages, **params)
            return self._mark(completion, exc)
        self._succeeded()
        return self._measured(response, started)

    async def astream(self, messages: list[dict[str, str]], **params: Any) -> "AsyncTextStream":
        started, trial = time.perf_counter(), False
        try:
            trial = self._check_circuit()
            kwargs = self._kwargs(messages, params, stream=True)
            chunks = await self._awith_retries(lambda: litellm.acompletion(**kwargs))
        except ModelError as exc:
            self._failed(exc, trial)
            stream = await self._fall_back(exc).astream(messages, **params)
            stream.fallback = (self.model, str(exc))
            return stream
        self._succeeded()
        return AsyncTextStream(self, chunks, started, messages, params)

    # --- failover ---

    def _guarded(self, call: Any) -> Any:
        """Run `call` unless the circuit is open; count its failures."""
        trial = self._check_circuit()
        try:
            result = call()
        except ModelError as exc:
            self._failed(exc, trial)
            raise
        self._succeeded()
        return result

    def _check_circuit(self) -> bool:
        """True when this call is the half-open circuit's one trial."""
        return self.circuit.check(self.model, self.settings.breaker_cooldown_s)

    def _failed(self, exc: Exception, trial: bool = False) -> None:
        self.circuit.failed(exc, self.settings.breaker_failures, trial)

    def _succeeded(self) -> None:
        self.circuit.succeeded()

    def _fall_back(self, exc: ModelError) -> "Gateway":
        """The fallback gateway, or the error again when there is none or it would not help."""
        if self.fallback is None or isinstance(exc, PromptTooLongError):
            raise exc
        return self.fallback

    def _mark(self, completion: Completion, exc: Exception) -> Completion:
        completion.fallback_from, completion.fallback_reason = self.model, str(exc)
        return completion

    # --- internals ---

    def _measured(self, response: Any, started: float) -> Completion:
        """A whole (non-streamed) reply as a Completion: no first-token time to measure."""
        latency = (time.perf_counter() - started) * 1000
        usage = _usage(getattr(response, "usage", None))
        return Completion(response.choices[0].message.content or "", self.model, latency, None,
                          usage, self._cost(usage), started)

    def _kwargs(self, messages: list, params: dict, stream: bool = False) -> dict:
        kwargs = {"model": self.model, "messages": messages,
                  "max_tokens": self.settings.max_tokens,
                  "temperature": self.settings.temperature,
                  "timeout": self.settings.timeout_s, "num_retries": 0, **params}
        if self.settings.api_base and not self.is_local:
            kwargs["api_base"] = self.settings.api_base
        if stream:
            kwargs.update(stream=True, stream_options={"include_usage": True})
        if self.is_local:
            self.load()  # so a missing or broken file is our ModelError, not a wrapped one
        return kwargs

    def _with_retries(self, call: Any) -> Any:
        for attempt in range(self.settings.max_retries + 1):
            try:
                return call()
            except _RETRYABLE as exc:
                if attempt == self.settings.max_retries:
                    raise model_error(exc, self.model) from exc
                time.sleep(min(0.5 * 2 ** attempt, 8.0))
            except Exception as exc:
                raise model_error(exc, self.model) from exc

    async def _awith_retries(self, call: Any) -> Any:
        for attempt in range(self.settings.max_retries + 1):
            try:
                return await call()
            except _RETRYABLE as exc:
                if attempt == self.settings.max_retries:
                    raise model_error(exc, self.model) from exc
                await asyncio.sleep(min(0.5 * 2 ** attempt, 8.0))
            except Exception as exc:
                raise model_error(exc, self.model) from exc

    def _cost(self, usage: dict[str, int]) -> float | None:
        if self.is_local:
            return 0.0
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=self.model, prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0))
        except Exception:  # litellm raises for models missing from its price list
            return None
        return prompt_cost + completion_cost


class TextStream:
    """Iterate for text pieces; `.completion` holds the measured Completion once exhausted.

    A model that fails part-way (its server killed mid-answer, a dropped connection) is answered
    again from the start by the fallback model, when there is one: `restarted` turns True before
    the first piece of the new answer, so a page showing the pieces can clear what it showed."""

    def __init__(self, gateway: Gateway, chunks: Iterator[Any], started: float,
                 messages: list | None = None, params: dict | None = None) -> None:
        self._gateway, self._chunks, self._started = gateway, chunks, started
        self._messages, self._params = messages, params or {}
        self.completion: Completion | None = None
        self.fallback: tuple[str, str] | None = None  # (failed model, why), set by the gateway
        self.restarted = False

    def __iter__(self) -> Iterator[str]:
        pieces, usage, ttft = [], {}, None
        try:
            for chunk in self._chunks:
                piece, chunk_usage = _read_chunk(chunk)
                usage = chunk_usage or usage
                if piece:
                    ttft = ttft or (time.perf_counter() - self._started) * 1000
                    pieces.append(piece)
                    yield piece
        except Exception as exc:
            error = model_error(exc, self._gateway.model)
            self._gateway._failed(error)
            backup = self._backup(error)
            stream = backup.stream(self._messages, **self._params)
            self.restarted = True
            yield from stream
            self.completion = self._gateway._mark(stream.completion, error)
            return
        self.completion = _finished(self._gateway, pieces, usage, ttft, self._started)
        if self.fallback:
            self.completion.fallback_from, self.completion.fallback_reason = self.fallback

    def _backup(self, error: Exception) -> Gateway:
        if self._messages is None or not isinstance(error, ModelError):
            raise error
        try:
            return self._gateway._fall_back(error)
        except ModelError:
            raise error from None


class AsyncTextStream(TextStream):
    def __init__(self, gateway: Gateway, chunks: Any, started: float,
                 messages: list | None = None, params: dict | None = None) -> None:
        super().__init__(gateway, chunks, started, messages, params)

    async def __aiter__(self) -> AsyncIterator[str]:
        pieces, usage, ttft = [], {}, None
        try:
            async for chunk in self._chunks:
                piece, chunk_usage = _read_chunk(chunk)
                usage = chunk_usage or usage
                if piece:
                    ttft = ttft or (time.perf_counter() - self._started) * 1000
                    pieces.append(piece)
                    yield piece
        except Exception as exc:
            error = model_error(exc, self._gateway.model)
            self._gateway._failed(error)
            backup = self._backup(error)
            stream = await backup.astream(self._messages, **self._params)
            self.restarted = True
            async for piece in stream:
                yield piece
            self.completion = self._gateway._mark(stream.completion, error)
            return
        self.completion = _finished(self._gateway, pieces, usage, ttft, self._started)
        if self.fallback:
            self.completion.fallback_from, self.completion.fallback_reason = self.fallback


def _read_chunk(chunk: Any) -> tuple[str, dict[str, int]]:
    piece = chunk.choices[0].delta.content if chunk.choices else None
    return piece or "", _usage(getattr(chunk, "usage", None))


def _finished(gateway: Gateway, pieces: list[str], usage: dict, ttft: float | None,
              started: float) -> Completion:
    latency = (time.perf_counter() - started) * 1000
    return Completion("".join(pieces), gateway.model, latency, ttft, usage, gateway._cost(usage),
                      started)


def _usage(usage: Any) -> dict[str, int]:
    if not usage:
        return {}
    get = usage.get if isinstance(usage, dict) else lambda k: getattr(usage, k, None)
    return {k: int(get(k) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


# --- model strings and errors ----------------------------------------------------------------

def check_model(model: str) -> str:
    """The provider of a litellm model string, or a `ConfigError` naming the fix.

    'local/smollm2-135m' -> 'local'; 'ollama/llama3.2' -> 'ollama'; 'nonsense' -> ConfigError.
    """
    if model.startswith(LOCAL_PROVIDER + "/"):
        RUNTIME.spec(model.split("/", 1)[1])
        return LOCAL_PROVIDER
    try:
        _, provider, _, _ = litellm.get_llm_provider(model)
    except Exception:
        raise ConfigError(
            f"Unknown model {model!r}: litellm cannot tell which provider serves it. Use "
            f"provider/model, e.g. local/{EMBEDDED_MODEL} (embedded), ollama/llama3.2, "
            f"openai/gpt-4o-mini or hosted_vllm/<name> with STORE_ASSISTANT_API_BASE.") from None
    return provider


def _ours(exc: BaseException | None) -> Exception | None:
    """Our own error in `exc`'s chain: litellm wraps what a custom handler raises mid-stream."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (ModelError, ConfigError)):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def model_error(exc: Exception, model: str) -> Exception:
    """Translate a litellm failure into a ModelError that says what to do."""
    ours = _ours(exc)
    if ours is not None:  # ours, raised inside the runtime, possibly wrapped by litellm
        return ours
    detail = str(getattr(exc, "message", "") or exc).strip().splitlines()[0][:300] if str(exc) else ""
    if isinstance(exc, litellm.ContextWindowExceededError):
        return PromptTooLongError(f"The question and its context are too long for {model} ({detail}). "
                          f"Ask a shorter question or raise STORE_ASSISTANT_N_CTX.")
    if isinstance(exc, litellm.Timeout):
        return ModelError(f"{model} did not answer in time ({detail}). Try again, or raise "
                          f"STORE_ASSISTANT_TIMEOUT_S.")
    if isinstance(exc, litellm.RateLimitError):
        return ModelError(f"{model} is rate-limiting us ({detail}). Wait a minute and try again.")
    if isinstance(exc, litellm.AuthenticationError):
        return ModelError(f"{model} rejected the credentials ({detail}). Set the provider's API "
                          f"key, e.g. OPENAI_API_KEY, or use the embedded model local/{EMBEDDED_MODEL}.")
    if isinstance(exc, litellm.NotFoundError):
        return ModelError(f"{model} was not found by its server ({detail}). Check the model name, "
                          f"e.g. `ollama pull llama3.2`.")
    if type(exc).__name__ == "MidStreamFallbackError":  # litellm's name for a stream cut short
        return ModelError(f"The server for {model} stopped part-way through the answer ({detail}). "
                          f"Is it still running?")
    if isinstance(exc, litellm.APIConnectionError) or "Connection error" in detail:
        # openai's client reports a refused connection as a 500 with "Connection error."
        return ModelError(f"Could not reach the server for {model} ({detail}). Is it running and is "
                          f"STORE_ASSISTANT_API_BASE right? The embedded model local/{EMBEDDED_MODEL} "
                          f"needs no server.")
    return ModelError(f"{model} failed: {type(exc).__name__}: {detail}")


# --- the evaluation's optional judge ---------------------------------------------------------

def judge_client(settings: Settings, model: str) -> Any:
    """An async `litellm.acompletion`-shaped function that calls `model` the way the gateway does
    (same settings, api_base, timeouts and retries; local/ models in-process), for the ragas judge
    in `evaluation/judge.py`: one client setup, not a second one."""
    gateway = Gateway(settings, model)

    async def acompletion(**kwargs: Any) -> Any:
        messages = kwargs.pop("messages")
        kwargs.pop("model", None)
        call = gateway._kwargs(messages, kwargs)
        return await gateway._awith_retries(lambda: litellm.acompletion(**call))

    return acompletion
