"""Benchmark: our prompt-engineering answer path vs a raw llama-cpp-python call, same prompt.

For each question the strategy builds its messages once; then, in alternating order, (a) our
`Strategy.answer()` (validation, gateway, litellm, the local provider, post-processing) and (b) a
bare `Llama.create_chat_completion()` with the identical messages and sampling settings run on the
same model object. The KV cache is reset before every call so neither side gets the other's prompt
for free. Time to first token is measured the same way with streaming on both sides.

    .venv/bin/python bench/pe_overhead.py [--strategy pe-zero-shot] [--repeats 1]

Writes bench/results/pe_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from store_assistant.config import load_settings
from store_assistant.inference.gateway import Gateway
from store_assistant.inference.local import RUNTIME
from store_assistant.answering.strategies import build_strategy

HERE = Path(__file__).parent


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: p95 of 24 values is the 23rd smallest."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategy", default="pe-zero-shot")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--questions", type=int, default=None, help="only the first N questions")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "pe_overhead")
    args = parser.parse_args()

    settings = load_settings()
    gateway = Gateway(settings)
    if not gateway.is_local:
        sys.exit("This benchmark compares against raw llama.cpp: use a local/ model.")
    strategy = build_strategy(args.strategy, gateway, settings)
    loaded = RUNTIME.load(gateway.model.split("/", 1)[1])
    llama = loaded.llama
    sampling = RUNTIME.sampling({"max_tokens": settings.max_tokens,
                                 "temperature": settings.temperature})
    questions = [q for q in (HERE / "questions.txt").read_text().splitlines() if q.strip()]
    questions = questions[:args.questions]

    def ours(question: str) -> tuple[float, str]:
        llama.reset()
        started = time.perf_counter()
        answer = strategy.answer(question)
        return (time.perf_counter() - started) * 1000, answer.text

    def raw(messages: list) -> tuple[float, str]:
        llama.reset()
        started = time.perf_counter()
        with loaded.lock:
            out = llama.create_chat_completion(messages=messages, **sampling)
        return (time.perf_counter() - started) * 1000, out["choices"][0]["message"]["content"].strip()

    def ours_ttft(question: str) -> float:
        llama.reset()
        started = time.perf_counter()
        stream = iter(strategy.stream(question))
        next(stream)
        ttft = (time.perf_counter() - started) * 1000
        for _ in stream:
            pass
        return ttft

    def raw_ttft(messages: list) -> float:
        llama.reset()
        started, ttft = time.perf_counter(), None
        with loaded.lock:
            for chunk in llama.create_chat_completion(messages=messages, stream=True, **sampling):
                if ttft is None and chunk["choices"][0]["delta"].get("content"):
                    ttft = (time.perf_counter() - started) * 1000
        return ttft

    for question in questions[:2]:  # warm-up: first calls pay for lazy imports and allocations
        ours(question), raw(strategy.draft(question).messages)

    rows = []
    for repeat in range(args.repeats):
        for i, question in enumerate(questions):
            messages = strategy.draft(question).messages
            if (i + repeat) % 2:
                (our_ms, our_text), (raw_ms, raw_text) = ours(question), raw(messages)
            else:
                (raw_ms, raw_text), (our_ms, our_text) = raw(messages), ours(question)
            rows.append({"question": question, "ours_ms": our_ms, "raw_ms": raw_ms,
                         "ours_ttft_ms": ours_ttft(question), "raw_ttft_ms": raw_ttft(messages),
                         "same_text": our_text == raw_text,
                         "completion_chars": len(our_text)})
            print(f"{len(rows):3d} ours {our_ms:7.0f} ms  raw {raw_ms:7.0f} ms  "
                  f"{'same' if our_text == raw_text else 'DIFFERENT'}", flush=True)

    ours_ms = [r["ours_ms"] for r in rows]
    raw_ms = [r["raw_ms"] for r in rows]
    summary = {
        "benchmark": "pe_overhead", "strategy": args.strategy, "model": gateway.model,
        "command": f"python bench/pe_overhead.py --strategy {args.strategy} --repeats {args.repeats}",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": {"threads": settings.threads, "n_ctx": settings.n_ctx, **sampling},
        "n": len(rows),
        "ours_p50_ms": statistics.median(ours_ms), "ours_p95_ms": percentile(ours_ms, 95),
        "raw_p50_ms": statistics.median(raw_ms), "raw_p95_ms": percentile(raw_ms, 95),
        "overhead_ratio_p50": statistics.median(ours_ms) / statistics.median(raw_ms),
        "overhead_ratio_p95": percentile(ours_ms, 95) / percentile(raw_ms, 95),
        "overhead_ms_median": statistics.median(o - r for o, r in zip(ours_ms, raw_ms)),
        "ours_ttft_p50_ms": statistics.median(r["ours_ttft_ms"] for r in rows),
        "raw_ttft_p50_ms": statistics.median(r["raw_ttft_ms"] for r in rows),
        "identical_answers": sum(r["same_text"] for r in rows),
        "goal": "overhead_ratio_p50 <= 1.10",
    }
    summary["goal_met"] = summary["overhead_ratio_p50"] <= 1.10
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")
    tmp.replace(args.out.with_suffix(".json"))
    md = [f"# PE answer latency vs raw llama-cpp-python ({summary['when']})", "",
          f"`{summary['command']}` on {summary['machine']['cpus']} CPUs, model {gateway.model}, "
          f"max_tokens {settings.max_tokens}, temperature {settings.temperature}, "
          f"{len(rows)} questions, KV cache reset before every call.", "",
          "| | p50 ms | p95 ms | TTFT p50 ms |", "|---|---:|---:|---:|",
          f"| Store Assistant ({args.strategy}) | {summary['ours_p50_ms']:.0f} | "
          f"{summary['ours_p95_ms']:.0f} | {summary['ours_ttft_p50_ms']:.0f} |",
          f"| raw llama-cpp-python | {summary['raw_p50_ms']:.0f} | {summary['raw_p95_ms']:.0f} | "
          f"{summary['raw_ttft_p50_ms']:.0f} |", "",
          f"Overhead ratio p50 **{summary['overhead_ratio_p50']:.3f}** (goal <= 1.10: "
          f"{'met' if summary['goal_met'] else 'NOT met'}), p95 {summary['overhead_ratio_p95']:.3f}, "
          f"median per-question overhead {summary['overhead_ms_median']:.0f} ms. "
          f"Identical answers: {summary['identical_answers']}/{len(rows)}.", ""]
    args.out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
