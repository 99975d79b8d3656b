"""One settings object, loaded once and passed down explicitly.

Sources, later ones winning: built-in defaults < a TOML file < `STORE_ASSISTANT_*` environment
variables < explicit overrides (CLI flags). Every field is validated when loaded, so a typo in a
variable name or a threads count of "two" is a `ConfigError` naming the fix at start-up, not a
surprise in the middle of an answer.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from store_assistant.errors import ConfigError, did_you_mean

ENV_PREFIX = "STORE_ASSISTANT_"
CONFIG_FILE_ENV = ENV_PREFIX + "CONFIG"
DEFAULT_CONFIG_FILE = "store_assistant.toml"
# Picked by measurement: the model ladder's winner under the rule in README.md ("Models"), from
# eval/baselines/ladder.json; eval/test_cases.py fails if this is not the rule's pick. Fetched by
# the set-up command (`make model`); local/smollm2-135m is shipped and needs no fetch.
DEFAULT_LLM = "local/qwen2.5-coder-0.5b"
# Embedding models shipped in packages (store/knowledge/embeddings.py); the first is the default.
EMBEDDINGS = ("minilm", "multilingual-e5-small")
# The store's own data ships in the repository, beside the package.
PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    # An embedded model: runs in-process, no key, no network, no server.
    llm: str = DEFAULT_LLM
    # Base URL for OpenAI-compatible / vLLM / Ollama servers; None lets litellm use its default.
    api_base: str | None = None
    # Generated state (inventory database, vector index, logs) lives here, outside git.
    data_dir: Path = Path("data")
    # The store's knowledge as shipped; `ingest --manuals/--policies/--inventory` brings your own.
    manuals_dir: Path = PROJECT_DIR / "manuals" / "products"
    policies_dir: Path = PROJECT_DIR / "manuals" / "policies"
    inventory_csv: Path = PROJECT_DIR / "manuals" / "inventory.csv"
    # Qdrant local mode on disk; None means data_dir/qdrant.
    qdrant_path: Path | None = None
    # Setting a URL switches the same code path to a Qdrant server.
    qdrant_url: str | None = None
    # llama.cpp is fastest with one thread per physical core; this machine class has 2.
    threads: int = field(default_factory=lambda: min(os.cpu_count() or 2, 8))
    # Store prompts are short; a small context keeps the KV cache (RAM) and prompt time down.
    n_ctx: int = 4096
    # Staff want a few sentences, and generation time grows with every token.
    max_tokens: int = 256
    # Greedy decoding: the same question gets the same answer, which evaluation relies on.
    temperature: float = 0.0
    # Local models only: greedy decoding on a 135M model loops on the same sentence without it.
    repeat_penalty: float = 1.1
    # Remote calls give up after this long, so the app never hangs on a dead server; an in-process
    # generation is stopped after it too (a normal answer takes 2-10 s here).
    timeout_s: float = 60.0
    # In-process models answer one question at a time, in arrival order. An answer takes 2-10 s on
    # 2 cores, so 8 sessions queue for under a minute; past this wait staff get "busy, ask again".
    queue_timeout_s: float = 90.0
    # Only rate limits and timeouts are retried; more retries just delay the error.
    max_retries: int = 2
    # Follow-ups need the last few turns; every older turn only adds prompt time.
    history_turns: int = 4
    # Extra in-process GGUF models served as local/<name>: {name: path} (TOML table only).
    local_models: Mapping[str, str] = field(default_factory=dict)
    # Staff chat open to anyone on the store network (False) or behind an account (True). Manager
    # pages always need a manager account.
    staff_login: bool = False
    # A question a manual or policy answers gets a checked verdict and the manual's quoted line
    # (answering/evidence.py): on the manual-reading set's heldout half it was right more often
    # and flipped yes/no far less than the model's free answer. False: the model writes it all.
    evidence_first: bool = True
    # Answers with this model when `llm` fails (timeout, server error, rate limit), and says so on
    # the answer; e.g. local/smollm2-135m, which needs no server. None: show the error instead.
    fallback_llm: str | None = None
    # After this many failures in a row a model is not called for `breaker_cooldown_s`: a dead
    # endpoint costs one timeout per cool-down, not one per question.
    breaker_failures: int = 3
    breaker_cooldown_s: float = 30.0
    # The app's answer log (data/answer-log/, a file per day) keeps this many days: a quarter is
    # enough to see a trend, and at ~1 KB an answer even a busy store stays in the megabytes.
    answer_log_days: int = 90
    # Catalog models fetched on demand (`store-assistant model fetch`): outside the project, so
    # every clone on the machine shares one copy of a 0.5-1 GB file.
    model_cache: Path = Path("~/.cache/store-assistant/models").expanduser()
    # Cost per 1,000 answers of an in-process model = its measured CPU-seconds at this price. The
    # default is about an on-demand cloud vCPU-hour in 2026 (a 2-vCPU compute instance ~ $0.085/h).
    core_hour_usd: float = 0.0425
    # Fine-tuned adapters and their registry; ships the store's trained adapter.
    models_dir: Path = PROJECT_DIR / "models"
    # The `finetuned` strategies' model; None means the registry's active adapter, as local/<name>.
    # Any litellm string works too, e.g. a LoRA served by vLLM: hosted_vllm/volt-lora.
    finetuned_llm: str | None = None
    # The languages the set-up answers in, as two-letter codes ("en,ko"). A question in another
    # language gets one sentence saying so (in its language) instead of an answer. A language
    # other than English needs multilingual embeddings (below) and a model that writes it; what
    # each model answered is in bench/results/multilingual-answers-*.md (docs/models.md, "Languages").
    languages: tuple[str, ...] = ("en",)
    # The index's embedding model, one of EMBEDDINGS: minilm (English; the scorecards were measured
    # with it) or multilingual-e5-small (finds the English chunk for a question in 100 languages).
    # Changing it rebuilds the index at the next `ingest`.
    embeddings: str = "minilm"

    @property
    def qdrant_location(self) -> Path:
        return self.qdrant_path or self.data_dir / "qdrant"

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed, validated like a fresh load."""
        return _validated(dataclasses.replace(self, **changes))


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_ENV_ONLY = {CONFIG_FILE_ENV}
_INTS = {"threads": (1, 64), "n_ctx": (256, 131072), "max_tokens": (1, 8192),
         "max_retries": (0, 10), "history_turns": (0, 50), "breaker_failures": (1, 100),
         "answer_log_days": (1, 3650)}
