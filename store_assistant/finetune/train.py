"""LoRA training of the embedded model on CPU: `store-assistant model train [--config FILE]`.

SmolLM2 is loaded from the very Q4_1 GGUF llama.cpp serves (transformers dequantizes it to fp32), a
peft LoRA is trained on finetune_data/generated/train.jsonl with the loss on the answer tokens only,
the validation loss is checked every `eval_every` steps, and training stops early when it has not
improved for `patience` checks; the best adapter is kept. Trade-off: fp32 on 2 cores is slow, so the
logits are computed only where an answer token is predicted (the 49k-word output layer is ~20% of
the model) and the defaults are sized to finish in about 15 minutes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from store_assistant.config import PROJECT_DIR, path_setting
from store_assistant.errors import ConfigError, DataError, did_you_mean

GENERATED_DIR = PROJECT_DIR / "finetune_data" / "generated"
IGNORE = -100  # label of a token the loss skips (system prompt, question, padding)
# All seven projections of every layer: attention alone learned the style but not the facts.
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainConfig:
    # The name the tuned model is registered and served under (local/<name>).
    name: str = "volt-lora"
    # The catalog model the adapter is trained on and served with (`store-assistant model list`);
    # llama (SmolLM2) and qwen2 (Qwen2.5) architectures are supported.
    base: str = "smollm2-135m"
    train_file: Path = GENERATED_DIR / "train.jsonl"
    valid_file: Path = GENERATED_DIR / "valid.jsonl"
    # Use only the first N training examples (None: all); a quick trial run sets this.
    max_examples: int | None = None
    # Passes over the training data (fractions allowed). 1.25 x 99 batches of 8 = 124 steps, sized
    # to finish in 15 minutes here; a 2-epoch run took 22 min and reached validation loss 0.943.
    epochs: float = 1.25
    # 8 sequences per step: bigger batches gain nothing on 2 cores and make fewer updates.
    batch_size: int = 8
    # A batch longer than this many tokens is run in pieces with the gradients summed: the same
    # update in less memory, but each piece re-casts the weights to bf16, and with 4096 a run took
    # ~40% longer. 8192 never splits a batch of 8 x 768; peak RSS ~16 GB. Set 2048 on a 16 GB
    # machine (peak ~6 GB).
    batch_tokens: int = 8192
    # High for LoRA, but 1e-3 learned the store's tone and not its prices (STACK_NOTES).
    learning_rate: float = 2e-3
    warmup_steps: int = 10
    # r=16 on all projections: a 9.8 MB adapter that learned 9 of 10 reworded facts.
    rank: int = 16
    alpha: int = 32
    # No dropout: the run is short, and a deterministic adapter makes parity checks exact.
    dropout: float = 0.0
    # Examples longer than this are dropped, not truncated (a cut answer teaches a cut answer).
    max_tokens: int = 768
    # Validation every N steps; 0 checks once per epoch.
    eval_every: int = 50
    # Stop after this many checks without a better validation loss.
    patience: int = 2
    # Stop after this many steps (None: no limit); tests use a few.
    max_steps: int | None = None
    seed: int = 0
    threads: int = 2
    # "auto": bfloat16 matrix products where the CPU has AMX (8x the fp32 speed here), else fp32.
    precision: str = "auto"

    def bf16(self) -> bool:
        if self.precision != "auto":
            return self.precision == "bf16"
        import torch
        try:
            return bool(torch.cpu._is_amx_tile_supported())
        except AttributeError:  # an older torch without the probe
            return False

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank


_AT_LEAST_ONE = {"max_examples", "max_steps", "batch_size", "batch_tokens", "rank", "alpha",
                 "max_tokens", "patience", "threads"}


def load_config(path: Path | None = None, **overrides: Any) -> TrainConfig:
    """The defaults, then a TOML file's keys, then `overrides`; an unknown key or a bad value is a
    ConfigError naming the file, the key and the fix.

    A config file lists only what differs from the defaults, e.g. `epochs = 2`.
    """
    values: dict[str, Any] = {}
    where = "the command line"
    if path is not None:
        path, where = Path(path), str(path)
        if not path.is_file():
            raise ConfigError(f"No training config at {path}. The shipped one is "
                              f"finetune_data/configs/default.toml.")
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    converted = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"Unknown training setting {key!r} in {where}."
                              f"{did_you_mean(key, fields, list_known=True)}")
        converted[key] = _convert(key, value, fields[key].default, where)
    if path is not None:  # data files are relative to the config file, like any config
        for key in ("train_file", "valid_file"):
            if key in converted and not converted[key].is_absolute():
                converted[key] = (path.parent / converted[key]).resolve()
    return TrainConfig(**converted)


def _convert(key: str, value: Any, default: Any, where: str) -> Any:
    bad = ConfigError(f"Training setting {key} = {value!r} in {where} is not valid: expected "
                      f"{_expected(key, default)}.")
    if isinstance(default, Path):
        if not isinstance(value, str) or not value.strip():
            raise bad
        return path_setting(value, key, where)
    if key == "precision":
        if value not in ("auto", "bf16", "fp32"):
            raise bad
        return value
    if key == "name":
        if not isinstance(value, str) or not value.replace("-", "").replace("_", "").isalnum():
            raise bad
        return value
    if key == "base":
        from store_assistant.inference.catalog import CATALOG

        if value not in CATALOG:
            raise bad
        return value
    if key in ("learning_rate", "dropout", "epochs"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad
        if not (0 < value <= 100 if key == "epochs" else
                0 < value < 1 if key == "learning_rate" else 0 <= value < 1):
            raise bad
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad
    if value < (1 if key in _AT_LEAST_ONE else 0):
        raise bad
    return value


def _expected(key: str, default: Any) -> str:
    if isinstance(default, Path):
        return "a path to a .jsonl file"
    if key == "precision":
        return '"auto", "bf16" or "fp32"'
    if key == "name":
        return "letters, digits, - and _"
    if key == "base":
        from store_assistant.inference.catalog import CATALOG

        return f"a catalog model: {', '.join(CATALOG)}"
    if key == "learning_rate":
        return "a number between 0 and 1, e.g. 2e-3"
    if key == "dropout":
        return "a number from 0 to below 1"
    if key == "epochs":
        return "a number of passes above 0, e.g. 2 or 1.5"
    return "a whole number >= 1" if key in _AT_LEAST_ONE else "a whole number >= 0"


# --- data ------------------------------------------------------------------------------------

def read_examples(path: Path) -> list[list[dict[str, str]]]:
    """The chat messages of each line of a generated .jsonl file; a bad line is a DataError with
    its line number. The last message must be the assistant's answer (the part that is learned)."""
    if not Path(path).is_file():
        raise DataError(f"No training data at {path}. Run `store-assistant data generate` first.")
    examples = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
            ok = (isinstance(messages, list) and len(messages) >= 2
                  and all(isinstance(m.get("content"), str) and m.get("role") in
                          ("system", "user", "assistant") for m in messages)
                  and messages[-1]["role"] == "assistant")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            raise DataError(f"{path}:{number}: expected {{\"messages\": [..., {{\"role\": "
                            f"\"assistant\", \"content\": ...}}]}}. Regenerate with "
                            f"`store-assistant data generate`.")
        examples.append(messages)
    if not examples:
        raise DataError(f"{path} has no examples. Run `store-assistant data generate`.")
    return examples


