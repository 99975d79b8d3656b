"""Benchmark: time to first token with and without the prompt prefix reused, and tokens/s, per model.

Every rag-hybrid prompt starts with the same text (the store guidelines and the RAG instructions),
then the question's facts and excerpts, then the question. llama.cpp keeps the KV cache of the
last prompt and evaluates only the tokens after the longest shared prefix, so on the shop floor
each question after the first skips the fixed part. This measures what that is worth on each
catalog model that is on this machine, with the real prompts of heldout questions:

- *reused*: the previous question's prompt is in the cache (as after answering it), then the
  question is asked: only its own tokens are evaluated;
- *cold*: the cache is emptied first (`Llama.reset()`), so the whole prompt is evaluated;
- then one full answer, cold, for prompt and generation tokens/s.

    .venv/bin/python bench/prefix_cache.py [--models smollm2-135m,qwen2.5-coder-0.5b] [--questions 12]

Writes bench/results/prefix_cache.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

from store_assistant.answering.strategies import build_strategy
from store_assistant.config import load_settings
from store_assistant.evaluation.golden import AS_OF, load_cases, select
from store_assistant.evaluation.runner import source_commit
from store_assistant.inference.catalog import CATALOG, is_present
from store_assistant.inference.gateway import Gateway
from store_assistant.inference.local import RUNTIME

HERE = Path(__file__).parent
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR", HERE / "results"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=None,
                        help="catalog models (default: every one on this machine)")
    parser.add_argument("--questions", type=int, default=12,
                        help="heldout questions whose answer reaches the model")
    parser.add_argument("--out", type=Path, default=RESULTS / "prefix_cache")
    args = parser.parse_args()

    settings = load_settings()
    names = (args.models.split(",") if args.models else
             [n for n, m in CATALOG.items() if is_present(m, settings.model_cache)])
    strategy = build_strategy("rag-hybrid", Gateway(settings), settings, today=AS_OF)
    prompts = []  # the real prompts of heldout questions that reach the model, in case order
    for case in select(load_cases(), split="heldout"):
        draft = strategy.draft(case.question)
        if draft.messages:
            prompts.append((case.id, draft.messages))
        if len(prompts) == args.questions + 1:
            break
    sampling = RUNTIME.sampling({"max_tokens": settings.max_tokens,
                                 "temperature": settings.temperature})

    report = {"benchmark": "prefix_cache",
              "command": f"python bench/prefix_cache.py --models {','.join(names)} "
                         f"--questions {args.questions}",
              "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "commit": source_commit(),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "settings": {"threads": settings.threads, "n_ctx": settings.n_ctx, **sampling},
              "models": {}}
    for name in names:
        RUNTIME.close()
        Gateway(settings, f"local/{name}")  # the runtime's settings, as the app sets them
        loaded = RUNTIME.load(name)
        llama = loaded.llama

        def first_token(messages: list, reset: bool, max_tokens: int = 1) -> tuple[float, float, int]:
            """(ms to the first token, ms in all, tokens generated) for one chat completion."""
            if reset:
                llama.reset()
            started, ttft, pieces = time.perf_counter(), None, 0
            for chunk in llama.create_chat_completion(messages=messages, stream=True,
                                                      **{**sampling, "max_tokens": max_tokens}):
                if chunk["choices"][0]["delta"].get("content"):
                    ttft = ttft or (time.perf_counter() - started) * 1000
                    pieces += 1
            total = (time.perf_counter() - started) * 1000
            return ttft or total, total, pieces

        def prompt_tokens(messages: list) -> list[int]:
            from store_assistant.inference.local import _format_chat

            return llama.tokenize(_format_chat(llama, messages).encode(), add_bos=False,
                                  special=True)

        first_token(prompts[0][1], reset=True)  # warm-up: allocations and lazy initialisation
        rows = []
        for (_, before), (case_id, messages) in zip(prompts, prompts[1:]):
            first_token(before, reset=True)  # the previous question, as just answered
            reused, _, _ = first_token(messages, reset=False)
            cold, _, _ = first_token(messages, reset=True)
            ttft, total, generated = first_token(messages, reset=True, max_tokens=settings.max_tokens)
            tokens, previous = prompt_tokens(messages), prompt_tokens(before)
            shared = next((i for i, (a, b) in enumerate(zip(tokens, previous)) if a != b),
                          min(len(tokens), len(previous)))
            tokens_out = generated  # one streamed piece per token
            rows.append({"case": case_id, "prompt_tokens": len(tokens), "shared_prefix_tokens": shared,
                         "ttft_reused_ms": reused, "ttft_cold_ms": cold,
                         "prompt_tps": len(tokens) / (ttft / 1000),
                         "gen_tps": (tokens_out - 1) / ((total - ttft) / 1000)
                         if tokens_out > 1 and total > ttft else None})
            print(f"{name} {case_id}: {len(tokens)} tokens ({shared} shared), TTFT reused "
                  f"{reused:,.0f} ms, cold {cold:,.0f} ms", flush=True)
        gen = [r["gen_tps"] for r in rows if r["gen_tps"]]
        model = CATALOG[name]
        report["models"][name] = {
            "params": model.params, "quantization": model.quantization, "file_mb": model.bytes / 1e6,
            "n": len(rows),
            "prompt_tokens_p50": statistics.median(r["prompt_tokens"] for r in rows),
            "shared_prefix_tokens_p50": statistics.median(r["shared_prefix_tokens"] for r in rows),
            "ttft_cold_p50_ms": statistics.median(r["ttft_cold_ms"] for r in rows),
            "ttft_reused_p50_ms": statistics.median(r["ttft_reused_ms"] for r in rows),
            "prompt_tps_p50": statistics.median(r["prompt_tps"] for r in rows),
            "gen_tps_p50": statistics.median(gen) if gen else None, "rows": rows}
        summary = report["models"][name]
        summary["ttft_saved_p50"] = 1 - summary["ttft_reused_p50_ms"] / summary["ttft_cold_p50_ms"]
    RUNTIME.close()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(args.out.with_suffix(".json"))
    md = [f"# Prefix reuse and tokens/s per model ({report['when']}, commit "
          f"{(report['commit'] or 'unknown')[:12]})", "",
          f"`{report['command']}` on {report['machine']['cpus']} CPUs, {settings.threads} threads, "
          f"the rag-hybrid prompts of the first heldout questions that reach the model. TTFT "
          f"*reused*: the previous question's prompt was in the KV cache; *cold*: the cache was "
          f"emptied. Tokens/s from one cold answer each (max_tokens {settings.max_tokens}).", "",
          "| model | quant | questions | prompt tokens p50 | shared prefix p50 | TTFT cold p50 ms | "
          "TTFT reused p50 ms | saved | prompt tok/s p50 | generation tok/s p50 |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in report["models"].items():
        md.append(f"| {name} | {s['quantization']} | {s['n']} | {s['prompt_tokens_p50']:.0f} | "
                  f"{s['shared_prefix_tokens_p50']:.0f} | {s['ttft_cold_p50_ms']:,.0f} | "
                  f"{s['ttft_reused_p50_ms']:,.0f} | {s['ttft_saved_p50']:.0%} | "
                  f"{s['prompt_tps_p50']:,.0f} | "
                  f"{'n/a' if s['gen_tps_p50'] is None else format(s['gen_tps_p50'], '.1f')} |")
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(md) + "\n")
    tmp.replace(args.out.with_suffix(".md"))
    print("\n".join(md))


if __name__ == "__main__":
    main()