_FLOATS = {"temperature": (0.0, 2.0), "repeat_penalty": (1.0, 2.0), "timeout_s": (0.1, 3600.0),
           "queue_timeout_s": (0.1, 3600.0), "core_hour_usd": (0.0, 100.0),
           "breaker_cooldown_s": (0.0, 86400.0)}
_PATHS = {"data_dir", "qdrant_path", "manuals_dir", "policies_dir", "inventory_csv", "models_dir",
          "model_cache"}


def load_settings(overrides: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file, then STORE_ASSISTANT_* variables, then `overrides`.

    >>> load_settings(env={"STORE_ASSISTANT_THREADS": "1"}).threads
    1
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    values.update(_read_toml(env))
    values.update(_read_env(env))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = set(values) - set(_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(f"Unknown setting {name!r}.{_suggest(name, _FIELDS)}")
    raw = {name: _convert(name, value) for name, value in values.items()}
    return _validated(Settings(**raw))


def _read_toml(env: Mapping[str, str]) -> dict[str, Any]:
    explicit = env.get(CONFIG_FILE_ENV)
    path = Path(explicit) if explicit else Path(DEFAULT_CONFIG_FILE)
    if not path.exists():
        if explicit:
            raise ConfigError(f"{CONFIG_FILE_ENV}={explicit} but no file is there. "
                              f"Fix the path or unset {CONFIG_FILE_ENV}.")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file or remove it.") from exc
    for name in data:
        if name not in _FIELDS:
            raise ConfigError(f"Unknown setting {name!r} in {path}.{_suggest(name, _FIELDS)}")
    return data


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    values = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key in _ENV_ONLY:
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in _FIELDS or name == "local_models":
            known = {ENV_PREFIX + n.upper(): n for n in _FIELDS if n != "local_models"}
            raise ConfigError(f"Unknown environment variable {key}.{_suggest(key, known)}")
        values[name] = value
    return values


def _convert(name: str, value: Any) -> Any:
    if name in ("staff_login", "evidence_first"):
        text = str(value).strip().lower()
        if isinstance(value, bool) or text in ("true", "false", "1", "0", "yes", "no"):
            return value if isinstance(value, bool) else text in ("true", "1", "yes")
        raise ConfigError(f"Setting {name} must be true or false, got {value!r}.")
    if name in _INTS:
        low, high = _INTS[name]
        number = _number(name, value, int)
        if not low <= number <= high:
            raise ConfigError(f"Setting {name}={value!r} is out of range; use {low}..{high}.")
        return number
    if name in _FLOATS:
        low, high = _FLOATS[name]
        number = _number(name, value, float)
        if not low <= number <= high:
            raise ConfigError(f"Setting {name}={value!r} is out of range; use {low}..{high}.")
        return number
    if name in _PATHS:
        return path_setting(str(value), name) if str(value).strip() else None
    if name == "languages":
        items = value if isinstance(value, (list, tuple)) else str(value).split(",")
        codes = tuple(str(item).strip().lower() for item in items if str(item).strip())
        if not codes or not all(re.fullmatch(r"[a-z]{2}", code) for code in codes):
            raise ConfigError(f"Setting languages={value!r} must be two-letter language codes "
                              f"separated by commas, e.g. \"en\" or \"en,ko\".")
        return codes
    if name == "local_models":
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError("local_models must be a TOML table of name = \"/path/to/model.gguf\".")
        return dict(value)
    if not isinstance(value, str):
        raise ConfigError(f"Setting {name} must be text, got {value!r}.")
    return value.strip() or None


def path_setting(value: str, name: str, where: str = "the settings") -> Path:
    """A path as written in a setting, '~' expanded: '~/models' -> /root/models. A '~user' with
    no such user on this machine ('~0', '~maria' on a server without her) is a ConfigError, not a
    crash deep inside pathlib."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        user = value[1:].split("/", 1)[0]
        raise ConfigError(f"Setting {name} = {value!r} in {where} names the home folder of "
                          f"{user!r}, and there is no such user here. Write the full path, or "
                          f"'~/' for your own home folder.") from None


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise ConfigError(f"Setting {name} must be a number, got {value!r}.")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"Setting {name} must be {what}, got {value!r} "
                          f"(set {ENV_PREFIX}{name.upper()} or {name} in the TOML file).") from None
    if kind is int and isinstance(value, float) and value != number:
        raise ConfigError(f"Setting {name} must be a whole number, got {value!r}.")
    return number


def _validated(settings: Settings) -> Settings:
    if not settings.llm or any(c.isspace() for c in settings.llm):
        raise ConfigError(f"Setting llm={settings.llm!r} is not a model string. Examples: "
                          f"{DEFAULT_LLM}, ollama/llama3.2, openai/gpt-4o-mini.")
    if settings.qdrant_url and not settings.qdrant_url.startswith(("http://", "https://")):
        raise ConfigError(f"Setting qdrant_url={settings.qdrant_url!r} must start with http:// or "
                          f"https://, e.g. http://localhost:6333.")
    if settings.data_dir is None:
        raise ConfigError("Setting data_dir must not be empty; the default is ./data.")
    if settings.model_cache is None:
        raise ConfigError("Setting model_cache must not be empty; the default is "
                          "~/.cache/store-assistant/models.")
    if settings.models_dir is None:
        raise ConfigError("Setting models_dir must not be empty; the default is ./models.")
    if settings.fallback_llm is not None and any(c.isspace() for c in settings.fallback_llm):
        raise ConfigError(f"Setting fallback_llm={settings.fallback_llm!r} is not a model string; "
                          f"e.g. {DEFAULT_LLM}.")
    if settings.finetuned_llm is not None and any(c.isspace() for c in settings.finetuned_llm):
        raise ConfigError(f"Setting finetuned_llm={settings.finetuned_llm!r} is not a model "
                          f"string; leave it unset to use the active adapter in models/.")
    if settings.embeddings not in EMBEDDINGS:
        raise ConfigError(f"Setting embeddings={settings.embeddings!r} is not an embedding model "
                          f"here; use one of {', '.join(EMBEDDINGS)}.")
    if set(settings.languages) - {"en"} and settings.embeddings == "minilm":
        raise ConfigError(
            f"Setting languages={','.join(settings.languages)} needs multilingual embeddings: "
            f"MiniLM found the answering chunk for 2 of 8 Korean questions "
            f"(bench/results/multilingual-retrieval.md). Set embeddings = "
            f"\"multilingual-e5-small\" too, then run `store-assistant ingest`.")
    return settings


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    return did_you_mean(name, known, list_known=True)