def encode(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """Token ids of the whole chat and labels that are IGNORE everywhere but the answer.

    The prompt is the chat template up to the assistant's turn, exactly what llama.cpp feeds the
    model when serving; the answer is what follows it, up to and including <|im_end|>.
    """
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True,
                                           tokenize=False)
    whole = tokenizer.apply_chat_template(messages, tokenize=False)
    if not whole.startswith(prompt):
        raise DataError("The chat template does not extend the prompt with the answer; "
                        "this base model's template is not supported for training.")
    answer = whole[len(prompt):].rstrip("\n")  # the template's trailing newline is not generated
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids


def batches(encoded: list[tuple[list[int], list[int]]], size: int, rng: random.Random,
            pad_id: int) -> list[tuple[Any, Any, Any]]:
    """Batches of similar length (less padding), in a shuffled order."""
    import torch

    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i][0]), rng.random()))
    groups = [order[i:i + size] for i in range(0, len(order), size)]
    rng.shuffle(groups)
    out = []
    for group in groups:
        width = max(len(encoded[i][0]) for i in group)
        ids = torch.full((len(group), width), pad_id, dtype=torch.long)
        labels = torch.full((len(group), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        for row, i in enumerate(group):
            tokens, targets = encoded[i]
            ids[row, :len(tokens)] = torch.tensor(tokens)
            labels[row, :len(tokens)] = torch.tensor(targets)
            mask[row, :len(tokens)] = 1
        out.append((ids, mask, labels))
    return out


def pieces(ids: Any, mask: Any, labels: Any, max_tokens: int) -> list[tuple[Any, Any, Any]]:
    """A padded batch cut into row groups of at most `max_tokens` tokens, padding trimmed."""
    rows = max(1, max_tokens // ids.shape[1])
    out = []
    for start in range(0, ids.shape[0], rows):
        part = slice(start, start + rows)
        width = int(mask[part].sum(dim=1).max())
        out.append((ids[part, :width], mask[part, :width], labels[part, :width]))
    return out


# --- model -----------------------------------------------------------------------------------

def load_base(gguf_path: Path, threads: int) -> tuple[Any, Any]:
    """Tokenizer and fp32 model from a GGUF file (the one llama.cpp serves)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    folder, name = str(Path(gguf_path).parent), Path(gguf_path).name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    return tokenizer, model


def with_lora(model: Any, config: TrainConfig) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)
    return get_peft_model(model, LoraConfig(r=config.rank, lora_alpha=config.alpha,
                                            lora_dropout=config.dropout,
                                            target_modules=list(PROJECTIONS), bias="none",
                                            task_type="CAUSAL_LM"))


def answer_loss(model: Any, ids: Any, mask: Any, labels: Any,
                bf16: bool = False) -> tuple[Any, int]:
    """Mean cross-entropy over the answer tokens, and how many there were.

    Only the hidden states that predict an answer token go through the output layer.
    """
    import torch.nn.functional as F

    import torch

    inner = model.get_base_model()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        hidden = inner.model(input_ids=ids, attention_mask=mask).last_hidden_state
        targets = labels[:, 1:]
        keep = targets != IGNORE
        logits = inner.lm_head(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), targets[keep]), int(keep.sum())


def validation_loss(model: Any, valid: list[tuple[Any, Any, Any]], bf16: bool = False) -> float:
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for ids, mask, labels in valid:
            loss, n = answer_loss(model, ids, mask, labels, bf16)
            total, count = total + float(loss) * n, count + n
    model.train()
    return total / count


def lora_state(model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}


# --- the loop --------------------------------------------------------------------------------

@dataclass
class TrainResult:
    config: TrainConfig
    steps: int
    best_step: int
    best_valid_loss: float
    first_valid_loss: float
    stopped: str  # "early_stopping" | "epochs" | "max_steps"
    seconds: float
    train_examples: int
    valid_examples: int
    dropped_too_long: int
    curve: list[dict] = field(default_factory=list)  # {"step", "epoch", "train_loss"|"valid_loss"}


def _optimizer(model: Any, config: TrainConfig, total: int) -> tuple[Any, Any]:
    """AdamW on the LoRA weights; linear warm-up, then linear decay to 0 at the last planned step."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    warmup = config.warmup_steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: (s + 1) / warmup if s < warmup
                                                 else max(0.0, (total - s) / max(1, total - warmup)))
    return optimizer, schedule


def _step(model: Any, batch: tuple, config: TrainConfig, bf16: bool, optimizer: Any,
          schedule: Any) -> float:
    """One optimizer step on a batch (split into pieces of at most `batch_tokens` to bound RAM);
    returns the batch's loss per answer token."""
    import torch

    ids, mask, labels = batch
    answer_tokens = int((labels[:, 1:] != IGNORE).sum())
    value = 0.0
    for part in pieces(ids, mask, labels, config.batch_tokens):
        loss, n = answer_loss(model, *part, bf16)
        (loss * n / answer_tokens).backward()
        value += float(loss.detach()) * n / answer_tokens
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()
    return value


def train(config: TrainConfig, base_gguf: Path, progress: bool = True,
          on_step: Callable[[int, float], None] | None = None) -> tuple[Any, Any, TrainResult]:
    """Train; returns (peft model holding the best adapter, tokenizer, result).

    One function on purpose (~70 lines): the loop's state (step, best loss, patience) is read best
    in one place; the batch step and the optimizer are apart (`_step`, `_optimizer`).
    """
    from tqdm import tqdm

    started = time.perf_counter()
    train_msgs = read_examples(config.train_file)[:config.max_examples]
    valid_msgs = read_examples(config.valid_file)
    tokenizer, model = load_base(base_gguf, config.threads)
    bf16 = config.bf16()
    model = with_lora(model, config)
    rng = random.Random(config.seed)

    def encoded(examples: list) -> tuple[list, int]:
        kept = [encode(tokenizer, m) for m in examples]
        fitting = [e for e in kept if len(e[0]) <= config.max_tokens]
        return fitting, len(kept) - len(fitting)

    train_set, dropped = encoded(train_msgs)
    valid_set, dropped_valid = encoded(valid_msgs)
    if not train_set or not valid_set:
        raise DataError(f"No example fits in max_tokens={config.max_tokens}; raise it.")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    valid = batches(valid_set, config.batch_size, random.Random(0), pad)
    per_epoch = math.ceil(len(train_set) / config.batch_size)
    total = math.ceil(per_epoch * config.epochs)
    if config.max_steps:
        total = min(total, config.max_steps)
    eval_every = config.eval_every or per_epoch

    optimizer, schedule = _optimizer(model, config, total)

    first = validation_loss(model, valid, bf16)
    curve = [{"step": 0, "epoch": 0.0, "valid_loss": round(first, 4)}]
    best, best_step, best_state, waited = first, 0, lora_state(model), 0
    step, stopped = 0, "epochs"
    model.train()
    bar = tqdm(total=total, desc="training", unit="step", disable=not progress, file=sys.stderr)
    try:
        for epoch in range(math.ceil(config.epochs)):
            for batch in batches(train_set, config.batch_size, rng, pad):
                value = _step(model, batch, config, bf16, optimizer, schedule)
                step += 1
                if not math.isfinite(value):
                    raise DataError(f"The training loss became {value} at step {step}; lower "
                                    f"learning_rate (now {config.learning_rate}).")
                curve.append({"step": step, "epoch": round(step / per_epoch, 3),
                              "train_loss": round(value, 4)})
                bar.update(1)
                bar.set_postfix(loss=f"{value:.3f}", best_valid=f"{best:.3f}")
                if on_step:
                    on_step(step, value)
                if step % eval_every == 0 or step == total:
                    current = validation_loss(model, valid, bf16)
                    curve.append({"step": step, "epoch": round(step / per_epoch, 3),
                                  "valid_loss": round(current, 4)})
                    if current < best - 1e-4:
                        best, best_step, best_state, waited = current, step, lora_state(model), 0
                    else:
                        waited += 1
                    if waited >= config.patience:
                        stopped = "early_stopping"
                        break
                if step >= total:
                    stopped = "max_steps" if config.max_steps and step == config.max_steps \
                        else "epochs"
                    break
            if stopped == "early_stopping" or step >= total:
                break
    finally:
        bar.close()
    model.load_state_dict(best_state, strict=False)
    model.eval()
    result = TrainResult(config, step, best_step, round(best, 4), round(first, 4), stopped,
                         round(time.perf_counter() - started, 1), len(train_set), len(valid_set),
                         dropped + dropped_valid, curve)
    return model, tokenizer, result
