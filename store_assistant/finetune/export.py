"""A trained LoRA as a GGUF adapter that llama.cpp applies to the quantized base, and the parity
check that the served model answers like the trained one.

The adapter holds each projection's A (rank x in) and B (out x rank) in f16. For the llama
architecture (SmolLM2) llama.cpp stores the q and k projections with the rows of each head
interleaved differently from transformers (the rotary-embedding layout), so B's rows are permuted
for them; forgetting that fails silently, with a few answers changed, which is what `parity`
catches. qwen2 (Qwen2.5) keeps transformers' order, so nothing is permuted there. Merging the
adapter into the base and re-quantizing instead would erase the fine-tune.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from store_assistant.files import atomic_path

GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
_MODULE = re.compile(r"\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+_proj)$")


def to_llama_cpp(rows: np.ndarray, heads: int) -> np.ndarray:
    """transformers' q/k row order -> llama.cpp's (convert_hf_to_gguf's `permute`)."""
    return (rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


def from_llama_cpp(rows: np.ndarray, heads: int) -> np.ndarray:
    """The inverse of `to_llama_cpp`."""
    return (rows.reshape(heads, rows.shape[0] // heads // 2, 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


# Architectures whose GGUF conversion permutes the q/k rows (convert_hf_to_gguf's LlamaModel).
PERMUTED = {"llama"}
SUPPORTED = {"llama", "qwen2"}


def _heads(model_config: Any, projection: str) -> int | None:
    """Heads to un-interleave for this projection's rows, or None (nothing to permute)."""
    if model_config.model_type not in PERMUTED:
        return None
    if projection == "q_proj":
        return model_config.num_attention_heads
    if projection == "k_proj":
        return model_config.num_key_value_heads
    return None


def lora_pairs(model: Any) -> dict[tuple[int, str], tuple[Any, Any]]:
    """{(layer, projection): (lora_A module, lora_B module)} of a peft model."""
    pairs = {}
    for name, module in model.named_modules():
        match = _MODULE.search(name)
        if match and hasattr(module, "lora_A") and "default" in module.lora_A:
            pairs[(int(match[1]), match[2])] = (module.lora_A["default"], module.lora_B["default"])
    return pairs


def write_adapter(model: Any, path: Path, alpha: float) -> None:
    """Write the peft model's LoRA as a GGUF adapter, atomically (temp file + rename)."""
    import gguf

    pairs = lora_pairs(model)
    if not pairs:
        raise ValueError("the model has no LoRA layers to export")
    config = model.get_base_model().config
    if config.model_type not in SUPPORTED:
        raise ValueError(f"cannot export a LoRA for the {config.model_type} architecture "
                         f"(supported: {', '.join(sorted(SUPPORTED))})")
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch=config.model_type)
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", float(alpha))
        for (layer, projection), (a, b) in sorted(pairs.items()):
            a_rows = a.weight.detach().float().numpy()
            b_rows = b.weight.detach().float().numpy()
            heads = _heads(config, projection)
            if heads:
                b_rows = to_llama_cpp(b_rows, heads)
            base = f"blk.{layer}.{GGUF_NAMES[projection]}.weight"
            writer.add_tensor(f"{base}.lora_a", a_rows.astype(np.float16))
            writer.add_tensor(f"{base}.lora_b", b_rows.astype(np.float16))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


def read_adapter(path: Path) -> tuple[float, dict[str, np.ndarray]]:
    """(alpha, {tensor name: array}) of a GGUF adapter."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    field = reader.fields.get("adapter.lora.alpha")
    if field is None:
        raise ValueError(f"{path} is not a GGUF LoRA adapter (no adapter.lora.alpha)")
    alpha = float(field.parts[field.data[0]][0])
    return alpha, {t.name: np.array(t.data) for t in reader.tensors}


def load_adapter(model: Any, path: Path) -> None:
    """Put a GGUF adapter's weights into a peft model of the same rank (q/k rows un-permuted)."""
    import torch

    _, tensors = read_adapter(path)
    config = model.get_base_model().config
    for (layer, projection), (a, b) in lora_pairs(model).items():
        base = f"blk.{layer}.{GGUF_NAMES[projection]}.weight"
        a_rows, b_rows = tensors[f"{base}.lora_a"], tensors[f"{base}.lora_b"]
        heads = _heads(config, projection)
        if heads:
            b_rows = from_llama_cpp(b_rows, heads)
        with torch.no_grad():
            a.weight.copy_(torch.from_numpy(a_rows.astype(np.float32)))
            b.weight.copy_(torch.from_numpy(b_rows.astype(np.float32)))


# --- parity ----------------------------------------------------------------------------------

# Two runtimes never agree to the last bit: llama.cpp multiplies Q4_1 weights by 8-bit-quantized
# activations, transformers by the same weights dequantized to fp32. Where the trained model's top
# two next tokens are within this many logits, either runtime may pick either. Measured here on 30
# prompts: the base model alone (no adapter) parts at such a near-tie on 3 of 10; the exported
# adapter's divergences were all within 0.27; the same adapter exported without the q/k
# permutation parted 7 times beyond 0.5, by up to 4.5.
NEAR_TIE = 0.5


@dataclass(frozen=True)
class ParityCase:
    question: str
    trained: str  # greedy answer of the transformers model holding the LoRA
    served: str  # greedy answer of llama.cpp with the Q4_1 base and the GGUF adapter
    gap: float | None  # where they part: the trained model's logit lead over the served token

    @property
    def equal(self) -> bool:
        return self.gap is None

    @property
    def agrees(self) -> bool:
        """Equal, or parted only at a near-tie (runtime rounding, not different weights)."""
        return self.gap is None or self.gap < NEAR_TIE


def parity(model: Any, tokenizer: Any, base_gguf: Path, adapter: Path,
           chats: list[list[dict[str, str]]], max_tokens: int = 40,
           threads: int = 2, trained: list[str] | None = None) -> list[ParityCase]:
    """Greedy answers to each chat (its messages up to the question) from both runtimes; where
    they differ, how far the trained model preferred its own token over llama.cpp's.

    No repetition penalty on either side: llama.cpp and transformers apply it over different
    windows, so with it the comparison would test the samplers rather than the weights.
    `trained`: the model's answers, when an earlier call already generated them.
    """
    import torch

    from store_assistant.inference.local import open_gguf

    llama = open_gguf(base_gguf, adapter, n_ctx=2048, threads=threads)
    model.eval()
    cases = []
    try:
        for i, chat in enumerate(chats):
            served = llama.create_chat_completion(
                messages=chat, temperature=0.0, max_tokens=max_tokens,
                repeat_penalty=1.0)["choices"][0]["message"]["content"] or ""
            prompt = tokenizer.apply_chat_template(chat, add_generation_prompt=True,
                                                   return_tensors="pt", return_dict=True)
            if trained is not None:
                answer = trained[i]
            else:
                with torch.no_grad():
                    out = model.generate(**prompt, max_new_tokens=max_tokens, do_sample=False,
                                         repetition_penalty=1.0,
                                         pad_token_id=tokenizer.eos_token_id)
                answer = tokenizer.decode(out[0, prompt["input_ids"].shape[1]:],
                                          skip_special_tokens=True)
            gap = None
            if answer.strip() != served.strip():
                gap = _gap(model, tokenizer, prompt["input_ids"], served)
            cases.append(ParityCase(chat[-1]["content"], answer, served, gap))
    finally:
        llama.close()
    return cases


def _gap(model: Any, tokenizer: Any, prompt_ids: Any, served: str) -> float:
    """Teacher-force llama.cpp's answer through the trained model; at the first token the trained
    model would not have chosen, its logit lead over that token."""
    import torch

    served_ids = tokenizer(served, add_special_tokens=False, return_tensors="pt")["input_ids"]
    ids = torch.cat([prompt_ids, served_ids], dim=1)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, prompt_ids.shape[1] - 1:-1]
    for position, token in enumerate(served_ids[0].tolist()):
        best = int(logits[position].argmax())
        if best != token:
            return float(logits[position, best] - logits[position, token])
    return 0.0  # the same tokens, told apart only by a length cut or whitespace
