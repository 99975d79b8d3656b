"""The models this process can serve in-process: the embedded one, and the fine-tuned ones in the
registry (`models/registry.json`): what each adapter is, how it was made, and which one the
`finetuned` strategies use.

Each entry records the base model and its hash, the adapter file and its hash, the training data's
manifest hash, the config, the training time and losses, the parity check and eval scores when run.
The gateway serves every entry as `local/<name>`: llama.cpp with the base GGUF and the adapter.
Written atomically; a hand-edited file that does not parse is a ConfigError naming the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from store_assistant.files import write_atomic
from store_assistant.config import Settings
from store_assistant.errors import ConfigError, did_you_mean
from store_assistant.inference.catalog import CATALOG, is_present, sha256_file
from store_assistant.inference.local import LocalModelSpec

REGISTRY_FILE = "registry.json"
_REQUIRED = ("base", "adapter", "adapter_sha256")


def registry_path(settings: Settings) -> Path:
    return Path(settings.models_dir) / REGISTRY_FILE


def load_registry(settings: Settings) -> dict[str, Any]:
    """{"active": name | None, "models": {name: entry}}; empty when there is no file."""
    path = registry_path(settings)
    if not path.is_file():
        return {"active": None, "models": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}). Restore it with "
                          f"`git checkout {path}` or delete it and retrain.") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise ConfigError(f"{path} has no \"models\" table. Restore it with `git checkout {path}`.")
    for name, entry in models.items():
        missing = [k for k in _REQUIRED
                   if not isinstance(entry, dict) or not isinstance(entry.get(k), str)
                   or not entry.get(k)]
        if missing:
            raise ConfigError(f"{path}: model {name!r} lacks {', '.join(missing)}. Restore the "
                              f"file or retrain with `store-assistant model train`.")
    active = data.get("active")
    if active is not None and (not isinstance(active, str) or active not in models):
        raise ConfigError(f"{path}: the active model {active!r} is not registered. Pick one with "
                          f"`store-assistant model use NAME` ({', '.join(models) or 'none'}).")
    return {"active": active, "models": models}


def save_registry(settings: Settings, registry: dict[str, Any]) -> None:
    write_atomic(registry_path(settings), json.dumps(registry, indent=2, sort_keys=False) + "\n")


def adapter_path(settings: Settings, entry: dict[str, Any]) -> Path:
    """Adapter paths are stored relative to the models folder, so a clone anywhere works."""
    return Path(settings.models_dir) / entry["adapter"]


def active_model(settings: Settings) -> str:
    """The name the `finetuned` strategies use, or a ConfigError saying how to get one."""
    registry = load_registry(settings)
    if registry["active"] is None:
        trained = ", ".join(registry["models"]) or "none yet"
        raise ConfigError(f"No fine-tuned model is active (registered: {trained}). Train one with "
                          f"`store-assistant model train` or pick one with "
                          f"`store-assistant model use NAME`.")
    return registry["active"]


def use(settings: Settings, name: str) -> dict[str, Any]:
    """Make `name` the active model after checking its adapter is there and unchanged."""
    registry = load_registry(settings)
    if name not in registry["models"]:
        raise ConfigError(f"No fine-tuned model named {name!r}."
                          f"{did_you_mean(name, registry['models'])} Registered: "
                          f"{', '.join(registry['models']) or 'none'} (`store-assistant model list`).")
    problem = check(settings, registry["models"][name])
    if problem:
        raise ConfigError(f"Model {name!r} cannot be used: {problem}")
    registry["active"] = name
    save_registry(settings, registry)
    return registry["models"][name]


def register(settings: Settings, name: str, entry: dict[str, Any], activate: bool) -> None:
    registry = load_registry(settings)
    registry["models"][name] = entry
    if activate or registry["active"] is None:
        registry["active"] = name
    save_registry(settings, registry)


def check(settings: Settings, entry: dict[str, Any]) -> str | None:
    """What is wrong with an entry's files, or None: adapter missing or changed since training."""
    path = adapter_path(settings, entry)
    if not path.is_file():
        return f"its adapter {path} is missing. Retrain with `store-assistant model train`."
    if sha256_file(path) != entry["adapter_sha256"]:
        return (f"its adapter {path} changed since it was registered. Restore it with "
                f"`git checkout {path}` or retrain.")
    return None


def tuned_models(settings: Settings) -> dict[str, LocalModelSpec]:
    """The base GGUF and adapter of every fine-tuned model in the registry. A catalog base is
    checked against the catalog's hash when loaded."""
    models = {}
    for name, entry in load_registry(settings)["models"].items():
        base = entry["base"]
        adapter = adapter_path(settings, entry)
        if base in settings.local_models:
            models[name] = LocalModelSpec(Path(settings.local_models[base]), adapter)
        elif base in CATALOG:
            model = CATALOG[base]
            models[name] = LocalModelSpec(model.path(settings.model_cache), adapter, model.sha256,
                                          model.fix())
        else:
            raise ConfigError(f"Fine-tuned model {name!r} is built on {base!r}, which is neither "
                              f"in the model catalog nor in [local_models] of "
                              f"store_assistant.toml. Register the base GGUF there.")
    return models


def servable_models(settings: Settings) -> dict[str, str]:
    """{litellm string: label} of the base models this machine can answer with now: the
    configured one first, then every catalog model that is here, then [local_models]."""
    models = {settings.llm: "configured"}
    for name, model in CATALOG.items():
        if is_present(model, settings.model_cache):
            models.setdefault(f"local/{name}", f"{model.params} {model.quantization}")
    for name in settings.local_models:
        models.setdefault(f"local/{name}", "your GGUF")
    if settings.llm.startswith("local/") and settings.llm[6:] in CATALOG:
        model = CATALOG[settings.llm[6:]]
        models[settings.llm] = f"{model.params} {model.quantization}, configured"
    return models
