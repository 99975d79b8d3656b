"""The in-process llama.cpp runtime: the only module that imports llama_cpp.

`RUNTIME` loads GGUF models (optionally with a LoRA adapter) once per process and generates with
them, one question at a time per model and in arrival order (a `Llama` object is not thread-safe).
It knows nothing of litellm: `inference/gateway.py` serves it to litellm as the `local/` provider,
so `local/smollm2-135m` and `ollama/llama3.2` are the same code path above this module.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from store_assistant.errors import ConfigError, ModelBusyError, ModelError, PromptTooLongError
from store_assistant.inference.catalog import CATALOG, DEFAULT_CACHE, verified

LOCAL_PROVIDER = "local"
EMBEDDED_MODEL = "smollm2-135m"  # shipped in a package, so present after `make install`


@dataclass(frozen=True)
class LocalModelSpec:
    gguf: Path
    lora: Path | None = None
    sha256: str | None = None  # the pinned hash of `gguf`, checked before loading (catalog models)
    fix: str = "make install"  # how to get the right file


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

    def __enter__(self) -> "FairLock":  # `with lock:` waits its turn however long it takes
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class _Loaded:
    llama: Any
    lock: FairLock
    config: tuple


def embedded_model_path() -> Path:
    """Where pip put SmolLM2 (found without importing the package, whose __init__ imports `llm`),
    once its bytes are shown to be the pinned ones."""
    model = CATALOG[EMBEDDED_MODEL]
    return verified(model.path(DEFAULT_CACHE), model.sha256, model.fix())


class LocalRuntime:
    """Serves registered GGUF models (optionally with a LoRA adapter) in this process.

    A `Llama` object is not thread-safe, so each model has a FairLock held for the whole
    generation: concurrent callers queue in arrival order, and one that waits longer than
    `queue_timeout_s` gets a ModelBusyError. Async calls run in a worker thread.
    """

    def __init__(self) -> None:
        self.specs: dict[str, LocalModelSpec] = {}
        self._loaded: dict[str, _Loaded] = {}
        self._load_lock = threading.Lock()
        # Process-wide, set from the settings by each Gateway: one llama.cpp runtime per process.
        self.n_ctx, self.threads, self.repeat_penalty = 4096, 2, 1.1
        self.queue_timeout_s, self.timeout_s = 90.0, 60.0
        self.model_cache = DEFAULT_CACHE  # where fetched catalog models are

    def register(self, name: str, gguf: Path | str, lora: Path | str | None = None,
                 sha256: str | None = None, fix: str = "make install") -> None:
        spec = LocalModelSpec(Path(gguf), Path(lora) if lora else None, sha256, fix)
        if self.specs.get(name) != spec:
            self.specs[name] = spec
            self._loaded.pop(name, None)

    def spec(self, name: str) -> LocalModelSpec:
        """A registered model, or a catalog model by its name (its file checked when loaded)."""
        if name in CATALOG and (name not in self.specs or self.specs[name].sha256):
            model = CATALOG[name]
            self.register(name, model.path(self.model_cache), sha256=model.sha256, fix=model.fix())
        if name not in self.specs:
            raise ConfigError(f"No local model named {name!r}. Known: "
                              f"{', '.join(sorted({*CATALOG, *self.specs}))} "
                              f"(`store-assistant model list`). Register your own GGUF under "
                              f"[local_models] in store_assistant.toml.")
        return self.specs[name]

    def load(self, name: str) -> _Loaded:
        """Load (once per process and configuration) and return the model with its lock."""
        spec = self.spec(name)
        config = (spec, self.n_ctx, self.threads)
        with self._load_lock:
            loaded = self._loaded.get(name)
            if loaded is None or loaded.config != config:
                if spec.sha256:
                    verified(spec.gguf, spec.sha256, spec.fix)
                for path in (spec.gguf, spec.lora):
                    if path is not None and not path.is_file():
                        raise ModelError(f"Model file {path} for local/{name} does not exist. "
                                         f"Fix the path in [local_models] or run `{spec.fix}`.")
                try:
                    llama = open_gguf(spec.gguf, spec.lora, n_ctx=self.n_ctx, threads=self.threads)
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

    def generate(self, model: str, messages: list, optional_params: dict) -> Iterator[dict]:
        """{"text", "finish_reason", "usage"} pieces; the last has the finish reason and token counts.

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
        keys = ("max_tokens", "temperature", "top_p", "stop", "seed", "response_format")
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
            raise PromptTooLongError(
                f"The question and its context are too long for {LOCAL_PROVIDER}/{model}: "
                f"{count} prompt tokens leave no room for the answer in the {llama.n_ctx()}-token "
                f"context. Ask a shorter question or raise STORE_ASSISTANT_N_CTX.")
        return count


def _chunk(text: str, finish: str = "", usage: dict | None = None) -> dict:
    return {"text": text, "finish_reason": finish, "usage": usage}


def _format_chat(llama: Any, messages: list) -> str:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:  # a GGUF without a template: count the raw text, close enough for a budget
        return "\n".join(m["content"] for m in messages)
    formatter = Jinja2ChatFormatter(template=template,
                                    eos_token=llama._model.token_get_text(llama.token_eos()),
                                    bos_token=llama._model.token_get_text(llama.token_bos()))
    return formatter(messages=messages).prompt


def open_gguf(gguf: Path | str, lora: Path | str | None = None, n_ctx: int = 2048,
              threads: int = 2) -> Any:
    """A llama.cpp model on its own, outside the runtime (the fine-tuning parity check uses it).
    llama_cpp is imported here: only local models need it, and importing it costs ~0.3 s."""
    from llama_cpp import Llama

    return Llama(model_path=str(gguf), lora_path=str(lora) if lora else None, n_ctx=n_ctx,
                 n_threads=threads, n_threads_batch=threads, verbose=False)


RUNTIME = LocalRuntime()
atexit.register(RUNTIME.close)
