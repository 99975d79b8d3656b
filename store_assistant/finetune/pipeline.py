"""`store-assistant model train`: train, export, check parity, write the loss curve, register.

Everything for a model goes to models/<name>/ (adapter.gguf, loss.json, loss.png, config.toml) and
its entry to models/registry.json last, so an interrupted or failed run registers nothing. The
parity check decides whether the adapter is served: if llama.cpp answers differently from the model
that was trained, the run fails instead of registering an adapter that does not do what was
measured.
"""

from __future__ import annotations

import hashlib
import json
import resource
import tomllib
from dataclasses import asdict, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from store_assistant.files import atomic_folder, atomic_path
from store_assistant.config import PROJECT_DIR, Settings
from store_assistant.errors import ConfigError, ModelError
from store_assistant.inference.catalog import sha256_file
from store_assistant.inference.models import load_registry, register
from store_assistant.finetune.train import TrainConfig, read_examples

PARITY_PROMPTS = 12
PARITY_TOKENS = 40


def base_model_file(settings: Settings, base: str) -> tuple[str, Path]:
    """The catalog model an adapter is trained on, its file verified against the pinned hash."""
    from store_assistant.inference.catalog import catalog_model, verified

    model = catalog_model(base)
    return base, verified(model.path(settings.model_cache), model.sha256, model.fix())


def train_model(settings: Settings, config: TrainConfig, command: str = "",
                replace: bool = False, activate: bool = False,
                progress: bool = True) -> dict[str, Any]:
    """The whole pipeline; returns the registry entry it wrote."""
    from store_assistant.finetune.export import parity, write_adapter
    from store_assistant.finetune.train import train

    registry = load_registry(settings)  # a broken registry fails before an hour of training
    if config.name in registry["models"] and not replace:
        raise ConfigError(f"A fine-tuned model named {config.name!r} is registered already. "
                          f"Choose another --name, or pass --replace to overwrite it.")
    base_name, base_path = base_model_file(settings, config.base)
    valid = read_examples(config.valid_file)  # checked now too, not after training

    model, tokenizer, result = train(config, base_path, progress=progress)
    folder = Path(settings.models_dir) / config.name
    with atomic_folder(folder, replace=True) as staging:
        write_adapter(model, staging / "adapter.gguf", config.alpha)
        chats = [messages[:-1] for messages in valid[:PARITY_PROMPTS]]
        cases = parity(model, tokenizer, base_path, staging / "adapter.gguf", chats,
                       PARITY_TOKENS, config.threads)
        off = [case for case in cases if not case.agrees]
        if off:
            raise ModelError(f"The exported adapter answers differently in llama.cpp on "
                             f"{len(off)} of {len(cases)} prompts beyond a near-tie (e.g. "
                             f"{off[0].question!r}: trained {off[0].trained!r}, served "
                             f"{off[0].served!r}); not registered.")
        (staging / "loss.json").write_text(json.dumps(result.curve, indent=1) + "\n")
        loss_png(result.curve, staging / "loss.png", config.name)
        (staging / "config.toml").write_text(config_toml(config))

        adapter = staging / "adapter.gguf"
        entry = {
            "base": base_name, "base_file": base_path.name, "base_sha256": sha256_file(base_path),
            "adapter": f"{config.name}/adapter.gguf", "adapter_sha256": sha256_file(adapter),
            "adapter_bytes": adapter.stat().st_size,
            "data": {"train": _relative(config.train_file), "valid": _relative(config.valid_file),
                     "manifest_sha256": _manifest_sha(config.train_file),
                     "train_examples": result.train_examples, "valid_examples": result.valid_examples,
                     "dropped_too_long": result.dropped_too_long},
            "config": {k: _plain(v) for k, v in asdict(config).items()},
            "command": command,
            "training_seconds": result.seconds, "steps": result.steps, "best_step": result.best_step,
            "stopped": result.stopped, "first_valid_loss": result.first_valid_loss,
            "best_valid_loss": result.best_valid_loss,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "parity": {"prompts": len(cases), "equal": sum(case.equal for case in cases),
                       "near_tie": sum(case.agrees and not case.equal for case in cases),
                       "max_gap": round(max((case.gap or 0.0 for case in cases), default=0.0), 3),
                       "max_tokens": PARITY_TOKENS},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "eval": {},
        }
        # Registered last inside the block: a registry that cannot be written leaves the old folder
        # and the old registry; only the rename below follows it.
        register(settings, config.name, entry, activate)
    return entry


def config_toml(config: TrainConfig) -> str:
    """The full effective config, for the record (a config file normally lists only changes)."""
    lines = [f"# Effective training config of {config.name}; every value, defaults included."]
    for f in fields(config):
        value = _plain(getattr(config, f.name))
        if value is not None:
            lines.append(f"{f.name} = {json.dumps(value)}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # what we write must read back
    return text


def _plain(value: Any) -> Any:
    return _relative(value) if isinstance(value, Path) else value


def _relative(path: Path | None) -> str | None:
    if path is None:
        return None
    path = Path(path).resolve()
    try:
        return path.relative_to(PROJECT_DIR).as_posix()
    except ValueError:
        return str(path)


def _manifest_sha(train_file: Path) -> str | None:
    manifest = Path(train_file).parent / "manifest.json"
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None


# --- the loss curve as a PNG (Pillow comes with streamlit; no plotting library needed) -------

def loss_png(curve: list[dict], path: Path, title: str, size: tuple[int, int] = (720, 420)) -> None:
    """Training loss (thin, grey) and validation loss (thick, blue, dotted) against steps."""
    from PIL import Image, ImageDraw

    width, height = size
    left, right, top, bottom = 60, 20, 36, 44
    train = [(p["step"], p["train_loss"]) for p in curve if "train_loss" in p]
    valid = [(p["step"], p["valid_loss"]) for p in curve if "valid_loss" in p]
    points = train + valid
    last = max(step for step, _ in points) or 1
    high = max(loss for _, loss in points) * 1.05
    low = min(0.0, min(loss for _, loss in points))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)

    def xy(step: float, loss: float) -> tuple[float, float]:
        return (left + (width - left - right) * step / last,
                top + (height - top - bottom) * (1 - (loss - low) / (high - low)))

    draw.rectangle([left, top, width - right, height - bottom], outline="#888888")
    for i in range(5):
        loss = low + (high - low) * i / 4
        y = xy(0, loss)[1]
        draw.line([left - 4, y, left, y], fill="#888888")
        draw.text((6, y - 6), f"{loss:.2f}", fill="#333333")
    for i in range(5):
        step = last * i / 4
        x = xy(step, low)[0]
        draw.line([x, height - bottom, x, height - bottom + 4], fill="#888888")
        draw.text((x - 10, height - bottom + 8), f"{step:.0f}", fill="#333333")
    if len(train) > 1:
        draw.line([xy(*p) for p in train], fill="#b0b0b0", width=1)
    if len(valid) > 1:
        draw.line([xy(*p) for p in valid], fill="#1f5fbf", width=3)
    for p in valid:
        x, y = xy(*p)
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill="#1f5fbf")
    draw.text((left, 10), f"{title}: loss on answer tokens (grey: training batches, blue: "
                          f"validation)", fill="#111111")
    draw.text((width // 2 - 20, height - 18), "step", fill="#333333")
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
